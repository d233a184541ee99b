//! Console sign-in at the API level: setup, login, cookies, CSRF, logout, password changes,
//! rate limits, session expiry, and the admin token alongside sessions.
//!
//! The tests keep cookies by hand (reading `Set-Cookie`, sending `Cookie`), which also lets them
//! check every cookie attribute. The gateway is a separate process, so expiry is real time:
//! sessions get a one-second lifetime and the test polls until they stop working.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use switchyard_tests::fixtures::provider_at;
use switchyard_tests::{ApiResponse, DEFAULT_ADMIN_TOKEN, Gateway, GatewayOptions, poll_until};

#[path = "console_auth/browser.rs"]
mod browser;

use browser::{
    Auth, PASSWORD, USER, call, cookies, login, me, providers_status, set_cookie, set_up_gateway,
    setup, signed_in, with_csrf,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_setup_creates_the_only_account_and_signs_in() {
    let gateway = Gateway::start_with(GatewayOptions::default().without_admin_token()).await;
    assert_eq!(
        me(&gateway, Auth::None).await,
        json!({"setup_required": true, "authenticated": false, "username": null, "csrf_token": null})
    );
    for (username, password) in [("admin", "admin"), ("admin", "password"), ("root", "")] {
        let response = login(&gateway, username, password).await;
        response.expect_status(401, "there are no default credentials");
        response.admin_error("unauthorized");
    }
    assert_eq!(providers_status(&gateway, Auth::None).await, 401);
    assert_eq!(
        providers_status(&gateway, Auth::Bearer("any-token")).await,
        401,
        "without a configured admin token no bearer token is accepted"
    );

    let short = setup(&gateway, USER, "short").await;
    short.expect_status(422, "a short password");
    assert_eq!(short.error_fields(), ["password"]);
    assert_eq!(me(&gateway, Auth::None).await["setup_required"], true);

    let session = signed_in(&setup(&gateway, USER, PASSWORD).await, 201, USER);
    let again = setup(&gateway, "intruder", "another long password").await;
    again.expect_status(409, "a second setup");
    again.admin_error("conflict");
    login(&gateway, "intruder", "another long password")
        .await
        .expect_status(401, "the second setup created nothing");

    let body = me(&gateway, cookies(&session)).await;
    assert_eq!(
        body,
        json!({"setup_required": false, "authenticated": true, "username": USER, "csrf_token": session.csrf})
    );
    assert_eq!(providers_status(&gateway, cookies(&session)).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_writes_need_the_csrf_token_and_reads_do_not() {
    let (gateway, session) = set_up_gateway(GatewayOptions::default()).await;
    let spec = provider_at("p1", "http://127.0.0.1:9/v1", &["sk-console-000000000001"]);
    let post = |auth| call(&gateway, Method::POST, "/api/providers", auth, Some(&spec));

    for (auth, what) in [
        (cookies(&session), "no CSRF header"),
        (
            Auth::Cookie(&session, Some("wrong-token")),
            "a wrong CSRF header",
        ),
        (Auth::Cookie(&session, Some("")), "an empty CSRF header"),
    ] {
        let response = post(auth).await;
        response.expect_status(403, what);
        response.admin_error("forbidden");
    }
    assert_eq!(
        call(
            &gateway,
            Method::GET,
            "/api/providers/p1",
            cookies(&session),
            None
        )
        .await
        .status,
        404,
        "the refused writes did not happen"
    );

    post(with_csrf(&session))
        .await
        .expect_status(201, "a write with the CSRF token");
    let path = "/api/providers/p1";
    call(&gateway, Method::DELETE, path, cookies(&session), None)
        .await
        .expect_status(403, "DELETE without the CSRF token");
    call(&gateway, Method::GET, path, cookies(&session), None)
        .await
        .expect_status(200, "a read needs no CSRF token");
    call(&gateway, Method::DELETE, path, with_csrf(&session), None)
        .await
        .expect_status(204, "DELETE with the CSRF token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_and_logout() {
    let (gateway, first) = set_up_gateway(GatewayOptions::default()).await;
    for (username, password) in [(USER, "wrong password"), ("nobody", PASSWORD)] {
        let response = login(&gateway, username, password).await;
        response.expect_status(401, "wrong credentials");
        assert!(
            response.headers.get("set-cookie").is_none(),
            "no session for a failure"
        );
    }
    let second = signed_in(&login(&gateway, USER, PASSWORD).await, 200, USER);
    assert_ne!(
        second.csrf, first.csrf,
        "every session has its own CSRF token"
    );
    assert_eq!(providers_status(&gateway, cookies(&second)).await, 200);

    call(
        &gateway,
        Method::POST,
        "/api/auth/logout",
        cookies(&second),
        None,
    )
    .await
    .expect_status(403, "logout is a write and needs the CSRF token");
    let out = call(
        &gateway,
        Method::POST,
        "/api/auth/logout",
        with_csrf(&second),
        None,
    )
    .await;
    out.expect_status(204, "logout");
    let (cleared, attributes) = set_cookie(&out, "switchyard_session");
    assert_eq!(cleared, "");
    assert!(
        attributes.iter().any(|a| a == "Max-Age=0"),
        "{attributes:?}"
    );

    assert_eq!(providers_status(&gateway, cookies(&second)).await, 401);
    assert_eq!(me(&gateway, cookies(&second)).await["authenticated"], false);
    assert_eq!(
        providers_status(&gateway, cookies(&first)).await,
        200,
        "logging out ends only that session"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_password_ends_the_other_sessions() {
    let (gateway, current) = set_up_gateway(GatewayOptions::default()).await;
    let other = signed_in(&login(&gateway, USER, PASSWORD).await, 200, USER);
    let change = |current_password: &str, new_password: &str| {
        let body = json!({"current_password": current_password, "new_password": new_password});
        let request = gateway
            .client()
            .post(format!("{}/api/auth/password", gateway.admin_url()))
            .header("cookie", &current.cookie)
            .header("x-csrf-token", &current.csrf)
            .json(&body);
        ApiResponse::send(request)
    };
    let new_password = "a brand new passphrase";

    change("not the password", new_password)
        .await
        .expect_status(401, "a wrong current password");
    let short = change(PASSWORD, "short").await;
    short.expect_status(422, "a short new password");
    assert_eq!(short.error_fields(), ["new_password"]);
    assert_eq!(
        providers_status(&gateway, cookies(&other)).await,
        200,
        "nothing changed yet"
    );

    change(PASSWORD, new_password)
        .await
        .expect_status(204, "changing the password");
    assert_eq!(providers_status(&gateway, cookies(&other)).await, 401);
    assert_eq!(providers_status(&gateway, cookies(&current)).await, 200);
    login(&gateway, USER, PASSWORD)
        .await
        .expect_status(401, "the old password");
    signed_in(&login(&gateway, USER, new_password).await, 200, USER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_attempts_are_rate_limited_per_client() {
    let (gateway, session) = set_up_gateway(GatewayOptions::default()).await;
    // Ten attempts a minute, successful ones included: alternate failures and successes.
    for i in 0..10 {
        let password = if i % 2 == 0 {
            "wrong password"
        } else {
            PASSWORD
        };
        let status = if i % 2 == 0 { 401 } else { 200 };
        login(&gateway, USER, password)
            .await
            .expect_status(status, &format!("attempt {}", i + 1));
    }
    let limited = login(&gateway, USER, PASSWORD).await;
    limited.expect_status(429, "the eleventh attempt within a minute");
    limited.admin_error("rate_limited");
    let retry_after: u64 = limited
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!(
        (1..=60).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    assert_eq!(
        providers_status(&gateway, cookies(&session)).await,
        200,
        "the limit is on logins, not on existing sessions"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_expire_after_their_lifetime() {
    let options = GatewayOptions::default().env("SWITCHYARD_SESSION_TTL_SECS", "1");
    let started = Instant::now();
    let (gateway, session) = set_up_gateway(options).await;
    let response = login(&gateway, USER, PASSWORD).await;
    let (_, attributes) = set_cookie(&response, "switchyard_session");
    assert!(
        attributes.iter().any(|a| a == "Max-Age=1"),
        "{attributes:?}"
    );
    assert_eq!(providers_status(&gateway, cookies(&session)).await, 200);

    poll_until(Duration::from_secs(10), "the session to expire", || async {
        (providers_status(&gateway, cookies(&session)).await == 401).then_some(())
    })
    .await;
    let lifetime = started.elapsed();
    // The session was created after `started`, so it cannot have expired sooner; 50 ms cover
    // the wall clock the server uses drifting from this monotonic one.
    assert!(
        lifetime + Duration::from_millis(50) >= Duration::from_secs(1),
        "{lifetime:?}"
    );
    println!("a one-second session stopped working after {lifetime:?}");
    assert_eq!(
        me(&gateway, cookies(&session)).await["authenticated"],
        false
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_token_works_on_every_route_alongside_sessions() {
    let gateway = Gateway::start().await;
    let session = signed_in(&setup(&gateway, USER, PASSWORD).await, 201, USER);
    let token = Auth::Bearer(DEFAULT_ADMIN_TOKEN);
    assert_eq!(
        me(&gateway, token).await,
        json!({"setup_required": false, "authenticated": true, "username": null, "csrf_token": null})
    );
    let bearer = || Auth::Bearer(DEFAULT_ADMIN_TOKEN);
    for path in [
        "/api/providers",
        "/api/routes",
        "/api/status",
        "/api/health",
        "/api/metrics",
        "/api/config",
        "/api/playground/models",
    ] {
        for (auth, who) in [(bearer(), "the token"), (cookies(&session), "the session")] {
            call(&gateway, Method::GET, path, auth, None)
                .await
                .expect_status(200, &format!("GET {path} with {who}"));
        }
    }
    // Bearer writes need no CSRF token.
    let spec = provider_at("p1", "http://127.0.0.1:9/v1", &["sk-console-000000000001"]);
    call(
        &gateway,
        Method::POST,
        "/api/providers",
        bearer(),
        Some(&spec),
    )
    .await
    .expect_status(201, "POST with the token");
    call(
        &gateway,
        Method::PUT,
        "/api/providers/p1",
        bearer(),
        Some(&spec),
    )
    .await
    .expect_status(200, "PUT with the token");
    let document = json!({"providers": [], "routes": []});
    call(
        &gateway,
        Method::POST,
        "/api/config/diff",
        bearer(),
        Some(&document),
    )
    .await
    .expect_status(200, "POST /api/config/diff with the token");
    call(
        &gateway,
        Method::DELETE,
        "/api/providers/p1",
        bearer(),
        None,
    )
    .await
    .expect_status(204, "DELETE with the token");
    // The session still writes, with its CSRF token.
    call(
        &gateway,
        Method::POST,
        "/api/providers",
        with_csrf(&session),
        Some(&spec),
    )
    .await
    .expect_status(201, "POST with the session");
    call(
        &gateway,
        Method::GET,
        "/api/providers",
        Auth::Bearer("wrong-token"),
        None,
    )
    .await
    .expect_status(401, "a wrong token");
}
