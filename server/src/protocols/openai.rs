//! The OpenAI wire protocol, spoken natively by most providers and the common form every
//! translation goes through: its error bodies, and its stream (`openai/stream.rs`).

mod stream;

pub use stream::{OpenAiDecoder, OpenAiEncoder, OpenAiPassthrough};

use crate::providers::UpstreamErrorBody;

/// The longest error text carried over from a body that is not JSON.
const MAX_TEXT: usize = 1000;

/// Reads `{"error":{"message","type","code","param"}}`, and the looser shapes OpenAI-compatible
/// servers send (`{"error":"text"}`, `{"message":…}`, `{"detail":…}`, plain text).
pub fn parse_error_body(body: &[u8]) -> UpstreamErrorBody {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return UpstreamErrorBody {
            message: plain_text(body),
            ..Default::default()
        };
    };
    let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_owned);
    let present = |v: Option<&serde_json::Value>| v.filter(|v| !v.is_null()).cloned();
    match value.get("error") {
        Some(serde_json::Value::Object(error)) => UpstreamErrorBody {
            message: text(error.get("message")).unwrap_or_else(|| compact(&value)),
            kind: text(error.get("type")),
            code: present(error.get("code")),
            param: present(error.get("param")),
        },
        Some(serde_json::Value::String(message)) => UpstreamErrorBody {
            message: message.clone(),
            ..Default::default()
        },
        _ => UpstreamErrorBody {
            message: text(value.get("message"))
                .or_else(|| text(value.get("detail")))
                .unwrap_or_else(|| compact(&value)),
            ..Default::default()
        },
    }
}

fn compact(value: &serde_json::Value) -> String {
    let mut text = value.to_string();
    truncate(&mut text);
    text
}

fn plain_text(body: &[u8]) -> String {
    let mut text = String::from_utf8_lossy(body).trim().to_owned();
    truncate(&mut text);
    text
}

fn truncate(text: &mut String) {
    if text.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_openai_errors() {
        let parsed = parse_error_body(
            br#"{"error":{"message":"bad key","type":"invalid_request_error","code":"invalid_api_key","param":null}}"#,
        );
        assert_eq!(parsed.message, "bad key");
        assert_eq!(parsed.kind.as_deref(), Some("invalid_request_error"));
        assert_eq!(parsed.code, Some(serde_json::json!("invalid_api_key")));
        assert_eq!(parsed.param, None);
    }

    #[test]
    fn reads_loose_shapes() {
        assert_eq!(parse_error_body(br#"{"error":"nope"}"#).message, "nope");
        assert_eq!(parse_error_body(br#"{"detail":"gone"}"#).message, "gone");
        assert_eq!(
            parse_error_body(b"  upstream exploded \n").message,
            "upstream exploded"
        );
        let long = "x".repeat(5000);
        assert!(parse_error_body(long.as_bytes()).message.len() < 1100);
    }
}
