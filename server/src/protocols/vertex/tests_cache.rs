//! The token cache against a local token endpoint that checks each assertion as Google's does:
//! fetched once, reused, refreshed before expiry, one refresh for many callers, errors carried.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::{Value, json};

use super::tests_token::{CLIENT_EMAIL, KEY_ID, key_file, now, public_key, verified_parts};
use super::*;
use crate::upstream::UpstreamClient;

const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The local token endpoint's state: what it was asked, and how it answers.
struct TokenServer {
    hits: AtomicUsize,
    last_issued_at: AtomicU64,
    fail: AtomicBool,
    delay: Duration,
    audience: String,
    public_key: Vec<u8>,
}

impl TokenServer {
    /// What Google's endpoint checks: the form, the signature, and the claims.
    fn check(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), String> {
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if content_type != "application/x-www-form-urlencoded" {
            return Err(format!("content-type {content_type}"));
        }
        let form = std::str::from_utf8(body).map_err(|e| e.to_string())?;
        let mut grant_type = None;
        let mut assertion = None;
        for pair in form.split('&') {
            let (name, value) = pair.split_once('=').ok_or("a form pair without =")?;
            let value = decode_path_segment(value).ok_or("bad percent-encoding")?;
            match name {
                "grant_type" => grant_type = Some(value),
                "assertion" => assertion = Some(value),
                other => return Err(format!("unexpected field {other}")),
            }
        }
        if grant_type.as_deref() != Some(GRANT_TYPE) {
            return Err(format!("grant_type {grant_type:?}"));
        }
        let assertion = assertion.ok_or("no assertion")?;
        let (header, claims) = verified_parts(&assertion, &self.public_key)?;
        if header != json!({"alg": "RS256", "typ": "JWT", "kid": KEY_ID}) {
            return Err(format!("header {header}"));
        }
        let issued = claims["iat"].as_u64().ok_or("no iat")?;
        let expected = json!({
            "iss": CLIENT_EMAIL,
            "scope": SCOPE,
            "aud": self.audience,
            "iat": issued,
            "exp": issued + 3600,
        });
        if claims != expected {
            return Err(format!("claims {claims}"));
        }
        self.last_issued_at.store(issued, Ordering::SeqCst);
        Ok(())
    }
}

async fn issue(
    State(server): State<Arc<TokenServer>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    let hit = server.hits.fetch_add(1, Ordering::SeqCst) + 1;
    tokio::time::sleep(server.delay).await;
    if let Err(reason) = server.check(&headers, &body) {
        let error = json!({"error": "rejected_by_test_server", "error_description": reason});
        return (StatusCode::UNAUTHORIZED, Json(error));
    }
    if server.fail.load(Ordering::SeqCst) {
        let error =
            json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."});
        return (StatusCode::BAD_REQUEST, Json(error));
    }
    let token = json!({"access_token": format!("ya29.token-{hit}"), "expires_in": 3600, "token_type": "Bearer"});
    (StatusCode::OK, Json(token))
}

/// Starts a token endpoint on 127.0.0.1, and a cache whose key file points at it.
async fn token_server(delay: Duration) -> (Arc<TokenServer>, TokenCache) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let address = listener.local_addr().expect("an address");
    let audience = format!("http://{address}/token");
    let server = Arc::new(TokenServer {
        hits: AtomicUsize::new(0),
        last_issued_at: AtomicU64::new(0),
        fail: AtomicBool::new(false),
        delay,
        audience: audience.clone(),
        public_key: public_key(),
    });
    let router = Router::new()
        .route("/token", post(issue))
        .with_state(Arc::clone(&server));
    tokio::spawn(async move { axum::serve(listener, router).await });
    let account =
        ServiceAccount::parse(&key_file(Some(&audience)).to_string()).expect("the key parses");
    (server, TokenCache::new(account))
}

/// The gateway's upstream client, with a configuration that names no provider.
fn client() -> UpstreamClient {
    use crate::health::HealthRegistry;
    use crate::reload::CurrentSnapshot;
    use crate::snapshot::Snapshot;
    use crate::store::LoadedConfig;
    let config = LoadedConfig {
        revision: 1,
        providers: Vec::new(),
        routes: Vec::new(),
        consumers: Vec::new(),
        settings: Default::default(),
        guardrails: Vec::new(),
    };
    let snapshot = Snapshot::build(config, 1, &HealthRegistry::default()).expect("builds");
    crate::upstream::client(Arc::new(CurrentSnapshot::new(snapshot)))
}

fn minutes(count: u64) -> Duration {
    Duration::from_secs(count * 60)
}

fn hits(server: &TokenServer) -> usize {
    server.hits.load(Ordering::SeqCst)
}

#[tokio::test]
async fn a_token_is_fetched_once_and_refreshed_five_minutes_before_it_expires() {
    let (server, cache) = token_server(Duration::ZERO).await;
    let client = client();
    let first = cache.token(&client, now()).await.expect("a token");
    assert_eq!(first, "ya29.token-1");
    assert_eq!(hits(&server), 1);
    assert_eq!(
        server.last_issued_at.load(Ordering::SeqCst),
        now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs()
    );

    let again = cache.token(&client, now()).await.expect("a token");
    assert_eq!(again, "ya29.token-1");
    let later = cache
        .token(&client, now() + minutes(54))
        .await
        .expect("a token");
    assert_eq!(later, "ya29.token-1");
    assert_eq!(hits(&server), 1, "cached until five minutes before expiry");

    let refresh_time = now() + minutes(56);
    let refreshed = cache.token(&client, refresh_time).await.expect("a token");
    assert_eq!(refreshed, "ya29.token-2");
    assert_eq!(hits(&server), 2);
    assert_eq!(
        server.last_issued_at.load(Ordering::SeqCst),
        refresh_time
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs(),
        "the new assertion is signed at the caller's time"
    );
    let cached = cache.token(&client, refresh_time + minutes(50)).await;
    assert_eq!(cached.as_deref(), Ok("ya29.token-2"));
    assert_eq!(hits(&server), 2);

    let header = cache
        .authorization(&client, refresh_time)
        .await
        .expect("a header");
    assert_eq!(header.to_str().expect("ASCII"), "Bearer ya29.token-2");
    assert!(header.is_sensitive());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_on_a_cold_cache_share_one_fetch() {
    let (server, cache) = token_server(Duration::from_millis(200)).await;
    let cache = Arc::new(cache);
    let client = client();
    let callers: Vec<_> = (0..20)
        .map(|_| {
            let cache = Arc::clone(&cache);
            let client = client.clone();
            tokio::spawn(async move { cache.token(&client, now()).await })
        })
        .collect();
    for caller in callers {
        let token = caller.await.expect("the caller finishes");
        assert_eq!(token.as_deref(), Ok("ya29.token-1"));
    }
    assert_eq!(hits(&server), 1);
}

#[tokio::test]
async fn a_refused_assertion_surfaces_the_endpoints_message_and_is_not_retried_at_once() {
    let (server, cache) = token_server(Duration::ZERO).await;
    server.fail.store(true, Ordering::SeqCst);
    let client = client();
    let error = cache.token(&client, now()).await.expect_err("refused");
    assert!(
        error.contains("400") && error.contains("invalid_grant: Invalid JWT Signature."),
        "{error}"
    );
    assert!(
        !error.contains("PRIVATE KEY") && !error.contains("MII"),
        "{error}"
    );
    assert_eq!(hits(&server), 1);

    let soon = cache.token(&client, now() + Duration::from_secs(5)).await;
    assert_eq!(soon, Err(error.clone()), "the failure answers for a while");
    assert_eq!(hits(&server), 1);

    server.fail.store(false, Ordering::SeqCst);
    let later = cache.token(&client, now() + Duration::from_secs(11)).await;
    assert_eq!(later.as_deref(), Ok("ya29.token-2"));
    assert_eq!(hits(&server), 2);
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_valid_token_until_it_expires() {
    let (server, cache) = token_server(Duration::ZERO).await;
    let client = client();
    assert_eq!(
        cache.token(&client, now()).await.as_deref(),
        Ok("ya29.token-1")
    );
    server.fail.store(true, Ordering::SeqCst);

    let due = cache.token(&client, now() + minutes(56)).await;
    assert_eq!(
        due.as_deref(),
        Ok("ya29.token-1"),
        "still valid for 4 minutes"
    );
    assert_eq!(hits(&server), 2);

    let expired = cache.token(&client, now() + minutes(61)).await;
    let error = expired.expect_err("no valid token is left");
    assert!(error.contains("Invalid JWT Signature."), "{error}");
    assert_eq!(hits(&server), 3);
}

#[tokio::test]
async fn an_unreachable_endpoint_is_an_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let address = listener.local_addr().expect("an address");
    drop(listener);
    let file = key_file(Some(&format!("http://{address}/token")));
    let account = ServiceAccount::parse(&file.to_string()).expect("parses");
    let error = TokenCache::new(account)
        .token(&client(), now())
        .await
        .expect_err("nobody listens");
    assert!(error.contains("is unreachable"), "{error}");
}

#[tokio::test]
async fn a_silent_endpoint_times_out() {
    let (_server, cache) = token_server(Duration::from_secs(30)).await;
    let cache = cache.with_timeout(Duration::from_millis(200));
    let started = std::time::Instant::now();
    let error = cache.token(&client(), now()).await.expect_err("no answer");
    assert!(error.contains("did not answer within 200ms"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn malformed_token_answers_are_errors() {
    let ok = StatusCode::OK;
    let cases: [(StatusCode, &[u8], &str); 7] = [
        (ok, b"not json", "is not JSON"),
        (ok, br#"{"expires_in":3600}"#, "no access_token"),
        (
            ok,
            br#"{"access_token":"a b","expires_in":3600}"#,
            "header cannot carry",
        ),
        (ok, br#"{"access_token":"t"}"#, "no positive expires_in"),
        (
            ok,
            br#"{"access_token":"t","expires_in":3600,"token_type":"MAC"}"#,
            "not Bearer",
        ),
        (
            StatusCode::FORBIDDEN,
            br#"{"error":{"code":403,"message":"IAM denied"}}"#,
            "403 Forbidden: IAM denied",
        ),
        (
            StatusCode::BAD_GATEWAY,
            b"<html>\n</html>",
            "502 Bad Gateway: <html> </html>",
        ),
    ];
    for (status, body, expected) in cases {
        let error = match super::token::read_answer(status, body, SystemTime::now()) {
            Ok(_) => panic!("{expected}: accepted"),
            Err(error) => error,
        };
        assert!(
            error.contains(expected),
            "expected '{expected}' in '{error}'"
        );
    }
}
