//! A micro-benchmark of request application over a 2 KB chat prompt with the default PII
//! detectors: `cargo test -p switchyard --release --lib guardrails -- --ignored --nocapture`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use switchyard_shared::guardrails::{DetectorType, GuardrailAction};

use super::tests_detect::{detector, spec};
use super::{Api, Policy, apply_request};

/// Every built-in detector but the custom ones, masking.
fn default_policy() -> Arc<Policy> {
    let detectors = [
        DetectorType::Email,
        DetectorType::Phone,
        DetectorType::CreditCard,
        DetectorType::Iban,
        DetectorType::CnResidentId,
        DetectorType::UsSsn,
        DetectorType::IpAddress,
        DetectorType::Secret,
    ]
    .into_iter()
    .map(|kind| detector(kind, GuardrailAction::Mask))
    .collect();
    Arc::new(Policy::compile(&spec("pii-default", detectors)).unwrap_or_else(|e| panic!("{e}")))
}

/// A chat request of about 2 KB: prose, numbers, dates, a version, a little code.
fn prompt(user_extra: &str, language: &str) -> Vec<u8> {
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
    let code =
        "fn total(items: &[(u32, f64)]) -> f64 { items.iter().map(|(n, p)| *n as f64 * p).sum() }";
    let body = json!({
        "model": "gpt-4o-mini",
        "temperature": 0.2,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": history},
            {"role": "assistant", "content": answer},
            {"role": "user", "content": language},
            {"role": "user", "content": [
                {"type": "text", "text": format!("One more thing: my script computes the total as {code}, \
                    which gives 85.48 as well, so the numbers match. Version 1.0.7, build 20240318. \
                    Please confirm the refund timeline and the depot's opening hours (8:00-17:30).{user_extra}")}
            ]}
        ]
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

fn measure(policies: &[Arc<Policy>], body: &[u8]) -> (Duration, Duration) {
    let key = [3u8; 32];
    for _ in 0..2_000 {
        let _ = apply_request(policies, body, Api::Chat, &key);
    }
    let mut samples: Vec<Duration> = (0..20_000)
        .map(|_| {
            let start = Instant::now();
            let applied = apply_request(policies, body, Api::Chat, &key);
            let elapsed = start.elapsed();
            assert!(applied.is_ok());
            elapsed
        })
        .collect();
    samples.sort_unstable();
    (
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
    )
}

#[test]
#[ignore = "a micro-benchmark: run with --release --ignored --nocapture"]
fn apply_request_over_a_2kb_prompt() {
    let policies = [default_policy()];
    let english = "Also, the box for the first shipment was damaged at one corner, although the \
        contents were fine. Should I keep the packaging for the claim, and for how long? I can \
        send photos if that helps; there are 4 of them, about 2 MB each. One last question about \
        returns in general: if a replacement arrives and the original parcel turns up later, do I \
        send one back at your cost, and is there a form to fill in or is a reply here enough?";
    let chinese = "另外，第一个包裹的箱子一角有破损，不过里面的东西完好。索赔需要保留包装吗？\
        要保留多久？如果有帮助，我可以发照片，一共4张，每张大约2MB。最后一个关于退货的问题：\
        如果补发的包裹到了，原来的包裹后来也到了，我需要寄回一个吗？运费由你们承担吗？";
    let clean = prompt("", english);
    let found = prompt(
        " Reach me at jane.doe@example.org or +44 20 7946 0958.",
        english,
    );
    let cjk = prompt("", chinese);
    for (name, body) in [
        ("no hits", &clean),
        ("two hits, masked", &found),
        ("no hits, partly Chinese", &cjk),
    ] {
        let (p50, p99) = measure(&policies, body);
        println!(
            "apply_request, {} B chat prompt, {name}: p50 {p50:?}, p99 {p99:?}",
            body.len()
        );
    }
    assert!((1900..2300).contains(&clean.len()), "{} B", clean.len());
    let applied = apply_request(&policies, &found, Api::Chat, &[3; 32]);
    assert!(applied.is_ok_and(|a| a.hits.len() == 2 && a.body.is_some()));
}
