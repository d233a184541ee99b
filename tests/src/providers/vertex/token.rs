//! A mock of Google's OAuth2 token endpoint for service accounts: it takes the jwt-bearer grant
//! (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=…`), verifies the
//! assertion's RS256 signature with the account's public key and its claims (issuer, audience,
//! scope, a lifetime of at most an hour around now), and issues a random access token for an
//! hour. Refusals are OAuth errors (`{"error", "error_description"}`) as Google words them.

use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use serde_json::{Value, json};

use super::keys::PUBLIC_KEY;
use crate::mock::RecordedRequest;
use crate::providers::fake::json_reply;

/// The grant a service account's assertion is traded under (RFC 7523).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The scope Vertex AI needs.
pub const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";
/// How long the issued tokens live, in seconds.
pub const EXPIRES_IN: u64 = 3600;
/// How far `iat` may be from the endpoint's clock.
const MAX_SKEW_SECS: u64 = 300;

/// The service account the endpoint knows, and the tokens it issued.
pub struct Account {
    pub client_email: String,
    pub private_key_id: String,
    /// Set once the endpoint's port is known: the assertion's required audience.
    pub token_uri: OnceLock<String>,
    issued: Mutex<Vec<String>>,
}

impl Account {
    pub fn new(client_email: &str, private_key_id: &str) -> Account {
        Account {
            client_email: client_email.to_owned(),
            private_key_id: private_key_id.to_owned(),
            token_uri: OnceLock::new(),
            issued: Mutex::new(Vec::new()),
        }
    }

    /// Every access token issued so far, oldest first.
    pub fn issued(&self) -> Vec<String> {
        self.issued
            .lock()
            .expect("token lock is not poisoned")
            .clone()
    }

    /// Whether `token` is one this endpoint issued (none expires within a test's lifetime).
    pub fn is_issued(&self, token: &str) -> bool {
        self.issued().iter().any(|t| t == token)
    }
}

fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    json_reply(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

/// Answers one request to the token endpoint.
pub fn respond(account: &Account, request: &RecordedRequest) -> Response {
    if request.method != http::Method::POST || request.path != "/token" {
        return oauth_error(404, "invalid_request", "Not Found");
    }
    let form_type = request.header("content-type").unwrap_or_default();
    if !form_type.starts_with("application/x-www-form-urlencoded") {
        return oauth_error(400, "invalid_request", "Invalid content type");
    }
    let form = parse_form(&String::from_utf8_lossy(&request.body));
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    match field("grant_type") {
        Some(GRANT_TYPE) => {}
        Some(other) => {
            return oauth_error(
                400,
                "unsupported_grant_type",
                &format!("Invalid grant_type: {other}"),
            );
        }
        None => {
            return oauth_error(
                400,
                "invalid_request",
                "Missing required parameter: grant_type",
            );
        }
    }
    let Some(assertion) = field("assertion") else {
        return oauth_error(
            400,
            "invalid_request",
            "Missing required parameter: assertion",
        );
    };
    if let Err((error, description)) = verify_assertion(account, assertion, SystemTime::now()) {
        return oauth_error(400, error, &description);
    }
    let token = random_token();
    account
        .issued
        .lock()
        .expect("token lock is not poisoned")
        .push(token.clone());
    json_reply(
        200,
        &json!({"access_token": token, "expires_in": EXPIRES_IN, "token_type": "Bearer"}),
    )
}

/// `ya29.` and 32 random bytes, the shape of Google's access tokens.
fn random_token() -> String {
    let mut bytes = [0_u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system has randomness");
    format!("ya29.c.{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Decodes `application/x-www-form-urlencoded` pairs (`+` is a space, `%XX` a byte).
fn parse_form(body: &str) -> Vec<(String, String)> {
    let decode = |text: &str| {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let escape = text
                .get(i + 1..i + 3)
                .filter(|_| bytes[i] == b'%')
                .and_then(|hex| u8::from_str_radix(hex, 16).ok());
            match (bytes[i], escape) {
                (_, Some(byte)) => {
                    out.push(byte);
                    i += 3;
                }
                (b'+', None) => {
                    out.push(b' ');
                    i += 1;
                }
                (byte, None) => {
                    out.push(byte);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

/// The RSAPublicKey inside the PEM's SubjectPublicKeyInfo: for a 2048-bit RSA key, what follows
/// a fixed 24-byte header (the algorithm and the bit string's lengths).
pub fn public_key_der() -> Vec<u8> {
    const SPKI_RSA_2048: [u8; 24] = [
        0x30, 0x82, 0x01, 0x22, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
        0x01, 0x01, 0x05, 0x00, 0x03, 0x82, 0x01, 0x0f, 0x00,
    ];
    let base64: String = PUBLIC_KEY
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let der = STANDARD
        .decode(base64)
        .expect("the test public key is base64");
    let key = der
        .strip_prefix(&SPKI_RSA_2048[..])
        .expect("the test public key is a 2048-bit RSA SubjectPublicKeyInfo");
    key.to_vec()
}

type Refusal = (&'static str, String);

fn invalid_grant(description: &str) -> Refusal {
    ("invalid_grant", description.to_owned())
}

fn segment(text: &str) -> Result<Value, Refusal> {
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| invalid_grant("Invalid JWT: the assertion is not base64url."))?;
    serde_json::from_slice(&bytes).map_err(|_| invalid_grant("Invalid JWT: a segment is not JSON."))
}

/// Verifies a jwt-bearer assertion for `account` at `now`.
pub fn verify_assertion(
    account: &Account,
    assertion: &str,
    now: SystemTime,
) -> Result<(), Refusal> {
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err(invalid_grant(
            "Invalid JWT: the assertion must have three segments.",
        ));
    };
    let header = segment(header)?;
    if header["alg"] != "RS256" {
        return Err(invalid_grant("Invalid JWT: the algorithm must be RS256."));
    }
    if header["kid"] != account.private_key_id.as_str() {
        return Err(invalid_grant("Invalid JWT Signature."));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| invalid_grant("Invalid JWT Signature."))?;
    let signed = &assertion[..assertion.len() - parts[2].len() - 1];
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public_key_der())
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| invalid_grant("Invalid JWT Signature."))?;
    let claims = segment(claims)?;
    if claims["iss"] != account.client_email.as_str() {
        return Err(invalid_grant("Invalid grant: account not found"));
    }
    let audience = account
        .token_uri
        .get()
        .map(String::as_str)
        .unwrap_or_default();
    if claims["aud"] != audience {
        return Err(invalid_grant(&format!(
            "Invalid JWT: Failed audience check. The right audience is {audience}"
        )));
    }
    let scopes = claims["scope"].as_str().unwrap_or_default();
    if !scopes.split(' ').any(|s| s == CLOUD_PLATFORM) {
        return Err((
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.".to_owned(),
        ));
    }
    let now = now
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    let (iat, exp) = (claims["iat"].as_u64(), claims["exp"].as_u64());
    let sane = match (iat, exp) {
        (Some(iat), Some(exp)) => {
            exp > iat && exp - iat <= EXPIRES_IN && iat.abs_diff(now) <= MAX_SKEW_SECS && exp > now
        }
        _ => false,
    };
    if !sane {
        return Err(invalid_grant(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use ring::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};

    use super::super::keys::{OTHER_PRIVATE_KEY, PRIVATE_KEY};
    use super::*;

    fn key_pair(pem: &str) -> RsaKeyPair {
        let base64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = STANDARD.decode(base64).expect("base64");
        RsaKeyPair::from_pkcs8(&der).expect("a PKCS#8 RSA key")
    }

    fn assertion(pem: &str, claims: &Value) -> String {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": "key-1"});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let pair = key_pair(pem);
        let mut signature = vec![0; pair.public().modulus_len()];
        pair.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            input.as_bytes(),
            &mut signature,
        )
        .expect("signs");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    #[test]
    fn the_public_key_is_the_private_keys_half() {
        assert_eq!(
            key_pair(PRIVATE_KEY).public_key().as_ref(),
            public_key_der()
        );
    }

    #[test]
    fn assertions_are_verified() {
        let account = Account::new("sa@p.iam.gserviceaccount.com", "key-1");
        account
            .token_uri
            .set("http://127.0.0.1:1/token".into())
            .expect("unset");
        let now = SystemTime::now();
        let secs = now
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        let claims = json!({"iss": "sa@p.iam.gserviceaccount.com", "scope": CLOUD_PLATFORM,
            "aud": "http://127.0.0.1:1/token", "iat": secs, "exp": secs + 3600});
        assert_eq!(
            verify_assertion(&account, &assertion(PRIVATE_KEY, &claims), now),
            Ok(())
        );
        let refused = verify_assertion(&account, &assertion(OTHER_PRIVATE_KEY, &claims), now);
        assert_eq!(refused, Err(invalid_grant("Invalid JWT Signature.")));
        let mut late = claims.clone();
        late["exp"] = json!(secs + 7200);
        assert!(verify_assertion(&account, &assertion(PRIVATE_KEY, &late), now).is_err());
        let mut elsewhere = claims;
        elsewhere["aud"] = json!("https://oauth2.googleapis.com/token");
        assert!(verify_assertion(&account, &assertion(PRIVATE_KEY, &elsewhere), now).is_err());
    }

    #[test]
    fn forms_are_decoded() {
        let form = parse_form("grant_type=urn%3Aietf%3Aparams&assertion=a.b+c&x");
        assert_eq!(form[0], ("grant_type".into(), "urn:ietf:params".into()));
        assert_eq!(form[1], ("assertion".into(), "a.b c".into()));
        assert_eq!(form[2], ("x".into(), String::new()));
    }
}
