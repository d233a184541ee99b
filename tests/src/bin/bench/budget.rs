//! The performance budget of issue 7, line by line, judged against the arms' results, followed by
//! the request log's lines from issue 12, the cache's and guardrails' lines from issue 13 and
//! the routing strategies' lines from issue 15.
//!
//! Memory budgets are in decimal megabytes (10^6 bytes), the stricter reading; /proc reports KiB.

use serde::Serialize;

use crate::cache_guardrails::{
    CACHE_HIT, GUARDED_2KB, GUARDED_2KB_MASKED, PASS_THROUGH, PLAIN_2KB,
};
use crate::latency::ArmLatency;
use crate::report::{Arm, Arms};
use crate::setup::STRATEGY_ROUTES;
use crate::stats::Added;
use crate::strategies;

#[derive(Serialize)]
pub struct Line {
    pub name: String,
    pub budget: String,
    pub measured: String,
    /// `None` when the line could not be measured.
    pub pass: Option<bool>,
}

impl Line {
    pub fn verdict(&self) -> &'static str {
        match self.pass {
            Some(true) => "PASS",
            Some(false) => "**FAIL**",
            None => "n/a",
        }
    }
}

/// A line from an arm: `measure` gives the measured text and whether it passes.
fn line<T>(
    name: impl Into<String>,
    budget: &str,
    arm: &Arm<T>,
    measure: impl FnOnce(&T) -> (String, bool),
) -> Line {
    let (measured, pass) = match arm.ok() {
        Some(result) => {
            let (text, pass) = measure(result);
            (text, Some(pass))
        }
        None => (arm.absent().unwrap_or_default(), None),
    };
    Line {
        name: name.into(),
        budget: budget.to_owned(),
        measured,
        pass,
    }
}

fn mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
}

pub fn judge(arms: &Arms) -> Vec<Line> {
    let gateway_added = |r: &crate::latency::LatencyResult| {
        r.arms
            .iter()
            .find(|a| a.name == "switchyard")
            .and_then(|a| a.added)
            .unwrap_or_default()
    };
    let mut lines = vec![
        line("Added latency p50", "≤ 50 µs", &arms.latency, |r| {
            let v = gateway_added(r).p50_us;
            (format!("{v:.1} µs"), v <= 50.0)
        }),
        line("Added latency p99", "≤ 200 µs", &arms.latency, |r| {
            let v = gateway_added(r).p99_us;
            (format!("{v:.1} µs"), v <= 200.0)
        }),
    ];
    let best = |r: &crate::throughput::ThroughputResult| {
        r.best
            .iter()
            .find(|b| b.arm == "switchyard")
            .map(|b| (b.rate_rps, b.concurrency, b.cpu_us_per_request))
    };
    lines.push(line(
        "Throughput with p99 ≤ 5 ms",
        "≥ 15,000 req/s",
        &arms.throughput,
        |r| match best(r) {
            Some((rate, c, _)) if rate > 0.0 => (
                format!("{rate:.0} req/s ({c} connections)"),
                rate >= 15_000.0,
            ),
            _ => ("no level kept p99 ≤ 5 ms".into(), false),
        },
    ));
    lines.push(line(
        "Gateway CPU per request at that rate",
        "≤ 60 µs",
        &arms.throughput,
        |r| match best(r).and_then(|b| b.2) {
            Some(cpu) => (format!("{cpu:.1} µs"), cpu <= 60.0),
            None => ("not measured".into(), false),
        },
    ));
    lines.push(line(
        "Streaming: added first-chunk p99",
        "≤ 300 µs",
        &arms.streaming,
        |r| {
            let v = r.added_first_chunk.p99_us;
            (format!("{v:.1} µs"), v <= 300.0)
        },
    ));
    lines.push(line(
        "Streaming: added per-chunk p99",
        "≤ 30 µs",
        &arms.streaming,
        |r| {
            let v = r.added_per_chunk.p99_us;
            (format!("{v:.1} µs"), v <= 30.0)
        },
    ));
    lines.push(line(
        "Streaming: chunks delivered one for one",
        "no coalescing, none lost",
        &arms.streaming,
        |r| {
            let g = &r.gateway;
            (
                format!(
                    "{}/{} events, {} merged frames",
                    g.events_received, g.events_expected, g.coalesced_frames
                ),
                r.one_for_one,
            )
        },
    ));
    let streams = arms.streaming.ok().map_or(1_000, |r| r.concurrent.streams);
    lines.push(line(
        format!("Streaming: {streams} concurrent streams"),
        "all complete, no gap > 10× interval",
        &arms.streaming,
        |r| {
            let c = &r.concurrent;
            (
                format!(
                    "{}/{} complete, max gap {:.1} ms (limit {:.0} ms)",
                    c.completed, c.streams, c.max_gap_ms, c.gap_limit_ms
                ),
                c.ok,
            )
        },
    ));
    lines.push(line("Idle RSS", "≤ 20 MB", &arms.footprint, |r| {
        let v = mb(r.idle_rss_kb);
        (format!("{v:.1} MB"), v <= 20.0)
    }));
    let inflight = arms.footprint.ok().map_or(1_000, |r| r.inflight_requests);
    lines.push(line(
        format!("RSS with {inflight} requests in flight"),
        "≤ 80 MB",
        &arms.footprint,
        |r| {
            let v = mb(r.inflight_rss_kb);
            let held = format!("{} held, {} failed", r.inflight_reached, r.inflight_failed);
            (
                format!("{v:.1} MB ({held})"),
                v <= 80.0 && r.inflight_failed == 0,
            )
        },
    ));
    lines.push(line(
        "First proxied answer after start",
        "≤ 100 ms",
        &arms.footprint,
        |r| {
            let v = r.start_to_first_answer_ms;
            (format!("{v:.1} ms"), v <= 100.0)
        },
    ));
    let routes = arms.reload.ok().map_or(1_000, |r| r.routes);
    lines.push(line(
        format!("Reload of {routes} routes (build_ms)"),
        "≤ 20 ms",
        &arms.reload,
        |r| (format!("{:.2} ms", r.build_ms), r.build_ms <= 20.0),
    ));
    lines.push(line(
        "Failed requests during swaps",
        "0",
        &arms.reload,
        |r| {
            let swaps = r.swaps;
            let n = r.during_swaps.count;
            (
                format!("{} of {n} ({swaps} swaps)", r.during_swaps_failed),
                r.during_swaps_failed == 0,
            )
        },
    ));
    lines.push(line(
        "In-flight p99 during swaps",
        "≤ 2× p99 without swaps",
        &arms.reload,
        |r| {
            (
                format!(
                    "{:.0} µs vs {:.0} µs ({:.2}×)",
                    r.during_swaps.p99_us, r.baseline.p99_us, r.p99_ratio
                ),
                r.p99_ratio <= 2.0,
            )
        },
    ));
    lines.push(line(
        "Added latency of a 401-then-success failover",
        "reported",
        &arms.resilience,
        |r| {
            (
                format!("p50 {:.1} µs, p99 {:.1} µs", r.added.p50_us, r.added.p99_us),
                true,
            )
        },
    ));
    lines.extend(request_log_lines(arms));
    lines.extend(cache_guardrails_lines(arms));
    lines.extend(strategy_lines(arms));
    lines
}

/// The records/s the writer must sustain (issue 12), when the load reaches it.
const WRITER_RPS: f64 = 20_000.0;

/// Issue 12: what the request log costs per request, and whether its writer keeps up.
fn request_log_lines(arms: &Arms) -> Vec<Line> {
    let (measured, pass) = match arms.latency.ok() {
        Some(r) => match (&r.logging_cost, &r.log_off_note) {
            (Some(cost), _) => (
                format!("{:.1} µs (p99 {:.1} µs)", cost.p50_us, cost.p99_us),
                Some(cost.p50_us <= 5.0),
            ),
            (None, note) => (note.clone().unwrap_or_else(|| "not measured".into()), None),
        },
        None => (arms.latency.absent().unwrap_or_default(), None),
    };
    let mut lines = vec![Line {
        name: "Logging cost (p50, log on − log off)".into(),
        budget: "≤ 5 µs".into(),
        measured,
        pass,
    }];
    lines.push(line(
        "Request records dropped at peak throughput",
        "0",
        &arms.request_log,
        |r| {
            (
                format!(
                    "{} of {} requests ({} written, {} missing; peak {:.0} req/s)",
                    r.records_dropped,
                    r.requests_sent,
                    r.records_written,
                    r.records_missing,
                    r.peak_rps
                ),
                r.kept_up(),
            )
        },
    ));
    let name = "Records written per second (peak)";
    let log = arms.request_log.ok();
    let steps = log.map_or(&[][..], |r| &r.steps[..]);
    let top_load = steps
        .iter()
        .max_by(|a, b| a.sent_rps.total_cmp(&b.sent_rps));
    let slowest_catch_up = steps.iter().map(|s| s.catch_up_ms).fold(0.0, f64::max);
    let writer = match (log, log.and_then(|r| r.peak_writer.as_ref()), top_load) {
        // The load reached the rate to sustain: judge the best rate the writer achieved, and
        // say what happened at the highest load when that was another level.
        (Some(r), Some(p), Some(top)) if top.sent_rps >= WRITER_RPS => {
            let mut measured = format!(
                "{:.0} records/s at {:.0} req/s ({} connections; caught up {:.0} ms after the \
                 level)",
                p.written_rps, p.sent_rps, p.concurrency, p.catch_up_ms
            );
            if top.concurrency != p.concurrency {
                measured.push_str(&format!(
                    "; at the highest load, {:.0} req/s ({} connections), {:.0} records/s, \
                     caught up {:.0} ms after the level",
                    top.sent_rps, top.concurrency, top.written_rps, top.catch_up_ms
                ));
            }
            Line {
                name: name.into(),
                budget: "≥ 20,000".into(),
                measured,
                pass: Some(p.written_rps >= WRITER_RPS && r.kept_up()),
            }
        }
        (Some(r), Some(p), _) => Line {
            name: name.into(),
            budget: "reported (the load stayed below 20,000 req/s)".into(),
            measured: format!(
                "{:.0} records/s at {:.0} req/s, the most this load reached; {}, caught up within \
                 {:.0} ms of every level",
                p.written_rps,
                p.sent_rps,
                if r.kept_up() {
                    "the writer kept up (0 dropped)".to_owned()
                } else {
                    format!("the writer fell behind ({} dropped)", r.records_dropped)
                },
                slowest_catch_up
            ),
            pass: Some(r.kept_up()),
        },
        (Some(_), _, _) => Line {
            name: name.into(),
            budget: "≥ 20,000".into(),
            measured: "no level was traced".into(),
            pass: None,
        },
        (None, _, _) => Line {
            name: name.into(),
            budget: "≥ 20,000".into(),
            measured: arms.request_log.absent().unwrap_or_default(),
            pass: None,
        },
    };
    lines.push(writer);
    lines
}

/// The most that guardrails may add to a 2 KB prompt's p50 (issue 13).
const GUARDRAILS_P50_US: f64 = 30.0;

/// Issue 13: a cache hit against the upstream it spares, and what the guardrails add.
fn cache_guardrails_lines(arms: &Arms) -> Vec<Line> {
    let hit_name = "Cache hit vs upstream (p50)";
    let hit_budget = "below the upstream's p50";
    let plain_name = "Guardrails on a 2 KB prompt (added p50)";
    let masked_name = "Guardrails on a 2 KB prompt, two values masked (added p50)";
    let guard_budget = "≤ 30 µs";
    let result = match arms.latency.ok() {
        Some(r) => r
            .cache_guardrails
            .ok()
            .ok_or_else(|| r.cache_guardrails.absent()),
        None => Err(arms.latency.absent()),
    };
    let r = match result {
        Ok(r) => r,
        Err(absent) => {
            return [
                (hit_name, hit_budget),
                (plain_name, guard_budget),
                (masked_name, guard_budget),
            ]
            .into_iter()
            .map(|(name, budget)| Line {
                name: name.into(),
                budget: budget.into(),
                measured: absent.clone().unwrap_or_default(),
                pass: None,
            })
            .collect();
        }
    };
    let upstream = &r.delayed_upstream;
    let hit = match r.arm(CACHE_HIT) {
        Some(hit) => Line {
            name: hit_name.into(),
            budget: hit_budget.into(),
            measured: format!(
                "{:.1} µs vs {:.1} µs for an upstream that answers in {} ms ({} misses; a request \
                 passed through to the undelayed mock: {:.1} µs)",
                hit.latency.p50_us,
                upstream.latency.p50_us,
                r.upstream_delay_ms,
                hit.errors,
                r.arm(PASS_THROUGH).map_or(0.0, |a| a.latency.p50_us),
            ),
            pass: Some(
                clean(hit) && clean(upstream) && hit.latency.p50_us < upstream.latency.p50_us,
            ),
        },
        None => Line {
            name: hit_name.into(),
            budget: hit_budget.into(),
            measured: "no cache-hit target".into(),
            pass: None,
        },
    };
    let plain_ok = r.arm(PLAIN_2KB).is_some_and(clean);
    let guard = |name: &str, target: &str, cost: Added, bytes: usize, hits: &str| Line {
        name: name.into(),
        budget: guard_budget.into(),
        measured: format!(
            "{:.1} µs (p99 {:.1} µs; {bytes} B prompt; recorded hits: {hits})",
            cost.p50_us, cost.p99_us
        ),
        pass: Some(
            plain_ok && r.arm(target).is_some_and(clean) && cost.p50_us <= GUARDRAILS_P50_US,
        ),
    };
    vec![
        hit,
        guard(
            plain_name,
            GUARDED_2KB,
            r.guardrails_cost,
            r.prompt_bytes,
            &r.clean_prompt_hits,
        ),
        guard(
            masked_name,
            GUARDED_2KB_MASKED,
            r.guardrails_masking_cost,
            r.masked_prompt_bytes,
            &r.masked_prompt_hits,
        ),
    ]
}

/// A target that answered every request as expected, at least once.
fn clean(arm: &ArmLatency) -> bool {
    arm.errors == 0 && arm.latency.count > 0
}

/// Issue 15: what each strategy's choice adds to the p50 over `weighted`, on the same three
/// upstreams.
fn strategy_lines(arms: &Arms) -> Vec<Line> {
    let budget = format!("≤ {:.0} µs", strategies::BUDGET_P50_US);
    let result = match arms.latency.ok() {
        Some(r) => r.strategies.ok().ok_or_else(|| r.strategies.absent()),
        None => Err(arms.latency.absent()),
    };
    let others = STRATEGY_ROUTES
        .iter()
        .map(|(strategy, _)| *strategy)
        .filter(|s| *s != strategies::WEIGHTED);
    let name = |strategy: &str| format!("Strategy `{strategy}` over `weighted` (p50)");
    let r = match result {
        Ok(r) => r,
        Err(absent) => {
            return others
                .map(|strategy| Line {
                    name: name(strategy),
                    budget: budget.clone(),
                    measured: absent.clone().unwrap_or_default(),
                    pass: None,
                })
                .collect();
        }
    };
    let weighted_ok = r.arm(strategies::WEIGHTED).is_some_and(clean);
    others
        .map(|strategy| {
            let over = r
                .strategies
                .iter()
                .find(|f| f.strategy == strategy)
                .and_then(|f| f.over_weighted);
            match (over, r.arm(strategy)) {
                (Some(over), Some(arm)) => Line {
                    name: name(strategy),
                    budget: budget.clone(),
                    measured: format!(
                        "{:+.1} µs (p99 {:+.1} µs; {} errors)",
                        over.p50_us, over.p99_us, arm.errors
                    ),
                    pass: Some(
                        weighted_ok && clean(arm) && over.p50_us <= strategies::BUDGET_P50_US,
                    ),
                },
                _ => Line {
                    name: name(strategy),
                    budget: budget.clone(),
                    measured: "no target".into(),
                    pass: None,
                },
            }
        })
        .collect()
}
