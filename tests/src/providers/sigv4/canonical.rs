//! SigV4's canonical request, rebuilt from a request as it arrived: the method, the path as sent
//! encoded once more, the sorted query, the signed headers (lower-case names, trimmed values) and
//! the hex SHA-256 of the body.

use sha2::{Digest, Sha256};

use crate::mock::RecordedRequest;

/// Bytes as lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The canonical request of a recorded request, for the headers its signature names.
pub fn canonical_request(request: &RecordedRequest, signed_headers: &[String]) -> String {
    let (path, query) = request
        .path
        .split_once('?')
        .unwrap_or((request.path.as_str(), ""));
    let mut lines = vec![
        request.method.as_str().to_owned(),
        canonical_path(path),
        canonical_query(query),
    ];
    for name in signed_headers {
        let values: Vec<String> = request
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| collapse_spaces(&String::from_utf8_lossy(v.as_bytes())))
            .collect();
        lines.push(format!("{name}:{}", values.join(",")));
    }
    lines.push(String::new());
    lines.push(signed_headers.join(";"));
    lines.push(hex(&Sha256::digest(&request.body)));
    lines.join("\n")
}

/// SigV4's `UriEncode`: every byte but `A-Z a-z 0-9 - _ . ~` as `%XX` (upper-case hex).
fn uri_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char);
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The canonical path of every service but S3: the path as sent, with `.` and `..` segments
/// resolved, and each segment encoded again (so a `%3A` on the wire is `%253A` here).
fn canonical_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    let raw = path.split('/').skip(1);
    for segment in raw {
        match segment {
            "." => {}
            ".." => {
                segments.pop();
            }
            // Empty segments (a trailing slash, a doubled one) are kept as they are.
            other => segments.push(other),
        }
    }
    let encoded: Vec<String> = segments.iter().map(|s| uri_encode(s)).collect();
    format!("/{}", encoded.join("/"))
}

/// Decodes `%XX` escapes; anything else (a `+` included, as AWS reads it) stays as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let escape = text
            .get(i + 1..i + 3)
            .filter(|_| bytes[i] == b'%')
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escape {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The canonical query: each parameter decoded from the wire, encoded strictly, sorted by name
/// and then value.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                uri_encode(&percent_decode(name)),
                uri_encode(&percent_decode(value)),
            )
        })
        .collect();
    pairs.sort();
    let joined: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}={v}")).collect();
    joined.join("&")
}

/// A header value trimmed, with runs of spaces made one.
fn collapse_spaces(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_encoded_again_and_dot_segments_resolved() {
        assert_eq!(
            canonical_path("/model/anthropic.claude-v2%3A1/converse"),
            "/model/anthropic.claude-v2%253A1/converse"
        );
        assert_eq!(canonical_path("/a/./b/../c"), "/a/c");
        assert_eq!(canonical_path(""), "/");
        assert_eq!(canonical_query("b=2&a=%7E1&a=0"), "a=0&a=~1&b=2");
    }
}
