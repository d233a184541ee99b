//! Console sign-in: first-run setup, login with argon2id-hashed passwords, server-side sessions in
//! an `HttpOnly; SameSite=Strict` cookie, CSRF protection by double submit, and rate-limited login
//! attempts. The admin bearer token keeps working on every `/api` route for automation.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use switchyard_shared::ValidationErrors;
use switchyard_shared::admin::MeView;

use super::AdminState;
use super::error::AdminApiError;
use super::json::JsonBody;
use crate::store::StoreError;
use crate::store::{Actor, Origin};

pub const SESSION_COOKIE: &str = "switchyard_session";
pub const CSRF_COOKIE: &str = "switchyard_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Login attempts allowed per client address per minute.
const LOGIN_ATTEMPTS_PER_MINUTE: u32 = 10;

/// The shortest admin token accepted.
pub const MIN_ADMIN_TOKEN_LEN: usize = 32;

/// Addresses the login limiter remembers before it forgets the ones that are back to full.
const LIMITER_MAX_ADDRESSES: usize = 10_000;

pub struct AuthState {
    /// The SHA-256 digest of the admin token: presented tokens are hashed and compared in constant
    /// time, so neither the token's length nor a matching prefix shows in the timing.
    token_digest: Option<[u8; 32]>,
    pub session_ttl: Duration,
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    /// The one-time code that proves the first-run setup comes from the operator; `None` once an
    /// admin exists at start.
    setup_code: Option<String>,
    /// Whether setup may come from a non-loopback address.
    allow_remote_setup: bool,
}

impl AuthState {
    pub fn new(
        token: Option<&str>,
        session_ttl: Duration,
        setup_code: Option<String>,
        allow_remote_setup: bool,
    ) -> AuthState {
        let per_minute = NonZeroU32::new(LOGIN_ATTEMPTS_PER_MINUTE).unwrap_or(NonZeroU32::MIN);
        AuthState {
            token_digest: token.map(|t| Sha256::digest(t.as_bytes()).into()),
            session_ttl,
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
            setup_code,
            allow_remote_setup,
        }
    }

    pub fn has_token(&self) -> bool {
        self.token_digest.is_some()
    }

    /// Whether `presented` is the admin token.
    fn token_matches(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.token_digest
            .is_some_and(|token| bool::from(presented.ct_eq(&token)))
    }

    fn setup_code_matches(&self, presented: &str) -> bool {
        let normalise = |code: &str| -> String {
            code.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .map(|c| c.to_ascii_uppercase())
                .collect()
        };
        self.setup_code.as_deref().is_some_and(|code| {
            bool::from(
                normalise(presented)
                    .as_bytes()
                    .ct_eq(normalise(code).as_bytes()),
            )
        })
    }
}

/// A one-time setup code: 12 characters from an alphabet without look-alikes (no 0/O, 1/I/L),
/// grouped `XXXX-XXXX-XXXX` (about 60 bits).
pub fn new_setup_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut code = String::with_capacity(14);
    let mut bytes = [0u8; 64];
    // The OS random source failing is not recoverable; without it no secret can be made.
    getrandom::fill(&mut bytes).unwrap_or_else(|e| panic!("the OS random source failed: {e}"));
    // 248 is the largest multiple of 31 below 256: rejection sampling keeps characters uniform.
    let mut picked = bytes
        .iter()
        .filter(|b| **b < 248)
        .map(|b| ALPHABET[usize::from(*b % 31)]);
    for group in 0..3 {
        if group > 0 {
            code.push('-');
        }
        for _ in 0..4 {
            code.push(char::from(picked.next().unwrap_or(b'A')));
        }
    }
    code
}

/// A username as it may appear in a log line: at most 32 characters, control characters escaped,
/// so a mistyped password pasted into the name field (or a forged log line) is not written out.
fn loggable(username: &str) -> String {
    let mut shown: String = username
        .chars()
        .take(32)
        .flat_map(char::escape_debug)
        .collect();
    if username.chars().count() > 32 {
        shown.push('…');
    }
    shown
}

/// Who a request is authenticated as.
#[derive(Clone, Debug)]
pub enum Principal {
    /// The admin bearer token (automation).
    Token,
    Session {
        user_id: i64,
        username: String,
        token_hash: String,
        csrf_token: String,
    },
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // The OS random source failing is not recoverable; without it no secret can be made.
    getrandom::fill(&mut bytes).unwrap_or_else(|e| panic!("the OS random source failed: {e}"));
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn digest(token: &str) -> String {
    let hash = Sha256::digest(token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash)
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Sessions are marked `Secure` when the console is reached over TLS (through a proxy that says so).
fn secure(headers: &HeaderMap) -> &'static str {
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    if https { "; Secure" } else { "" }
}

fn set_cookies(
    response: &mut Response,
    headers: &HeaderMap,
    session: &str,
    csrf: &str,
    max_age: u64,
) {
    let secure = secure(headers);
    let values = [
        format!(
            "{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
        ),
        format!("{CSRF_COOKIE}={csrf}; Path=/; SameSite=Strict; Max-Age={max_age}{secure}"),
    ];
    for value in values {
        if let Ok(value) = HeaderValue::try_from(value) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
}

async fn hash_password(password: String) -> Result<String, AdminApiError> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| e.to_string())?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| AdminApiError::Internal(e.to_string()))?
    .map_err(AdminApiError::Internal)
}

async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    username: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

fn check_new_password(field: &str, password: &str) -> Result<(), ValidationErrors> {
    let length = password.chars().count();
    if length < 8 {
        return Err(ValidationErrors::single(
            field,
            "must be at least 8 characters",
        ));
    }
    if length > 1024 {
        return Err(ValidationErrors::single(
            field,
            "must be at most 1024 characters",
        ));
    }
    Ok(())
}

/// Looks at a request's credentials without rejecting it.
async fn principal(
    state: &AdminState,
    headers: &HeaderMap,
) -> Result<Option<Principal>, AdminApiError> {
    if let Some(presented) = bearer(headers) {
        return Ok(state
            .auth
            .token_matches(presented)
            .then_some(Principal::Token));
    }
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let token_hash = digest(token);
    Ok(state
        .store
        .session(&token_hash)
        .await?
        .map(|row| Principal::Session {
            user_id: row.user_id,
            username: row.username,
            token_hash,
            csrf_token: row.csrf_token,
        }))
}

/// Admits a request with the admin token or a session; a session's writes need the CSRF token.
pub async fn require_auth(
    State(state): State<AdminState>,
    mut request: Request,
    next: Next,
) -> Response {
    let found = match principal(&state, request.headers()).await {
        Ok(found) => found,
        Err(error) => return error.into_response(),
    };
    let Some(principal) = found else {
        let has_admin = state.store.admin_exists().await.unwrap_or(true);
        let configured = state.auth.has_token();
        let message = match (bearer(request.headers()).is_some(), configured) {
            (true, true) => "wrong admin token",
            (true, false) => {
                "no admin token is configured, so bearer tokens are refused: start switchyard \
                 with --admin-token <token> (or SWITCHYARD_ADMIN_TOKEN)"
            }
            (false, _) if !has_admin => {
                "not signed in: complete the system setup in the console, or start switchyard with \
                 --admin-token <token> (or SWITCHYARD_ADMIN_TOKEN) and send Authorization: Bearer <token>"
            }
            (false, _) => {
                "not signed in: log in at the console, or send Authorization: Bearer <admin token> \
                 (set with --admin-token or SWITCHYARD_ADMIN_TOKEN)"
            }
        };
        let mut response = AdminApiError::Unauthorized(message.into()).into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    };
    let writes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if let Principal::Session { csrf_token, .. } = &principal
        && writes
    {
        let presented = request
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !bool::from(presented.as_bytes().ct_eq(csrf_token.as_bytes())) {
            return AdminApiError::Forbidden(
                "missing or wrong CSRF token: send the X-CSRF-Token header".into(),
            )
            .into_response();
        }
    }
    let source = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip().to_string());
    let actor = match &principal {
        Principal::Token => Actor::AdminToken,
        Principal::Session { username, .. } => Actor::Console(username.clone()),
    };
    // Every write records who made it and from where (the audit trail).
    request.extensions_mut().insert(Origin::new(actor, source));
    request.extensions_mut().insert(principal);
    next.run(request).await
}

pub async fn me(
    State(state): State<AdminState>,
    headers: HeaderMap,
) -> Result<Json<MeView>, AdminApiError> {
    let setup_required = !state.store.admin_exists().await?;
    let me = match principal(&state, &headers).await? {
        Some(Principal::Session {
            username,
            csrf_token,
            ..
        }) => MeView {
            setup_required,
            authenticated: true,
            username: Some(username),
            csrf_token: Some(csrf_token),
        },
        Some(Principal::Token) => MeView {
            setup_required,
            authenticated: true,
            username: None,
            csrf_token: None,
        },
        None => MeView {
            setup_required,
            authenticated: false,
            username: None,
            csrf_token: None,
        },
    };
    Ok(Json(me))
}

/// Starts a session for `user_id` and answers with its cookies.
async fn sign_in(
    state: &AdminState,
    headers: &HeaderMap,
    status: StatusCode,
    user_id: i64,
    username: String,
) -> Result<Response, AdminApiError> {
    let token = random_token();
    let csrf = random_token();
    let ttl = state.auth.session_ttl;
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    state
        .store
        .create_session(&digest(&token), user_id, &csrf, ttl_ms)
        .await?;
    let body = MeView {
        setup_required: false,
        authenticated: true,
        username: Some(username),
        csrf_token: Some(csrf.clone()),
    };
    let mut response = (status, Json(body)).into_response();
    set_cookies(&mut response, headers, &token, &csrf, ttl.as_secs());
    Ok(response)
}

fn check_username(username: &str) -> Result<(), ValidationErrors> {
    let valid = !username.is_empty()
        && username.len() <= 64
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
    if valid {
        Ok(())
    } else {
        Err(ValidationErrors::single(
            "username",
            "must be 1 to 64 letters, digits or . _ - @",
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupBody {
    username: String,
    password: String,
    /// The code the server printed at start; not needed with the admin token.
    #[serde(default)]
    setup_code: Option<String>,
}

/// First-run setup. It needs proof of being the operator — the admin token as a bearer token, or
/// the one-time code the server printed at start — and, unless `--allow-remote-setup`, a loopback
/// peer: otherwise whoever reaches the port first would own the gateway.
pub async fn setup(
    State(state): State<AdminState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SetupBody>,
) -> Result<Response, AdminApiError> {
    // Checked first, so a finished setup costs no password hashing.
    if state.store.admin_exists().await? {
        return Err(AdminApiError::Store(StoreError::Conflict {
            message: "system setup is already done; log in instead".into(),
            routes: Vec::new(),
        }));
    }
    let with_token = bearer(&headers).is_some_and(|t| state.auth.token_matches(t));
    if !with_token {
        if !peer.ip().is_loopback() && !state.auth.allow_remote_setup {
            return Err(AdminApiError::Forbidden(
                "system setup is only accepted from this machine (loopback) unless the server \
                 runs with --allow-remote-setup; or send the admin token as a bearer token"
                    .into(),
            ));
        }
        let code_ok = body
            .setup_code
            .as_deref()
            .is_some_and(|code| state.auth.setup_code_matches(code));
        if !code_ok {
            return Err(AdminApiError::Invalid(ValidationErrors::single(
                "setup_code",
                "missing or wrong: use the setup code the server printed when it started \
                 (`setup code: XXXX-XXXX-XXXX` in its output or log)",
            )));
        }
    }
    let mut errors = ValidationErrors::default();
    if let Err(e) = check_username(&body.username) {
        errors.0.extend(e.0);
    }
    if let Err(e) = check_new_password("password", &body.password) {
        errors.0.extend(e.0);
    }
    errors.into_result()?;
    let hash = hash_password(body.password).await?;
    let user_id = state
        .store
        .create_first_admin(
            &Origin::new(
                Actor::Console(body.username.clone()),
                Some(peer.ip().to_string()),
            ),
            &body.username,
            &hash,
        )
        .await?;
    tracing::info!(username = %loggable(&body.username), "system setup done: admin account created");
    sign_in(
        &state,
        &headers,
        StatusCode::CREATED,
        user_id,
        body.username,
    )
    .await
}

pub async fn login(
    State(state): State<AdminState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Credentials>,
) -> Result<Response, AdminApiError> {
    if state.auth.limiter.len() > LIMITER_MAX_ADDRESSES {
        // Addresses whose allowance is full again carry no information: forget them.
        state.auth.limiter.retain_recent();
        state.auth.limiter.shrink_to_fit();
    }
    if let Err(not_until) = state.auth.limiter.check_key(&peer.ip()) {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(
            &governor::clock::DefaultClock::default(),
        ));
        return Err(AdminApiError::TooManyRequests(wait.as_secs().max(1)));
    }
    let credentials = state.store.admin_credentials(&body.username).await?;
    // Verify against a fixed hash when the user does not exist, so timing does not tell.
    let (user_id, hash) = credentials.unwrap_or((-1, DUMMY_HASH.to_owned()));
    if !verify_password(body.password, hash).await || user_id < 0 {
        tracing::warn!(username = %loggable(&body.username), client = %peer.ip(), "failed console login");
        return Err(AdminApiError::Unauthorized(
            "wrong username or password".into(),
        ));
    }
    sign_in(&state, &headers, StatusCode::OK, user_id, body.username).await
}

/// An argon2id hash of a random password, for constant-time misses.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c3dpdGNoeWFyZGR1bW15$VbuV9ag6n0KRtBEXZ5ruqE6gCPJxvhtvNg1UpC8XaJ4";

pub async fn logout(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
) -> Result<Response, AdminApiError> {
    if let Principal::Session { token_hash, .. } = principal {
        state.store.delete_session(&token_hash).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    for name in [SESSION_COOKIE, CSRF_COOKIE] {
        if let Ok(value) =
            HeaderValue::try_from(format!("{name}=; Path=/; Max-Age=0; SameSite=Strict"))
        {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

pub async fn change_password(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    Extension(origin): Extension<Origin>,
    JsonBody(body): JsonBody<PasswordChange>,
) -> Result<Response, AdminApiError> {
    let Principal::Session {
        user_id,
        token_hash,
        ..
    } = principal
    else {
        return Err(AdminApiError::BadRequest(
            "changing a password needs a console session, not the admin token".into(),
        ));
    };
    check_new_password("new_password", &body.new_password)?;
    let hash = state
        .store
        .admin_password_hash(user_id)
        .await?
        .ok_or_else(|| {
            AdminApiError::Store(StoreError::NotFound("the account no longer exists".into()))
        })?;
    if !verify_password(body.current_password, hash).await {
        return Err(AdminApiError::Unauthorized(
            "the current password is wrong".into(),
        ));
    }
    let new_hash = hash_password(body.new_password).await?;
    state
        .store
        .set_admin_password(&origin, user_id, &new_hash, &token_hash)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_codes_are_grouped_and_compared_loosely() {
        let code = new_setup_code();
        assert_eq!(code.len(), 14);
        assert_eq!(code.matches('-').count(), 2);
        assert_ne!(code, new_setup_code());
        let state = AuthState::new(None, Duration::from_secs(1), Some(code.clone()), false);
        assert!(state.setup_code_matches(&code));
        assert!(state.setup_code_matches(&code.to_lowercase().replace('-', " ")));
        assert!(!state.setup_code_matches("AAAA-AAAA-AAAA"));
        assert!(!state.setup_code_matches(""));
        let done = AuthState::new(None, Duration::from_secs(1), None, false);
        assert!(!done.setup_code_matches(&code));
    }

    #[test]
    fn tokens_are_compared_by_digest() {
        let state = AuthState::new(
            Some("a-token-of-at-least-thirty-two-chars"),
            Duration::from_secs(1),
            None,
            false,
        );
        assert!(state.token_matches("a-token-of-at-least-thirty-two-chars"));
        assert!(!state.token_matches("a-token-of-at-least-thirty-two-char"));
        assert!(!state.token_matches(""));
        assert!(!AuthState::new(None, Duration::from_secs(1), None, false).token_matches(""));
    }

    #[test]
    fn logged_usernames_are_short_and_escaped() {
        assert_eq!(loggable("admin"), "admin");
        assert_eq!(loggable("a\nb"), "a\\nb");
        let long = "x".repeat(100);
        assert_eq!(loggable(&long).chars().count(), 33);
    }
}
