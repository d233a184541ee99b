//! Cluster mode across three real gateways on one PostgreSQL and one Redis (issue 17): the
//! fixture itself.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use switchyard_tests::cluster_fixture::ClusterFixture;
use switchyard_tests::poll_until;

/// How long a poll waits before the test fails; generous, the tests share two cores.
const DEADLINE: Duration = Duration::from_secs(20);

#[tokio::test]
async fn the_fixture_starts_kills_and_restarts_nodes_on_one_database() {
    let Some(mut cluster) = ClusterFixture::start(3).await else {
        return;
    };
    for node in cluster.nodes() {
        let status = node.admin_get("/api/status").await;
        assert_eq!(status.status, StatusCode::OK, "{}", status.text());
        let redis = &status.json()["redis"];
        assert_eq!(
            redis["reachable"], true,
            "every node reaches Redis: {redis}"
        );
    }
    let applied = cluster
        .psql("SELECT count(*) FROM _sqlx_migrations")
        .expect("the fixture's database answers");
    assert_ne!(applied, "0", "the first node migrated the shared database");

    cluster.kill(1).await;
    assert!(!cluster.node_mut(1).is_running());
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(cluster.next_node().admin_url().to_owned());
    }
    assert!(
        !seen.iter().any(|url| url == cluster.node(1).admin_url()),
        "round robin skips the killed node"
    );
    assert!(seen.contains(&cluster.node(0).admin_url().to_owned()));
    assert!(seen.contains(&cluster.node(2).admin_url().to_owned()));

    let began = Instant::now();
    cluster.restart(1).await;
    println!("node B restarted in {:?}", began.elapsed());
    let status = cluster.node(1).admin_get("/api/status").await;
    assert_eq!(status.status, StatusCode::OK, "{}", status.text());
    poll_until(DEADLINE, "the restarted node in the rotation", || {
        let url = cluster.next_node().admin_url().to_owned();
        let wanted = cluster.node(1).admin_url().to_owned();
        async move { (url == wanted).then_some(()) }
    })
    .await;
}
