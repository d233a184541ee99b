//! Token counts estimated with a real tokenizer (OpenAI's `o200k_base`, through `tiktoken-rs`)
//! when a provider sends no usage or the client leaves mid-stream: the prompt from the request
//! body, the completion from what the client was sent.
//!
//! Both are read format-blind: every string under a key that carries text in any protocol
//! (`content`, `text`, `thinking`, `arguments`, ...) counts, so OpenAI and Anthropic bodies, plain
//! or streamed, need no parser of their own. Runs on the meter task, never on the request path.
//!
//! The tokenizer's tables take about 50 MB and a fraction of a second to load, so they load on
//! the first estimate, not at start: a gateway whose providers always report usage never pays
//! for them.

use bytes::Bytes;
use serde_json::Value;

use crate::usage::Usage;

/// Tokens OpenAI adds around each chat message (role and separators).
const TOKENS_PER_MESSAGE: u64 = 4;

/// Keys whose string values are text the model reads or writes.
const TEXT_KEYS: &[&str] = &[
    "content",
    "text",
    "thinking",
    "reasoning_content",
    "arguments",
    "partial_json",
    "input",
    "instructions",
    "query",
    "documents",
    "prompt",
    "system",
    "description",
];

fn tokens(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    let bpe = tiktoken_rs::o200k_base_singleton();
    u64::try_from(bpe.encode_ordinary(text).len()).unwrap_or(u64::MAX)
}

/// Appends every text string found under a text key anywhere in `value`.
fn collect_text(value: &Value, under_text_key: bool, out: &mut String) {
    match value {
        // Stream deltas continue each other's text, so nothing goes between them.
        Value::String(text) if under_text_key => out.push_str(text),
        Value::Array(items) => {
            for item in items {
                collect_text(item, under_text_key, out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                collect_text(item, TEXT_KEYS.contains(&key.as_str()), out);
            }
        }
        _ => {}
    }
}

/// The prompt tokens of a request body (OpenAI chat or embeddings, Anthropic messages).
pub fn prompt_tokens(body: &[u8]) -> u64 {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return 0;
    };
    let mut text = String::new();
    collect_text(&request, false, &mut text);
    let messages = request
        .get("messages")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    tokens(&text).saturating_add(TOKENS_PER_MESSAGE.saturating_mul(messages as u64))
}

/// The completion tokens of what the client was sent: a JSON body or server-sent events.
pub fn completion_tokens(frames: &[Bytes]) -> u64 {
    let body: Vec<u8> = frames.iter().flat_map(|f| f.iter().copied()).collect();
    let mut text = String::new();
    if let Ok(value) = serde_json::from_slice::<Value>(&body) {
        collect_output(&value, &mut text);
    } else {
        for line in body.split(|b| *b == b'\n') {
            let Some(data) = line.strip_prefix(b"data:") else {
                continue;
            };
            if let Ok(event) = serde_json::from_slice::<Value>(data.trim_ascii()) {
                collect_output(&event, &mut text);
            }
        }
    }
    tokens(&text)
}

/// The generated text of one answer or stream event: what sits under `choices`, `content`,
/// `delta`, `candidates` or `output`, not the echo of usage or ids.
fn collect_output(value: &Value, out: &mut String) {
    for key in [
        "choices",
        "content",
        "delta",
        "content_block",
        "candidates",
        "output",
    ] {
        if let Some(part) = value.get(key) {
            // The Responses API's stream deltas are bare strings (`"delta": "Hel"`).
            let text = key == "content" || (key == "delta" && part.is_string());
            collect_text(part, text, out);
        }
    }
}

/// The estimated usage of a request whose provider reported none. `frames` are the first bytes
/// the client was sent, `sent_len` all of them: what was not kept counts at the kept part's rate.
pub fn estimate(prompt: &[u8], frames: &[Bytes], sent_len: usize, embeddings: bool) -> Usage {
    let completion = if embeddings {
        0
    } else {
        let kept: usize = frames.iter().map(Bytes::len).sum();
        let tokens = completion_tokens(frames);
        if kept > 0 && sent_len > kept {
            let scaled = u128::from(tokens) * sent_len as u128 / kept as u128;
            u64::try_from(scaled).unwrap_or(u64::MAX)
        } else {
            tokens
        }
    };
    Usage {
        prompt_tokens: prompt_tokens(prompt),
        completion_tokens: completion,
        ..Usage::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_prompt_of_both_protocols() {
        let openai = br#"{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello there, how are you today?"}]}"#;
        let anthropic = br#"{"model":"m","system":"Be brief.","max_tokens":10,"messages":[{"role":"user","content":[{"type":"text","text":"Hello there, how are you today?"}]}]}"#;
        let a = prompt_tokens(openai);
        let b = prompt_tokens(anthropic);
        assert!((15..=30).contains(&a), "{a}");
        assert!(b > 8, "{b}");
        assert_eq!(prompt_tokens(b"not json"), 0);
    }

    #[test]
    fn counts_what_a_stream_sent_in_either_dialect() {
        let openai = [
            Bytes::from_static(b"data: {\"choices\":[{\"delta\":{\"content\":\"Hello\"}}]}\n\n"),
            Bytes::from_static(b"data: {\"choices\":[{\"delta\":{\"content\":\" world, this is a test\"}}]}\n\ndata: [DONE]\n\n"),
        ];
        let anthropic = [Bytes::from_static(
            b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello world, this is a test\"}}\n\n",
        )];
        let a = completion_tokens(&openai);
        assert!((5..=9).contains(&a), "{a}");
        assert_eq!(a, completion_tokens(&anthropic));
        // A split frame still reads as one event stream.
        let plain = [Bytes::from_static(
            br#"{"choices":[{"message":{"role":"assistant","content":"Hello world, this is a test"}}],"model":"gpt"}"#,
        )];
        assert_eq!(completion_tokens(&plain), a);
        // The Responses API's typed events and its response object, and Gemini's chunks.
        let responses = [Bytes::from_static(
            b"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"Hello world, this is a test\"}\n\n",
        )];
        assert_eq!(completion_tokens(&responses), a);
        let response = [Bytes::from_static(
            br#"{"object":"response","output":[{"type":"message","content":[{"type":"output_text","text":"Hello world, this is a test"}]}]}"#,
        )];
        assert_eq!(completion_tokens(&response), a);
        let gemini = [Bytes::from_static(
            b"data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Hello world, this is a test\"}]}}]}\n\n",
        )];
        assert_eq!(completion_tokens(&gemini), a);
        // Bytes sent beyond those kept count at the kept part's rate.
        let kept: usize = openai.iter().map(Bytes::len).sum();
        assert_eq!(
            estimate(b"", &openai, kept * 3, false).completion_tokens,
            a * 3
        );
    }
}
