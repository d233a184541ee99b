//! A Google service account's key file (the JSON the operator stores as the provider's API key),
//! and the signed JWT assertion it trades for an access token (RFC 7523's jwt-bearer grant, as
//! Google's OAuth2 token endpoint takes it).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::Uri;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// Where a key file sends its assertions unless it names another endpoint.
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// The access Vertex AI needs (Google's scopes for it are all-or-nothing).
pub const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// How long an assertion is valid: Google accepts at most an hour.
const ASSERTION_LIFETIME_SECS: u64 = 3600;

/// A service account's identity and signing key, parsed once from its key file.
pub struct ServiceAccount {
    client_email: String,
    private_key_id: String,
    /// As the key file spells it: it is also the assertion's audience, which must match exactly.
    token_uri: String,
    token_endpoint: Uri,
    project_id: Option<String>,
    key: RsaKeyPair,
}

/// The key file's fields, read one by one so each error can name its field.
fn text_field<'a>(file: &'a Value, name: &str) -> Result<Option<&'a str>, String> {
    match file.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.as_str())),
        Some(_) => Err(format!("the service account key's {name} must be a string")),
    }
}

fn required_field<'a>(file: &'a Value, name: &str) -> Result<&'a str, String> {
    text_field(file, name)?
        .filter(|text| !text.is_empty())
        .ok_or_else(|| format!("the service account key has no {name}"))
}

impl ServiceAccount {
    /// Reads a service account key file (`"type": "service_account"`, as the Cloud console
    /// downloads it). Errors name the field and never quote the private key.
    pub fn parse(json: &str) -> Result<ServiceAccount, String> {
        let file: Value = serde_json::from_str(json)
            .map_err(|e| format!("the service account key is not JSON: {e}"))?;
        if !file.is_object() {
            return Err("the service account key must be a JSON object".into());
        }
        match text_field(&file, "type")? {
            Some("service_account") => {}
            Some(other) => {
                return Err(format!(
                    "the service account key's type is '{other}', not 'service_account': \
                     create a key for a service account in the Cloud console"
                ));
            }
            None => {
                return Err(
                    "the service account key has no type (a key file has \"type\": \"service_account\")"
                        .into(),
                );
            }
        }
        let client_email = required_field(&file, "client_email")?.to_owned();
        let private_key_id = required_field(&file, "private_key_id")?.to_owned();
        let key = rsa_key(required_field(&file, "private_key")?)?;
        let token_uri = text_field(&file, "token_uri")?
            .filter(|uri| !uri.is_empty())
            .unwrap_or(DEFAULT_TOKEN_URI)
            .to_owned();
        let token_endpoint = token_endpoint(&token_uri)?;
        let project_id = text_field(&file, "project_id")?
            .filter(|id| !id.is_empty())
            .map(str::to_owned);
        Ok(ServiceAccount {
            client_email,
            private_key_id,
            token_uri,
            token_endpoint,
            project_id,
            key,
        })
    }

    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    pub fn private_key_id(&self) -> &str {
        &self.private_key_id
    }

    pub fn token_uri(&self) -> &str {
        &self.token_uri
    }

    /// The token endpoint, checked when the key was parsed.
    pub fn token_endpoint(&self) -> &Uri {
        &self.token_endpoint
    }

    /// The project the account belongs to (the default for a provider that names none).
    pub fn project_id(&self) -> Option<&str> {
        self.project_id.as_deref()
    }

    /// The signed JWT that asks the token endpoint for a `cloud-platform` access token, valid
    /// for an hour from `now`.
    pub fn assertion(&self, now: SystemTime) -> Result<String, String> {
        let issued = now
            .duration_since(UNIX_EPOCH)
            .map_err(|_| "the system clock is before 1970".to_owned())?
            .as_secs();
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.private_key_id});
        let claims = json!({
            "iss": self.client_email,
            "scope": SCOPE,
            "aud": self.token_uri,
            "iat": issued,
            "exp": issued.saturating_add(ASSERTION_LIFETIME_SECS),
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "signing the token request with the service account key failed")?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

impl fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("private_key_id", &self.private_key_id)
            .field("token_uri", &self.token_uri)
            .field("project_id", &self.project_id)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

/// The RSA key of a PKCS#8 PEM block (`-----BEGIN PRIVATE KEY-----`), as Google's key files
/// hold it. The decoded key is wiped once ring has its own copy.
fn rsa_key(pem: &str) -> Result<RsaKeyPair, String> {
    const BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
    const END: &str = "-----END PRIVATE KEY-----";
    if pem.contains("-----BEGIN RSA PRIVATE KEY-----") {
        return Err(
            "the service account key's private_key is a PKCS#1 key (BEGIN RSA PRIVATE \
                    KEY); it must be PKCS#8 (BEGIN PRIVATE KEY), as Google's key files have it \
                    (convert with `openssl pkcs8 -topk8 -nocrypt`)"
                .into(),
        );
    }
    let body = pem
        .split_once(BEGIN)
        .and_then(|(_, rest)| rest.split_once(END))
        .map(|(body, _)| body)
        .ok_or("the service account key's private_key is not a PEM block (BEGIN PRIVATE KEY)")?;
    let base64: Zeroizing<String> =
        Zeroizing::new(body.chars().filter(|c| !c.is_whitespace()).collect());
    let der = Zeroizing::new(
        STANDARD
            .decode(base64.as_bytes())
            .map_err(|_| "the service account key's private_key PEM block is not base64")?,
    );
    RsaKeyPair::from_pkcs8(&der).map_err(|e| {
        format!(
            "the service account key's private_key is not a PKCS#8 RSA key of 2048 to 8192 \
             bits ({e})"
        )
    })
}

/// The token endpoint as a URI: HTTPS, or plain HTTP to this machine only (a local test
/// server), since the assertion is a credential for an hour.
fn token_endpoint(token_uri: &str) -> Result<Uri, String> {
    let uri: Uri = token_uri
        .parse()
        .map_err(|_| format!("the service account key's token_uri '{token_uri}' is not a URL"))?;
    let host = uri.host().unwrap_or_default();
    let loopback = matches!(host, "127.0.0.1" | "localhost" | "[::1]");
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(uri),
        Some("http") if loopback => Ok(uri),
        _ => Err(format!(
            "the service account key's token_uri '{token_uri}' must be an https URL"
        )),
    }
}
