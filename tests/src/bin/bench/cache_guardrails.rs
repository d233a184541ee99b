//! The response cache and the PII guardrails (issue 13), measured as the latency arm's second
//! round of interleaved requests, one at a time.
//!
//! - `switchyard (cache hit)` repeats one request on the cached route, whose upstream is the mock
//!   behind a [`CACHE_UPSTREAM_DELAY_MS`] delay. The warm-up's first request stores the answer;
//!   every measured answer must carry `x-switchyard-cache: hit`, and one without it counts as an
//!   error. `direct (upstream 20 ms)` is that upstream called directly, in a short round of its
//!   own: at 20 ms a request, interleaving it with the others would make the arm last minutes.
//! - `switchyard (guardrails, 2 KB)` sends a 2 KB chat prompt through the route with the `pii`
//!   policy, and `switchyard (2 KB)` sends the same prompt through the plain route. The difference
//!   is what scanning costs. The prompt is the one of the library's micro-benchmark
//!   (`server/src/guardrails/tests_bench.rs`): prose with order numbers, prices, dates, a version
//!   and a line of code, which no detector may flag. `switchyard (guardrails, 2 KB, 2 masked)`
//!   adds an email address and a phone number, which the policy masks.
//!
//! Before the rounds, one request of each guarded prompt is followed into the request log, whose
//! record lists the guardrail hits: the report shows that the clean prompt had none.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use bytes::Bytes;
use http::{HeaderName, Method, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};

use crate::client::{Conn, Target, chat_body};
use crate::latency::{ArmLatency, interleave, warm_up};
use crate::setup::{CACHE_UPSTREAM_DELAY_MS, Ctx, MODEL_CACHE, MODEL_FAST, MODEL_GUARD};
use crate::stats::{Added, Hist, Summary};

// `DELAYED_DIRECT` names the delay.
const _: () = assert!(CACHE_UPSTREAM_DELAY_MS == 20);

/// The targets' names in the report. The plain gateway keeps its name from the first round.
pub const PASS_THROUGH: &str = "switchyard";
pub const CACHE_HIT: &str = "switchyard (cache hit)";
pub const DELAYED_DIRECT: &str = "direct (upstream 20 ms)";
pub const PLAIN_2KB: &str = "switchyard (2 KB)";
pub const GUARDED_2KB: &str = "switchyard (guardrails, 2 KB)";
pub const GUARDED_2KB_MASKED: &str = "switchyard (guardrails, 2 KB, 2 masked)";

/// The header that says whether the cache answered.
const CACHE_HEADER: HeaderName = HeaderName::from_static("x-switchyard-cache");

/// Warm-up requests to the delayed upstream before its measured ones.
const DELAYED_WARMUP: usize = 3;

/// How long the probe waits for the writer to store a request's record (it writes every 100 ms).
const RECORD_WAIT: Duration = Duration::from_secs(3);

#[derive(Serialize)]
pub struct CacheGuardrailsResult {
    pub requests_per_arm: usize,
    pub warmup_per_arm: usize,
    /// The interleaved round: the plain gateway and the direct mock as references, the cache hit,
    /// and the 2 KB prompt with and without guardrails. `added` is over this round's `direct`.
    pub arms: Vec<ArmLatency>,
    /// The cached route's upstream called directly, in its own round.
    pub delayed_upstream: ArmLatency,
    pub upstream_delay_ms: u64,
    /// The cache hit minus the delayed upstream, percentile by percentile: negative when the hit
    /// is faster.
    pub hit_over_upstream: Added,
    /// The cache hit over the plain gateway calling the undelayed mock: what answering from the
    /// cache costs next to passing a request through to an upstream that answers at once.
    pub hit_over_pass_through: Added,
    /// The guarded 2 KB prompt over the same prompt on the plain route.
    pub guardrails_cost: Added,
    /// The same with two values masked.
    pub guardrails_masking_cost: Added,
    pub prompt_bytes: usize,
    pub masked_prompt_bytes: usize,
    /// The guardrail hits that the request log recorded for one clean prompt, such as `none`.
    pub clean_prompt_hits: String,
    /// The same for the prompt with two values.
    pub masked_prompt_hits: String,
}

impl CacheGuardrailsResult {
    /// The interleaved round's figures for the target called `name`.
    pub fn arm(&self, name: &str) -> Option<&ArmLatency> {
        self.arms.iter().find(|a| a.name == name)
    }
}

pub async fn run(ctx: &Ctx) -> anyhow::Result<CacheGuardrailsResult> {
    let gateway = ctx.gateway.target_named(PASS_THROUGH);
    let prompt = prompt_2kb(MODEL_FAST, "");
    let guarded_prompt = prompt_2kb(MODEL_GUARD, "");
    let masked_prompt = prompt_2kb(MODEL_GUARD, MASKED_EXTRA);
    let targets: Vec<Arc<Target>> = vec![
        Arc::clone(&gateway),
        Arc::clone(&ctx.direct),
        gateway
            .with_body(CACHE_HIT, chat_body(MODEL_CACHE, false))
            .expecting(CACHE_HEADER, "hit"),
        gateway.with_body(PLAIN_2KB, prompt.clone()),
        gateway.with_body(GUARDED_2KB, guarded_prompt.clone()),
        gateway.with_body(GUARDED_2KB_MASKED, masked_prompt.clone()),
    ];
    let clean_prompt_hits = probe(ctx, &targets[4]).await?;
    let masked_prompt_hits = probe(ctx, &targets[5]).await?;

    let mut conns = Vec::with_capacity(targets.len());
    for target in &targets {
        conns.push(Conn::open(target).await?);
    }
    let body = chat_body(MODEL_FAST, false);
    let bodies: Vec<Bytes> = targets.iter().map(|t| t.body_or(&body)).collect();
    // The first cache request is a miss that waits for the delayed upstream and stores the
    // answer; the warm-up absorbs it.
    warm_up(&mut conns, &bodies, ctx.plan.latency_warmup).await;
    let (hists, errors) = interleave(&mut conns, &bodies, ctx.plan.latency_requests).await;
    let summaries: Vec<Summary> = hists.iter().map(Hist::summary).collect();
    let direct = summaries[1];
    let arms: Vec<ArmLatency> = targets
        .iter()
        .zip(&summaries)
        .zip(&errors)
        .enumerate()
        .map(|(i, ((target, &latency), &errors))| ArmLatency {
            name: target.name.clone(),
            added: (i != 1).then(|| Added::between(&latency, &direct)),
            latency,
            errors,
        })
        .collect();

    let delayed_upstream = delayed(ctx).await?;
    Ok(CacheGuardrailsResult {
        requests_per_arm: ctx.plan.latency_requests,
        warmup_per_arm: ctx.plan.latency_warmup,
        hit_over_upstream: Added::between(&summaries[2], &delayed_upstream.latency),
        hit_over_pass_through: Added::between(&summaries[2], &summaries[0]),
        guardrails_cost: Added::between(&summaries[4], &summaries[3]),
        guardrails_masking_cost: Added::between(&summaries[5], &summaries[3]),
        arms,
        delayed_upstream,
        upstream_delay_ms: CACHE_UPSTREAM_DELAY_MS,
        prompt_bytes: guarded_prompt.len(),
        masked_prompt_bytes: masked_prompt.len(),
        clean_prompt_hits,
        masked_prompt_hits,
    })
}

/// The cached route's upstream, the mock behind its delay, called directly one request at a time.
async fn delayed(ctx: &Ctx) -> anyhow::Result<ArmLatency> {
    let path = format!("/delay/{CACHE_UPSTREAM_DELAY_MS}/v1/chat/completions");
    let target = ctx
        .direct
        .with_body(DELAYED_DIRECT, chat_body(MODEL_CACHE, false))
        .with_path(&path);
    let mut conns = [Conn::open(&target).await?];
    let bodies = [target.body_or(&Bytes::new())];
    warm_up(&mut conns, &bodies, DELAYED_WARMUP).await;
    let (hists, errors) = interleave(&mut conns, &bodies, ctx.plan.delayed_requests).await;
    Ok(ArmLatency {
        name: target.name.clone(),
        latency: hists[0].summary(),
        added: None,
        errors: errors[0],
    })
}

/// Sends one request to a guarded target and reads the guardrail hits of its record in the
/// request log: `none`, or such as `EMAIL ×1 (mask), PHONE ×1 (mask)`. A refused request fails
/// the round; a record that cannot be read is reported as such.
async fn probe(ctx: &Ctx, target: &Arc<Target>) -> anyhow::Result<String> {
    let mut conn = Conn::open(target).await?;
    let reply = conn.post(target.body_or(&Bytes::new())).await?;
    if reply.status != StatusCode::OK {
        bail!(
            "{} answered {}: {}",
            target.name,
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
    }
    let Some(id) = reply
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
    else {
        return Ok("not read (the answer had no x-request-id)".into());
    };
    let record = match record(ctx, id).await {
        Ok(record) => record,
        Err(error) => return Ok(format!("not read ({error:#})")),
    };
    Ok(describe_hits(&record["guardrails"]))
}

/// `GET /api/logs/{id}` once the writer has stored the record.
async fn record(ctx: &Ctx, id: &str) -> anyhow::Result<Value> {
    let mut admin = ctx.gateway.admin().await?;
    let path = format!("/api/logs/{id}");
    let deadline = Instant::now() + RECORD_WAIT;
    loop {
        let (status, body) = admin.call(Method::GET, &path, None).await?;
        if status == StatusCode::OK {
            return Ok(body);
        }
        if Instant::now() >= deadline {
            bail!("GET {path} answered {status} for {RECORD_WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A record's `guardrails` in words.
fn describe_hits(hits: &Value) -> String {
    let Some(hits) = hits.as_array() else {
        return "not recorded (the record has no `guardrails`)".into();
    };
    if hits.is_empty() {
        return "none".into();
    }
    hits.iter()
        .map(|hit| {
            format!(
                "{} ×{} ({})",
                hit["detector"].as_str().unwrap_or("?"),
                hit["count"].as_u64().unwrap_or(0),
                hit["action"].as_str().unwrap_or("?")
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the masked prompt adds at its end: an email address and a phone number.
const MASKED_EXTRA: &str = " Reach me at jane.doe@example.org or +44 20 7946 0958.";

/// A chat request of about 2 KB for `model`: the prompt of the guardrails micro-benchmark in
/// `server/src/guardrails/tests_bench.rs`, with `user_extra` at the end of its last message.
pub fn prompt_2kb(model: &str, user_extra: &str) -> Bytes {
    let system = "You are a helpful assistant for an online shop. Answer briefly and politely. \
        Prices are in euros; orders ship within 2 to 5 working days (version 2.14.3 of the policy, \
        updated 2024-03-18). Never promise a delivery date before the warehouse confirms it.";
    let history = "I ordered three items last week (order 58213, 2 x 19.99 and 1 x 45.50) and \
        only two arrived on Tuesday at 14:30. The tracking page says the parcel weighed 1.2 kg and \
        was split into 2 shipments, but the second one has not moved since 03/21. Can you check \
        what happened and whether I need to do anything? I also want to know if the discount \
        code SPRING24 still applies to a replacement, since the original total was 85.48.";
    let answer = "Thanks for the details. The second shipment left our warehouse on 21 March and \
        is held at the regional depot because of a labelling problem; it should be delivered \
        within 3 working days. The discount still applies: a replacement keeps the price you \
        paid. If it has not arrived by Friday, reply here and we will send a new one at no cost.";
    let question = "Also, the box for the first shipment was damaged at one corner, although the \
        contents were fine. Should I keep the packaging for the claim, and for how long? I can \
        send photos if that helps; there are 4 of them, about 2 MB each. One last question about \
        returns in general: if a replacement arrives and the original parcel turns up later, do I \
        send one back at your cost, and is there a form to fill in or is a reply here enough?";
    let code =
        "fn total(items: &[(u32, f64)]) -> f64 { items.iter().map(|(n, p)| *n as f64 * p).sum() }";
    let last = format!(
        "One more thing: my script computes the total as {code}, which gives 85.48 as well, so \
         the numbers match. Version 1.0.7, build 20240318. Please confirm the refund timeline and \
         the depot's opening hours (8:00-17:30).{user_extra}"
    );
    let body = json!({
        "model": model,
        "temperature": 0.2,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": history},
            {"role": "assistant", "content": answer},
            {"role": "user", "content": question},
            {"role": "user", "content": [{"type": "text", "text": last}]},
        ],
    });
    Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use anyhow::Context;

    use super::*;

    fn parsed(body: &Bytes) -> anyhow::Result<Value> {
        serde_json::from_slice(body).context("the prompt is not JSON")
    }

    #[test]
    fn prompts_are_2_kb_of_json_and_alike_on_both_routes() -> anyhow::Result<()> {
        let plain = prompt_2kb(MODEL_FAST, "");
        let guarded = prompt_2kb(MODEL_GUARD, "");
        assert!((1900..2300).contains(&plain.len()), "{} B", plain.len());
        assert_eq!(plain.len(), guarded.len());
        assert_eq!(parsed(&guarded)?["model"], MODEL_GUARD);
        let masked = parsed(&prompt_2kb(MODEL_GUARD, MASKED_EXTRA))?;
        let text = masked["messages"][4]["content"][0]["text"]
            .as_str()
            .unwrap_or_default();
        assert!(text.ends_with("+44 20 7946 0958."), "{text}");
        Ok(())
    }

    #[test]
    fn hits_in_words() {
        assert_eq!(describe_hits(&json!([])), "none");
        let hits = json!([
            {"guardrail": "pii", "detector": "EMAIL", "action": "mask", "count": 1, "phase": "request"},
            {"guardrail": "pii", "detector": "PHONE", "action": "mask", "count": 1, "phase": "request"},
        ]);
        assert_eq!(describe_hits(&hits), "EMAIL ×1 (mask), PHONE ×1 (mask)");
        assert!(describe_hits(&Value::Null).starts_with("not recorded"));
    }
}
