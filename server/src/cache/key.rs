//! The cache key: SHA-256 over who may share the answer (the scope), where the request goes
//! (provider, API) and a canonical form of the body as it is sent upstream.
//!
//! The body is parsed, `model` set to the upstream model, `stream` and `stream_options` removed
//! (they change the answer's shape, not its content: [`super::replay`] converts between the
//! shapes), and written back with object keys sorted, so two requests that differ only in key
//! order or whitespace share an entry. Every other field stays in, `temperature`, `seed`, `tools`
//! and `user` included: any of them can change the answer.

use std::fmt;
use std::io::Write;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// A request's digest; see the module documentation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey(pub [u8; 32]);

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Eight bytes tell entries apart in a log line; the whole digest adds nothing there.
        write!(f, "CacheKey(")?;
        for byte in &self.0[..8] {
            write!(f, "{byte:02x}")?;
        }
        write!(f, "…)")
    }
}

/// The inbound API a request came through: the same body means different things to each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CacheApi {
    Chat,
    Messages,
    Embeddings,
}

impl CacheApi {
    fn tag(self) -> u8 {
        match self {
            CacheApi::Chat => b'c',
            CacheApi::Messages => b'm',
            CacheApi::Embeddings => b'e',
        }
    }
}

/// Names this key's format, so a later format can never collide with this one.
const DOMAIN: &[u8] = b"switchyard response cache v1\0";

/// The key of a request (`body` as it is sent upstream, before `model` is rewritten or not) for
/// `provider_id` and `upstream_model`. `scope` is the caller's consumer id (`None`: anonymous),
/// ignored when `global`. `None` when the body is not a JSON object: such a request is not
/// cached.
///
/// Every part before the body has a fixed length once its tag is read, so no two different
/// (scope, provider, API) triples can write the same bytes.
pub fn key(
    scope: Option<i64>,
    global: bool,
    provider_id: i64,
    upstream_model: &str,
    api: CacheApi,
    body: &[u8],
) -> Option<CacheKey> {
    let Ok(Value::Object(mut request)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    request.remove("stream");
    request.remove("stream_options");
    request.insert("model".into(), Value::from(upstream_model));
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN);
    match (global, scope) {
        (true, _) => hasher.update(b"g"),
        (false, Some(consumer)) => {
            hasher.update(b"c");
            hasher.update(consumer.to_be_bytes());
        }
        (false, None) => hasher.update(b"a"),
    }
    hasher.update(provider_id.to_be_bytes());
    hasher.update([api.tag()]);
    canonical(&Value::Object(request), &mut hasher);
    Some(CacheKey(hasher.finalize().into()))
}

/// Writes `value` as JSON with every object's keys in byte order. Sorted here rather than
/// trusting the map's order: serde_json keeps insertion order when any crate in the build turns
/// on its `preserve_order` feature, and that must never change a key.
fn canonical(value: &Value, out: &mut Sha256) {
    match value {
        Value::Null => out.update(b"null"),
        Value::Bool(true) => out.update(b"true"),
        Value::Bool(false) => out.update(b"false"),
        Value::Number(number) => out.update(number.to_string().as_bytes()),
        Value::String(text) => string(text, out),
        Value::Array(items) => {
            out.update(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.update(b",");
                }
                canonical(item, out);
            }
            out.update(b"]");
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.update(b"{");
            for (i, (name, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.update(b",");
                }
                string(name, out);
                out.update(b":");
                canonical(item, out);
            }
            out.update(b"}");
        }
    }
}

/// A JSON string with serde_json's escaping, written straight into the hasher.
fn string(text: &str, out: &mut Sha256) {
    // Writing into a hasher cannot fail, and a string always serialises.
    let _ = serde_json::to_writer(&mut *out, text);
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(scope: Option<i64>, body: &str) -> CacheKey {
        key(scope, false, 1, "gpt-4o", CacheApi::Chat, body.as_bytes()).expect("an object")
    }

    const BODY: &str =
        r#"{"model":"fast","messages":[{"role":"user","content":"hi"}],"temperature":0}"#;

    #[test]
    fn the_stream_flag_key_order_and_whitespace_do_not_change_the_key() {
        let base = chat(Some(1), BODY);
        let streamed = chat(
            Some(1),
            r#"{"stream":true,"stream_options":{"include_usage":true},"temperature":0,
                "messages":[{"content":"hi","role":"user"}],"model":"fast"}"#,
        );
        assert_eq!(base, streamed);
        // The client's model name is replaced by the upstream one: two aliases of one model share.
        assert_eq!(base, chat(Some(1), &BODY.replace("fast", "other-alias")));
    }

    #[test]
    fn scope_provider_model_api_and_sampling_change_the_key() {
        let base = chat(Some(1), BODY);
        let body = BODY.as_bytes();
        let others = [
            chat(Some(2), BODY),
            chat(None, BODY),
            key(Some(1), true, 1, "gpt-4o", CacheApi::Chat, body).expect("object"),
            key(Some(1), false, 2, "gpt-4o", CacheApi::Chat, body).expect("object"),
            key(Some(1), false, 1, "gpt-4o-mini", CacheApi::Chat, body).expect("object"),
            key(Some(1), false, 1, "gpt-4o", CacheApi::Messages, body).expect("object"),
            chat(
                Some(1),
                &BODY.replace("\"temperature\":0", "\"temperature\":1"),
            ),
            chat(Some(1), &BODY.replace("}]", "}],\"seed\":7")),
            chat(Some(1), &BODY.replace("}]", "}],\"user\":\"u1\"")),
            chat(Some(1), &BODY.replace("\"hi\"", "\"hi \"")),
        ];
        for (i, other) in others.iter().enumerate() {
            assert_ne!(base, *other, "variant {i} must not share the key");
        }
    }

    #[test]
    fn global_scope_ignores_the_consumer() {
        let body = BODY.as_bytes();
        let one = key(Some(1), true, 1, "m", CacheApi::Chat, body);
        let two = key(Some(2), true, 1, "m", CacheApi::Chat, body);
        let anonymous = key(None, true, 1, "m", CacheApi::Chat, body);
        assert_eq!(one, two);
        assert_eq!(one, anonymous);
    }

    #[test]
    fn nested_key_order_does_not_matter_but_array_order_does() {
        let a = chat(
            Some(1),
            r#"{"tools":[{"type":"function","function":{"name":"f"}}]}"#,
        );
        let b = chat(
            Some(1),
            r#"{"tools":[{"function":{"name":"f"},"type":"function"}]}"#,
        );
        assert_eq!(a, b);
        let c = chat(Some(1), r#"{"stop":["a","b"]}"#);
        let d = chat(Some(1), r#"{"stop":["b","a"]}"#);
        assert_ne!(c, d);
    }

    #[test]
    fn only_json_objects_have_keys() {
        for body in ["", "[]", "\"text\"", "{not json", "null"] {
            assert_eq!(
                key(None, false, 1, "m", CacheApi::Chat, body.as_bytes()),
                None
            );
        }
    }

    #[test]
    fn strings_are_escaped_so_structure_cannot_be_forged() {
        // Without escaping, a quote inside a value could make two bodies hash the same bytes.
        let a = chat(Some(1), r#"{"a":"x\",\"b\":\"y"}"#);
        let b = chat(Some(1), r#"{"a":"x","b":"y"}"#);
        assert_ne!(a, b);
    }
}
