//! Guardrail policies in the store, and the key of their `hash` action.
//!
//! Routes and consumers name policies inside their JSON specs, so there is no link table: every
//! write that could break a reference checks it in the same transaction (a route or consumer
//! naming an unknown policy is invalid; deleting a policy still named is a conflict), and the
//! reloader checks the whole configuration again before it serves it.

use std::collections::{BTreeSet, HashMap};

use sqlx::AnyConnection;
use switchyard_shared::validate::validate_guardrail;
use switchyard_shared::{GuardrailSpec, ValidationErrors};

use super::audit::{Audit, Item, Origin};
use super::{RawItem, Result, Store, StoreError, now_ms, raw_item};
use crate::client_key;
use crate::secrets::{Sealer, SecretsError, is_sealed};

/// A guardrail policy as stored, with its stable id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredGuardrail {
    pub id: i64,
    pub spec: GuardrailSpec,
}

fn guardrail_not_found(name: &str) -> StoreError {
    StoreError::NotFound(format!("no guardrail policy named '{name}'"))
}

fn guardrail_json(spec: &GuardrailSpec) -> String {
    // Serialising this plain struct cannot fail; should it ever, the stored `{}` makes the next
    // reload report the policy loudly instead of serving a policy that checks nothing.
    serde_json::to_string(spec).unwrap_or_else(|_| "{}".to_owned())
}

impl Store {
    pub async fn list_guardrails(&self) -> Result<Vec<GuardrailSpec>> {
        let mut conn = self.db.pool().acquire().await?;
        let stored = load_guardrails(&mut conn, None).await?;
        Ok(stored.into_iter().map(|g| g.spec).collect())
    }

    pub async fn get_guardrail(&self, name: &str) -> Result<GuardrailSpec> {
        let mut conn = self.db.pool().acquire().await?;
        load_guardrails(&mut conn, Some(name))
            .await?
            .pop()
            .map(|g| g.spec)
            .ok_or_else(|| guardrail_not_found(name))
    }

    pub async fn create_guardrail(
        &self,
        origin: &Origin,
        spec: GuardrailSpec,
    ) -> Result<GuardrailSpec> {
        validate_guardrail(&spec)?;
        let mut tx = self.db.begin_write().await?;
        if guardrail_id(&mut tx, &spec.name).await?.is_some() {
            return Err(StoreError::Conflict {
                message: format!("a guardrail policy named '{}' already exists", spec.name),
                routes: Vec::new(),
            });
        }
        let audit = Audit::begin(
            &mut tx,
            &self.sealer,
            origin,
            &[Item::Guardrail(&spec.name)],
        )
        .await?;
        insert_guardrail(&mut tx, &spec).await?;
        let summary = format!("guardrail policy '{}' created", spec.name);
        audit
            .commit(&mut tx, &self.sealer, "create", &summary)
            .await?;
        tx.commit().await?;
        Ok(spec)
    }

    pub async fn replace_guardrail(
        &self,
        origin: &Origin,
        name: &str,
        spec: GuardrailSpec,
    ) -> Result<GuardrailSpec> {
        if spec.name != name {
            return Err(ValidationErrors::single(
                "name",
                format!(
                    "must equal the name in the URL ('{name}'); guardrail policies cannot be renamed"
                ),
            )
            .into());
        }
        validate_guardrail(&spec)?;
        let mut tx = self.db.begin_write().await?;
        let id = guardrail_id(&mut tx, name)
            .await?
            .ok_or_else(|| guardrail_not_found(name))?;
        let audit = Audit::begin(&mut tx, &self.sealer, origin, &[Item::Guardrail(name)]).await?;
        update_guardrail(&mut tx, id, &spec).await?;
        let summary = format!("guardrail policy '{name}' replaced");
        audit
            .commit(&mut tx, &self.sealer, "replace", &summary)
            .await?;
        tx.commit().await?;
        Ok(spec)
    }

    /// Deletes a policy, unless a route or consumer still names it (a conflict naming them).
    pub async fn delete_guardrail(&self, origin: &Origin, name: &str) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let id = guardrail_id(&mut tx, name)
            .await?
            .ok_or_else(|| guardrail_not_found(name))?;
        refuse_if_used(&mut tx, name).await?;
        let audit = Audit::begin(&mut tx, &self.sealer, origin, &[Item::Guardrail(name)]).await?;
        sqlx::query("DELETE FROM guardrails WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let summary = format!("guardrail policy '{name}' deleted");
        audit
            .commit(&mut tx, &self.sealer, "delete", &summary)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The key of the `hash` action's keyed digests: 32 random bytes made once, on first use,
    /// and kept for good, so a value hashes the same across restarts (and in every process that
    /// shares the database). Sealed at rest when there is a master key.
    pub async fn guardrail_hash_key(&self) -> Result<[u8; 32]> {
        let stored: Option<String> =
            sqlx::query_scalar("SELECT guardrail_hash_key FROM meta WHERE id = 1")
                .fetch_one(self.db.pool())
                .await?;
        if let Some(stored) = stored {
            return parse_hash_key(&self.sealer, &stored);
        }
        // Two processes may both find none: the write transaction looks again, so only the
        // first one's key is ever stored, and the second reads it back.
        let mut tx = self.db.begin_write().await?;
        let stored: Option<String> =
            sqlx::query_scalar("SELECT guardrail_hash_key FROM meta WHERE id = 1")
                .fetch_one(&mut *tx)
                .await?;
        let key = match stored {
            Some(stored) => parse_hash_key(&self.sealer, &stored)?,
            None => {
                let mut key = [0u8; 32];
                getrandom::fill(&mut key).map_err(|_| SecretsError::SealFailed)?;
                let text = self.sealer.seal(&client_key::to_hex(&key))?;
                sqlx::query("UPDATE meta SET guardrail_hash_key = $1 WHERE id = 1")
                    .bind(text)
                    .execute(&mut *tx)
                    .await?;
                key
            }
        };
        tx.commit().await?;
        Ok(key)
    }
}

fn parse_hash_key(sealer: &Sealer, stored: &str) -> Result<[u8; 32]> {
    let hex = sealer.unseal(stored)?;
    client_key::from_hex(&hex).ok_or_else(|| {
        SecretsError::Malformed("the guardrail hash key is not 64 hex digits").into()
    })
}

/// Seals (`seal`) or unseals the stored hash key for `secrets seal|unseal`; whether it changed.
pub(super) async fn reseal_hash_key(
    conn: &mut AnyConnection,
    current: &Sealer,
    target: &Sealer,
    seal: bool,
) -> Result<bool> {
    let stored: Option<String> =
        sqlx::query_scalar("SELECT guardrail_hash_key FROM meta WHERE id = 1")
            .fetch_one(&mut *conn)
            .await?;
    let Some(stored) = stored.filter(|stored| is_sealed(stored) != seal) else {
        return Ok(false);
    };
    let plaintext = current.unseal(&stored)?;
    sqlx::query("UPDATE meta SET guardrail_hash_key = $1 WHERE id = 1")
        .bind(target.seal(&plaintext)?)
        .execute(&mut *conn)
        .await?;
    Ok(true)
}

/// Refuses (as a conflict naming them) while any route or consumer names the policy.
async fn refuse_if_used(conn: &mut AnyConnection, name: &str) -> Result<()> {
    let (routes, consumers) = users(conn, name).await?;
    if routes.is_empty() && consumers.is_empty() {
        return Ok(());
    }
    let mut users = Vec::new();
    if !routes.is_empty() {
        users.push(format!("routes: {}", routes.join(", ")));
    }
    if !consumers.is_empty() {
        users.push(format!("consumers: {}", consumers.join(", ")));
    }
    Err(StoreError::Conflict {
        message: format!(
            "guardrail policy '{name}' is used by {}; change or delete them first",
            users.join("; ")
        ),
        routes,
    })
}

/// The routes and the consumers whose specs name the policy, each sorted by name.
///
/// The specs are searched here rather than in SQL: SQLite's `json_each` and PostgreSQL's
/// `jsonb_array_elements_text` differ, and the specs are TEXT on both engines, so one portable
/// query reads them and Rust looks inside. A delete is rare and the tables are small.
async fn users(conn: &mut AnyConnection, name: &str) -> Result<(Vec<String>, Vec<String>)> {
    let routes = names_using(
        conn,
        "route",
        "SELECT name, spec FROM routes ORDER BY name",
        name,
    )
    .await?;
    let consumers = names_using(
        conn,
        "consumer",
        "SELECT name, spec FROM consumers ORDER BY name",
        name,
    )
    .await?;
    Ok((routes, consumers))
}

/// The names of the rows of `sql` (name, spec) whose spec's `guardrails` list holds `policy`.
async fn names_using(
    conn: &mut AnyConnection,
    what: &'static str,
    sql: &'static str,
    policy: &str,
) -> Result<Vec<String>> {
    let rows: Vec<(String, String)> = sqlx::query_as(sql).fetch_all(&mut *conn).await?;
    let mut names = Vec::new();
    for (name, spec) in rows {
        let value: serde_json::Value =
            serde_json::from_str(&spec).map_err(|source| StoreError::Corrupt {
                what,
                name: name.clone(),
                source,
            })?;
        let uses = value
            .get("guardrails")
            .and_then(serde_json::Value::as_array)
            .is_some_and(|list| list.iter().any(|item| item.as_str() == Some(policy)));
        if uses {
            names.push(name);
        }
    }
    Ok(names)
}

async fn guardrail_id(conn: &mut AnyConnection, name: &str) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM guardrails WHERE name = $1")
            .bind(name)
            .fetch_optional(conn)
            .await?,
    )
}

/// The names of every stored policy, for checking what routes and consumers reference.
pub(super) async fn guardrail_names(conn: &mut AnyConnection) -> Result<BTreeSet<String>> {
    Ok(sqlx::query_scalar("SELECT name FROM guardrails")
        .fetch_all(conn)
        .await?
        .into_iter()
        .collect())
}

async fn insert_guardrail(conn: &mut AnyConnection, spec: &GuardrailSpec) -> Result<()> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO guardrails (name, spec, created_at, updated_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&spec.name)
    .bind(guardrail_json(spec))
    .bind(now)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

async fn update_guardrail(conn: &mut AnyConnection, id: i64, spec: &GuardrailSpec) -> Result<()> {
    sqlx::query("UPDATE guardrails SET spec = $1, updated_at = $2 WHERE id = $3")
        .bind(guardrail_json(spec))
        .bind(now_ms())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn fetch_guardrails(
    conn: &mut AnyConnection,
    only: Option<&str>,
) -> Result<Vec<RawItem>> {
    let rows = sqlx::query(
        "SELECT id, name, spec FROM guardrails WHERE $1 IS NULL OR name = $1 ORDER BY name",
    )
    .bind(only)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(raw_item).collect()
}

pub(super) fn parse_guardrails(items: Vec<RawItem>) -> Result<Vec<StoredGuardrail>> {
    items
        .into_iter()
        .map(|item| {
            let mut spec: GuardrailSpec =
                serde_json::from_str(&item.spec).map_err(|source| StoreError::Corrupt {
                    what: "guardrail policy",
                    name: item.name.clone(),
                    source,
                })?;
            spec.name = item.name;
            Ok(StoredGuardrail { id: item.id, spec })
        })
        .collect()
}

pub(super) async fn load_guardrails(
    conn: &mut AnyConnection,
    only: Option<&str>,
) -> Result<Vec<StoredGuardrail>> {
    parse_guardrails(fetch_guardrails(conn, only).await?)
}

/// Makes the stored policies named in `specs` equal to them (validated already); unchanged ones
/// are not rewritten, so the counts agree with `diff`. Returns (created, updated, unchanged).
pub(super) async fn upsert_guardrails(
    conn: &mut AnyConnection,
    specs: &[GuardrailSpec],
) -> Result<[usize; 3]> {
    let mut counts = [0usize; 3];
    let mut stored: HashMap<String, StoredGuardrail> = load_guardrails(conn, None)
        .await?
        .into_iter()
        .map(|g| (g.spec.name.clone(), g))
        .collect();
    for spec in specs {
        match stored.remove(&spec.name) {
            Some(existing) if existing.spec == *spec => counts[2] += 1,
            Some(existing) => {
                update_guardrail(conn, existing.id, spec).await?;
                counts[1] += 1;
            }
            None => {
                insert_guardrail(conn, spec).await?;
                counts[0] += 1;
            }
        }
    }
    Ok(counts)
}

/// Deletes every stored policy `specs` does not name (`apply --prune`), after the routes and
/// consumers were written: one still named by them is a conflict, which validation should have
/// made impossible. Returns how many were deleted.
pub(super) async fn prune_guardrails(
    conn: &mut AnyConnection,
    specs: &[GuardrailSpec],
) -> Result<usize> {
    let keep: BTreeSet<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    let mut deleted = 0;
    for stored in load_guardrails(conn, None).await? {
        if keep.contains(stored.spec.name.as_str()) {
            continue;
        }
        refuse_if_used(conn, &stored.spec.name).await?;
        sqlx::query("DELETE FROM guardrails WHERE id = $1")
            .bind(stored.id)
            .execute(&mut *conn)
            .await?;
        deleted += 1;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use switchyard_shared::{ConsumerSpec, RouteSpec};

    use super::*;
    use crate::secrets::MasterKey;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn policy(name: &str) -> GuardrailSpec {
        serde_json::from_value(json!({
            "name": name, "mode": "enforce",
            "detectors": [
                {"type": "email", "action": "mask"},
                {"type": "regex", "label": "EMPLOYEE_ID", "pattern": "E\\d{6}", "action": "hash"}
            ]
        }))
        .expect("a policy")
    }

    fn provider() -> switchyard_shared::ProviderSpec {
        serde_json::from_value(json!({"name": "p", "type": "deepseek", "api_keys": ["sk-1"]}))
            .expect("a provider")
    }

    fn route(name: &str, guardrails: &[&str]) -> RouteSpec {
        serde_json::from_value(json!({
            "name": name, "match": [{"type": "exact", "value": name}],
            "upstreams": [{"provider": "p"}], "guardrails": guardrails
        }))
        .expect("a route")
    }

    fn consumer(name: &str, guardrails: &[&str]) -> ConsumerSpec {
        serde_json::from_value(json!({"name": name, "guardrails": guardrails})).expect("a consumer")
    }

    fn fields(error: StoreError) -> Vec<String> {
        match error {
            StoreError::Invalid(errors) => errors.0.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a validation error, got {other}"),
        }
    }

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("a scratch dir");
        let store = Store::open(dir.path()).await.expect("opens");
        store
            .create_provider(&crate::store::Origin::system(), provider())
            .await
            .expect("provider");
        (dir, store)
    }

    #[tokio::test]
    async fn crud_bumps_the_revision_and_refuses_duplicates_and_renames() {
        let (_dir, store) = store().await;
        let before = store.revision().await.expect("revision");
        store
            .create_guardrail(&crate::store::Origin::system(), policy("pii"))
            .await
            .expect("created");
        assert_eq!(store.revision().await.expect("revision"), before + 1);
        assert!(matches!(
            store
                .create_guardrail(&crate::store::Origin::system(), policy("pii"))
                .await,
            Err(StoreError::Conflict { .. })
        ));
        let mut changed = policy("pii");
        changed.mode = switchyard_shared::GuardrailMode::Monitor;
        store
            .replace_guardrail(&crate::store::Origin::system(), "pii", changed.clone())
            .await
            .expect("replaced");
        assert_eq!(store.get_guardrail("pii").await.expect("read"), changed);
        let error = store
            .replace_guardrail(&crate::store::Origin::system(), "other", policy("pii"))
            .await
            .expect_err("renamed");
        assert_eq!(fields(error), ["name"]);
        assert!(matches!(
            store
                .replace_guardrail(&crate::store::Origin::system(), "nope", policy("nope"))
                .await,
            Err(StoreError::NotFound(_))
        ));
        let mut bad = policy("bad");
        bad.detectors[1].label = None;
        assert_eq!(
            fields(
                store
                    .create_guardrail(&crate::store::Origin::system(), bad)
                    .await
                    .expect_err("invalid")
            ),
            ["detectors[1].label"]
        );
        store
            .create_guardrail(&crate::store::Origin::system(), policy("b"))
            .await
            .expect("created");
        let names: Vec<String> = store
            .list_guardrails()
            .await
            .expect("listed")
            .into_iter()
            .map(|g| g.name)
            .collect();
        assert_eq!(names, ["b", "pii"]);
        let loaded = store.load().await.expect("loads");
        assert_eq!(loaded.guardrails.len(), 2);
        assert_eq!(loaded.guardrails[1].spec, changed);
        store
            .delete_guardrail(&crate::store::Origin::system(), "b")
            .await
            .expect("deleted");
        assert!(matches!(
            store
                .delete_guardrail(&crate::store::Origin::system(), "b")
                .await,
            Err(StoreError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn references_must_exist_and_block_deletion() {
        let (_dir, store) = store().await;
        let error = store
            .create_route(&crate::store::Origin::system(), route("r", &["pii"]))
            .await
            .expect_err("unknown policy");
        assert_eq!(fields(error), ["guardrails[0]"]);
        let error = store
            .create_consumer(&crate::store::Origin::system(), consumer("c", &["pii"]))
            .await
            .expect_err("unknown policy");
        assert_eq!(fields(error), ["guardrails[0]"]);

        store
            .create_guardrail(&crate::store::Origin::system(), policy("pii"))
            .await
            .expect("created");
        store
            .create_guardrail(&crate::store::Origin::system(), policy("other"))
            .await
            .expect("created");
        store
            .create_route(&crate::store::Origin::system(), route("r", &["pii"]))
            .await
            .expect("route");
        store
            .create_consumer(
                &crate::store::Origin::system(),
                consumer("c", &["other", "pii"]),
            )
            .await
            .expect("consumer");
        let error = store
            .replace_route(
                &crate::store::Origin::system(),
                "r",
                route("r", &["pii", "gone"]),
            )
            .await
            .expect_err("unknown policy");
        assert_eq!(fields(error), ["guardrails[1]"]);
        let error = store
            .replace_consumer(
                &crate::store::Origin::system(),
                "c",
                consumer("c", &["gone"]),
            )
            .await
            .expect_err("unknown policy");
        assert_eq!(fields(error), ["guardrails[0]"]);

        match store
            .delete_guardrail(&crate::store::Origin::system(), "pii")
            .await
        {
            Err(StoreError::Conflict { message, routes }) => {
                assert_eq!(routes, ["r"]);
                assert!(
                    message.contains("routes: r") && message.contains("consumers: c"),
                    "{message}"
                );
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        store
            .replace_consumer(&crate::store::Origin::system(), "c", consumer("c", &[]))
            .await
            .expect("replaced");
        match store
            .delete_guardrail(&crate::store::Origin::system(), "other")
            .await
        {
            Ok(()) => {}
            other => panic!("no longer used: {other:?}"),
        }
        store
            .delete_route(&crate::store::Origin::system(), "r")
            .await
            .expect("deleted");
        store
            .delete_guardrail(&crate::store::Origin::system(), "pii")
            .await
            .expect("deleted");
    }

    #[tokio::test]
    async fn documents_carry_policies_before_their_users() {
        let (_dir, store) = store().await;
        let doc = switchyard_shared::ConfigDocument {
            providers: vec![provider()],
            guardrails: vec![policy("pii"), policy("extra")],
            routes: vec![route("r", &["pii"])],
            consumers: vec![consumer("c", &["extra"])],
            ..Default::default()
        };
        let diff = store.diff(doc.clone(), false).await.expect("diff");
        assert_eq!(diff.guardrails.create, ["pii", "extra"]);
        let summary = store
            .apply(&crate::store::Origin::system(), doc.clone(), false)
            .await
            .expect("applied");
        assert_eq!((summary.guardrails_created, summary.routes_created), (2, 1));
        let exported = store.export().await.expect("export");
        assert_eq!(exported.guardrails, vec![policy("extra"), policy("pii")]);
        let again = store
            .apply(&crate::store::Origin::system(), exported.clone(), false)
            .await
            .expect("again");
        assert_eq!(again.guardrails_unchanged, 2);

        // Pruning deletes the policy nobody names any more, after its user went.
        let pruned = switchyard_shared::ConfigDocument {
            guardrails: vec![policy("pii")],
            consumers: Vec::new(),
            ..doc.clone()
        };
        let diff = store.diff(pruned.clone(), true).await.expect("diff");
        assert_eq!(diff.guardrails.delete, ["extra"]);
        assert_eq!(diff.consumers.delete, ["c"]);
        let summary = store
            .apply(&crate::store::Origin::system(), pruned, true)
            .await
            .expect("applied");
        assert_eq!(
            (summary.guardrails_deleted, summary.consumers_deleted),
            (1, 1)
        );
        assert_eq!(store.list_guardrails().await.expect("list").len(), 1);

        // A document whose route names a policy neither in it nor stored changes nothing.
        let broken = switchyard_shared::ConfigDocument {
            routes: vec![route("r2", &["missing"])],
            ..Default::default()
        };
        let error = store
            .apply(&crate::store::Origin::system(), broken, false)
            .await
            .expect_err("invalid");
        assert_eq!(fields(error), ["routes[0].guardrails[0]"]);
        // With prune, stored policies do not count: the document must carry them.
        let without = switchyard_shared::ConfigDocument {
            guardrails: Vec::new(),
            ..doc
        };
        let error = store
            .apply(&crate::store::Origin::system(), without, true)
            .await
            .expect_err("invalid");
        assert_eq!(
            fields(error),
            ["routes[0].guardrails[0]", "consumers[0].guardrails[0]"]
        );
    }

    #[tokio::test]
    async fn the_hash_key_is_made_once_and_survives_reopening_sealed() {
        let dir = tempfile::tempdir().expect("a scratch dir");
        let key = || Some(MasterKey::from_hex(KEY).expect("a key"));
        let store = Store::open_with_key(dir.path(), key())
            .await
            .expect("opens");
        let first = store.guardrail_hash_key().await.expect("made");
        assert_ne!(first, [0u8; 32]);
        assert_eq!(store.guardrail_hash_key().await.expect("read"), first);
        let stored: Option<String> =
            sqlx::query_scalar("SELECT guardrail_hash_key FROM meta WHERE id = 1")
                .fetch_one(store.db.pool())
                .await
                .expect("read");
        assert!(stored.is_some_and(|text| is_sealed(&text)));
        store.close().await;

        let store = Store::open_with_key(dir.path(), key())
            .await
            .expect("reopens");
        assert_eq!(store.guardrail_hash_key().await.expect("read"), first);
        store
            .unseal_secrets(&crate::store::Origin::system())
            .await
            .expect("unsealed");
        store.close().await;
        let store = Store::open(dir.path()).await.expect("opens without a key");
        assert_eq!(store.guardrail_hash_key().await.expect("read"), first);
        store.close().await;

        // Another database has a key of its own.
        let other = tempfile::tempdir().expect("a scratch dir");
        let store = Store::open(other.path()).await.expect("opens");
        assert_ne!(store.guardrail_hash_key().await.expect("made"), first);
        store.close().await;
    }
}
