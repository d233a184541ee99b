//! The Markdown sections of the report, one per arm, with the detail behind each budget line.

use std::fmt::Write;

use crate::report::{Arm, Arms};
use crate::stats::Summary;

pub fn all(out: &mut String, arms: &Arms) {
    let noise = |name: &str| arms.background_cpu_percent.get(name);
    latency(out, &arms.latency, noise("latency"));
    throughput(out, &arms.throughput, noise("throughput"));
    streaming(out, &arms.streaming, noise("streaming"));
    footprint(out, &arms.footprint, noise("footprint"));
    reload(out, &arms.reload, noise("reload"));
    resilience(out, &arms.resilience, noise("resilience"));
    // The request log is read within the throughput arm, whose section gives the noise.
    request_log(out, &arms.request_log, None);
    cache_guardrails(out, &arms.latency, noise("latency"));
    strategies(out, &arms.latency, noise("latency"));
}

/// Writes the arm's heading and returns its result, or writes why there is none.
fn heading<'a, T>(
    out: &mut String,
    title: &str,
    arm: &'a Arm<T>,
    noise: Option<&f64>,
) -> Option<&'a T> {
    let _ = writeln!(out, "## {title}\n");
    if let Some(busy) = noise {
        let _ = writeln!(
            out,
            "_Other processes used {busy:.1}% of the machine's CPU during this arm._\n"
        );
    }
    if let Some(absent) = arm.absent() {
        let _ = writeln!(out, "{absent}\n");
    }
    arm.ok()
}

fn us(v: f64) -> String {
    format!("{v:.1}")
}

fn summary_cells(s: &Summary) -> String {
    format!(
        "{} | {} | {} | {} | {}",
        us(s.p50_us),
        us(s.p90_us),
        us(s.p99_us),
        us(s.max_us),
        s.count
    )
}

fn latency(out: &mut String, arm: &Arm<crate::latency::LatencyResult>, noise: Option<&f64>) {
    let Some(r) = heading(out, "1. Added latency (one request at a time)", arm, noise) else {
        return;
    };
    let _ = writeln!(
        out,
        "{} requests per arm after {} warm-up, interleaved request by request. Times in µs.\n",
        r.requests_per_arm, r.warmup_per_arm
    );
    latency_table(out, &r.arms);
    let _ = writeln!(
        out,
        "\n`null-relay` is a byte-for-byte TCP relay pinned like the gateway: it does no HTTP work, \
         so what it adds is the floor any proxy pays here for two more hops. Switchyard over the \
         relay (its own work): p50 {} / p90 {} / p99 {} µs. Gateway CPU per request at one \
         request at a time: {:.1} µs.\n",
        us(r.own_over_relay.p50_us),
        us(r.own_over_relay.p90_us),
        us(r.own_over_relay.p99_us),
        r.gateway_cpu_us_per_request
    );
    let _ = writeln!(
        out,
        "`switchyard+key` calls the same route with a consumer's client key under rpm, tpm and \
         concurrency limits (set too high to refuse): authentication, admission and the finish \
         phase. Over `switchyard` without a key: p50 {} / p90 {} / p99 {} µs (budget: p50 within \
         5 µs).\n",
        us(r.keyed_over_open.p50_us),
        us(r.keyed_over_open.p90_us),
        us(r.keyed_over_open.p99_us),
    );
    match (&r.logging_cost, &r.log_off_note) {
        (Some(cost), _) => {
            let _ = writeln!(
                out,
                "`switchyard (log off)` is a second gateway started like the first, on the same \
                 CPU and with the same configuration, but with `SWITCHYARD_REQUEST_LOG=off`: it \
                 meters in memory and writes no records. `switchyard` over it, the cost of the \
                 request log: p50 {} / p90 {} / p99 {} µs (budget: p50 within 5 µs).",
                us(cost.p50_us),
                us(cost.p90_us),
                us(cost.p99_us),
            );
            match &r.logging_cost_keyed {
                Some(keyed) => {
                    let _ = writeln!(
                        out,
                        "With a client key on both sides: p50 {} / p90 {} / p99 {} µs. Each \
                         gateway serves two of every six requests, so neither stays warmer.\n",
                        us(keyed.p50_us),
                        us(keyed.p90_us),
                        us(keyed.p99_us),
                    );
                }
                None => out.push_str(
                    "The log-off gateway has no keyed target, so the main gateway serves more \
                     of the requests and may look a few µs faster for staying warmer.\n\n",
                ),
            }
        }
        (None, Some(note)) => {
            let _ = writeln!(out, "{note}.\n");
        }
        (None, None) => {}
    }
}

/// One row per target: its latency, and what it adds over the direct arm.
fn latency_table(out: &mut String, arms: &[crate::latency::ArmLatency]) {
    out.push_str(
        "| Arm | p50 | p90 | p99 | max | n | added p50 | added p90 | added p99 | errors |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    for a in arms {
        let added = a.added.map_or_else(
            || "— | — | —".to_owned(),
            |d| format!("{} | {} | {}", us(d.p50_us), us(d.p90_us), us(d.p99_us)),
        );
        let _ = writeln!(
            out,
            "| {} | {} | {added} | {} |",
            a.name,
            summary_cells(&a.latency),
            a.errors
        );
    }
}

fn throughput(
    out: &mut String,
    arm: &Arm<crate::throughput::ThroughputResult>,
    noise: Option<&f64>,
) {
    let Some(r) = heading(
        out,
        "2. Throughput (closed loop, rising concurrency)",
        arm,
        noise,
    ) else {
        return;
    };
    let _ = writeln!(
        out,
        "Each level runs {:.1} s per arm after a warm-up; the best rate is the highest whose p99 ≤ {:.0} ms with no errors.\n",
        r.step_seconds,
        r.p99_limit_us / 1000.0
    );
    out.push_str("| Arm | best req/s (p99 ≤ 5 ms) | at connections | p99 µs | CPU µs/req | peak req/s |\n|---|---|---|---|---|---|\n");
    for b in &r.best {
        let cpu = b.cpu_us_per_request.map_or_else(|| "—".into(), us);
        let _ = writeln!(
            out,
            "| {} | {:.0} | {} | {} | {cpu} | {:.0} |",
            b.arm,
            b.rate_rps,
            b.concurrency,
            us(b.p99_us),
            b.peak_rps
        );
    }
    out.push_str("\n| Arm | connections | req/s | p50 µs | p90 µs | p99 µs | max µs | n | errors | CPU µs/req |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for s in &r.steps {
        let cpu = s.cpu_us_per_request.map_or_else(|| "—".into(), us);
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {} | {} | {cpu} |",
            s.arm,
            s.concurrency,
            s.rate_rps,
            summary_cells(&s.latency),
            s.errors
        );
    }
    out.push('\n');
}

fn streaming(out: &mut String, arm: &Arm<crate::streaming::StreamingResult>, noise: Option<&f64>) {
    let Some(r) = heading(out, "3. Streaming", arm, noise) else {
        return;
    };
    let _ = writeln!(
        out,
        "{} streams per arm, one at a time, of {} chunks every {} ms. Transit is the time from the mock sending a chunk to the client reading it. Times in µs.\n",
        r.streams_per_arm, r.chunks_per_stream, r.interval_ms
    );
    out.push_str("| Arm | measure | p50 | p90 | p99 | max | n |\n|---|---|---|---|---|---|---|\n");
    for (name, a) in [
        ("switchyard", &r.gateway),
        ("direct", &r.direct),
        ("null-relay", &r.relay),
    ] {
        for (what, s) in [
            ("first chunk", &a.first_chunk),
            ("chunk transit", &a.chunk_transit),
            ("gap between chunks", &a.gap),
        ] {
            let _ = writeln!(out, "| {name} | {what} | {} |", summary_cells(s));
        }
    }
    let _ = writeln!(
        out,
        "\nAdded first chunk: p50 {} / p99 {} µs. Added per chunk: p50 {} / p99 {} µs. \
         Over the null relay (the gateway's own share): first chunk p50 {} / p99 {} µs, \
         per chunk p50 {} / p99 {} µs.",
        us(r.added_first_chunk.p50_us),
        us(r.added_first_chunk.p99_us),
        us(r.added_per_chunk.p50_us),
        us(r.added_per_chunk.p99_us),
        us(r.own_first_chunk.p50_us),
        us(r.own_first_chunk.p99_us),
        us(r.own_per_chunk.p50_us),
        us(r.own_per_chunk.p99_us)
    );
    let _ = writeln!(
        out,
        "Through the gateway {} of {} events arrived, {} HTTP chunks carried more than one event, {} streams failed (direct: {} merged, {} failed); the gateway opened {} upstream connections for its {} streams.\n",
        r.gateway.events_received,
        r.gateway.events_expected,
        r.gateway.coalesced_frames,
        r.gateway.failed_streams,
        r.direct.coalesced_frames,
        r.direct.failed_streams,
        r.upstream_connections,
        r.streams_per_arm
    );
    out.push_str("| Concurrent | streams | complete | failed | gap p50 ms | gap p99 ms | max gap ms | limit ms | first chunk p99 ms | transit p99 ms | merged frames | gateway RSS | gateway CPU µs/chunk |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for c in [&r.concurrent_direct, &r.concurrent] {
        let cpu = c.cpu_us_per_chunk.map_or_else(|| "—".into(), us);
        let rss = c.rss_kb.map_or_else(
            || "—".into(),
            |kb| format!("{:.1} MB", kb as f64 * 1024.0 / 1e6),
        );
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.0} | {:.1} | {:.2} | {} | {rss} | {cpu} |",
            c.arm,
            c.streams,
            c.completed,
            c.failed,
            c.gap.p50_us / 1000.0,
            c.gap.p99_us / 1000.0,
            c.max_gap_ms,
            c.gap_limit_ms,
            c.first_chunk.p99_us / 1000.0,
            c.chunk_transit.p99_us / 1000.0,
            c.coalesced_frames
        );
    }
    let _ = writeln!(
        out,
        "\nEach concurrent stream has {} chunks every {} ms.\n",
        r.concurrent.chunks_per_stream, r.concurrent.interval_ms
    );
}

fn footprint(out: &mut String, arm: &Arm<crate::footprint::FootprintResult>, noise: Option<&f64>) {
    let Some(r) = heading(out, "4. Footprint", arm, noise) else {
        return;
    };
    let mb = |kb: u64| kb as f64 * 1024.0 / 1e6;
    let _ = writeln!(
        out,
        "| Binary size | Start → first proxied answer | Idle RSS | RSS, {} in flight | Peak RSS (VmHWM) | held by mock | failed |\n|---|---|---|---|---|---|---|\n| {:.1} MB | {:.1} ms | {:.1} MB | {:.1} MB | {:.1} MB | {} | {} |\n",
        r.inflight_requests,
        r.binary_bytes as f64 / 1e6,
        r.start_to_first_answer_ms,
        mb(r.idle_rss_kb),
        mb(r.inflight_rss_kb),
        mb(r.inflight_peak_rss_kb),
        r.inflight_reached,
        r.inflight_failed
    );
}

fn reload(out: &mut String, arm: &Arm<crate::reload::ReloadResult>, noise: Option<&f64>) {
    let Some(r) = heading(out, "5. Reload", arm, noise) else {
        return;
    };
    let _ = writeln!(
        out,
        "Config of {} routes and {} providers: `build_ms` {:.2} ms; `config apply` to live snapshot {:.1} ms (CLI run and the watcher's debounce included).\n",
        r.routes, r.providers, r.build_ms, r.apply_to_live_ms
    );
    let _ = writeln!(
        out,
        "{} swaps by `PUT /api/routes/{{name}}`: wall time p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; `build_ms` per swap p50 {:.2} ms, max {:.2} ms.\n",
        r.swaps,
        r.put_wall.p50_us / 1000.0,
        r.put_wall.p99_us / 1000.0,
        r.put_wall.max_us / 1000.0,
        r.swap_build.p50_us / 1000.0,
        r.swap_build.max_us / 1000.0
    );
    out.push_str("| Requests ({} workers) | p50 µs | p90 µs | p99 µs | max µs | n | failed |\n|---|---|---|---|---|---|---|\n".replace("{}", &r.workers.to_string()).as_str());
    let _ = writeln!(
        out,
        "| without swaps | {} | {} |\n| during swaps | {} | {} |\n",
        summary_cells(&r.baseline),
        r.baseline_failed,
        summary_cells(&r.during_swaps),
        r.during_swaps_failed
    );
    if let Some(error) = &r.last_reload_error {
        let _ = writeln!(out, "Last reload error: {error}\n");
    }
}

fn resilience(out: &mut String, arm: &Arm<crate::resilience::FailoverResult>, noise: Option<&f64>) {
    let Some(r) = heading(
        out,
        "6. Resilience: first key 401, second succeeds",
        arm,
        noise,
    ) else {
        return;
    };
    let _ = writeln!(
        out,
        "| Arm | p50 | p90 | p99 | max | n |\n|---|---|---|---|---|---|\n| failover | {} |\n| plain | {} |\n\nAdded: p50 {} / p99 {} µs; {} failed.\n",
        summary_cells(&r.failover),
        summary_cells(&r.plain),
        us(r.added.p50_us),
        us(r.added.p99_us),
        r.failed
    );
}

fn request_log(
    out: &mut String,
    arm: &Arm<crate::request_log::RequestLogResult>,
    noise: Option<&f64>,
) {
    let Some(r) = heading(
        out,
        "7. Request log (during the throughput arm)",
        arm,
        noise,
    ) else {
        return;
    };
    let best = if r.best_concurrency > 0 {
        format!(
            "its best rate was {:.0} req/s ({} connections)",
            r.best_rps, r.best_concurrency
        )
    } else {
        "no level kept p99 ≤ 5 ms".to_owned()
    };
    let _ = writeln!(
        out,
        "Each request leaves one record, which the gateway queues for a writer that stores a \
         batch in `usage.db` every 100 ms. The throughput arm sent the gateway {} requests, \
         warm-ups included; {best}, and its peak was {:.0} req/s. Once the writer had {}: {} \
         records written, {} dropped, {} missing.\n",
        r.requests_sent,
        r.peak_rps,
        if r.drained {
            "caught up"
        } else {
            "failed to catch up within the deadline"
        },
        r.records_written,
        r.records_dropped,
        r.records_missing
    );
    out.push_str(
        "| connections | requests sent | s | req/s sent | queued at end | in batch at end | \
         catch-up ms | records written | written/s | dropped |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for s in &r.steps {
        let catch_up = if s.caught_up {
            format!("{:.0}", s.catch_up_ms)
        } else {
            format!("> {:.0} (gave up)", s.catch_up_ms)
        };
        let _ = writeln!(
            out,
            "| {} | {} | {:.2} | {:.0} | {} | {} | {catch_up} | {} | {:.0} | {} |",
            s.concurrency,
            s.sent,
            s.wall_s,
            s.sent_rps,
            s.queued_at_end,
            s.in_batch_at_end,
            s.written,
            s.written_rps,
            s.dropped
        );
    }
    out.push_str(
        "\nEach row is one gateway level, warm-up included; the writer had caught up before it \
         began. At the level's last answer some records were still queued and some were in the \
         batch the writer was storing. Catch-up is the time from that answer until every record \
         of the level was written. written/s is the level's records over its time plus the \
         catch-up: the rate at which they reached `usage.db`, the writer's lag included.\n\n",
    );
}

fn cache_guardrails(
    out: &mut String,
    arm: &Arm<crate::latency::LatencyResult>,
    noise: Option<&f64>,
) {
    let title = "8. Response cache and guardrails (the latency arm's second round)";
    let Some(latency) = heading(out, title, arm, noise) else {
        return;
    };
    let r = match &latency.cache_guardrails {
        Arm::Ok { result } => result,
        other => {
            let _ = writeln!(out, "{}\n", other.absent().unwrap_or_default());
            return;
        }
    };
    let _ = writeln!(
        out,
        "{} requests per arm after {} warm-up, interleaved request by request, after the first \
         round. `switchyard (cache hit)` repeats one request on a route with a response cache \
         whose upstream answers in {} ms; every measured answer must say \
         `x-switchyard-cache: hit`, and a miss counts as an error. The 2 KB targets send one \
         {} B chat prompt (prose with numbers, dates and a line of code) through the plain route \
         and through a route with the `pii` policy: eight detectors, masking all but card \
         numbers, which it blocks. Times in µs.\n",
        r.requests_per_arm, r.warmup_per_arm, r.upstream_delay_ms, r.prompt_bytes
    );
    latency_table(out, &r.arms);
    let d = &r.delayed_upstream;
    let _ = writeln!(
        out,
        "\n`{}` is that upstream, the mock behind its {} ms delay, called directly in a round of \
         its own: {} requests, p50 {} / p90 {} / p99 {} / max {} µs, {} errors. The cache hit \
         over it: p50 {} / p99 {} µs (negative: the hit is faster). The cache hit over a request \
         passed through to the undelayed mock (`switchyard`): p50 {} / p99 {} µs.\n",
        d.name,
        r.upstream_delay_ms,
        d.latency.count,
        us(d.latency.p50_us),
        us(d.latency.p90_us),
        us(d.latency.p99_us),
        us(d.latency.max_us),
        d.errors,
        us(r.hit_over_upstream.p50_us),
        us(r.hit_over_upstream.p99_us),
        us(r.hit_over_pass_through.p50_us),
        us(r.hit_over_pass_through.p99_us),
    );
    let _ = writeln!(
        out,
        "Guardrails, `switchyard (guardrails, 2 KB)` over `switchyard (2 KB)`: p50 {} / p90 {} / \
         p99 {} µs (budget: p50 ≤ 30 µs). The request log recorded these hits for one such \
         request: {}. With an email address and a phone number added ({} B), both masked: p50 {} \
         / p90 {} / p99 {} µs; recorded hits: {}.\n",
        us(r.guardrails_cost.p50_us),
        us(r.guardrails_cost.p90_us),
        us(r.guardrails_cost.p99_us),
        r.clean_prompt_hits,
        r.masked_prompt_bytes,
        us(r.guardrails_masking_cost.p50_us),
        us(r.guardrails_masking_cost.p90_us),
        us(r.guardrails_masking_cost.p99_us),
        r.masked_prompt_hits,
    );
}

fn strategies(out: &mut String, arm: &Arm<crate::latency::LatencyResult>, noise: Option<&f64>) {
    use crate::setup::{
        STICKY_HEADER, STRATEGY_MAX_LATENCY_MS, STRATEGY_PROVIDERS, STRATEGY_UPSTREAM_MODEL,
    };
    use crate::strategies::{BUDGET_P50_US, WEIGHTED};
    let title = "9. Routing strategies (the latency arm's third round)";
    let Some(latency) = heading(out, title, arm, noise) else {
        return;
    };
    let r = match &latency.strategies {
        Arm::Ok { result } => result,
        other => {
            let _ = writeln!(out, "{}\n", other.absent().unwrap_or_default());
            return;
        }
    };
    let prices = STRATEGY_PROVIDERS
        .iter()
        .map(|(name, input, output)| format!("`{name}` ${input}/${output}"))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(
        out,
        "{} requests per arm after {} warm-up, one at a time, in an order shuffled each round, \
         after the second round. Three providers on the same mock, priced by overrides for \
         `{STRATEGY_UPSTREAM_MODEL}` (input/output per million tokens: {prices}); one route per \
         strategy over the three with equal weights, selected by an exact model name \
         (`cost_under_latency` with `max_latency_ms` {STRATEGY_MAX_LATENCY_MS}; `sticky` by \
         `{STICKY_HEADER}`); every strategy target sends {} session ids in turn in that header, so \
         that the six requests differ only in their model. `switchyard` is the one-upstream \
         route of section 1, without the header. Times in µs.\n",
        r.requests_per_arm, r.warmup_per_arm, r.sessions
    );
    latency_table(out, &r.arms);
    out.push_str(
        "\n| Strategy | model | p50 | p99 | over `weighted` p50 | over `weighted` p99 | \
         answered by | `x-switchyard-strategy` |\n|---|---|---|---|---|---|---|---|\n",
    );
    let tally = |counts: &std::collections::BTreeMap<String, u64>| {
        counts
            .iter()
            .map(|(value, n)| format!("{value} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for f in &r.strategies {
        let Some(a) = r.arm(&f.strategy) else {
            continue;
        };
        let (over50, over99) = f.over_weighted.map_or_else(
            || ("—".to_owned(), "—".to_owned()),
            |o| (format!("{:+.1}", o.p50_us), format!("{:+.1}", o.p99_us)),
        );
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} | {over50} | {over99} | {} | {} |",
            f.strategy,
            f.model,
            us(a.latency.p50_us),
            us(a.latency.p99_us),
            tally(&f.providers),
            tally(&f.headers)
        );
    }
    let _ = writeln!(
        out,
        "\nBudget: each strategy's p50 minus `{WEIGHTED}`'s ≤ {BUDGET_P50_US:.0} µs. The choice is \
         sub-microsecond work (see the micro-benchmark in `server/src/routing/tests_bench.rs`), so \
         differences of a few tenths of a µs either way are this machine's noise.\n"
    );
}
