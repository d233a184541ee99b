//! History and rollback against a real SQLite store: random writes rebuilt revision by revision,
//! rollbacks that restore the export, what cannot be restored, pagination, filters and pruning.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde_json::json;
use switchyard_shared::audit::DiffOp;
use switchyard_shared::{ConfigDocument, ConsumerSpec, KeyUpdate, NewKey, ProviderSpec, RouteSpec};

use super::AuditFilter;
use crate::store::{Actor, Origin, Store, StoreError, StoredKey};

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("a scratch dir");
    let store = Store::open(dir.path()).await.expect("opens");
    (dir, store)
}

fn system() -> Origin {
    Origin::system()
}

/// A provider key whose mask (`sk-…` and the last four) differs for every `n` below 10,000.
fn secret(n: u32) -> String {
    format!("sk-test-provider-key-{n:04}")
}

fn provider(name: &str, keys: &[String], host: &str) -> ProviderSpec {
    serde_json::from_value(json!({
        "name": name, "type": "openai-compatible", "base_url": format!("https://{host}/v1"),
        "api_keys": keys,
    }))
    .expect("a valid provider")
}

fn route(name: &str, provider: &str, model: &str) -> RouteSpec {
    serde_json::from_value(json!({
        "name": name, "match": [{"type": "exact", "value": name}],
        "upstreams": [{"provider": provider, "model": model}],
    }))
    .expect("a valid route")
}

fn consumer(name: &str, description: &str) -> ConsumerSpec {
    serde_json::from_value(json!({"name": name, "description": description})).expect("a consumer")
}

fn new_key(name: &str) -> NewKey {
    NewKey {
        name: name.to_owned(),
        ..NewKey::default()
    }
}

/// The export as the admin API shows it: provider secrets masked.
async fn masked_export(store: &Store) -> ConfigDocument {
    let mut doc = store.export().await.expect("exports");
    doc.providers = doc.providers.iter().map(ProviderSpec::masked).collect();
    doc
}

/// Sets aside what history cannot reproduce by design: client key ids (the export has none,
/// history carries them for the rollback), and the digests of keys no longer stored.
fn comparable(mut doc: ConfigDocument, stored: &HashSet<String>) -> ConfigDocument {
    for consumer in &mut doc.consumers {
        for key in &mut consumer.keys {
            key.id = None;
            if key.key_sha256.as_ref().is_some_and(|d| !stored.contains(d)) {
                key.key_sha256 = None;
            }
        }
    }
    doc
}

async fn stored_digests(store: &Store) -> HashSet<String> {
    let mut digests = HashSet::new();
    for consumer in store.list_consumers().await.expect("consumers") {
        digests.extend(consumer.keys.into_iter().map(|k| k.digest_hex));
    }
    digests
}

/// A small deterministic generator, so a failure replays the same writes.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// One random write; many are refused (a name taken, a provider still used), which is part of
/// the test: a refused write must leave no trace in the history.
async fn random_write(store: &Store, rng: &mut Rng, n: u32) {
    let origin = system();
    let p = format!("p{}", rng.below(3));
    let r = format!("r{}", rng.below(3));
    let c = format!("c{}", rng.below(2));
    let _ = match rng.below(12) {
        0 => store
            .create_provider(&origin, provider(&p, &[secret(n)], "a.example.com"))
            .await
            .map(drop),
        1 => {
            let keys: Vec<String> = (0..rng.below(3) + 1)
                .map(|i| secret(n * 3 + i as u32))
                .collect();
            let host = if rng.below(2) == 0 {
                "a.example.com"
            } else {
                "b.example.com"
            };
            store
                .replace_provider(&origin, &p, provider(&p, &keys, host))
                .await
                .map(drop)
        }
        2 => store.delete_provider(&origin, &p).await,
        3 => store
            .create_route(&origin, route(&r, &p, "m1"))
            .await
            .map(drop),
        4 => store
            .replace_route(&origin, &r, route(&r, &p, &format!("m{n}")))
            .await
            .map(drop),
        5 => store.delete_route(&origin, &r).await,
        6 => store
            .create_consumer(&origin, consumer(&c, ""))
            .await
            .map(drop),
        7 => store
            .replace_consumer(&origin, &c, consumer(&c, &format!("d{n}")))
            .await
            .map(drop),
        8 => store
            .create_key(&origin, &c, new_key(&format!("k{n}")))
            .await
            .map(drop),
        9 | 10 => {
            let keys = store.list_keys(&c).await.unwrap_or_default();
            let Some(key) = keys.get(rng.below(keys.len().max(1) as u64) as usize) else {
                return;
            };
            match rng.below(3) {
                0 => {
                    let update = KeyUpdate {
                        disabled: Some(!key.disabled),
                        ..KeyUpdate::default()
                    };
                    store
                        .update_key(&origin, &c, key.id, update)
                        .await
                        .map(drop)
                }
                1 => store.delete_key(&origin, &c, key.id).await,
                _ => store
                    .rotate_key(&origin, &c, key.id, Duration::from_secs(60))
                    .await
                    .map(drop),
            }
        }
        _ => {
            let mut settings = store.settings().await.expect("settings");
            settings.log_retention_days = 1 + rng.below(60) as u32;
            store.put_settings(&origin, &settings).await
        }
    };
}

#[tokio::test]
async fn every_revision_rebuilds_to_the_export_it_had() {
    for seed in [7_u64, 1_234_567, 987_654_321] {
        let (_dir, store) = store().await;
        let mut rng = Rng(seed);
        let mut remembered: BTreeMap<i64, ConfigDocument> = BTreeMap::new();
        remembered.insert(
            store.revision().await.expect("revision"),
            masked_export(&store).await,
        );
        for n in 0..120 {
            random_write(&store, &mut rng, n).await;
            let revision = store.revision().await.expect("revision");
            remembered.insert(revision, masked_export(&store).await);
        }
        assert!(
            remembered.len() > 40,
            "seed {seed}: too few writes succeeded"
        );
        let stored = stored_digests(&store).await;
        for (revision, expected) in &remembered {
            let rebuilt = store.document_at(*revision).await.expect("kept");
            assert_eq!(
                comparable(rebuilt, &stored),
                comparable(expected.clone(), &stored),
                "seed {seed}, revision {revision}"
            );
        }
    }
}

#[tokio::test]
async fn a_rollback_restores_the_export_and_is_itself_an_audited_revision() {
    let (_dir, store) = store().await;
    let ana = Origin::new(Actor::Console("ana".into()), Some("127.0.0.1".into()));
    store
        .create_provider(&ana, provider("p", &[secret(1)], "a.example.com"))
        .await
        .expect("p");
    store
        .create_route(&ana, route("chat", "p", "old"))
        .await
        .expect("route");
    store
        .create_consumer(&ana, consumer("ci", ""))
        .await
        .expect("consumer");
    let kept = store
        .create_key(&ana, "ci", new_key("laptop"))
        .await
        .expect("key");
    let target = store.revision().await.expect("revision");
    let expected = masked_export(&store).await;

    store
        .replace_route(&ana, "chat", route("chat", "p", "new"))
        .await
        .expect("replace");
    store
        .create_route(&ana, route("other", "p", "x"))
        .await
        .expect("route");
    let narrow = KeyUpdate {
        allowed_models: Some(vec!["gpt-*".to_owned()]),
        ..KeyUpdate::default()
    };
    store
        .update_key(&ana, "ci", kept.stored.id, narrow)
        .await
        .expect("narrow");
    store
        .create_key(&ana, "ci", new_key("later"))
        .await
        .expect("key");
    let mut settings = store.settings().await.expect("settings");
    settings.log_retention_days = 3;
    store.put_settings(&ana, &settings).await.expect("settings");
    let now = store.revision().await.expect("revision");

    let preview = store.rollback_preview(target).await.expect("preview");
    assert_eq!((preview.to, preview.revision_now), (target, now));
    assert_eq!(preview.diff.routes.update, ["chat"]);
    assert_eq!(preview.diff.routes.delete, ["other"]);
    assert_eq!(preview.diff.consumers.update, ["ci"]);
    assert!(preview.diff.settings_changed);
    assert!(
        preview.unrecoverable.is_empty(),
        "{:?}",
        preview.unrecoverable
    );

    let stale = store.rollback(&ana, target, now - 1).await;
    assert!(
        matches!(stale, Err(StoreError::Conflict { .. })),
        "{stale:?}"
    );
    assert_eq!(
        store.revision().await.expect("revision"),
        now,
        "a refused rollback writes nothing"
    );

    let done = store.rollback(&ana, target, now).await.expect("rolls back");
    assert_eq!((done.revision, done.rolled_back_to), (now + 1, target));
    let stored = stored_digests(&store).await;
    assert_eq!(
        comparable(masked_export(&store).await, &stored),
        comparable(expected, &stored)
    );
    let keys = store.list_keys("ci").await.expect("keys");
    assert_eq!(keys.len(), 1);
    assert_eq!(
        keys[0].id, kept.stored.id,
        "the kept key is the same row, not a new one"
    );
    assert!(
        keys[0].allowed_models.is_empty(),
        "the key's models are restored: {:?}",
        keys[0].allowed_models
    );

    let entry = store.audit_entry(done.revision).await.expect("entry");
    assert_eq!(entry.action, "rollback");
    assert_eq!(entry.rolled_back_to, Some(target));
    assert_eq!(entry.actor, "console:ana");
    assert!(
        entry
            .changes
            .iter()
            .any(|c| c.kind == "route" && c.name == "other" && c.after.is_none())
    );
    // Rolling back the rollback gives the state before it.
    let again = store
        .rollback(&ana, now, done.revision)
        .await
        .expect("rolls forward");
    let route = store.get_route("chat").await.expect("route");
    assert_eq!(route.upstreams[0].model.as_deref(), Some("new"));
    assert_eq!(again.rolled_back_to, now);
}

#[tokio::test]
async fn deleted_keys_are_listed_and_never_brought_back() {
    let (_dir, store) = store().await;
    let origin = system();
    let keys = vec![secret(1), secret(2)];
    store
        .create_provider(&origin, provider("p", &keys, "a.example.com"))
        .await
        .expect("p");
    store
        .create_consumer(&origin, consumer("ci", ""))
        .await
        .expect("consumer");
    let revoked = store
        .create_key(&origin, "ci", new_key("laptop"))
        .await
        .expect("key");
    let target = store.revision().await.expect("revision");

    store
        .replace_provider(
            &origin,
            "p",
            provider("p", &[keys[0].clone()], "a.example.com"),
        )
        .await
        .expect("drop a key");
    store
        .delete_key(&origin, "ci", revoked.stored.id)
        .await
        .expect("revoke");
    let later = store
        .create_key(&origin, "ci", new_key("later"))
        .await
        .expect("key");

    let preview = store.rollback_preview(target).await.expect("preview");
    let lost: Vec<(&str, &str, &str)> = preview
        .unrecoverable
        .iter()
        .map(|u| (u.kind.as_str(), u.name.as_str(), u.what.as_str()))
        .collect();
    let masked_key = format!("key {}", switchyard_shared::secret::mask_secret(&keys[1]));
    let masked_client = format!("client key 'laptop' ({})", revoked.stored.masked());
    assert_eq!(
        lost,
        [
            ("provider", "p", masked_key.as_str()),
            ("consumer", "ci", masked_client.as_str())
        ]
    );
    let text = serde_json::to_string(&preview).expect("serialises");
    assert!(
        !text.contains(&keys[1]) && !text.contains(&revoked.plaintext),
        "{text}"
    );

    let now = store.revision().await.expect("revision");
    let done = store
        .rollback(&origin, target, now)
        .await
        .expect("rolls back");
    assert_eq!(done.unrecoverable, preview.unrecoverable);
    let provider = store.get_provider("p").await.expect("provider");
    assert_eq!(
        provider.api_keys,
        Some(vec![keys[0].clone()]),
        "the surviving key, unmasked"
    );
    let ids: Vec<i64> = store
        .list_keys("ci")
        .await
        .expect("keys")
        .iter()
        .map(|k| k.id)
        .collect();
    assert!(
        ids.is_empty(),
        "neither the revoked key nor the later one: {ids:?}"
    );
    // SQLite gave the later key the revoked key's id (it was the largest); history must not
    // take one for the other.
    assert_eq!(later.stored.id, revoked.stored.id);
}

#[tokio::test]
async fn a_provider_left_with_no_key_refuses_the_rollback() {
    let (_dir, store) = store().await;
    let origin = system();
    store
        .create_provider(&origin, provider("p", &[secret(1)], "a.example.com"))
        .await
        .expect("p");
    let target = store.revision().await.expect("revision");
    store
        .replace_provider(&origin, "p", provider("p", &[secret(2)], "a.example.com"))
        .await
        .expect("new key");
    let now = store.revision().await.expect("revision");
    for result in [
        store.rollback_preview(target).await.map(drop),
        store.rollback(&origin, target, now).await.map(drop),
    ] {
        match result {
            Err(StoreError::Invalid(errors)) => {
                assert_eq!(errors.0[0].field, "providers[0].api_keys", "{errors}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    assert_eq!(store.revision().await.expect("revision"), now);
}

#[tokio::test]
async fn pages_are_newest_first_stable_and_filtered() {
    let (_dir, store) = store().await;
    let ana = Origin::new(Actor::Console("ana".into()), Some("10.0.0.1".into()));
    store
        .create_provider(&system(), provider("p", &[secret(1)], "a.example.com"))
        .await
        .expect("p");
    for i in 0..12 {
        let origin = if i % 3 == 0 {
            ana.clone()
        } else {
            Origin::cli()
        };
        store
            .create_route(&origin, route(&format!("r{i}"), "p", "m"))
            .await
            .expect("route");
    }
    let page = |cursor, limit| AuditFilter {
        cursor,
        limit: Some(limit),
        ..AuditFilter::default()
    };
    let first = store.audit_page(&page(None, 5)).await.expect("page");
    let revisions: Vec<i64> = first.entries.iter().map(|e| e.revision).collect();
    assert_eq!(revisions, [13, 12, 11, 10, 9]);
    assert_eq!(first.next_cursor, Some(9));
    assert!(
        first.entries[0].changes[0].before.is_none() && first.entries[0].changes[0].diff.is_empty(),
        "lists carry no documents"
    );
    // Writes between pages do not shift the next one.
    store
        .create_route(&ana, route("late", "p", "m"))
        .await
        .expect("route");
    let second = store
        .audit_page(&page(first.next_cursor, 5))
        .await
        .expect("page");
    let revisions: Vec<i64> = second.entries.iter().map(|e| e.revision).collect();
    assert_eq!(revisions, [8, 7, 6, 5, 4]);
    let third = store
        .audit_page(&page(second.next_cursor, 5))
        .await
        .expect("page");
    assert_eq!(
        third.entries.iter().map(|e| e.revision).collect::<Vec<_>>(),
        [3, 2, 1]
    );
    assert_eq!(third.next_cursor, None);

    let reader = &store;
    let filtered = |filter: AuditFilter| async move {
        let page = reader.audit_page(&filter).await.expect("page");
        page.entries
            .iter()
            .map(|e| e.revision)
            .collect::<Vec<i64>>()
    };
    let by = |resource: &str| AuditFilter {
        resource: Some(resource.into()),
        ..AuditFilter::default()
    };
    assert_eq!(filtered(by("provider")).await, [1]);
    assert_eq!(filtered(by("route/r4")).await, [6]);
    assert_eq!(filtered(by("route")).await.len(), 13);
    let actor = |actor: &str| AuditFilter {
        actor: Some(actor.into()),
        ..AuditFilter::default()
    };
    assert_eq!(filtered(actor("console:ana")).await, [14, 11, 8, 5, 2]);
    assert_eq!(filtered(actor("console:")).await, [14, 11, 8, 5, 2]);
    assert_eq!(
        filtered(actor("console")).await,
        Vec::<i64>::new(),
        "no prefix without ':'"
    );
    assert_eq!(filtered(actor("cli:")).await.len(), 8);
    let entry = store.audit_entry(2).await.expect("entry");
    assert_eq!(entry.source.as_deref(), Some("10.0.0.1"));
    let range = AuditFilter {
        since_ms: Some(entry.at_ms),
        until_ms: Some(entry.at_ms),
        ..AuditFilter::default()
    };
    assert!(filtered(range).await.contains(&2));
    let future = AuditFilter {
        since_ms: Some(entry.at_ms + 86_400_000),
        ..AuditFilter::default()
    };
    assert!(filtered(future).await.is_empty());
}

#[tokio::test]
async fn an_entry_carries_documents_and_their_diff() {
    let (_dir, store) = store().await;
    let origin = system();
    store
        .create_provider(&origin, provider("p", &[secret(1)], "a.example.com"))
        .await
        .expect("p");
    store
        .create_route(&origin, route("chat", "p", "old"))
        .await
        .expect("route");
    store
        .replace_route(&origin, "chat", route("chat", "p", "new"))
        .await
        .expect("replace");
    let entry = store.audit_entry(3).await.expect("entry");
    assert_eq!(entry.action, "replace");
    let change = &entry.changes[0];
    assert_eq!(
        (change.kind.as_str(), change.name.as_str()),
        ("route", "chat")
    );
    assert_eq!(change.diff.len(), 1, "{:?}", change.diff);
    assert_eq!(change.diff[0].path, "/upstreams/p/model");
    assert_eq!(change.diff[0].op, DiffOp::Changed);
    let created = store.audit_entry(1).await.expect("entry");
    assert_eq!(created.changes[0].diff[0].path, "");
    let text = serde_json::to_string(&created).expect("serialises");
    assert!(!text.contains(&secret(1)), "{text}");
}

#[tokio::test]
async fn history_not_kept_is_gone_and_revisions_not_reached_are_not_found() {
    let (_dir, store) = store().await;
    let origin = system();
    for i in 0..4 {
        store
            .create_provider(
                &origin,
                provider(&format!("p{i}"), &[secret(i)], "a.example.com"),
            )
            .await
            .expect("p");
    }
    assert_eq!(
        store
            .document_at(0)
            .await
            .expect("the start")
            .providers
            .len(),
        0
    );
    assert!(matches!(
        store.document_at(5).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.document_at(-1).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.audit_entry(9).await,
        Err(StoreError::NotFound(_))
    ));
    // Retention prunes the oldest entries: what they would undo is no longer known.
    sqlx::query("DELETE FROM audit_entries WHERE revision <= 2")
        .execute(store.db.pool())
        .await
        .expect("prunes");
    assert_eq!(store.document_at(2).await.expect("kept").providers.len(), 2);
    for gone in [
        store.document_at(1).await.map(drop),
        store.audit_entry(1).await.map(drop),
    ] {
        match gone {
            Err(StoreError::HistoryGone { kept_from }) => assert_eq!(kept_from, 2),
            other => panic!("expected 410, got {other:?}"),
        }
    }
    assert!(matches!(
        store.rollback_preview(1).await,
        Err(StoreError::HistoryGone { .. })
    ));
}

#[tokio::test]
async fn a_rollback_never_re_enables_a_key_or_lifts_its_expiry() {
    let (_dir, store) = store().await;
    let origin = system();
    store
        .create_consumer(&origin, consumer("ci", ""))
        .await
        .expect("consumer");
    let disabled = store
        .create_key(&origin, "ci", new_key("disabled-later"))
        .await
        .expect("key");
    let leaked = store
        .create_key(&origin, "ci", new_key("rotated-later"))
        .await
        .expect("key");
    let narrowed = store
        .create_key(&origin, "ci", new_key("narrowed-later"))
        .await
        .expect("key");
    let target = store.revision().await.expect("revision");

    let disable = KeyUpdate {
        disabled: Some(true),
        ..KeyUpdate::default()
    };
    store
        .update_key(&origin, "ci", disabled.stored.id, disable)
        .await
        .expect("disable");
    // A leaked key rotated out: it keeps working for a minute, then is refused.
    let successor = store
        .rotate_key(&origin, "ci", leaked.stored.id, Duration::from_secs(60))
        .await
        .expect("rotate");
    let narrow = KeyUpdate {
        allowed_models: Some(vec!["gpt-*".to_owned()]),
        ..KeyUpdate::default()
    };
    store
        .update_key(&origin, "ci", narrowed.stored.id, narrow)
        .await
        .expect("narrow");
    let expiry = |keys: &[StoredKey], id: i64| {
        keys.iter()
            .find(|k| k.id == id)
            .map(|k| (k.disabled, k.expires_at_ms))
    };
    let before = store.list_keys("ci").await.expect("keys");
    let rotated_expiry = expiry(&before, leaked.stored.id).and_then(|(_, at)| at);
    assert!(rotated_expiry.is_some(), "rotation sets an expiry");

    let now = store.revision().await.expect("revision");
    store
        .rollback(&origin, target, now)
        .await
        .expect("rolls back");
    let keys = store.list_keys("ci").await.expect("keys");
    assert_eq!(
        expiry(&keys, disabled.stored.id),
        Some((true, None)),
        "a key disabled since stays disabled"
    );
    // Documents carry expiries to the second, so the kept one is the rotation's, rounded down.
    assert_eq!(
        expiry(&keys, leaked.stored.id),
        Some((false, rotated_expiry.map(|at| at - at % 1000))),
        "a rotated-out key keeps its expiry"
    );
    assert!(
        keys.iter().all(|k| k.id != successor.stored.id),
        "the successor, issued after the target, is gone"
    );
    let restored = keys
        .iter()
        .find(|k| k.id == narrowed.stored.id)
        .expect("kept");
    assert!(
        restored.allowed_models.is_empty(),
        "what is not a withdrawal is restored: {:?}",
        restored.allowed_models
    );
}

/// Everything a run of [`parity_scenario`] saw, made comparable across engines: times, ids and
/// the parts of client keys that are random (digests, last four) are replaced by placeholders.
fn normalized(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| {
                    let value = match key.as_str() {
                        "id" | "at" | "at_ms" | "created_at" | "updated_at" | "expires_at"
                        | "expires_at_ms" | "last_used_at" | "key_sha256" | "digest_hex"
                            if !value.is_null() =>
                        {
                            Value::String(format!("<{key}>"))
                        }
                        _ => normalized(value),
                    };
                    (key, value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(normalized).collect()),
        Value::String(text) => Value::String(normalized_text(&text)),
        other => other,
    }
}

/// A string with every masked key's last four (after `…`) and every SHA-256 digest (64 hex
/// characters) and RFC 3339 time replaced, since those differ from run to run.
fn normalized_text(text: &str) -> String {
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return "<digest>".to_owned();
    }
    if text.len() >= 20 && text.starts_with("20") && text.ends_with('Z') && text.contains('T') {
        return "<time>".to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '…' {
            for _ in 0..4 {
                if chars.next().is_some() {
                    out.push('X');
                }
            }
        }
    }
    out
}

fn outcome<T: serde::Serialize>(result: Result<T, StoreError>) -> serde_json::Value {
    match result {
        Ok(value) => normalized(serde_json::to_value(value).expect("serializes")),
        Err(error) => json!({ "error": normalized_text(&error.to_string()) }),
    }
}

/// The store's main operations, one after another, and what each returned: random writes (all
/// kinds of resources, keys created, updated, rotated and deleted, refusals), a guardrail in use
/// and its refused delete, an applied document, the audit trail page by page and filtered, every
/// revision's document, a rollback preview and a rollback, accounts and sessions.
async fn parity_scenario(store: &Store) -> Vec<serde_json::Value> {
    let mut seen = Vec::new();
    let mut rng = Rng(1_234_567);
    for n in 0..80 {
        random_write(store, &mut rng, n).await;
        seen.push(json!({"revision": store.revision().await.expect("revision")}));
        seen.push(outcome(Ok(masked_export(store).await)));
    }
    let ana = Origin::new(Actor::Console("ana".into()), Some("127.0.0.1".into()));
    let policy: switchyard_shared::GuardrailSpec = serde_json::from_value(json!({
        "name": "pii", "mode": "enforce",
        "detectors": [{"type": "email", "action": "mask"}]
    }))
    .expect("a policy");
    seen.push(outcome(store.create_guardrail(&ana, policy).await));
    seen.push(outcome(
        store
            .create_provider(&ana, provider("gp", &[secret(9001)], "g.example.com"))
            .await,
    ));
    let mut guarded = route("guarded", "gp", "m");
    guarded.guardrails = vec!["pii".to_owned()];
    seen.push(outcome(store.create_route(&ana, guarded).await));
    let mut careful = consumer("careful", "");
    careful.guardrails = vec!["pii".to_owned()];
    seen.push(outcome(
        store
            .create_consumer(&ana, careful)
            .await
            .map(|c| c.exported()),
    ));
    seen.push(outcome(store.delete_guardrail(&ana, "pii").await));
    seen.push(outcome(store.delete_provider(&ana, "gp").await));
    let middle = store.revision().await.expect("revision");

    let mut doc = store.export().await.expect("exports");
    doc.routes.push(route("applied", "gp", "a1"));
    doc.consumers.retain(|c| c.name != "careful");
    seen.push(outcome(store.diff(doc.clone(), true).await));
    seen.push(outcome(
        store.apply(&ana, doc, true).await.map(|s| s.to_string()),
    ));
    seen.push(outcome(store.delete_route(&ana, "guarded").await));
    seen.push(outcome(store.delete_guardrail(&ana, "pii").await));

    seen.push(outcome(store.admin_exists().await));
    let admin = store
        .create_first_admin(&ana, "ana", "$argon2id$stub")
        .await;
    seen.push(outcome(admin.map(drop)));
    seen.push(outcome(
        store
            .admin_credentials("ana")
            .await
            .map(|c| c.map(|(_, hash)| hash)),
    ));

    let preview = store.rollback_preview(middle).await;
    seen.push(outcome(preview));
    let now = store.revision().await.expect("revision");
    seen.push(outcome(store.rollback(&ana, middle, now).await));
    seen.push(outcome(store.rollback(&ana, middle, now).await));
    seen.push(outcome(Ok(masked_export(store).await)));

    let mut cursor = None;
    loop {
        let filter = AuditFilter {
            limit: Some(7),
            cursor,
            ..AuditFilter::default()
        };
        let page = store.audit_page(&filter).await.expect("a page");
        cursor = page.next_cursor;
        seen.push(outcome(Ok(page)));
        if cursor.is_none() {
            break;
        }
    }
    for (actor, resource) in [
        (Some("console:"), None),
        (Some("console:ana"), Some("route/guarded")),
        (Some("system"), Some("consumer")),
        (None, Some("guardrail/pii")),
    ] {
        let filter = AuditFilter {
            actor: actor.map(str::to_owned),
            resource: resource.map(str::to_owned),
            ..AuditFilter::default()
        };
        seen.push(outcome(store.audit_page(&filter).await));
    }
    let last = store.revision().await.expect("revision");
    for revision in 0..=last + 1 {
        seen.push(outcome(store.audit_entry(revision).await));
        seen.push(outcome(store.document_at(revision).await.map(|mut doc| {
            doc.providers = doc.providers.iter().map(ProviderSpec::masked).collect();
            doc
        })));
    }
    seen
}

/// The same operations on SQLite and on PostgreSQL return the same results (issue 17). Skipped
/// with a printed reason when PostgreSQL is not installed, unless `SWITCHYARD_REQUIRE_CLUSTER=1`.
#[tokio::test]
async fn the_store_behaves_the_same_on_sqlite_and_postgres() {
    let Some(server) = crate::store::test_postgres::TestPostgres::start() else {
        return;
    };
    let url = server.create_database().await;
    let (_dir, sqlite) = store().await;
    let postgres = Store::open_postgres(&url, None)
        .await
        .expect("opens PostgreSQL");
    assert_eq!(postgres.engine(), crate::store::Engine::Postgres);

    let on_sqlite = parity_scenario(&sqlite).await;
    let on_postgres = parity_scenario(&postgres).await;
    assert_eq!(
        on_sqlite.len(),
        on_postgres.len(),
        "the same number of steps"
    );
    for (step, (a, b)) in on_sqlite.iter().zip(&on_postgres).enumerate() {
        assert_eq!(
            a, b,
            "step {step}: SQLite (left) and PostgreSQL (right) differ"
        );
    }
    postgres.close().await;
    // Opening again migrates nothing and finds the same configuration.
    let again = Store::open_postgres(&url, None).await.expect("opens again");
    assert_eq!(
        outcome(Ok(masked_export(&again).await)),
        outcome(Ok(masked_export(&sqlite).await))
    );
    again.close().await;
}

/// On PostgreSQL, every committed revision is announced to the listeners, and a refused write
/// announces nothing (its transaction, notification included, rolls back).
#[tokio::test]
async fn postgres_announces_every_committed_revision() {
    let Some(server) = crate::store::test_postgres::TestPostgres::start() else {
        return;
    };
    let url = server.create_database().await;
    let store = Store::open_postgres(&url, None)
        .await
        .expect("opens PostgreSQL");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let listener = tokio::spawn(crate::store::listen_for_revisions(url, move |revision| {
        let _ = tx.send(revision);
    }));
    let origin = system();
    // The listener connects in the background: write until its first announcement arrives.
    let mut first = None;
    for n in 0..50 {
        store
            .create_provider(
                &origin,
                provider(&format!("p{n}"), &[secret(n)], "a.example.com"),
            )
            .await
            .expect("created");
        if let Ok(Some(revision)) =
            tokio::time::timeout(Duration::from_millis(100), rx.recv()).await
        {
            first = Some(revision);
            break;
        }
    }
    let first = first.expect("an announcement arrives");
    while rx.try_recv().is_ok() {}
    let refused = store
        .create_provider(&origin, provider("p0", &[secret(1)], "a.example.com"))
        .await;
    assert!(refused.is_err(), "a duplicate name is refused");
    store
        .create_route(&origin, route("chat", "p0", "m"))
        .await
        .expect("route");
    let next = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("the route's revision is announced")
        .expect("the channel is open");
    assert_eq!(next, store.revision().await.expect("revision"));
    assert!(next > first, "revisions are announced in order");
    listener.abort();
    store.close().await;
}

/// Three stores (as three nodes would) open one fresh PostgreSQL database at once, which
/// migrates it once (sqlx's advisory lock), and then write concurrently: `begin_write`'s row lock
/// on `meta` serialises them, so every successful write has its own revision, with no gap, and
/// its own audit entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_nodes_on_postgres_migrate_once_and_write_gapless_revisions() {
    let Some(server) = crate::store::test_postgres::TestPostgres::start() else {
        return;
    };
    let url = server.create_database().await;
    let opened =
        futures_util::future::join_all((0..3).map(|_| Store::open_postgres(&url, None))).await;
    let stores: Vec<Store> = opened
        .into_iter()
        .map(|store| store.expect("every node opens and migrates"))
        .collect();
    let origin = system();
    let writes = (0..24).map(|n| {
        let store = stores[n % stores.len()].clone();
        let origin = origin.clone();
        tokio::spawn(async move {
            // Every fourth write reuses a name and is refused: refusals must leave no revision.
            let name = format!("p{}", if n % 4 == 3 { n - 1 } else { n });
            store
                .create_provider(
                    &origin,
                    provider(&name, &[secret(n as u32)], "a.example.com"),
                )
                .await
                .is_ok()
        })
    });
    let mut succeeded = 0_i64;
    for write in futures_util::future::join_all(writes).await {
        if write.expect("the write task ends") {
            succeeded += 1;
        }
    }
    assert_eq!(succeeded, 18, "every write of a new name succeeds");
    let revision = stores[0].revision().await.expect("revision");
    assert_eq!(revision, succeeded, "one revision per successful write");
    let page = stores[1]
        .audit_page(&AuditFilter {
            limit: Some(100),
            ..AuditFilter::default()
        })
        .await
        .expect("the trail");
    let revisions: Vec<i64> = page.entries.iter().map(|e| e.revision).collect();
    assert_eq!(
        revisions,
        (1..=revision).rev().collect::<Vec<_>>(),
        "no gap"
    );
    assert_eq!(stores[2].list_providers().await.expect("list").len(), 18);
    for store in &stores {
        store.close().await;
    }
}

/// With a master key, a PostgreSQL store keeps provider keys sealed, refuses to open without
/// that key, and `unseal` brings them back to plaintext, as on SQLite.
#[tokio::test]
async fn a_postgres_store_seals_secrets_with_its_master_key() {
    let Some(server) = crate::store::test_postgres::TestPostgres::start() else {
        return;
    };
    let hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    let key = || crate::secrets::MasterKey::from_hex(hex).ok();
    let url = server.create_database().await;
    let store = Store::open_postgres(&url, key())
        .await
        .expect("opens with a key");
    let origin = system();
    store
        .create_provider(&origin, provider("p", &[secret(7)], "a.example.com"))
        .await
        .expect("created");
    let stored: String = sqlx::query_scalar("SELECT secret FROM provider_keys")
        .fetch_one(store.db.pool())
        .await
        .expect("the stored key");
    assert!(stored.starts_with("sealed:v1:"), "sealed at rest");
    assert!(!stored.contains(&secret(7)));
    store.close().await;

    assert!(
        Store::open_postgres(&url, None).await.is_err(),
        "a sealed database needs its key"
    );
    let store = Store::open_postgres(&url, key()).await.expect("reopens");
    assert_eq!(
        store.get_provider("p").await.expect("read").api_keys,
        Some(vec![secret(7)])
    );
    store.unseal_secrets(&origin).await.expect("unseals");
    let stored: String = sqlx::query_scalar("SELECT secret FROM provider_keys")
        .fetch_one(store.db.pool())
        .await
        .expect("the stored key");
    assert_eq!(stored, secret(7), "plaintext after unseal");
    store.close().await;
}
