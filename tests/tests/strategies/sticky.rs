//! `sticky`: a session keeps its upstream, sessions spread by weight, an unhealthy upstream's
//! sessions move to the others and come back after recovery while every other session stays put;
//! requests without a session draw by weight; a client key can be the session.

use std::collections::BTreeMap;

use serde_json::json;
use switchyard_tests::fixtures::chat_body;
use switchyard_tests::{MockUpstream, Reply, poll_until};

use super::{
    DEADLINE, add_provider, add_route, circuit, gateway, quick_circuit, serve_many, served, tally,
};

const SESSION: &str = "x-session-id";

/// Where each session's one request went.
async fn homes(
    gateway: &switchyard_tests::Gateway,
    sessions: &[String],
) -> BTreeMap<String, String> {
    let body = chat_body("st-model");
    let mut homes = BTreeMap::new();
    for session in sessions {
        let answer = served(gateway, &body, &[(SESSION, session)]).await;
        assert_eq!(answer.strategy, "sticky", "{answer:?}");
        homes.insert(session.clone(), answer.provider);
    }
    homes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sticky_keeps_a_session_and_spreads_sessions_by_weight() {
    let mocks = [
        MockUpstream::start("a").await,
        MockUpstream::start("b").await,
        MockUpstream::start("c").await,
    ];
    let gateway = gateway().await;
    for mock in &mocks {
        add_provider(&gateway, mock, quick_circuit()).await;
    }
    let upstreams = json!([
        {"provider": "a", "weight": 200},
        {"provider": "b", "weight": 100},
        {"provider": "c", "weight": 100},
    ]);
    let extra = json!({"strategy": "sticky", "sticky_by": "header:x-session-id"});
    add_route(&gateway, "st", upstreams, extra).await;
    let body = chat_body("st-model");

    // (i) One session, a hundred requests, one upstream.
    let kept = serve_many(&gateway, &body, &[(SESSION, "s-keep")], 100).await;
    assert_eq!(tally(&kept).len(), 1, "{:?}", tally(&kept));

    // (ii) Fifty sessions keep their homes, which spread about as the weights do (2:1:1).
    let sessions: Vec<String> = (0..50).map(|i| format!("session-{i:02}")).collect();
    let home = homes(&gateway, &sessions).await;
    assert_eq!(
        homes(&gateway, &sessions).await,
        home,
        "a second pass moved sessions"
    );
    let mut per_upstream: BTreeMap<&str, usize> = BTreeMap::new();
    for provider in home.values() {
        *per_upstream.entry(provider.as_str()).or_insert(0) += 1;
    }
    println!("fifty sessions: {per_upstream:?}");
    for (provider, weight_share) in [("a", 0.5), ("b", 0.25), ("c", 0.25)] {
        let share = per_upstream.get(provider).copied().unwrap_or(0) as f64 / 50.0;
        assert!(
            (share - weight_share).abs() <= 0.20,
            "{provider}: {share} of the sessions for {weight_share} of the weight: {per_upstream:?}"
        );
    }

    // (iii) The upstream with the most sessions fails: its sessions move to the other two, and
    // no other session moves.
    let (failing, had) = per_upstream
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(p, n)| ((*p).to_owned(), *n))
        .expect("sessions have homes");
    let mock = |name: &str| {
        mocks
            .iter()
            .find(|m| m.name() == name)
            .expect("a mock per provider")
    };
    mock(&failing).set_default(Reply::error(503, "down for the test"));
    let during = homes(&gateway, &sessions).await;
    let mut moved_to: BTreeMap<&str, usize> = BTreeMap::new();
    for (session, provider) in &during {
        if home[session] == failing {
            assert_ne!(
                provider, &failing,
                "{session} stayed on the failing upstream"
            );
            *moved_to.entry(provider.as_str()).or_insert(0) += 1;
        } else {
            assert_eq!(provider, &home[session], "{session} moved needlessly");
        }
    }
    println!("{failing}'s {had} sessions moved to {moved_to:?}");
    if had >= 4 {
        assert_eq!(
            moved_to.len(),
            2,
            "{failing}'s sessions all went one way: {moved_to:?}"
        );
    }

    // (iv) It recovers: a request of one of its sessions is the half-open probe that closes the
    // circuit, and then every session is back home.
    mock(&failing).set_default(Reply::Echo);
    let returning = home
        .iter()
        .find(|(_, provider)| **provider == failing)
        .map(|(session, _)| session.clone())
        .expect("the failing upstream had sessions");
    poll_until(
        DEADLINE,
        "the failing upstream's circuit to close",
        || async {
            served(&gateway, &body, &[(SESSION, &returning)]).await;
            (circuit(&gateway, &failing).await == "closed").then_some(())
        },
    )
    .await;
    assert_eq!(
        homes(&gateway, &sessions).await,
        home,
        "sessions did not all return"
    );

    // (v) A request without the header has no session: a weighted draw.
    let unkeyed = served(&gateway, &body, &[]).await;
    assert_eq!(unkeyed.strategy, "sticky;unkeyed", "{unkeyed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sticky_by_key_keeps_each_client_key_on_one_upstream() {
    let a = MockUpstream::start("a").await;
    let b = MockUpstream::start("b").await;
    let gateway = gateway().await;
    add_provider(&gateway, &a, json!({})).await;
    add_provider(&gateway, &b, json!({})).await;
    let upstreams = json!([{"provider": "a"}, {"provider": "b"}]);
    let extra = json!({"strategy": "sticky", "sticky_by": "key"});
    add_route(&gateway, "sk", upstreams, extra).await;
    gateway.add_consumer(&json!({"name": "team"})).await;
    let mut keys = Vec::new();
    for name in ["laptop", "server"] {
        keys.push(gateway.issue_key("team", &json!({"name": name})).await);
    }
    gateway.set_client_auth("required").await;
    let body = chat_body("sk-model");
    for key in &keys {
        let bearer = format!("Bearer {}", key.key);
        let answers = serve_many(&gateway, &body, &[("authorization", &bearer)], 10).await;
        assert_eq!(tally(&answers).len(), 1, "{key:?}: {answers:?}");
        assert!(
            answers.iter().all(|a| a.strategy == "sticky"),
            "{answers:?}"
        );
    }
}
