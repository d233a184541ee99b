//! A service account's OAuth2 access token, fetched from Google's token endpoint with a signed
//! assertion and reused until shortly before it expires. One refresh runs at a time: callers
//! that need a token meanwhile wait for it (or keep using the old one while it is still valid).

use std::fmt;
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::Value;

use super::ServiceAccount;
use crate::providers::encode_path_segment;
use crate::upstream::UpstreamClient;

/// A token is replaced this long before it expires, so a request never leaves with one that
/// runs out on the way (or half the token's lifetime, for unusually short-lived tokens).
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// The most one exchange with the token endpoint may take, connecting included.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(10);

/// After a failed refresh, callers get its error for this long instead of each asking the
/// token endpoint again (a wrong key would otherwise send it one request per client request).
const FAILURE_BACKOFF: Duration = Duration::from_secs(10);

/// Lifetimes beyond this are taken as this (Google's tokens live an hour).
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// The most of the token endpoint's answer that is read.
const MAX_TOKEN_BODY: usize = 64 * 1024;

const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

pub(super) struct Token {
    value: String,
    refresh_at: SystemTime,
    expires_at: SystemTime,
}

struct Failure {
    message: String,
    retry_at: SystemTime,
}

/// What the cache holds at a moment.
enum Cached {
    Fresh(String),
    /// Due for a refresh, but still valid.
    Due(String),
    Missing,
}

/// The access tokens of one service account key.
pub struct TokenCache {
    account: ServiceAccount,
    /// Read without waiting on every request; written only by the one refresh.
    current: RwLock<Option<Token>>,
    /// Held for the whole of a refresh, so only one runs; it keeps the last failure.
    refreshing: tokio::sync::Mutex<Option<Failure>>,
    /// [`TOKEN_TIMEOUT`], shorter in tests.
    timeout: Duration,
}

impl TokenCache {
    pub fn new(account: ServiceAccount) -> TokenCache {
        TokenCache {
            account,
            current: RwLock::new(None),
            refreshing: tokio::sync::Mutex::new(None),
            timeout: TOKEN_TIMEOUT,
        }
    }

    /// The same cache with another bound on the token endpoint's exchange.
    #[cfg(test)]
    pub(super) fn with_timeout(self, timeout: Duration) -> TokenCache {
        TokenCache { timeout, ..self }
    }

    pub fn account(&self) -> &ServiceAccount {
        &self.account
    }

    /// An access token valid at `now` for a while yet: the cached one until five minutes
    /// before it expires, a new one from the token endpoint otherwise. Callers that find a
    /// refresh under way wait for it, unless the current token is still valid; a failed refresh
    /// answers with its error for ten seconds (the current token while it lasts) before the
    /// endpoint is asked again.
    pub async fn token(&self, client: &UpstreamClient, now: SystemTime) -> Result<String, String> {
        let usable = match self.cached(now) {
            Cached::Fresh(token) => return Ok(token),
            Cached::Due(token) => Some(token),
            Cached::Missing => None,
        };
        let mut failure = match self.refreshing.try_lock() {
            Ok(guard) => guard,
            Err(_) => match usable {
                // Another caller is refreshing: the current token still serves meanwhile.
                Some(token) => return Ok(token),
                None => self.refreshing.lock().await,
            },
        };
        // A refresh that finished while this caller waited answers it too.
        let usable = match self.cached(now) {
            Cached::Fresh(token) => return Ok(token),
            Cached::Due(token) => Some(token),
            Cached::Missing => None,
        };
        if let Some(previous) = failure.as_ref().filter(|f| now < f.retry_at) {
            return usable.ok_or_else(|| previous.message.clone());
        }
        match self.fetch(client, now).await {
            Ok(token) => {
                let value = token.value.clone();
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(token);
                *failure = None;
                Ok(value)
            }
            Err(message) => {
                *failure = Some(Failure {
                    message: message.clone(),
                    retry_at: now.checked_add(FAILURE_BACKOFF).unwrap_or(now),
                });
                match usable {
                    Some(token) => {
                        tracing::warn!(
                            account = %self.account.client_email(),
                            "refreshing the Vertex AI access token failed, the current one is \
                             used until it expires: {message}"
                        );
                        Ok(token)
                    }
                    None => Err(message),
                }
            }
        }
    }

    /// `Bearer <token>`, marked sensitive so it is never logged: the `authorization` header of
    /// a request to Vertex AI.
    pub async fn authorization(
        &self,
        client: &UpstreamClient,
        now: SystemTime,
    ) -> Result<HeaderValue, String> {
        let token = self.token(client, now).await?;
        let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| "the access token is not a valid header value".to_owned())?;
        value.set_sensitive(true);
        Ok(value)
    }

    fn cached(&self, now: SystemTime) -> Cached {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        match current.as_ref() {
            Some(token) if now < token.refresh_at => Cached::Fresh(token.value.clone()),
            Some(token) if now < token.expires_at => Cached::Due(token.value.clone()),
            _ => Cached::Missing,
        }
    }

    /// Trades a fresh assertion for an access token.
    async fn fetch(&self, client: &UpstreamClient, now: SystemTime) -> Result<Token, String> {
        let endpoint = self.account.token_endpoint();
        let assertion = self.account.assertion(now)?;
        // Percent-encoding everything but the unreserved characters is valid form encoding.
        let body = format!(
            "grant_type={}&assertion={}",
            encode_path_segment(GRANT_TYPE),
            encode_path_segment(&assertion)
        );
        let request = Request::builder()
            .method(Method::POST)
            .uri(endpoint.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("the token request could not be built: {e}"))?;
        let exchange = async {
            let response = client.request(request).await.map_err(|e| {
                format!(
                    "the token endpoint {endpoint} is unreachable: {}",
                    innermost(&e)
                )
            })?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_TOKEN_BODY)
                .collect()
                .await
                .map_err(|e| format!("reading the token endpoint's answer failed: {e}"))?
                .to_bytes();
            Ok::<_, String>((status, body))
        };
        let (status, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| {
                format!(
                    "the token endpoint {endpoint} did not answer within {:?}",
                    self.timeout
                )
            })??;
        read_answer(status, &body, now)
    }
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cached = self
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        f.debug_struct("TokenCache")
            .field("account", &self.account)
            .field("token", &if cached { "<cached>" } else { "<none>" })
            .finish()
    }
}

/// The chain's innermost message names the cause (refused, reset, TLS) without the noise.
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Reads the token endpoint's answer: `{"access_token","expires_in","token_type"}`, or an
/// OAuth error (`{"error","error_description"}`) whose words become the error.
pub(super) fn read_answer(
    status: StatusCode,
    body: &[u8],
    now: SystemTime,
) -> Result<Token, String> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    if !status.is_success() {
        return Err(format!(
            "the token endpoint answered {status}: {}",
            error_detail(json.as_ref(), body)
        ));
    }
    let json = json.ok_or("the token endpoint's answer is not JSON")?;
    let value = json
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|token| !token.is_empty())
        .ok_or("the token endpoint's answer has no access_token")?;
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(
            "the token endpoint's access_token has characters a header cannot carry".into(),
        );
    }
    match json.get("token_type") {
        None => {}
        Some(Value::String(kind)) if kind.eq_ignore_ascii_case("bearer") => {}
        Some(other) => {
            return Err(format!(
                "the token endpoint answered a token of type {other}, not Bearer"
            ));
        }
    }
    let lifetime = json
        .get("expires_in")
        .and_then(Value::as_u64)
        .filter(|&secs| secs > 0)
        .map(|secs| Duration::from_secs(secs).min(MAX_LIFETIME))
        .ok_or("the token endpoint's answer has no positive expires_in")?;
    let margin = REFRESH_MARGIN.min(lifetime / 2);
    let at = |offset: Duration| {
        now.checked_add(offset)
            .ok_or_else(|| "the system clock is out of range".to_owned())
    };
    Ok(Token {
        value: value.to_owned(),
        refresh_at: at(lifetime - margin)?,
        expires_at: at(lifetime)?,
    })
}

/// An OAuth error's code and description (or a Google API error's message), or the start of
/// a body that is neither.
fn error_detail(json: Option<&Value>, body: &[u8]) -> String {
    let error = json.and_then(|j| j.get("error"));
    let code = error.and_then(Value::as_str);
    let description = json
        .and_then(|j| j.get("error_description"))
        .or_else(|| error.and_then(|e| e.get("message")))
        .and_then(Value::as_str);
    match (code, description) {
        (Some(code), Some(description)) => format!("{code}: {description}"),
        (Some(text), None) | (None, Some(text)) => text.to_owned(),
        (None, None) => {
            let text: String = String::from_utf8_lossy(body)
                .chars()
                .take(200)
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            if text.trim().is_empty() {
                "no message".to_owned()
            } else {
                text.trim().to_owned()
            }
        }
    }
}
