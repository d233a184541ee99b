//! Tests of OpenAI's other endpoints: each request's text masked (and nothing else), `block`,
//! answers restored and checked, and legacy completions' and transcripts' streams.

use serde_json::{Value, json};
use switchyard_shared::guardrails::GuardrailAction;

use super::tests_answer::{ANSWER, EMAIL, checker, restored, restorer};
use super::tests_support::{
    CARD, ClientEvent, answer_policy, blocked, mask_policy, masked, run, unnamed,
};
use super::{Api, ClientApi, apply_request, check_answer};
use crate::protocols::Endpoint;

/// Each endpoint's request with `email` and `card` where the model reads them, the raw values
/// elsewhere.
fn requests(email: &str, card: &str) -> Vec<(Endpoint, Value)> {
    vec![
        (
            Endpoint::Completions,
            json!({"model": EMAIL, "prompt": [format!("mail {email}"), format!("card {card}")],
                "suffix": email, "user": EMAIL, "stop": [EMAIL]}),
        ),
        (
            Endpoint::Images,
            json!({"model": "gpt-image-1", "prompt": format!("a card {card} for {email}"),
                "user": EMAIL, "size": "1024x1024"}),
        ),
        (
            Endpoint::AudioSpeech,
            json!({"model": "gpt-4o-mini-tts", "input": format!("write to {email}"),
                "instructions": format!("spell {card} slowly"), "voice": EMAIL}),
        ),
        (
            Endpoint::Moderations,
            json!({"model": "omni-moderation-latest", "input": [
                {"type": "text", "text": format!("{email} {card}")},
                {"type": "image_url", "image_url": {"url": format!("https://x/{EMAIL}.png")}}
            ]}),
        ),
        (
            Endpoint::Rerank,
            json!({"model": "rerank-v3.5", "query": format!("who is {email}"),
                "documents": [format!("card {card}"), {"id": EMAIL, "text": email}], "top_n": 2}),
        ),
    ]
}

#[test]
fn each_request_is_masked_where_the_model_reads_and_nowhere_else() {
    for ((endpoint, body), (_, expected)) in requests(EMAIL, CARD)
        .into_iter()
        .zip(requests("[EMAIL]", "[CREDIT_CARD]"))
    {
        let api = Api::Endpoint(endpoint);
        assert_eq!(masked(&body, api), expected, "{endpoint:?}");
        assert!(blocked(&body, api).is_some(), "{endpoint:?}");
    }
    let single = |input: Value| json!({"input": input});
    let api = Api::Endpoint(Endpoint::Moderations);
    assert_eq!(masked(&single(json!(EMAIL)), api), single(json!("[EMAIL]")));
    assert_eq!(
        masked(&single(json!(["a", EMAIL])), api),
        single(json!(["a", "[EMAIL]"]))
    );
    let api = Api::Endpoint(Endpoint::Completions);
    assert_eq!(
        masked(&json!({"prompt": EMAIL}), api),
        json!({"prompt": "[EMAIL]"})
    );
    assert!(blocked(&json!({"prompt": [[1, 2, 3]], "user": CARD}), api).is_none());
}

#[test]
fn a_transcription_request_is_a_multipart_form_and_left_as_it_came() {
    let form = format!(
        "--b\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\n{EMAIL}\r\n--b--\r\n"
    );
    let api = Api::Endpoint(Endpoint::AudioTranscriptions);
    let applied = apply_request(&[mask_policy()], form.as_bytes(), api, &[3; 32]);
    assert!(applied.is_ok_and(|a| a.body.is_none() && a.hits.is_empty()));
}

#[test]
fn answers_are_restored_and_checked_where_they_hold_text() {
    let restorer = restorer();
    let completion = |text: &str| {
        json!({"id": "cmpl-[[EMAIL_1]]", "object": "text_completion", "model": "m",
            "choices": [{"text": text, "index": 0, "logprobs": null, "finish_reason": "stop"}]})
    };
    let mut answer = completion(ANSWER);
    restorer.restore_json_answer(&mut answer, Api::Endpoint(Endpoint::Completions));
    assert_eq!(answer, completion(&restored()));

    let ranked = |text: &str| {
        json!({"id": "[[EMAIL_1]]", "results": [{"index": 0, "relevance_score": 0.9,
            "document": {"text": text}}, {"index": 1, "relevance_score": 0.1, "document": text}]})
    };
    let mut answer = ranked("[[EMAIL_1]]");
    restorer.restore_json_answer(&mut answer, Api::Endpoint(Endpoint::Rerank));
    assert_eq!(answer, ranked(EMAIL));

    let checks = [answer_policy(GuardrailAction::Mask)];
    let transcript = |email: &str| {
        json!({"task": "transcribe", "text": format!("mail {email}"), "segments": [{"id": 0,
            "text": format!("mail {email}")}], "words": [{"word": email, "start": 0.5}]})
    };
    let image = |email: &str| json!({"created": 1, "data": [{"b64_json": EMAIL, "revised_prompt": format!("for {email}")}]});
    let cases = [
        (
            Endpoint::AudioTranscriptions,
            transcript(EMAIL),
            transcript("[EMAIL]"),
            3,
        ),
        (Endpoint::Images, image(EMAIL), image("[EMAIL]"), 1),
    ];
    for (endpoint, mut answer, expected, count) in cases {
        let hits = check_answer(&checks, &mut answer, Api::Endpoint(endpoint));
        assert_eq!(answer, expected, "{endpoint:?}");
        assert_eq!(hits.unwrap_or_default()[0].count, count, "{endpoint:?}");
    }
    let scores = json!({"id": EMAIL, "results": [{"flagged": false, "categories": {}}]});
    let mut answer = scores.clone();
    let hits = check_answer(&checks, &mut answer, Api::Endpoint(Endpoint::Moderations));
    assert!(hits.is_ok_and(|h| h.is_empty()) && answer == scores);
}

fn completion_chunk(text: &str, finish: Option<&str>) -> String {
    json!({"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "m",
        "choices": [{"text": text, "index": 0, "logprobs": null, "finish_reason": finish}]})
    .to_string()
}

fn completion_text(events: &[ClientEvent]) -> String {
    events
        .iter()
        .filter_map(|(_, e)| e["choices"][0]["text"].as_str())
        .collect()
}

#[test]
fn a_legacy_completions_stream_is_restored() {
    let restorer = restorer();
    for split in 0..=ANSWER.len() {
        let events = unnamed(vec![
            completion_chunk(&ANSWER[..split], None),
            completion_chunk(&ANSWER[split..], None),
            completion_chunk("", Some("stop")),
            "[DONE]".to_owned(),
        ]);
        let mut stream = restorer.stream();
        let out = run(&events, |data| {
            stream.restore_sse_event(data, ClientApi::OpenAi)
        });
        assert_eq!(completion_text(&out), restored(), "split at {split}");
    }
    // Without a finish_reason, held text comes in a made-up completions chunk before [DONE].
    let events = unnamed(vec![
        completion_chunk("to [[EMAIL_", None),
        "[DONE]".to_owned(),
    ]);
    let mut stream = restorer.stream();
    let out = run(&events, |data| {
        stream.restore_sse_event(data, ClientApi::OpenAi)
    });
    assert_eq!(
        out[1].1,
        json!({"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "m",
            "choices": [{"text": "[[EMAIL_", "index": 0, "logprobs": null, "finish_reason": null}]})
    );
    assert_eq!(out[2].1, "[DONE]");
}

#[test]
fn a_streamed_transcript_is_checked() {
    let events = unnamed(vec![
        json!({"type": "transcript.text.delta", "delta": "mail bob@exa"}).to_string(),
        json!({"type": "transcript.text.delta", "delta": "mple.com"}).to_string(),
        json!({"type": "transcript.text.done", "text": format!("mail {EMAIL}"),
            "usage": {"type": "tokens", "input_tokens": 3}})
        .to_string(),
    ]);
    let mut masking = checker(GuardrailAction::Mask, Vec::new());
    let out = run(&events, |data| {
        masking
            .check_sse_event(data, ClientApi::OpenAi)
            .unwrap_or_else(|b| panic!("{b}"))
    });
    let deltas: String = out
        .iter()
        .filter_map(|(_, e)| e["delta"].as_str())
        .collect();
    assert_eq!(deltas, "mail [EMAIL]");
    assert_eq!(out[out.len() - 1].1["text"], "mail [EMAIL]");
    assert_eq!(out[out.len() - 1].1["usage"]["input_tokens"], 3);
    assert_eq!(masking.hits()[0].count, 1);
}
