//! The admission, settle and renew scripts against a real `redis-server` (skipped with a printed
//! reason when none is installed): exact limits under concurrency, all or nothing across scopes,
//! token settlement, rescaled limits, leases that lapse and are renewed, budgets that overspend
//! by at most one request, alerts that fire once, and the reconcile after an outage.

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchyard_shared::{Budget as BudgetSpec, BudgetPeriod, Limits};

use super::*;
use crate::budgets::{BudgetOwner, BudgetRegistry};
use crate::limits::LimitRegistry;
use crate::shared_state::test_redis::TestRedis;

/// A fixed point on Redis's timeline, so windows do not refill while a test runs.
const NOW_US: u64 = 1_800_000_000_000_000;
const MINUTE_US: u64 = 60_000_000;

fn connect(server: &TestRedis, lease: Duration) -> (Arc<SharedLimits>, LeaseQueue) {
    let redis = Redis::connect(&server.url(), "sy-test", Duration::from_secs(2)).expect("URL");
    SharedLimits::new(Arc::new(redis), lease)
}

fn scope(registry: &LimitRegistry, id: ScopeId, limits: Limits) -> Scope {
    let name = match id {
        ScopeId::Consumer(id) | ScopeId::Key(id) | ScopeId::Route(id) => id,
    };
    Scope {
        id,
        state: registry.state(id),
        limits,
        label: Arc::from(format!("consumer 'c{name}'")),
    }
}

fn ask<'a>(scopes: &'a [Scope], tokens: u64, now_us: Option<u64>) -> Ask<'a> {
    Ask {
        scopes,
        tokens,
        budgets: &[],
        worst: 0,
        now_ms: 0,
        now_us,
        cache_entries: &[],
    }
}

fn budget(limit: f64, soft: Option<f64>) -> (Arc<CompiledBudget>, Arc<BudgetRegistry>) {
    let registry = Arc::new(BudgetRegistry::default());
    let spec = BudgetSpec {
        limit_usd: limit,
        period: BudgetPeriod::Day,
        timezone: "UTC".into(),
        soft_limit_usd: soft,
    };
    let owner = BudgetOwner::Consumer {
        id: 7,
        name: Arc::from("team"),
    };
    let compiled = CompiledBudget::new(&spec, owner, &registry).expect("compiles");
    (Arc::new(compiled), registry)
}

fn budget_ask<'a>(budgets: &'a [Arc<CompiledBudget>], worst: i64, now_ms: i64) -> Ask<'a> {
    Ask {
        scopes: &[],
        tokens: 0,
        budgets,
        worst,
        now_ms,
        now_us: None,
        cache_entries: &[],
    }
}

fn admitted(verdict: Verdict) -> Option<(SharedAdmission, Budgets)> {
    match verdict {
        Verdict::Admitted {
            admission, budgets, ..
        } => Some((admission, budgets)),
        _ => None,
    }
}

/// The spend Redis holds for a budget's current period.
async fn redis_spent(limits: &SharedLimits, budget: &CompiledBudget, now_ms: i64) -> Option<i64> {
    let (start, _, _) = budget.local_period(now_ms);
    let key = budget_key(&limits.redis, budget, start);
    limits
        .redis
        .call(|mut conn| async move {
            redis::cmd("HGET")
                .arg(&key)
                .arg("spent")
                .query_async::<Option<i64>>(&mut conn)
                .await
        })
        .await
        .expect("Redis answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_requests_against_rpm_60_admit_exactly_60() {
    let Some(server) = TestRedis::start() else {
        return;
    };
    let (limits, _queue) = connect(&server, Duration::from_secs(30));
    let registry = LimitRegistry::default();
    let rpm = Limits {
        rpm: Some(60),
        ..Limits::default()
    };
    let scopes = Arc::new(vec![scope(&registry, ScopeId::Consumer(1), rpm)]);
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let limits = Arc::clone(&limits);
            let scopes = Arc::clone(&scopes);
            tokio::spawn(async move {
                match limits.admit(&ask(&scopes, 0, Some(NOW_US))).await {
                    Ok(Verdict::Admitted { admission, .. }) => {
                        admission.abandon();
                        Ok(())
                    }
                    Ok(Verdict::Limited { refusal, .. }) => Err(Some(refusal)),
                    _ => Err(None),
                }
            })
        })
        .collect();
    let mut admitted = 0;
    let mut refusals = Vec::new();
    for task in tasks {
        match task.await.expect("task") {
            Ok(()) => admitted += 1,
            Err(refusal) => refusals.push(refusal.expect("only the limit refuses")),
        }
    }
    assert_eq!(admitted, 60);
    let refusal = &refusals[0];
    assert_eq!(refusal.message, "consumer 'c1': 60 requests per minute");
    assert_eq!(refusal.kind, "requests");
    assert_eq!(refusal.retry_after, Duration::from_secs(1));
    // A second later, one more fits.
    let later = limits
        .admit(&ask(&scopes, 0, Some(NOW_US + 1_000_000)))
        .await
        .expect("answers");
    assert!(matches!(later, Verdict::Admitted { .. }));
}

#[tokio::test]
async fn an_admitted_request_reads_its_cache_entries_in_the_same_call_and_a_refused_one_does_not() {
    let Some(server) = TestRedis::start() else {
        return;
    };
    let (limits, _queue) = connect(&server, Duration::from_secs(30));
    let registry = LimitRegistry::default();
    let one = Limits {
        rpm: Some(1),
        ..Limits::default()
    };
    let scopes = [scope(&registry, ScopeId::Consumer(1), one)];
    let stored = limits.redis.key("c:chat:aa");
    let absent = limits.redis.key("c:chat:bb");
    let value = vec![1_u8, 0, 255, b'\n', b'x'];
    let (name, bytes) = (stored.clone(), value.clone());
    limits
        .redis
        .call(|mut conn| async move {
            redis::cmd("SET")
                .arg(&name)
                .arg(bytes)
                .query_async::<()>(&mut conn)
                .await
        })
        .await
        .expect("stored");
    let entries = [stored, absent];
    let request = Ask {
        cache_entries: &entries,
        ..ask(&scopes, 0, Some(NOW_US))
    };
    let Verdict::Admitted {
        admission, cached, ..
    } = limits.admit(&request).await.expect("answers")
    else {
        panic!("the first request fits");
    };
    admission.abandon();
    assert_eq!(cached, vec![Some(value), None], "binary-safe, in order");
    // The second is refused by rpm 1; a refusal reads nothing and still parses.
    let refused = limits.admit(&request).await.expect("answers");
    let Verdict::Limited { refusal, .. } = refused else {
        panic!("rpm 1 refuses the second request");
    };
    assert_eq!(refusal.message, "consumer 'c1': 1 requests per minute");
}

#[tokio::test]
async fn a_refusing_scope_leaves_the_others_untouched() {
    let Some(server) = TestRedis::start() else {
        return;
    };
    let (limits, _queue) = connect(&server, Duration::from_secs(30));
    let registry = LimitRegistry::default();
    let loose = scope(
        &registry,
        ScopeId::Key(1),
        Limits {
            rpm: Some(100),
            max_concurrent: Some(10),
            ..Limits::default()
        },
    );
    let tight = scope(
        &registry,
        ScopeId::Consumer(2),
        Limits {
            rpm: Some(1),
            ..Limits::default()
        },
    );
    let first = limits
        .admit(&ask(std::slice::from_ref(&tight), 0, Some(NOW_US)))
        .await
        .expect("answers");
    admitted(first).expect("the first fits").0.abandon();
    let both = [loose.clone(), tight];
    let Verdict::Limited { refusal, budgets } = limits
        .admit(&ask(&both, 0, Some(NOW_US)))
        .await
        .expect("answers")
    else {
        panic!("the tight scope is spent");
    };
    assert_eq!(refusal.message, "consumer 'c2': 1 requests per minute");
    assert!(refusal.retry_after > Duration::from_secs(59));
    assert_eq!(budgets.requests.map(|b| b.remaining), Some(0));
    // The loose scope lost neither a request nor a slot.
    let (admission, budgets) = admitted(
        limits
            .admit(&ask(std::slice::from_ref(&loose), 0, Some(NOW_US)))
            .await
            .expect("answers"),
    )
    .expect("fits");
    assert_eq!(budgets.requests.map(|b| b.remaining), Some(99));
    let slots = limits.slots_key(ScopeId::Key(1));
    let held: i64 = limits
        .redis
        .call(|mut conn| async move {
            redis::cmd("ZCARD")
                .arg(&slots)
                .query_async::<i64>(&mut conn)
                .await
        })
        .await
        .expect("answers");
    assert_eq!(held, 1, "only this request's lease");
    admission.settle_now(0, None).await;
}

#[tokio::test]
async fn token_reservations_are_settled_with_the_real_usage() {
    let Some(server) = TestRedis::start() else {
        return;
    };
    let (limits, _queue) = connect(&server, Duration::from_secs(30));
    let registry = LimitRegistry::default();
    let tpm = [scope(
        &registry,
        ScopeId::Consumer(3),
        Limits {
            tpm: Some(1000),
            ..Limits::default()
        },
    )];
    let (first, budgets) = admitted(
        limits
            .admit(&ask(&tpm, 600, Some(NOW_US)))
            .await
            .expect("up"),
    )
    .expect("fits");
    assert_eq!(budgets.tokens.map(|b| b.remaining), Some(400));
    assert!(matches!(
        limits
            .admit(&ask(&tpm, 600, Some(NOW_US)))
            .await
            .expect("up"),
        Verdict::Limited { .. }
    ));
    first.settle_now(100, None).await;
    // Settling uses Redis's own clock, later than NOW_US: what was given back shows as of now.
    let (second, budgets) = admitted(
        limits
            .admit(&ask(&tpm, 600, Some(NOW_US)))
            .await
            .expect("up"),
    )
    .expect("fits after the refund");
    assert_eq!(budgets.tokens.map(|b| b.remaining), Some(300));
    second.settle_now(2000, None).await;
    let Verdict::Limited { refusal, budgets } =
        limits.admit(&ask(&tpm, 1, Some(NOW_US))).await.expect("up")
    else {
        panic!("usage beyond the reservation was charged");
    };
    assert_eq!(refusal.kind, "tokens");
    assert_eq!(budgets.tokens.map(|b| b.remaining), Some(0));
}

#[tokio::test]
async fn an_edited_limit_counts_what_was_used() {
    let Some(server) = TestRedis::start() else {
        return;
    };
    let (limits, _queue) = connect(&server, Duration::from_secs(30));
    let registry = LimitRegistry::default();
    let with_rpm = |rpm| {
        [scope(
            &registry,
            ScopeId::Route(4),
            Limits {
                rpm: Some(rpm),
                ..Limits::default()
            },
        )]
    };
    let five = with_rpm(5);
    for _ in 0..5 {
        admitted(
            limits
                .admit(&ask(&five, 0, Some(NOW_US)))
                .await
                .expect("up"),
        )
        .expect("fits")
        .0
        .abandon();
    }
    let ten = with_rpm(10);
    let (admission, budgets) =
        admitted(limits.admit(&ask(&ten, 0, Some(NOW_US))).await.expect("up")).expect("raised");
    admission.abandon();
    assert_eq!(
        budgets.requests.map(|b| b.remaining),
        Some(4),
        "6 of 10 used"
    );
    for _ in 0..4 {
        admitted(limits.admit(&ask(&ten, 0, Some(NOW_US))).await.expect("up"))
            .expect("fits")
            .0
            .abandon();
    }
    assert!(matches!(
        limits.admit(&ask(&ten, 0, Some(NOW_US))).await.expect("up"),
        Verdict::Limited { .. }
    ));
    let four = with_rpm(4);
    let Verdict::Limited { budgets, .. } = limits
        .admit(&ask(&four, 0, Some(NOW_US)))
        .await
        .expect("up")
    else {
        panic!("10 used is over 4");
    };
    assert_eq!(budgets.requests.map(|b| b.remaining), Some(0));
    // Lowered to 4, the 10 used take 2.5 minutes to drain: still refused after one.
    assert!(matches!(
        limits
            .admit(&ask(&four, 0, Some(NOW_US + MINUTE_US)))
            .await
            .expect("up"),
        Verdict::Limited { .. }
    ));
}

#[tokio::test]
async fn leases_lapse_unless_renewed() {
    let Some(server) = TestRedis::start() else {
        return;
    };
    let lease = Duration::from_millis(600);
    let (limits, mut queue) = connect(&server, lease);
    let registry = LimitRegistry::default();
    let one = [scope(
        &registry,
        ScopeId::Consumer(5),
        Limits {
            max_concurrent: Some(1),
            ..Limits::default()
        },
    )];
    let (held, _) = admitted(limits.admit(&ask(&one, 0, None)).await.expect("up")).expect("fits");
    let mut live = Vec::new();
    while let Ok(lease) = queue.try_recv() {
        live.push(lease);
    }
    assert_eq!(live.len(), 1, "the renewer hears of the lease");
    // Renewed every third of the lease, it outlives the lease several times over.
    let began = Instant::now();
    while began.elapsed() < lease * 3 {
        limits.renew(&mut live).await;
        let second = limits.admit(&ask(&one, 0, None)).await.expect("up");
        let Verdict::Limited { refusal, .. } = second else {
            panic!("the renewed slot is still held");
        };
        assert_eq!(refusal.kind, "concurrent_requests");
        tokio::time::sleep(lease / 3).await;
    }
    // The gateway dies: nobody settles or renews, and the slot lapses within one lease.
    held.abandon();
    limits.renew(&mut live).await;
    assert!(live.is_empty(), "a finished request is renewed no more");
    let died = Instant::now();
    let freed = loop {
        match limits.admit(&ask(&one, 0, None)).await.expect("up") {
            Verdict::Admitted { admission, .. } => break admission,
            _ => {
                assert!(died.elapsed() < lease * 2, "the lease never lapsed");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    assert!(died.elapsed() <= lease + Duration::from_millis(100));
    // Settled, the slot is free at once.
    freed.settle_now(0, None).await;
    let again = admitted(limits.admit(&ask(&one, 0, None)).await.expect("up")).expect("free");
    again.0.settle_now(0, None).await;
}

/// The windows hash's remaining life in ms, and its fields.
async fn windows_state(limits: &SharedLimits, id: ScopeId) -> (i64, Vec<String>) {
    let key = limits.windows_key(id);
    limits
        .redis
        .call(|mut conn| async move {
            let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await?;
            let fields: Vec<String> = redis::cmd("HKEYS").arg(&key).query_async(&mut conn).await?;
            Ok((ttl, fields))
        })
        .await
        .expect("Redis answers")
}

#[tokio::test]
async fn a_windows_hash_lives_a_minute_past_its_last_tat_and_its_expiry_is_set_once_a_minute() {
    let Some(server) = TestRedis::start() else {
        return;
    };
    let (limits, _queue) = connect(&server, Duration::from_secs(30));
    let registry = LimitRegistry::default();
    // rpm 2: each request moves the TAT 30 s ahead.
    let two = [scope(
        &registry,
        ScopeId::Consumer(9),
        Limits {
            rpm: Some(2),
            ..Limits::default()
        },
    )];
    let first = admitted(limits.admit(&ask(&two, 0, Some(NOW_US))).await.expect("up"));
    first.expect("fits").0.abandon();
    let (ttl, mut fields) = windows_state(&limits, ScopeId::Consumer(9)).await;
    fields.sort();
    assert_eq!(
        fields,
        ["rpm", "rpm:l", "x"],
        "only the windows that have a limit"
    );
    // TAT now + 30 s, kept a minute past it.
    assert!((89_000..=90_000).contains(&ttl), "{ttl} ms");
    // The second request moves the TAT to now + 60 s, within a second of the expiry set: it
    // is left alone, and the hash still outlives the TAT by almost a minute.
    let second = admitted(limits.admit(&ask(&two, 0, Some(NOW_US))).await.expect("up"));
    second.expect("fits").0.abandon();
    let (left, _) = windows_state(&limits, ScopeId::Consumer(9)).await;
    assert!(left <= ttl, "not pushed out: {left} ms after {ttl} ms");
    assert!(left > 60_000 + 20_000, "outlives the TAT: {left} ms");
    // Half a minute later the window has room for one more, whose TAT (now + 60 s) comes
    // within a second of the expiry: it is pushed out again.
    let later = NOW_US + MINUTE_US / 2;
    let third = admitted(limits.admit(&ask(&two, 0, Some(later))).await.expect("up"));
    third.expect("fits").0.abandon();
    let (pushed, _) = windows_state(&limits, ScopeId::Consumer(9)).await;
    assert!((119_000..=120_000).contains(&pushed), "{pushed} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_budget_reservations_overspend_by_at_most_one_request() {
    let Some(server) = TestRedis::start() else {
        return;
    };
    let (limits, _queue) = connect(&server, Duration::from_secs(30));
    let (team, registry) = budget(1.0, None);
    let now = registry.clock.now_ms();
    let budgets = Arc::new(vec![Arc::clone(&team)]);
    // Each request reserves 0.30: admitted while committed < 1.00, so 0, 0.3, 0.6, 0.9.
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let limits = Arc::clone(&limits);
            let budgets = Arc::clone(&budgets);
            tokio::spawn(async move {
                admitted(
                    limits
                        .admit(&budget_ask(&budgets, 300_000, now))
                        .await
                        .expect("up"),
                )
                .map(|(admission, _)| admission)
            })
        })
        .collect();
    let mut holds = Vec::new();
    for task in tasks {
        holds.extend(task.await.expect("task"));
    }
    assert_eq!(holds.len(), 4);
    for hold in holds {
        hold.settle_now(0, Some(250_000)).await;
    }
    assert_eq!(redis_spent(&limits, &team, now).await, Some(1_000_000));
    let Verdict::OverBudget(refusal) = limits
        .admit(&budget_ask(&budgets, 1, now))
        .await
        .expect("up")
    else {
        panic!("spent");
    };
    assert!(
        refusal.message.contains("consumer 'team'"),
        "{}",
        refusal.message
    );
    assert!(refusal.retry_after.is_some());
}

#[tokio::test]
async fn the_soft_and_hard_lines_alert_once_and_a_seed_counts_earlier_spend() {
    let Some(server) = TestRedis::start() else {
        return;
    };
    let (limits, _queue) = connect(&server, Duration::from_secs(30));
    let (team, registry) = budget(1.0, Some(0.5));
    let (sink, mut alerts) = tokio::sync::mpsc::unbounded_channel();
    registry.set_alert_sink(sink);
    let now = registry.clock.now_ms();
    // The records say 0.20 was spent this period before this gateway started.
    let (start, _) = team.needs_load(now).expect("not loaded");
    assert!(team.load_spent(start, 200_000));
    let budgets = [Arc::clone(&team)];
    for _ in 0..3 {
        let (admission, _) = admitted(
            limits
                .admit(&budget_ask(&budgets, 300_000, now))
                .await
                .expect("up"),
        )
        .expect("room");
        admission.settle_now(0, Some(300_000)).await;
    }
    assert_eq!(redis_spent(&limits, &team, now).await, Some(1_100_000));
    assert!(matches!(
        limits
            .admit(&budget_ask(&budgets, 1, now))
            .await
            .expect("up"),
        Verdict::OverBudget(_)
    ));
    let events: Vec<String> = std::iter::from_fn(|| alerts.try_recv().ok())
        .map(|alert| alert.event)
        .collect();
    assert_eq!(events, ["budget.soft_limit_crossed", "budget.exceeded"]);
}

/// Runs the reconcile until Redis holds `expected` for the budget: the first calls after Redis
/// returns may still find the old connection broken.
async fn reconcile_until(limits: &SharedLimits, budget: &Arc<CompiledBudget>, expected: i64) {
    let now = budget.now_ms();
    let began = Instant::now();
    loop {
        limits.reconcile(std::slice::from_ref(budget)).await;
        let spent = limits
            .redis
            .call(|mut conn| {
                let key = budget_key(&limits.redis, budget, budget.local_period(now).0);
                async move {
                    redis::cmd("HGET")
                        .arg(&key)
                        .arg("spent")
                        .query_async::<Option<i64>>(&mut conn)
                        .await
                }
            })
            .await;
        if let Ok(Some(spent)) = spent
            && spent == expected
            && limits.pending_len() == 0
        {
            return;
        }
        assert!(
            began.elapsed() < Duration::from_secs(10),
            "Redis holds {spent:?}, not {expected}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn spend_counted_locally_during_an_outage_is_added_when_redis_returns() {
    let Some(mut server) = TestRedis::start() else {
        return;
    };
    let (limits, _queue) = connect(&server, Duration::from_secs(30));
    let (team, registry) = budget(10.0, None);
    let now = registry.clock.now_ms();
    let budgets = [Arc::clone(&team)];
    let (admission, _) = admitted(
        limits
            .admit(&budget_ask(&budgets, 100_000, now))
            .await
            .expect("up"),
    )
    .expect("room");
    admission.settle_now(0, Some(100_000)).await;

    server.stop();
    let began = Instant::now();
    assert!(limits.admit(&budget_ask(&budgets, 1, now)).await.is_err());
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "{:?}",
        began.elapsed()
    );
    // Under `open` the request is counted locally (what the pipeline does on an error).
    let mut hold = crate::budgets::reserve(&budgets, 500_000, now).expect("local room");
    hold.mark_unshared();
    hold.settle(400_000, now);

    server.resume();
    // Redis came back empty (the test server keeps nothing): the reconcile seeds the period from
    // what this gateway saw spent, which includes the outage's 0.40.
    reconcile_until(&limits, &team, 500_000).await;
    assert!(team.take_unshared().is_none(), "reconciled once");

    server.stop();
    for _ in 0..3 {
        assert!(limits.admit(&budget_ask(&budgets, 1, now)).await.is_err());
    }
    let mut hold = crate::budgets::reserve(&budgets, 500_000, now).expect("local room");
    hold.mark_unshared();
    hold.settle(250_000, now);
    server.resume();
    let back = Instant::now();
    // The open circuit lets a probe through within a second.
    let (admission, _) = loop {
        if let Ok(verdict) = limits.admit(&budget_ask(&budgets, 1, now)).await {
            break admitted(verdict).expect("room");
        }
        assert!(back.elapsed() < Duration::from_secs(5), "Redis not noticed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    admission.settle_now(0, Some(0)).await;
    // That admission seeded the empty Redis with 0.50 (what this gateway saw spent, less the
    // 0.25 waiting for the reconcile); the reconcile adds the 0.25 to the existing period.
    assert_eq!(redis_spent(&limits, &team, now).await, Some(500_000));
    reconcile_until(&limits, &team, 750_000).await;
}

/// The round trip shared admission adds: a tight loop of admissions (key, consumer and route
/// scopes with every window and a lease, and a budget) against the local `redis-server`, each
/// settled. Run with `cargo test -p switchyard --release --lib admission_latency -- --ignored
/// --nocapture`.
#[tokio::test]
#[ignore = "a measurement, not a check"]
async fn admission_latency() {
    let Some(server) = TestRedis::start() else {
        return;
    };
    let (limits, _queue) = connect(&server, Duration::from_secs(30));
    let registry = LimitRegistry::default();
    let every = Limits {
        rpm: Some(1_000_000),
        rpd: Some(1_000_000_000),
        tpm: Some(1_000_000_000),
        tpd: Some(1_000_000_000),
        max_concurrent: Some(1000),
    };
    let scopes = [
        scope(&registry, ScopeId::Key(1), every),
        scope(&registry, ScopeId::Consumer(1), every),
        scope(&registry, ScopeId::Route(1), every),
    ];
    let (team, budget_registry) = budget(1_000_000.0, None);
    let budgets = [team];
    let now = budget_registry.clock.now_ms();
    let mut rounds = Vec::new();
    for i in 0..3000 {
        let request = Ask {
            scopes: &scopes,
            tokens: 100,
            budgets: &budgets,
            worst: 10,
            now_ms: now,
            now_us: None,
            cache_entries: &[],
        };
        let began = Instant::now();
        let verdict = limits.admit(&request).await.expect("up");
        let took = began.elapsed();
        let (admission, _) = admitted(verdict).expect("room");
        admission.settle_now(50, Some(5)).await;
        if i >= 200 {
            rounds.push(took);
        }
    }
    // The same connection's bare round trip, for comparison.
    let mut pings = Vec::new();
    for _ in 0..2800 {
        let began = Instant::now();
        limits.redis.probe().await;
        pings.push(began.elapsed());
    }
    pings.sort();
    println!(
        "PING round trip: p50 {:?}, p99 {:?}",
        pings[pings.len() / 2],
        pings[pings.len() * 99 / 100]
    );
    rounds.sort();
    let at = |q: f64| rounds[((rounds.len() as f64 * q) as usize).min(rounds.len() - 1)];
    println!(
        "shared admission round trip over {} calls: p50 {:?}, p99 {:?}, max {:?}",
        rounds.len(),
        at(0.50),
        at(0.99),
        at(1.0)
    );
}

/// The script answers TATs; the gateway turns them into the headers' budgets with the local
/// limiter's arithmetic: a TAT in the past leaves the window full, one a window ahead leaves
/// nothing, the tightest scope wins, and a window without a limit says nothing.
#[test]
fn the_headers_come_from_the_answered_tats() {
    let registry = LimitRegistry::default();
    let now = i64::try_from(NOW_US).expect("fits");
    let minute = i64::try_from(MINUTE_US).expect("fits");
    let key = scope(
        &registry,
        ScopeId::Key(1),
        Limits {
            rpm: Some(60),
            tpm: Some(1000),
            ..Limits::default()
        },
    );
    let consumer = scope(
        &registry,
        ScopeId::Consumer(1),
        Limits {
            rpm: Some(10),
            ..Limits::default()
        },
    );
    // The key: rpm a quarter of a minute ahead (15 of 60 used), tpm in the past (all free).
    // The consumer: rpm a full minute ahead (all 10 used); its rpd TAT is there without a limit.
    let tats = [
        now + minute / 4,
        0,
        now - 5,
        0,
        now + minute,
        now + 7 * minute,
        0,
        0,
    ];
    let budgets = header_budgets(&[key, consumer], now, &tats);
    let requests = budgets.requests.expect("rpm applies");
    assert_eq!(
        (requests.limit, requests.remaining),
        (10, 0),
        "the tightest"
    );
    assert_eq!(requests.reset, Duration::from_secs(60));
    let tokens = budgets.tokens.expect("tpm applies");
    assert_eq!((tokens.limit, tokens.remaining), (1000, 1000));
    assert_eq!(tokens.reset, Duration::ZERO);
    let alone = header_budgets(
        &[scope(
            &registry,
            ScopeId::Key(2),
            Limits {
                rpm: Some(60),
                ..Limits::default()
            },
        )],
        now,
        &tats[..4],
    );
    let requests = alone.requests.expect("rpm applies");
    assert_eq!(requests.remaining, 45, "15 of 60 used");
    assert_eq!(requests.reset, Duration::from_secs(15));
    assert!(alone.tokens.is_none(), "no token limit");
}
