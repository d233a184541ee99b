//! AWS Signature Version 4, checked the way an AWS service checks it: the signature of a recorded
//! request is recomputed from the request as it arrived (path as sent, query, the headers the
//! signature names, the body's hash) and compared with the one it carries. Written apart from the
//! gateway's signer, from AWS's specification, so that the two cannot share a mistake; its own
//! test holds it to AWS's published suite. The canonical request is built in `sigv4/canonical.rs`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::mock::RecordedRequest;

mod canonical;

pub use canonical::canonical_request;
use canonical::hex;

/// How far a request's `x-amz-date` may be from the service's clock (AWS allows five minutes).
const MAX_SKEW: Duration = Duration::from_secs(5 * 60);

/// An AWS access key as the mock knows it.
#[derive(Clone, Debug)]
pub struct AwsKey {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl AwsKey {
    /// The key as a gateway provider stores it: `ID:SECRET` or `ID:SECRET:SESSION_TOKEN`.
    pub fn provider_key(&self) -> String {
        match &self.session_token {
            Some(token) => format!("{}:{}:{token}", self.access_key_id, self.secret_access_key),
            None => format!("{}:{}", self.access_key_id, self.secret_access_key),
        }
    }
}

/// Why AWS refuses a request: its status, error class (the `x-amzn-ErrorType`) and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub class: &'static str,
    pub message: String,
}

fn refuse(status: u16, class: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        class,
        message: message.into(),
    }
}

/// The words AWS starts a signature mismatch with.
pub const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

const INVALID_TOKEN: &str = "The security token included in the request is invalid.";

/// The parts of an `Authorization: AWS4-HMAC-SHA256 …` header.
#[derive(Debug, PartialEq, Eq)]
pub struct Authorization {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

/// Reads an `Authorization` header's credential scope, signed headers and signature.
pub fn parse_authorization(value: &str) -> Result<Authorization, Refusal> {
    let incomplete = |what: &str| {
        refuse(
            400,
            "IncompleteSignatureException",
            format!("Authorization header requires '{what}' parameter. Authorization={value}"),
        )
    };
    let rest = value.strip_prefix("AWS4-HMAC-SHA256 ").ok_or_else(|| {
        refuse(
            400,
            "IncompleteSignatureException",
            "Unsupported AWS 'algorithm': only AWS4-HMAC-SHA256 is accepted",
        )
    })?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (name, text) = part.trim().split_once('=').unwrap_or((part.trim(), ""));
        match name {
            "Credential" => credential = Some(text),
            "SignedHeaders" => signed = Some(text),
            "Signature" => signature = Some(text),
            _ => {}
        }
    }
    let credential = credential.ok_or_else(|| incomplete("Credential"))?;
    let signed = signed.ok_or_else(|| incomplete("SignedHeaders"))?;
    let signature = signature.ok_or_else(|| incomplete("Signature"))?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [id, date, region, service, terminator] = scope[..] else {
        return Err(incomplete("Credential"));
    };
    if terminator != "aws4_request" {
        return Err(refuse(
            403,
            "InvalidSignatureException",
            "Credential should be scoped with a valid terminator: 'aws4_request'.",
        ));
    }
    Ok(Authorization {
        access_key_id: id.to_owned(),
        date: date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        signed_headers: signed.split(';').map(str::to_owned).collect(),
        signature: signature.to_owned(),
    })
}

/// Verifies a request's SigV4 signature for `key`, `region` and `service` at `now`, with the
/// checks and answers of an AWS endpoint.
pub fn verify(
    request: &RecordedRequest,
    key: &AwsKey,
    region: &str,
    service: &str,
    now: SystemTime,
) -> Result<(), Refusal> {
    let Some(header) = request.header("authorization") else {
        return Err(refuse(
            403,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ));
    };
    let auth = parse_authorization(header)?;
    if auth.access_key_id != key.access_key_id {
        return Err(refuse(403, "UnrecognizedClientException", INVALID_TOKEN));
    }
    if request.header("x-amz-security-token") != key.session_token.as_deref() {
        return Err(refuse(403, "UnrecognizedClientException", INVALID_TOKEN));
    }
    let amz_date = request.header("x-amz-date").ok_or_else(|| {
        refuse(
            400,
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        )
    })?;
    let signed_at = parse_amz_date(amz_date).ok_or_else(|| {
        refuse(
            400,
            "IncompleteSignatureException",
            format!("Date must be in ISO-8601 'basic format'. Got '{amz_date}'."),
        )
    })?;
    let skew = now
        .duration_since(signed_at)
        .unwrap_or_else(|early| early.duration());
    if skew > MAX_SKEW {
        return Err(refuse(
            403,
            "InvalidSignatureException",
            format!(
                "Signature expired: {amz_date} is now earlier or later than 5 minutes from the server's time."
            ),
        ));
    }
    if !amz_date.starts_with(&auth.date) || auth.date.len() != 8 {
        return Err(refuse(
            403,
            "InvalidSignatureException",
            format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}'",
                auth.date,
                &amz_date[..8]
            ),
        ));
    }
    if auth.region != region {
        return Err(refuse(
            403,
            "InvalidSignatureException",
            format!(
                "Credential should be scoped to a valid region, not '{}'.",
                auth.region
            ),
        ));
    }
    if auth.service != service {
        return Err(refuse(
            403,
            "InvalidSignatureException",
            format!("Credential should be scoped to correct service: '{service}'."),
        ));
    }
    for required in ["host", "x-amz-date"] {
        if !auth.signed_headers.iter().any(|h| h == required) {
            return Err(refuse(
                403,
                "InvalidSignatureException",
                format!("'{required}' must be a 'SignedHeader' in the AWS Authorization."),
            ));
        }
    }
    // AWS rebuilds the list as the specification defines it, lower-case and sorted: a signature
    // over any other order does not match.
    let mut names: Vec<String> = auth
        .signed_headers
        .iter()
        .map(|name| name.to_ascii_lowercase())
        .collect();
    names.sort();
    names.dedup();
    let canonical = canonical_request(request, &names);
    let scope = format!("{}/{region}/{service}/aws4_request", auth.date);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let expected = signature(
        &key.secret_access_key,
        &auth.date,
        region,
        service,
        &string_to_sign,
    );
    if expected != auth.signature {
        // AWS's query-protocol services quote what they signed, which makes a mismatch readable.
        return Err(refuse(
            403,
            "InvalidSignatureException",
            format!(
                "{MISMATCH}\n\nThe Canonical String for this request should have been\n'{canonical}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
            ),
        ));
    }
    Ok(())
}

/// The signature of `string_to_sign`: HMAC-SHA256 under the key derived from the secret, the
/// date, the region and the service.
pub fn signature(
    secret: &str,
    date: &str,
    region: &str,
    service: &str,
    string_to_sign: &str,
) -> String {
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in [date, region, service, "aws4_request"] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    hex(&hmac_sha256(&key, string_to_sign.as_bytes()))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// `YYYYMMDD'T'HHMMSS'Z'` as an instant.
fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let bytes = text.as_bytes();
    if bytes.len() != 16 || bytes[8] != b'T' || bytes[15] != b'Z' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u64> { text.get(range)?.parse().ok() };
    let (year, month, day) = (number(0..4)?, number(4..6)?, number(6..8)?);
    let (hour, minute, second) = (number(9..11)?, number(11..13)?, number(13..15)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's
/// algorithm, for years from 1970).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let yoe = year - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use bytes::Bytes;
    use http::{HeaderMap, HeaderValue, Method};

    use super::*;

    fn suite_key() -> AwsKey {
        AwsKey {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        }
    }

    fn suite_request(method: Method, path: &str, authorization: &str) -> RecordedRequest {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("example.amazonaws.com"));
        headers.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
        headers.insert(
            "authorization",
            HeaderValue::try_from(authorization).expect("ASCII"),
        );
        RecordedRequest {
            method,
            path: path.to_owned(),
            headers,
            body: Bytes::new(),
            received_at: Instant::now(),
        }
    }

    /// AWS's published suite: `get-vanilla`, `get-vanilla-query-order-key-case` and
    /// `post-vanilla`, at the suite's own date.
    #[test]
    fn verifies_the_aws_suite_and_refuses_a_changed_request() {
        let at = UNIX_EPOCH + Duration::from_secs(1_440_938_160);
        let scope = "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request";
        for (method, path, signature) in [
            (
                Method::GET,
                "/",
                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
            (
                Method::GET,
                "/?Param2=value2&Param1=value1",
                "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
            ),
            (
                Method::POST,
                "/",
                "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
            ),
        ] {
            let header = format!(
                "AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host;x-amz-date, Signature={signature}"
            );
            let request = suite_request(method.clone(), path, &header);
            assert_eq!(
                verify(&request, &suite_key(), "us-east-1", "service", at),
                Ok(()),
                "{method} {path}"
            );
            let mut changed = request.clone();
            changed.path = format!("{path}{}", if path.contains('?') { "&a=b" } else { "?a=b" });
            let refusal = verify(&changed, &suite_key(), "us-east-1", "service", at)
                .expect_err("a changed query");
            assert_eq!(refusal.class, "InvalidSignatureException");
            assert!(refusal.message.starts_with(MISMATCH), "{}", refusal.message);
        }
        let late = at + Duration::from_secs(600);
        let header = format!(
            "AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        let request = suite_request(Method::GET, "/", &header);
        let refusal = verify(&request, &suite_key(), "us-east-1", "service", late)
            .expect_err("an old signature");
        assert!(
            refusal.message.starts_with("Signature expired"),
            "{refusal:?}"
        );
        let refusal =
            verify(&request, &suite_key(), "eu-west-1", "service", at).expect_err("another region");
        assert!(refusal.message.contains("valid region"), "{refusal:?}");
    }
}
