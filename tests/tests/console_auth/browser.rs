//! A browser's view of the console API: cookies kept by hand, CSRF headers, sign-in checks.

use reqwest::Method;
use serde_json::{Value, json};
use switchyard_tests::{ApiResponse, Gateway, GatewayOptions};

pub const USER: &str = "admin";
pub const PASSWORD: &str = "correct horse battery";

/// A console session as a browser holds it: the two cookies and the CSRF token.
#[derive(Clone, Debug)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

/// How a request authenticates.
pub enum Auth<'a> {
    None,
    /// The session's cookies, and the CSRF header when `Some`.
    Cookie(&'a Session, Option<&'a str>),
    Bearer(&'a str),
}

/// Sends a request to the admin API with `auth` and an optional JSON body.
pub async fn call(
    gateway: &Gateway,
    method: Method,
    path: &str,
    auth: Auth<'_>,
    body: Option<&Value>,
) -> ApiResponse {
    let url = format!("{}{path}", gateway.admin_url());
    let mut request = gateway.client().request(method, url);
    match auth {
        Auth::None => {}
        Auth::Cookie(session, csrf) => {
            request = request.header("cookie", &session.cookie);
            if let Some(csrf) = csrf {
                request = request.header("x-csrf-token", csrf);
            }
        }
        Auth::Bearer(token) => request = request.bearer_auth(token),
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    ApiResponse::send(request).await
}

/// A session's write: cookies plus the right CSRF header.
pub fn with_csrf(session: &Session) -> Auth<'_> {
    Auth::Cookie(session, Some(&session.csrf))
}

/// A session's read: cookies only.
pub fn cookies(session: &Session) -> Auth<'_> {
    Auth::Cookie(session, None)
}

/// `GET /api/auth/me`, asserting 200.
pub async fn me(gateway: &Gateway, auth: Auth<'_>) -> Value {
    let response = call(gateway, Method::GET, "/api/auth/me", auth, None).await;
    response.expect_status(200, "GET /api/auth/me");
    response.json()
}

/// The `Set-Cookie` header for `name`, split into its value and its attributes.
pub fn set_cookie(response: &ApiResponse, name: &str) -> (String, Vec<String>) {
    let header = response
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", response.headers));
    let mut parts = header.split(';').map(str::trim);
    let value = parts.next().expect("a name=value pair")[name.len() + 1..].to_owned();
    (value, parts.map(str::to_owned).collect())
}

/// Checks a sign-in answer (status, body, cookies) and returns the session it started.
pub fn signed_in(response: &ApiResponse, status: u16, username: &str) -> Session {
    response.expect_status(status, "signing in");
    let body = response.json();
    assert_eq!(body["setup_required"], false, "{body}");
    assert_eq!(body["authenticated"], true, "{body}");
    assert_eq!(body["username"], username, "{body}");
    let csrf = body["csrf_token"]
        .as_str()
        .expect("a CSRF token")
        .to_owned();

    let (session, attributes) = set_cookie(response, "switchyard_session");
    assert!(
        session.len() >= 32,
        "a long random session token: {session}"
    );
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attributes.iter().any(|a| a == attribute), "{attributes:?}");
    }
    assert!(
        attributes.iter().any(|a| a.starts_with("Max-Age=")),
        "{attributes:?}"
    );
    let (csrf_cookie, attributes) = set_cookie(response, "switchyard_csrf");
    assert_eq!(
        csrf_cookie, csrf,
        "the CSRF cookie holds the token of the body"
    );
    assert!(
        attributes.iter().any(|a| a == "SameSite=Strict"),
        "{attributes:?}"
    );
    assert!(
        !attributes.iter().any(|a| a == "HttpOnly"),
        "the console's script must read the CSRF cookie: {attributes:?}"
    );
    Session {
        cookie: format!("switchyard_session={session}; switchyard_csrf={csrf}"),
        csrf,
    }
}

/// `POST /api/auth/setup`, with the setup code the gateway printed.
pub async fn setup(gateway: &Gateway, username: &str, password: &str) -> ApiResponse {
    let body =
        json!({"username": username, "password": password, "setup_code": gateway.setup_code()});
    call(
        gateway,
        Method::POST,
        "/api/auth/setup",
        Auth::None,
        Some(&body),
    )
    .await
}

/// `POST /api/auth/login`.
pub async fn login(gateway: &Gateway, username: &str, password: &str) -> ApiResponse {
    let body = json!({"username": username, "password": password});
    call(
        gateway,
        Method::POST,
        "/api/auth/login",
        Auth::None,
        Some(&body),
    )
    .await
}

/// A gateway without an admin token, set up with [`USER`] and [`PASSWORD`].
pub async fn set_up_gateway(options: GatewayOptions) -> (Gateway, Session) {
    let gateway = Gateway::start_with(options.without_admin_token()).await;
    let session = signed_in(&setup(&gateway, USER, PASSWORD).await, 201, USER);
    (gateway, session)
}

/// `GET /api/providers` with `auth`, returning the status.
pub async fn providers_status(gateway: &Gateway, auth: Auth<'_>) -> u16 {
    call(gateway, Method::GET, "/api/providers", auth, None)
        .await
        .status
        .as_u16()
}
