//! Retention: `audit_retention_days` and the prune, on a clock the test moves forward.

use serde_json::json;
use switchyard_tests::Gateway;
use switchyard_tests::fixtures::{exact, provider_at, simple_route, test_key};

use super::support::{
    entry_count, export, get_json, move_clock, page, prune_now, revision, revisions,
    test_clock_gateway,
};

const DAY_MS: i64 = 86_400_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_older_than_the_retention_are_pruned_and_their_history_is_gone() {
    let gateway = test_clock_gateway().await;
    gateway
        .add_provider(&provider_at(
            "p",
            "http://127.0.0.1:9/v1",
            &[&test_key("p")],
        ))
        .await;
    let old = revision(&gateway).await;
    gateway.add_route(&simple_route("r", exact("m"), "p")).await;
    export(&gateway, Some(old))
        .await
        .expect_status(200, "the document as of an old revision, before the prune");

    // Unset, nothing is pruned however far the clock moves.
    move_clock(&gateway, 400 * DAY_MS).await;
    assert_eq!(prune_now(&gateway).await, 0);
    move_clock(&gateway, 0).await;

    // Three days of retention keep entries that are two days old.
    gateway
        .admin_put("/api/settings", &json!({"audit_retention_days": 3}))
        .await
        .expect_status(200, "a three-day retention");
    let kept = entry_count(&gateway).await;
    move_clock(&gateway, 2 * DAY_MS).await;
    assert_eq!(prune_now(&gateway).await, 0);
    assert_eq!(entry_count(&gateway).await, kept);

    // One day does not: every entry is now two days old, and goes with its changes.
    gateway
        .admin_put("/api/settings", &json!({"audit_retention_days": 1}))
        .await
        .expect_status(200, "a one-day retention");
    let written = revision(&gateway).await;
    assert_eq!(
        prune_now(&gateway).await,
        u64::try_from(kept + 1).expect("a count")
    );
    assert_eq!(entry_count(&gateway).await, 0);
    let mut db = super::support::open_db(&gateway).await;
    let changes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_changes")
        .fetch_one(&mut db)
        .await
        .expect("the changes count");
    assert_eq!(changes, 0, "the changes went with their entries");
    assert_eq!(
        revision(&gateway).await,
        written,
        "pruning is not a revision"
    );

    // The history before the prune answers 410 Gone; the trail goes on from the next write.
    export(&gateway, Some(old))
        .await
        .expect_status(410, "the document as of a pruned revision");
    gateway
        .admin_get(&format!("/api/audit/{old}"))
        .await
        .expect_status(410, "a pruned entry");
    gateway
        .admin_put("/api/routes/r", &simple_route("r", exact("m2"), "p"))
        .await
        .expect_status(200, "a write after the prune");
    let listed = page(&gateway, "").await;
    assert_eq!(revisions(&listed), [written + 1], "{listed}");
    // The configuration itself is untouched by the prune.
    let settings = get_json(&gateway, "/api/settings").await;
    assert_eq!(settings["audit_retention_days"], 1, "{settings}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retention_setting_is_validated_and_absent_until_set() {
    let gateway = Gateway::start().await;
    let exported = export(&gateway, None).await;
    exported.expect_status(200, "an export");
    assert!(
        exported.json()["settings"]
            .get("audit_retention_days")
            .is_none(),
        "an unset retention leaves exports as they were: {}",
        exported.text()
    );
    for days in [0, 36_501] {
        let refused = gateway
            .admin_put("/api/settings", &json!({"audit_retention_days": days}))
            .await;
        refused.expect_status(422, &format!("{days} days"));
        assert_eq!(refused.error_fields(), ["audit_retention_days"]);
    }
    for days in [1, 36_500] {
        gateway
            .admin_put("/api/settings", &json!({"audit_retention_days": days}))
            .await
            .expect_status(200, &format!("{days} days"));
    }
    let exported = export(&gateway, None).await.json();
    assert_eq!(
        exported["settings"]["audit_retention_days"], 36_500,
        "{exported}"
    );
    // Without --test-clock the on-demand prune does not exist.
    gateway
        .admin_post("/api/debug/prune-audit", &json!({}))
        .await
        .expect_status(404, "the debug prune without --test-clock");
}
