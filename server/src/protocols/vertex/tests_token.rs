//! The service account's key file and the signed assertion: parsed, signed, and verified with
//! the public key the way Google's token endpoint checks it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::{KeyPair, RSA_PKCS1_2048_8192_SHA256, RsaKeyPair, UnparsedPublicKey};
use serde_json::{Value, json};

use super::*;

/// A 2048-bit RSA key made for the tests only (`openssl genpkey -algorithm RSA`), kept in
/// `server/tests/data/` for the fuzz tests too: it signs nothing anywhere else. ring cannot
/// generate RSA keys, so the tests carry one.
pub(super) const TEST_KEY_PEM: &str = include_str!("../../../tests/data/vertex-test-key.pem");

pub(super) const CLIENT_EMAIL: &str = "gateway@my-project.iam.gserviceaccount.com";
pub(super) const KEY_ID: &str = "0123456789abcdef0123456789abcdef01234567";

/// A moment to sign at: 2023-11-14 22:13:20 UTC.
pub(super) const NOW_SECS: u64 = 1_700_000_000;

pub(super) fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW_SECS)
}

/// A key file as the Cloud console downloads it, with the test key.
pub(super) fn key_file(token_uri: Option<&str>) -> Value {
    let mut file = json!({
        "type": "service_account",
        "project_id": "my-project",
        "private_key_id": KEY_ID,
        "private_key": TEST_KEY_PEM,
        "client_email": CLIENT_EMAIL,
        "client_id": "123456789012345678901",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "universe_domain": "googleapis.com"
    });
    if let Some(uri) = token_uri {
        file["token_uri"] = Value::from(uri);
    }
    file
}

/// The test key's public half (PKCS#1 `RSAPublicKey` DER, as ring verifies with it).
pub(super) fn public_key() -> Vec<u8> {
    let body: String = TEST_KEY_PEM
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let der = STANDARD.decode(body).expect("base64");
    let pair = RsaKeyPair::from_pkcs8(&der).expect("the test key");
    pair.public_key().as_ref().to_vec()
}

/// Checks an assertion's signature and returns its header and claims.
pub(super) fn verified_parts(assertion: &str, public_key: &[u8]) -> Result<(Value, Value), String> {
    let mut parts = assertion.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("not three parts: {assertion}"));
    };
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|e| format!("signature: {e}"))?;
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public_key)
        .verify(format!("{header}.{claims}").as_bytes(), &signature)
        .map_err(|_| "the signature does not verify".to_owned())?;
    let decode = |part: &str| -> Result<Value, String> {
        let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|e| e.to_string())?;
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    };
    Ok((decode(header)?, decode(claims)?))
}

fn parse(file: &Value) -> Result<ServiceAccount, String> {
    ServiceAccount::parse(&file.to_string())
}

#[test]
fn a_key_file_parses_with_googles_token_endpoint_by_default() {
    let account = parse(&key_file(None)).expect("parses");
    assert_eq!(account.client_email(), CLIENT_EMAIL);
    assert_eq!(account.private_key_id(), KEY_ID);
    assert_eq!(account.token_uri(), DEFAULT_TOKEN_URI);
    assert_eq!(account.project_id(), Some("my-project"));
    let explicit = parse(&key_file(Some("https://oauth2.googleapis.com/token"))).expect("parses");
    assert_eq!(explicit.token_uri(), "https://oauth2.googleapis.com/token");
    let local = parse(&key_file(Some("http://127.0.0.1:9/token"))).expect("parses");
    assert_eq!(local.token_endpoint().port_u16(), Some(9));
}

#[test]
fn the_assertion_is_a_verifiable_rs256_jwt_with_googles_claims() {
    let account = parse(&key_file(None)).expect("parses");
    let assertion = account.assertion(now()).expect("signs");
    assert!(
        assertion
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
        "base64url without padding: {assertion}"
    );
    let (header, claims) = verified_parts(&assertion, &public_key()).expect("verifies");
    assert_eq!(header, json!({"alg": "RS256", "typ": "JWT", "kid": KEY_ID}));
    assert_eq!(
        claims,
        json!({
            "iss": CLIENT_EMAIL,
            "scope": "https://www.googleapis.com/auth/cloud-platform",
            "aud": "https://oauth2.googleapis.com/token",
            "iat": NOW_SECS,
            "exp": NOW_SECS + 3600,
        })
    );
}

#[test]
fn a_tampered_assertion_does_not_verify() {
    let account = parse(&key_file(None)).expect("parses");
    let assertion = account.assertion(now()).expect("signs");
    let mut parts: Vec<&str> = assertion.split('.').collect();
    let forged = URL_SAFE_NO_PAD.encode(
        json!({"iss": "someone@else", "scope": SCOPE, "aud": DEFAULT_TOKEN_URI, "iat": 0, "exp": 1})
            .to_string(),
    );
    parts[1] = &forged;
    let error = verified_parts(&parts.join("."), &public_key()).expect_err("refused");
    assert!(error.contains("does not verify"), "{error}");
}

#[test]
fn the_audience_is_the_files_token_uri() {
    let account = parse(&key_file(Some("http://localhost:8080/token"))).expect("parses");
    let assertion = account.assertion(now()).expect("signs");
    let (_, claims) = verified_parts(&assertion, &public_key()).expect("verifies");
    assert_eq!(claims["aud"], "http://localhost:8080/token");
}

#[test]
fn bad_key_files_are_refused_naming_what_is_wrong() {
    let pem_body_start = TEST_KEY_PEM.lines().nth(1).expect("a body line");
    let with = |field: &str, value: Value| {
        let mut file = key_file(None);
        file[field] = value;
        file.to_string()
    };
    let without = |field: &str| {
        let mut file = key_file(None);
        file.as_object_mut().expect("an object").remove(field);
        file.to_string()
    };
    let pkcs1 = TEST_KEY_PEM.replace("PRIVATE KEY", "RSA PRIVATE KEY");
    let not_base64 = TEST_KEY_PEM.replace(pem_body_start, "!!!!");
    let not_a_key = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        STANDARD.encode(b"this is not a PKCS#8 structure")
    );
    let cases: Vec<(String, &str)> = vec![
        ("not json".into(), "is not JSON"),
        ("[]".into(), "must be a JSON object"),
        (
            with("type", Value::from("authorized_user")),
            "type is 'authorized_user', not 'service_account'",
        ),
        (without("type"), "has no type"),
        (with("type", json!(1)), "type must be a string"),
        (without("client_email"), "has no client_email"),
        (with("client_email", Value::from("")), "has no client_email"),
        (without("private_key_id"), "has no private_key_id"),
        (without("private_key"), "has no private_key"),
        (
            with("private_key", json!(5)),
            "private_key must be a string",
        ),
        (
            with("private_key", Value::from("garbage")),
            "is not a PEM block",
        ),
        (with("private_key", Value::from(pkcs1)), "PKCS#1"),
        (
            with("private_key", Value::from(not_base64)),
            "is not base64",
        ),
        (
            with("private_key", Value::from(not_a_key)),
            "not a PKCS#8 RSA key",
        ),
        (
            with("token_uri", Value::from("http://evil.example/token")),
            "token_uri 'http://evil.example/token' must be an https URL",
        ),
        (with("token_uri", Value::from("not a url")), "is not a URL"),
        (
            with("token_uri", json!(["x"])),
            "token_uri must be a string",
        ),
    ];
    for (file, expected) in cases {
        let error = ServiceAccount::parse(&file).expect_err(expected);
        assert!(
            error.contains(expected),
            "expected '{expected}' in '{error}'"
        );
        assert!(
            !error.contains(pem_body_start) && !error.contains("MII"),
            "the key leaked into '{error}'"
        );
    }
}

#[test]
fn debug_never_shows_the_key() {
    let account = parse(&key_file(None)).expect("parses");
    let shown = format!("{account:?}");
    assert!(shown.contains(CLIENT_EMAIL), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
    assert!(
        !shown.contains("PRIVATE KEY") && !shown.contains("MII"),
        "{shown}"
    );
    let cache = TokenCache::new(account);
    let shown = format!("{cache:?}");
    assert!(
        !shown.contains("PRIVATE KEY") && !shown.contains("MII"),
        "{shown}"
    );
}

#[test]
fn the_cache_can_be_shared_between_requests() {
    fn shared<T: Send + Sync>() {}
    shared::<ServiceAccount>();
    shared::<TokenCache>();
}
