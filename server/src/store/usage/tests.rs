//! The request log's tests: every scenario runs on SQLite, and once more on PostgreSQL when it is
//! installed (`store/test_postgres.rs`); plus two gateways writing into one PostgreSQL database.

use super::*;
use crate::store::test_postgres::TestPostgres;
use crate::usage::Usage;

/// Where a test's request log lives, so that a scenario can open it again (a restart).
enum Place {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Place {
    fn sqlite() -> Place {
        Place::Sqlite(tempfile::tempdir().expect("a scratch dir"))
    }

    async fn open(&self) -> UsageDb {
        match self {
            Place::Sqlite(dir) => UsageDb::open(&dir.path().join(USAGE_DB_FILE)).await,
            Place::Postgres(url) => UsageDb::open_postgres(url).await,
        }
        .expect("the usage database opens")
    }
}

/// Each scenario as a test on SQLite.
macro_rules! on_sqlite {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(&super::Place::sqlite()).await;
                }
            )*
        }
    };
}

on_sqlite!(
    records_round_trip_with_every_field,
    a_resent_request_id_is_kept_twice_and_the_newest_is_read,
    rollups_agree_with_the_records_however_they_are_batched,
    usage_rounds_since_down_to_its_bucket_and_stops_before_until,
    filters_and_cursor_pages_cover_every_record_once,
    status_filters_select_codes_and_classes,
    spend_adds_whole_hours_from_rollups_and_a_partial_hour_from_records,
    prune_deletes_by_age_then_by_row_cap_and_keeps_rollups_longer,
);

/// The request log's SQLite migrations moved to `migrations_usage/sqlite` unchanged (sqlx keys an
/// applied migration by version and SHA-384, not by path), so existing `usage.db` files open
/// without migrating again; and every one has a PostgreSQL twin with the same version.
#[test]
fn usage_migrations_keep_their_checksums_and_have_postgres_twins() {
    let recorded = [
        (
            20261220000001_i64,
            "46cc9b75594f6c37ac461bb563ee204b66990ae4fe493ce9836872a74cc8e56c5394932b23e8e72e1b34dc3b1eb94dad",
        ),
        (
            20261222000001,
            "914d077dd2adb49724fcc84fe64545706dcbf7e6d614094b34fd9b1b289c5e32d434d845bf289745660517c91e93708b",
        ),
    ];
    let sqlite = sqlx::migrate!("./migrations_usage/sqlite");
    crate::store::db::assert_checksums_pinned(&sqlite, &recorded, "usage migration");
    let postgres = sqlx::migrate!("./migrations_usage/postgres");
    let versions = |m: &sqlx::migrate::Migrator| m.iter().map(|m| m.version).collect::<Vec<_>>();
    assert_eq!(versions(&sqlite), versions(&postgres));
}

/// Every scenario again on PostgreSQL, each on a database of its own (one server for all, as
/// starting one takes a while). Skipped with a printed reason when PostgreSQL is not installed,
/// unless `SWITCHYARD_REQUIRE_CLUSTER=1`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_gives_the_same_results_on_postgres() {
    let Some(server) = TestPostgres::start() else {
        return;
    };
    macro_rules! run {
        ($($name:ident),* $(,)?) => {
            $(
                let place = Place::Postgres(server.create_database().await);
                $name(&place).await;
            )*
        };
    }
    run!(
        records_round_trip_with_every_field,
        a_resent_request_id_is_kept_twice_and_the_newest_is_read,
        rollups_agree_with_the_records_however_they_are_batched,
        usage_rounds_since_down_to_its_bucket_and_stops_before_until,
        filters_and_cursor_pages_cover_every_record_once,
        status_filters_select_codes_and_classes,
        spend_adds_whole_hours_from_rollups_and_a_partial_hour_from_records,
        prune_deletes_by_age_then_by_row_cap_and_keeps_rollups_longer,
    );
}

/// Two gateways ("nodes") open one fresh PostgreSQL database at once (creating the schema and
/// migrating once) and write batches concurrently, with rollup keys that overlap: every record
/// is kept with its own id, and every rollup sum is the sum of both nodes' records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_write_into_one_postgres_database_at_once() {
    let Some(server) = TestPostgres::start() else {
        return;
    };
    let url = server.create_database().await;
    let (a, b) = tokio::join!(UsageDb::open_postgres(&url), UsageDb::open_postgres(&url));
    let nodes = [a.expect("node a opens"), b.expect("node b opens")];
    // 4,000 records over three hours, each node writing every other batch of 100, so both write
    // the same rollup keys at the same time.
    let rows = records(4_000, 2_700);
    let writers = nodes.iter().enumerate().map(|(n, db)| {
        let db = db.clone();
        let mine: Vec<LogRow> = rows
            .chunks(100)
            .enumerate()
            .filter(|(i, _)| i % 2 == n)
            .flat_map(|(_, chunk)| chunk.iter().cloned())
            .collect();
        tokio::spawn(async move {
            for batch in mine.chunks(100) {
                db.insert_batch(batch).await.expect("the batch is written");
            }
        })
    });
    for writer in futures_util::future::join_all(writers).await {
        writer.expect("the writer ends");
    }
    let mut got = ids(&all_pages(
        &nodes[1],
        LogFilter {
            limit: Some(500),
            ..Default::default()
        },
    )
    .await);
    got.sort();
    let mut want: Vec<String> = rows.iter().map(|row| row.request_id.clone()).collect();
    want.sort();
    assert_eq!(got, want, "every record once");
    let report = nodes[0]
        .usage(&UsageQuery {
            group_by: GroupBy::Consumer,
            bucket: Bucket::Hour,
            since_ms: None,
            until_ms: None,
        })
        .await
        .expect("report");
    let sum = |f: fn(&UsageRow) -> u64| report.rows.iter().map(f).sum::<u64>();
    assert_eq!(sum(|r| r.requests), rows.len() as u64);
    assert_eq!(
        sum(|r| r.prompt_tokens),
        rows.iter().map(|r| r.usage.prompt_tokens).sum::<u64>()
    );
    assert_eq!(
        sum(|r| r.errors),
        rows.iter().filter(|r| r.status >= 400).count() as u64
    );
    let cost: i64 = rows.iter().filter_map(|r| r.cost_micros).sum();
    let reported: f64 = report.rows.iter().map(|r| r.cost_usd).sum();
    assert!(
        (reported - cost as f64 / 1e6).abs() < 1e-6,
        "{reported} {cost}"
    );
    for db in &nodes {
        db.close().await;
    }
}

const T0: i64 = 1_750_000_000_000 / HOUR_MS * HOUR_MS;

/// A varied record: consumer, key, route, provider, model and status cycle with `i`.
fn record(i: usize, time_ms: i64) -> LogRow {
    let consumers = [None, Some((1, "team-a")), Some((2, "team-b"))];
    let (consumer_id, consumer) = match consumers[i % 3] {
        Some((id, name)) => (Some(id), Some(Arc::from(name))),
        None => (None, None),
    };
    let statuses = [200, 200, 429, 500, 201, 404, 503];
    let status = statuses[i % statuses.len()];
    let cache_hit = i % 9 == 4;
    let hit = |detector: &str, count| GuardrailHit {
        guardrail: "pii".into(),
        detector: detector.into(),
        action: "mask".into(),
        count,
        phase: "request".into(),
    };
    LogRow {
        request_id: format!("req-{i}"),
        time_ms,
        endpoint: "chat",
        consumer_id,
        consumer,
        key_id: consumer_id.map(|id| id * 10 + (i % 2) as i64),
        route: Some(Arc::from(["r1", "r2"][i % 2])),
        provider: Some(Arc::from(["openai", "anthropic", "gemini"][i % 3])),
        requested_model: Some(["gpt", "claude", "gem", "up-1"][i % 4].to_owned()),
        model: (!i.is_multiple_of(5)).then(|| format!("up-{}", i % 4)),
        status,
        error_code: (status >= 400).then(|| "upstream_error".to_owned()),
        stream: i.is_multiple_of(2),
        attempts: (i % 3) as u32,
        fallback_trail: if i % 7 == 3 {
            vec![
                TrailStep {
                    provider: "openai".into(),
                    status: Some(503),
                    outcome: "503".into(),
                },
                TrailStep {
                    provider: "anthropic".into(),
                    status: None,
                    outcome: "timeout".into(),
                },
            ]
        } else {
            Vec::new()
        },
        usage: Usage {
            prompt_tokens: 100 + i as u64,
            completion_tokens: 10 + (i % 13) as u64,
            cached_prompt_tokens: (i % 4) as u64,
            reasoning_tokens: (i % 3) as u64,
            cache_write_tokens: (i % 2) as u64,
        },
        tokens_estimated: i.is_multiple_of(11),
        // A cached answer costs nothing; what it saved is recorded apart.
        cost_micros: if cache_hit {
            Some(0)
        } else {
            (!i.is_multiple_of(6)).then_some(1_000 + i as i64)
        },
        latency_ms: 5 + i as u64,
        ttft_ms: i.is_multiple_of(2).then_some(3),
        client_disconnected: i.is_multiple_of(17),
        cache_hit,
        cost_saved_micros: (cache_hit && i.is_multiple_of(2)).then_some(500 + i as i64),
        guardrails: match i % 4 {
            3 => vec![hit("EMAIL", 2), hit("EMPLOYEE_ID", 1)],
            _ => Vec::new(),
        },
    }
}

/// `n` records, one every `step_ms` from `T0`.
fn records(n: usize, step_ms: i64) -> Vec<LogRow> {
    (0..n).map(|i| record(i, T0 + i as i64 * step_ms)).collect()
}

async fn insert(db: &UsageDb, rows: &[LogRow], batch: usize) {
    for chunk in rows.chunks(batch) {
        db.insert_batch(chunk).await.expect("the batch is written");
    }
}

/// Every page of `filter`, following the cursor.
async fn all_pages(db: &UsageDb, mut filter: LogFilter) -> Vec<RequestLog> {
    let mut seen = Vec::new();
    loop {
        let page = db.logs(&filter).await.expect("a page");
        assert!(page.items.len() <= filter.limit.unwrap_or(DEFAULT_LOG_LIMIT) as usize);
        seen.extend(page.items);
        match page.next_cursor {
            Some(cursor) => filter.cursor = Some(cursor.parse().expect("a row id")),
            None => return seen,
        }
    }
}

/// Which records a filter should select.
type Keep = Box<dyn Fn(&LogRow) -> bool>;
/// Which statuses a status filter should select.
type StatusKeep = fn(u16) -> bool;

fn ids(logs: &[RequestLog]) -> Vec<String> {
    logs.iter().map(|log| log.request_id.clone()).collect()
}

/// The request ids of `rows` that `keep` selects, newest (last inserted) first.
fn expected(rows: &[LogRow], keep: impl Fn(&LogRow) -> bool) -> Vec<String> {
    rows.iter()
        .rev()
        .filter(|row| keep(row))
        .map(|row| row.request_id.clone())
        .collect()
}

#[test]
fn times_format_as_rfc3339_utc() {
    assert_eq!(format_rfc3339(0, true), "1970-01-01T00:00:00.000Z");
    assert_eq!(
        format_rfc3339(1_709_210_096_789, true),
        "2024-02-29T12:34:56.789Z"
    );
    assert_eq!(
        format_rfc3339(1_709_210_096_789, false),
        "2024-02-29T12:34:56Z"
    );
    assert_eq!(format_rfc3339(-5, false), "1970-01-01T00:00:00Z");
    assert_eq!(format_rfc3339(i64::MAX, true), "9999-12-31T23:59:59.999Z");
}

#[test]
fn status_filters_parse() {
    assert_eq!(StatusFilter::parse("429"), Some(StatusFilter::Code(429)));
    assert_eq!(StatusFilter::parse("2xx"), Some(StatusFilter::Class(2)));
    assert_eq!(StatusFilter::parse("5XX"), Some(StatusFilter::Class(5)));
    assert_eq!(StatusFilter::parse("error"), Some(StatusFilter::Error));
    for bad in ["", "6xx", "0xx", "99", "600", "4x", "x4xx", "-1", "abc"] {
        assert_eq!(StatusFilter::parse(bad), None, "{bad}");
    }
}

async fn records_round_trip_with_every_field(place: &Place) {
    let db = place.open().await;
    let rows = records(8, 1234);
    insert(&db, &rows, 8).await;
    let log = db.log("req-3").await.expect("read").expect("found");
    let row = &rows[3];
    assert_eq!(
        log,
        RequestLog {
            request_id: "req-3".into(),
            time: format_rfc3339(row.time_ms, true),
            endpoint: "chat".into(),
            consumer: None,
            key_id: None,
            route: Some("r2".into()),
            provider: Some("openai".into()),
            requested_model: Some("up-1".into()),
            model: Some("up-3".into()),
            status: 500,
            error_code: Some("upstream_error".into()),
            stream: false,
            attempts: 0,
            fallback_trail: row.fallback_trail.clone(),
            prompt_tokens: 103,
            completion_tokens: 13,
            cached_tokens: 3,
            reasoning_tokens: 0,
            tokens_estimated: false,
            cost_usd: Some(0.001003),
            latency_ms: 8,
            ttft_ms: None,
            client_disconnected: false,
            cache_hit: false,
            cost_saved_usd: None,
            guardrails: row.guardrails.clone(),
        }
    );
    assert_eq!(log.fallback_trail.len(), 2);
    assert_eq!(log.guardrails.len(), 2);
    let cached = db.log("req-4").await.expect("read").expect("found");
    assert!(cached.cache_hit);
    assert_eq!(cached.cost_usd, Some(0.0));
    assert_eq!(cached.cost_saved_usd, Some(0.000504));
    assert!(cached.guardrails.is_empty());
    let unpriced = db.log("req-0").await.expect("read").expect("found");
    assert_eq!(unpriced.cost_usd, None);
    assert!(unpriced.tokens_estimated && unpriced.client_disconnected);
    assert_eq!(unpriced.ttft_ms, Some(3));
    assert_eq!(db.log("req-404").await.expect("read"), None);
}

async fn a_resent_request_id_is_kept_twice_and_the_newest_is_read(place: &Place) {
    let db = place.open().await;
    let mut first = record(1, T0);
    first.request_id = "same".into();
    let mut second = record(2, T0 + 10);
    second.request_id = "same".into();
    db.insert_batch(&[first]).await.expect("written");
    db.insert_batch(&[second]).await.expect("written");
    let page = db.logs(&LogFilter::default()).await.expect("page");
    assert_eq!(ids(&page.items), ["same", "same"]);
    let newest = db.log("same").await.expect("read").expect("found");
    assert_eq!(newest.status, 429);
}

async fn rollups_agree_with_the_records_however_they_are_batched(place: &Place) {
    let db = place.open().await;
    // Three records a minute over about 14 hours, in batches that straddle the insert chunk.
    let rows = records(2_500, 20_000);
    insert(&db, &rows[..700], 700).await;
    insert(&db, &rows[700..], 97).await;
    for group_by in [
        GroupBy::Consumer,
        GroupBy::Key,
        GroupBy::Route,
        GroupBy::Provider,
        GroupBy::Model,
    ] {
        for bucket in [Bucket::Hour, Bucket::Day] {
            let report = db
                .usage(&UsageQuery {
                    group_by,
                    bucket,
                    since_ms: None,
                    until_ms: None,
                })
                .await
                .expect("report");
            let mut want: std::collections::BTreeMap<(i64, Option<String>), UsageRow> =
                Default::default();
            let mut unpriced = 0;
            for row in &rows {
                let bucket_ms = row.time_ms / bucket.millis() * bucket.millis();
                let group = match group_by {
                    GroupBy::Consumer => row.consumer.as_deref().map(str::to_owned),
                    GroupBy::Key => row.key_id.map(|id| id.to_string()),
                    GroupBy::Route => row.route.as_deref().map(str::to_owned),
                    GroupBy::Provider => row.provider.as_deref().map(str::to_owned),
                    GroupBy::Model => row.model.clone().or(row.requested_model.clone()),
                };
                let entry = want.entry((bucket_ms, group.clone())).or_default();
                entry.bucket = format_rfc3339(bucket_ms, false);
                entry.group = group;
                entry.requests += 1;
                entry.errors += u64::from(row.status >= 400);
                entry.prompt_tokens += row.usage.prompt_tokens;
                entry.completion_tokens += row.usage.completion_tokens;
                entry.cached_tokens += row.usage.cached_prompt_tokens;
                entry.reasoning_tokens += row.usage.reasoning_tokens;
                match row.cost_micros {
                    Some(cost) => entry.cost_usd += cost as f64 / 1e6,
                    None => {
                        entry.unpriced_requests += 1;
                        unpriced += 1;
                    }
                }
                if row.cache_hit {
                    entry.cache_hits += 1;
                    entry.cost_saved_usd += row.cost_saved_micros.unwrap_or(0) as f64 / 1e6;
                }
            }
            assert!(unpriced > 0);
            // Key ids here all have two digits, so their order as strings is the numeric one.
            let got = report.rows.clone();
            let want: Vec<UsageRow> = want.into_values().collect();
            assert_eq!(got.len(), want.len(), "{group_by:?} {bucket:?}");
            for (got, want) in got.iter().zip(&want) {
                assert!(
                    (got.cost_usd - want.cost_usd).abs() < 1e-9,
                    "{got:?} {want:?}"
                );
                assert!(
                    (got.cost_saved_usd - want.cost_saved_usd).abs() < 1e-9,
                    "{got:?} {want:?}"
                );
                assert_eq!(
                    UsageRow {
                        cost_usd: 0.0,
                        cost_saved_usd: 0.0,
                        ..got.clone()
                    },
                    UsageRow {
                        cost_usd: 0.0,
                        cost_saved_usd: 0.0,
                        ..want.clone()
                    }
                );
            }
            let hits: u64 = got.iter().map(|row| row.cache_hits).sum();
            assert_eq!(hits, rows.iter().filter(|row| row.cache_hit).count() as u64);
            // Ordered by bucket, then group with "none" first.
            let order: Vec<_> = report.rows.iter().map(|row| &row.bucket).collect();
            assert!(order.windows(2).all(|pair| pair[0] <= pair[1]));
        }
    }
    let records_total = all_pages(
        &db,
        LogFilter {
            limit: Some(500),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(records_total.len(), rows.len());
}

async fn usage_rounds_since_down_to_its_bucket_and_stops_before_until(place: &Place) {
    let db = place.open().await;
    // One record an hour for three days.
    let rows = records(72, HOUR_MS);
    insert(&db, &rows, 72).await;
    let report = |since_ms, until_ms, bucket| {
        let db = db.clone();
        async move {
            db.usage(&UsageQuery {
                group_by: GroupBy::Route,
                bucket,
                since_ms,
                until_ms,
            })
            .await
            .expect("report")
        }
    };
    let requests = |report: &UsageReport| report.rows.iter().map(|r| r.requests).sum::<u64>();
    // Half an hour into the 3rd hour: the whole hour counts.
    let hourly = report(
        Some(T0 + 2 * HOUR_MS + HOUR_MS / 2),
        Some(T0 + 5 * HOUR_MS),
        Bucket::Hour,
    )
    .await;
    assert_eq!(requests(&hourly), 3);
    assert_eq!(
        hourly.rows[0].bucket,
        format_rfc3339(T0 + 2 * HOUR_MS, false)
    );
    let daily = report(Some(T0 + 2 * HOUR_MS), None, Bucket::Day).await;
    let day_start = T0 / DAY_MS * DAY_MS;
    assert_eq!(daily.rows[0].bucket, format_rfc3339(day_start, false));
    assert_eq!(requests(&daily), 72);
    assert!(
        daily
            .rows
            .iter()
            .all(|row| row.bucket.ends_with("T00:00:00Z"))
    );
}

async fn filters_and_cursor_pages_cover_every_record_once(place: &Place) {
    let db = place.open().await;
    let rows = records(600, 1_000);
    insert(&db, &rows, 64).await;
    let since = T0 + 100_000;
    let until = T0 + 450_000;
    let cases: Vec<(LogFilter, Keep)> = vec![
        (LogFilter::default(), Box::new(|_| true)),
        (
            LogFilter {
                consumer: Some("team-a".into()),
                ..Default::default()
            },
            Box::new(|row| row.consumer.as_deref() == Some("team-a")),
        ),
        (
            LogFilter {
                key_id: Some(21),
                ..Default::default()
            },
            Box::new(|row| row.key_id == Some(21)),
        ),
        (
            LogFilter {
                route: Some("r2".into()),
                provider: Some("gemini".into()),
                ..Default::default()
            },
            Box::new(|row| {
                row.route.as_deref() == Some("r2") && row.provider.as_deref() == Some("gemini")
            }),
        ),
        (
            LogFilter {
                model: Some("gpt".into()),
                ..Default::default()
            },
            Box::new(|row| row.requested_model.as_deref() == Some("gpt")),
        ),
        (
            // The requested model of some records and the upstream model of others.
            LogFilter {
                model: Some("up-1".into()),
                ..Default::default()
            },
            Box::new(|row| {
                row.model.as_deref() == Some("up-1")
                    || row.requested_model.as_deref() == Some("up-1")
            }),
        ),
        (
            LogFilter {
                since_ms: Some(since),
                until_ms: Some(until),
                status: Some(StatusFilter::Error),
                ..Default::default()
            },
            Box::new(move |row| row.time_ms >= since && row.time_ms < until && row.status >= 400),
        ),
        (
            LogFilter {
                consumer: Some("nobody".into()),
                ..Default::default()
            },
            Box::new(|_| false),
        ),
    ];
    for (filter, keep) in cases {
        let want = expected(&rows, keep);
        for limit in [None, Some(1), Some(7), Some(500)] {
            let got = all_pages(
                &db,
                LogFilter {
                    limit,
                    ..filter.clone()
                },
            )
            .await;
            assert_eq!(ids(&got), want, "{filter:?} limit {limit:?}");
        }
    }
    // The last page says there is no next one, also when it is exactly full.
    let page = db
        .logs(&LogFilter {
            limit: Some(600),
            ..Default::default()
        })
        .await
        .expect("page");
    assert_eq!(page.items.len(), MAX_LOG_LIMIT as usize);
    assert!(page.next_cursor.is_some());
    let exact = db
        .logs(&LogFilter {
            key_id: Some(21),
            limit: Some(expected(&rows, |row| row.key_id == Some(21)).len() as u32),
            ..Default::default()
        })
        .await
        .expect("page");
    assert_eq!(exact.next_cursor, None);
}

async fn status_filters_select_codes_and_classes(place: &Place) {
    let db = place.open().await;
    let rows = records(70, 10);
    insert(&db, &rows, 70).await;
    let cases: [(StatusFilter, StatusKeep); 5] = [
        (StatusFilter::Code(429), |status| status == 429),
        (StatusFilter::Class(2), |status| {
            (200..300).contains(&status)
        }),
        (StatusFilter::Class(4), |status| {
            (400..500).contains(&status)
        }),
        (StatusFilter::Class(5), |status| status >= 500),
        (StatusFilter::Error, |status| status >= 400),
    ];
    for (status, keep) in cases {
        let got = all_pages(
            &db,
            LogFilter {
                status: Some(status),
                limit: Some(500),
                ..Default::default()
            },
        )
        .await;
        let want = expected(&rows, |row| keep(row.status));
        assert!(!want.is_empty());
        assert_eq!(ids(&got), want, "{status:?}");
    }
}

async fn spend_adds_whole_hours_from_rollups_and_a_partial_hour_from_records(place: &Place) {
    let db = place.open().await;
    let priced = |i: usize, time_ms: i64, consumer: i64, key: i64, cost: Option<i64>| LogRow {
        consumer_id: Some(consumer),
        key_id: Some(key),
        cost_micros: cost,
        ..record(i, time_ms)
    };
    let rows = vec![
        // Before the period: not counted.
        priced(0, T0 + 10 * 60_000, 1, 11, Some(1)),
        // The leading half hour (the period starts at T0 + 30 min).
        priced(1, T0 + 30 * 60_000, 1, 11, Some(10)),
        priced(2, T0 + 59 * 60_000, 1, 12, Some(100)),
        // Whole hours.
        priced(3, T0 + HOUR_MS, 1, 11, Some(1_000)),
        priced(4, T0 + 5 * HOUR_MS + 1, 1, 12, Some(10_000)),
        priced(5, T0 + 5 * HOUR_MS + 2, 1, 12, None),
        // Someone else's.
        priced(6, T0 + 2 * HOUR_MS, 2, 21, Some(100_000)),
    ];
    insert(&db, &rows, 3).await;
    let since = T0 + 30 * 60_000;
    let spend = |scope| {
        let db = db.clone();
        async move { db.spend_since(scope, since).await.expect("spend") }
    };
    assert_eq!(spend(SpendScope::Consumer(1)).await, 11_110);
    assert_eq!(spend(SpendScope::Key(11)).await, 1_010);
    assert_eq!(spend(SpendScope::Key(12)).await, 10_100);
    assert_eq!(spend(SpendScope::Consumer(2)).await, 100_000);
    assert_eq!(spend(SpendScope::Consumer(3)).await, 0);
    // On an hour boundary only the rollups are read; from the epoch, everything counts.
    assert_eq!(
        db.spend_since(SpendScope::Consumer(1), T0 + HOUR_MS)
            .await
            .expect("spend"),
        11_000
    );
    assert_eq!(
        db.spend_since(SpendScope::Consumer(1), 0)
            .await
            .expect("spend"),
        11_111
    );
    // After a restart: the same figures from the same file.
    db.close().await;
    let reopened = place.open().await;
    assert_eq!(
        reopened
            .spend_since(SpendScope::Consumer(1), since)
            .await
            .expect("spend"),
        11_110
    );
}

async fn prune_deletes_by_age_then_by_row_cap_and_keeps_rollups_longer(place: &Place) {
    let db = place.open().await;
    // One record a day for 40 days, then 4,500 more on the last day.
    let mut rows: Vec<LogRow> = (0..40).map(|i| record(i, T0 + i as i64 * DAY_MS)).collect();
    let last_day = T0 + 39 * DAY_MS;
    rows.extend((40..4_540).map(|i| record(i, last_day + i as i64)));
    insert(&db, &rows, 512).await;
    let now = last_day + HOUR_MS;
    // 30 days: the first ten days' records go (days 0 to 9 are older than now - 30 days).
    let deleted = db.prune(now, 30, 0).await.expect("pruned");
    assert_eq!(deleted, 10);
    let left = all_pages(
        &db,
        LogFilter {
            limit: Some(500),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(left.len(), rows.len() - 10);
    assert_eq!(
        left.last().map(|log| log.request_id.as_str()),
        Some("req-10")
    );
    // The rollups of those days stay: usage still sees all 40 days.
    let report = db.usage(&UsageQuery::default()).await.expect("report");
    assert_eq!(
        report.rows.iter().map(|r| r.requests).sum::<u64>(),
        rows.len() as u64
    );
    // A cap of 3,000: the oldest go, in several chunks, and the newest 3,000 stay.
    let deleted = db.prune(now, 30, 3_000).await.expect("pruned");
    assert_eq!(deleted, (rows.len() - 10 - 3_000) as u64);
    let left = all_pages(
        &db,
        LogFilter {
            limit: Some(500),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids(&left), expected(&rows[rows.len() - 3_000..], |_| true));
    // Nothing more to do: nothing deleted.
    assert_eq!(db.prune(now, 30, 3_000).await.expect("pruned"), 0);
    // 365 days past the retention, the oldest rollups go too.
    let later = T0 + (30 + 365 + 5) * DAY_MS;
    db.prune(later, 30, 0).await.expect("pruned");
    let report = db.usage(&UsageQuery::default()).await.expect("report");
    let first_day = format_rfc3339((later - 395 * DAY_MS) / DAY_MS * DAY_MS, false);
    assert!(
        report.rows.iter().all(|row| row.bucket >= first_day),
        "{report:?}"
    );
    assert!(!report.rows.is_empty());
    // The first five days' rollups are gone.
    assert_eq!(
        report.rows.iter().map(|r| r.requests).sum::<u64>(),
        4_500 + 35
    );
}

/// Run with `cargo test -p switchyard --release --lib store::usage -- --ignored --nocapture`.
/// Measured twice: with random request ids (clients' own, and the gateway's today), whose
/// index takes a page write per record, and with time-ordered ones, which only append.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run it in release"]
async fn writer_throughput() {
    throughput(Place::sqlite, "SQLite").await;
}

/// The same benchmark on PostgreSQL (a throwaway server with `fsync` off, on this machine).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run it in release"]
async fn writer_throughput_postgres() {
    let Some(server) = TestPostgres::start() else {
        return;
    };
    let mut urls = Vec::new();
    for _ in 0..2 {
        urls.push(server.create_database().await);
    }
    throughput(
        move || Place::Postgres(urls.pop().unwrap_or_default()),
        "PostgreSQL",
    )
    .await;
}

async fn throughput(mut place: impl FnMut() -> Place, engine: &str) {
    const TOTAL: usize = 200_000;
    const BATCH: usize = 512;
    for ordered in [false, true] {
        let place = place();
        let db = place.open().await;
        let rows: Vec<LogRow> = (0..TOTAL)
            .map(|i| {
                let time_ms = T0 + i as i64 * 5;
                let mut row = record(i, time_ms);
                row.request_id = if ordered {
                    format!("req_{time_ms:012x}{:020x}", fastrand::u128(..) >> 48)
                } else {
                    format!("req_{:032x}", fastrand::u128(..))
                };
                row
            })
            .collect();
        let started = std::time::Instant::now();
        for batch in rows.chunks(BATCH) {
            db.insert_batch(batch).await.expect("written");
        }
        let elapsed = started.elapsed();
        let ids = if ordered { "time-ordered" } else { "random" };
        println!(
            "writer_throughput on {engine}: {TOTAL} records with {ids} ids in batches of {BATCH} in {:.2} s: {:.0} records/s",
            elapsed.as_secs_f64(),
            TOTAL as f64 / elapsed.as_secs_f64()
        );
        let started = std::time::Instant::now();
        let page = db
            .logs(&LogFilter {
                consumer: Some("team-b".into()),
                status: Some(StatusFilter::Error),
                ..Default::default()
            })
            .await
            .expect("page");
        let last = rows
            .last()
            .map(|row| row.request_id.as_str())
            .unwrap_or_default();
        let found = db.log(last).await.expect("read");
        println!(
            "writer_throughput on {engine}: a filtered logs page and a lookup by id over {TOTAL} records in {:?}",
            started.elapsed()
        );
        assert_eq!(page.items.len(), DEFAULT_LOG_LIMIT as usize);
        assert!(found.is_some());
    }
}

/// The writer keeps a batch for another attempt only when what failed was the connection or
/// the moment, never the data: a retry of the data's failure would fail forever.
#[test]
fn a_lost_connection_passes_and_a_data_error_does_not() {
    let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
    assert!(passes(&sqlx::Error::Io(reset)));
    assert!(passes(&sqlx::Error::PoolTimedOut));
    assert!(!passes(&sqlx::Error::RowNotFound));
    assert!(!passes(&sqlx::Error::ColumnNotFound("cost".into())));
    assert!(!passes(&sqlx::Error::Decode("not a number".into())));
}
