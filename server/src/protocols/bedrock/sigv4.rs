//! AWS Signature Version 4 for requests to Bedrock: the operator's access key signs each request
//! (`authorization: AWS4-HMAC-SHA256 …`), instead of a bearer token. Written here on `hmac` and
//! `sha2` rather than through the `aws-sigv4` crate, which brings the smithy runtime with it; the
//! tests hold it to AWS's published test suite and to a signature botocore computes.
//!
//! What is signed: every header the request has when it is signed except those a client or a
//! proxy may rewrite on the way (see [`UNSIGNED`]), plus `host`. The canonical URI is the wire
//! path percent-encoded once more, as AWS does for every service but S3: a model id's `:` is
//! `%3A` on the wire and `%253A` in the canonical request. Bedrock wants no
//! `x-amz-content-sha256` header (the AWS SDKs send it to S3 only): the payload's hash is still
//! in the canonical request. Paths are signed as they are: the gateway never sends `.` or `..`
//! segments, which AWS would normalise first.

use std::fmt;
use std::time::SystemTime;

use hmac::{Hmac, Mac};
use http::header::{AUTHORIZATION, HOST, HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Headers left unsigned: hop-by-hop ones, those an HTTP client sets or changes as it sends, and
/// the ones the AWS SDKs leave out.
const UNSIGNED: [&str; 12] = [
    "authorization",
    "connection",
    "content-length",
    "expect",
    "keep-alive",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
];

/// An AWS access key, with its session token when it is temporary. Its `Debug` shows the key id
/// only, and the secret is wiped from memory when it is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Drop for AwsCredentials {
    fn drop(&mut self) {
        self.secret_access_key.zeroize();
        if let Some(token) = &mut self.session_token {
            token.zeroize();
        }
    }
}

impl AwsCredentials {
    /// Reads a provider key stored as `ACCESS_KEY_ID:SECRET_ACCESS_KEY` or
    /// `ACCESS_KEY_ID:SECRET_ACCESS_KEY:SESSION_TOKEN`. Errors never quote the secret.
    pub fn parse(secret: &str) -> Result<AwsCredentials, String> {
        const SHAPE: &str = "ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]";
        let mut parts = secret.trim().splitn(3, ':');
        let access_key_id = parts.next().unwrap_or_default();
        let secret_access_key = parts
            .next()
            .ok_or_else(|| format!("an AWS key must be written as {SHAPE}"))?;
        let session_token = parts.next();
        if access_key_id.is_empty() || !access_key_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(format!(
                "the AWS access key id must be letters and digits ({SHAPE})"
            ));
        }
        let printable = |text: &str| text.bytes().all(|b| b.is_ascii_graphic());
        if secret_access_key.is_empty() || !printable(secret_access_key) {
            return Err(format!(
                "the AWS secret access key must be non-empty printable ASCII ({SHAPE})"
            ));
        }
        if session_token.is_some_and(|token| token.is_empty() || !printable(token)) {
            return Err(format!(
                "the AWS session token must be non-empty printable ASCII ({SHAPE})"
            ));
        }
        Ok(AwsCredentials {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
            session_token: session_token.map(str::to_owned),
        })
    }
}

/// Signs a request: adds `x-amz-date`, `x-amz-security-token` (temporary credentials) and
/// `authorization` (marked sensitive), replacing any left from an earlier signing. Call it last:
/// headers added afterwards go unsigned, and a signed header changed afterwards breaks the
/// signature.
pub fn sign(
    parts: &mut http::request::Parts,
    body: &[u8],
    credentials: &AwsCredentials,
    region: &str,
    service: &str,
    now: SystemTime,
) -> Result<(), String> {
    let amz_date = amz_date(now);
    let headers = &mut parts.headers;
    headers.remove(AUTHORIZATION);
    headers.remove("x-amz-security-token");
    headers.insert(
        HeaderName::from_static("x-amz-date"),
        HeaderValue::try_from(&amz_date).map_err(|_| "the signing date is not a header value")?,
    );
    if let Some(token) = &credentials.session_token {
        let mut value = HeaderValue::try_from(token.as_str())
            .map_err(|_| "the AWS session token is not a valid header value")?;
        value.set_sensitive(true);
        headers.insert(HeaderName::from_static("x-amz-security-token"), value);
    }
    let host = match parts.headers.get(HOST) {
        Some(_) => None,
        None => Some(host_of(&parts.uri).ok_or("the request URI has no host to sign")?),
    };
    let request = CanonicalRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        host: host.as_deref(),
        payload_hash: &hex_sha256(body),
    };
    let value = authorization(&request, credentials, region, service, &amz_date);
    let mut value =
        HeaderValue::try_from(value).map_err(|_| "the signature is not a header value")?;
    value.set_sensitive(true);
    parts.headers.insert(AUTHORIZATION, value);
    Ok(())
}

/// The `Host` an HTTP/1 client sends for a URI (and HTTP/2's `:authority`): the port only when it
/// is not the scheme's default, as hyper's client writes it.
fn host_of(uri: &http::Uri) -> Option<String> {
    let host = uri.host()?;
    let default_port = match uri.scheme_str() {
        Some("http") => Some(80),
        Some("https") => Some(443),
        _ => None,
    };
    Some(match uri.port_u16() {
        Some(port) if Some(port) != default_port => format!("{host}:{port}"),
        _ => host.to_owned(),
    })
}

/// `YYYYMMDD'T'HHMMSS'Z'` in UTC.
fn amz_date(now: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(now)
        .format("%Y%m%dT%H%M%SZ")
        .to_string()
}

/// What the signature covers, as the request will be sent.
pub(super) struct CanonicalRequest<'a> {
    pub method: &'a str,
    /// The path as sent (already percent-encoded).
    pub path: &'a str,
    /// The query as sent, without `?`.
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    /// The `host` to sign when `headers` has none.
    pub host: Option<&'a str>,
    pub payload_hash: &'a str,
}

impl CanonicalRequest<'_> {
    /// The canonical request and its signed-headers list.
    pub(super) fn text(&self) -> (Vec<u8>, String) {
        let mut headers: Vec<(&str, Vec<u8>)> = Vec::new();
        if let Some(host) = self.host {
            headers.push(("host", host.as_bytes().to_vec()));
        }
        for name in self.headers.keys() {
            if UNSIGNED.contains(&name.as_str()) {
                continue;
            }
            let values: Vec<Vec<u8>> = self
                .headers
                .get_all(name)
                .iter()
                .map(|value| trim_all(value.as_bytes()))
                .collect();
            headers.push((name.as_str(), values.join(&b',')));
        }
        headers.sort_by(|a, b| a.0.cmp(b.0));
        let signed: Vec<&str> = headers.iter().map(|(name, _)| *name).collect();
        let signed = signed.join(";");
        let mut text = Vec::new();
        for part in [
            self.method.as_bytes(),
            canonical_uri(self.path).as_bytes(),
            canonical_query(self.query).as_bytes(),
        ] {
            text.extend_from_slice(part);
            text.push(b'\n');
        }
        for (name, value) in &headers {
            text.extend_from_slice(name.as_bytes());
            text.push(b':');
            text.extend_from_slice(value);
            text.push(b'\n');
        }
        text.push(b'\n');
        text.extend_from_slice(signed.as_bytes());
        text.push(b'\n');
        text.extend_from_slice(self.payload_hash.as_bytes());
        (text, signed)
    }
}

/// The `authorization` value for a canonical request signed at `amz_date`.
pub(super) fn authorization(
    request: &CanonicalRequest<'_>,
    credentials: &AwsCredentials,
    region: &str,
    service: &str,
    amz_date: &str,
) -> String {
    let (canonical, signed_headers) = request.text();
    let date = amz_date.get(..8).unwrap_or(amz_date);
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex_sha256(&canonical)
    );
    let mut key = format!("AWS4{}", credentials.secret_access_key).into_bytes();
    let mut signing_key = hmac(&key, date.as_bytes());
    key.zeroize();
    for part in [region, service, "aws4_request"] {
        signing_key = hmac(&signing_key, part.as_bytes());
    }
    let signature = hex(&hmac(&signing_key, string_to_sign.as_bytes()));
    format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        credentials.access_key_id
    )
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return Vec::new();
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

pub(super) fn hex_sha256(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// Percent-encodes every byte but the unreserved ones (`A-Z a-z 0-9 - . _ ~`), and `/` when
/// `keep_slash`: SigV4's `UriEncode`.
fn uri_encode(text: &str, keep_slash: bool, out: &mut String) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) || (keep_slash && byte == b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

/// The canonical URI: the path as sent, encoded once more (so `%3A` becomes `%253A`).
pub(super) fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    let mut out = String::with_capacity(path.len() + 16);
    uri_encode(path, true, &mut out);
    out
}

/// The canonical query: each name and value decoded from the wire and encoded strictly, sorted
/// by name, then value.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let encode = |text: &str| {
                let mut out = String::new();
                uri_encode(&percent_decode(text), false, &mut out);
                out
            };
            (encode(name), encode(value))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Decodes `%XX` escapes (a `+` stays a `+`, as AWS reads it); bad escapes stay as they are.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
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

/// A header value with its ends trimmed and each run of spaces made one space.
fn trim_all(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    for &byte in value.trim_ascii() {
        if byte == b' ' && out.last() == Some(&b' ') {
            continue;
        }
        out.push(byte);
    }
    out
}

/// The region of a Bedrock runtime base URL: `https://bedrock-runtime.<region>.amazonaws.com`
/// (also `bedrock-runtime-fips.`, China's `.amazonaws.com.cn`, and VPC endpoints'
/// `….bedrock-runtime.<region>.vpce.amazonaws.com`). `None` for any other host.
pub fn region_from_base_url(url: &str) -> Option<String> {
    let uri: http::Uri = url.trim().parse().ok()?;
    let host = uri.host()?.to_ascii_lowercase();
    if !(host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn")) {
        return None;
    }
    let labels: Vec<&str> = host.split('.').collect();
    let at = labels
        .iter()
        .position(|label| *label == "bedrock-runtime" || *label == "bedrock-runtime-fips")?;
    let region = *labels.get(at + 1)?;
    let valid = !region.is_empty()
        && region.contains('-')
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    valid.then(|| region.to_owned())
}
