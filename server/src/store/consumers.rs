//! Consumers, their client keys, and the gateway settings in the store. Keys are kept only as
//! SHA-256 digests plus their last four characters; every write is one transaction that bumps the
//! revision, so the proxy's snapshot follows it.

use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};
use switchyard_shared::validate::{
    validate_consumer, validate_guardrail_references, validate_new_key,
};
use switchyard_shared::{
    Budget, ConsumerKey, ConsumerSpec, KeyUpdate, Limits, NewKey, Settings, ValidationErrors,
};

use super::audit::{Audit, Item, Origin};
use super::config::Named;
use super::db::get_bool;
use super::guardrails::guardrail_names;
use super::{Result, Store, StoreError, now_ms};
use crate::client_key;

/// A consumer as stored: its spec (without keys) and its keys.
#[derive(Debug, Clone)]
pub struct StoredConsumer {
    pub id: i64,
    pub spec: ConsumerSpec,
    pub keys: Vec<StoredKey>,
}

/// A client key as stored. Never holds the plaintext.
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub id: i64,
    pub consumer_id: i64,
    pub name: String,
    pub digest_hex: String,
    pub last4: Option<String>,
    pub allowed_models: Vec<String>,
    pub limits: Limits,
    pub budget: Option<Budget>,
    pub disabled: bool,
    pub expires_at_ms: Option<i64>,
    pub created_at_ms: i64,
    pub last_used_ms: Option<i64>,
}

/// The parts of a key row kept as JSON.
#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
struct KeyExtra {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    allowed_models: Vec<String>,
    #[serde(skip_serializing_if = "Limits::is_unset")]
    limits: Limits,
    #[serde(skip_serializing_if = "Option::is_none")]
    budget: Option<Budget>,
}

pub(crate) fn rfc3339_ms(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(at).to_string()
}

/// Parses an RFC 3339 time in UTC (`2027-01-01T00:00:00Z`) into milliseconds since the epoch.
pub(crate) fn parse_rfc3339(field: &str, text: &str) -> Result<i64, ValidationErrors> {
    humantime::parse_rfc3339_weak(text.trim())
        .ok()
        .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .ok_or_else(|| {
            ValidationErrors::single(
                field,
                "must be an RFC 3339 time in UTC, such as 2027-01-01T00:00:00Z",
            )
        })
}

impl StoredKey {
    /// The key as the API shows it: masked, no digest.
    /// The key's masked form, `sy-…k3Qz`: how the trail and the console name it.
    pub fn masked(&self) -> String {
        client_key::masked(self.last4.as_deref())
    }

    pub fn view(&self) -> ConsumerKey {
        ConsumerKey {
            id: Some(self.id),
            name: self.name.clone(),
            key: None,
            key_sha256: None,
            masked: Some(self.masked()),
            expires_at: self.expires_at_ms.map(rfc3339_ms),
            allowed_models: self.allowed_models.clone(),
            limits: self.limits,
            budget: self.budget.clone(),
            disabled: self.disabled,
            created_at: Some(rfc3339_ms(self.created_at_ms)),
            last_used_at: self.last_used_ms.map(rfc3339_ms),
        }
    }

    /// The key as an export writes it: its digest, so it stays valid where the document goes.
    fn exported(&self) -> ConsumerKey {
        ConsumerKey {
            id: None,
            key_sha256: Some(self.digest_hex.clone()),
            created_at: None,
            last_used_at: None,
            ..self.view()
        }
    }

    /// Whether the key is refused from `now_ms` on.
    pub fn expired(&self, now_ms: i64) -> bool {
        self.expires_at_ms.is_some_and(|at| at <= now_ms)
    }
}

impl StoredConsumer {
    /// The consumer as the API shows it, keys masked.
    pub fn view(&self) -> ConsumerSpec {
        ConsumerSpec {
            keys: self.keys.iter().map(StoredKey::view).collect(),
            ..self.spec.clone()
        }
    }

    /// The consumer as the audit trail records it: the API's view without the time each key
    /// was last used, which is usage, not configuration.
    pub fn audited(&self) -> ConsumerSpec {
        let mut view = self.view();
        for key in &mut view.keys {
            key.last_used_at = None;
        }
        view
    }

    /// The consumer as an export writes it, keys as digests.
    pub fn exported(&self) -> ConsumerSpec {
        ConsumerSpec {
            keys: self.keys.iter().map(StoredKey::exported).collect(),
            ..self.spec.clone()
        }
    }
}

/// A key made by `create_key` or `rotate_key`: the plaintext, shown once, and the stored row.
pub struct IssuedKey {
    pub plaintext: String,
    pub stored: StoredKey,
}

impl IssuedKey {
    /// The creation answer: the view plus the plaintext key, this once.
    pub fn view(&self) -> ConsumerKey {
        ConsumerKey {
            key: Some(self.plaintext.clone()),
            ..self.stored.view()
        }
    }
}

fn consumer_not_found(name: &str) -> StoreError {
    StoreError::NotFound(format!("no consumer named '{name}'"))
}

fn key_not_found(consumer: &str, id: i64) -> StoreError {
    StoreError::NotFound(format!("consumer '{consumer}' has no key with id {id}"))
}

/// The admin API's consumer endpoints do not take keys.
fn refuse_inline_keys(spec: &ConsumerSpec) -> Result<()> {
    if spec.keys.is_empty() {
        return Ok(());
    }
    Err(ValidationErrors::single(
        "keys",
        "keys are managed under /api/consumers/{name}/keys, not in the consumer",
    )
    .into())
}

fn consumer_json(spec: &ConsumerSpec) -> String {
    let keyless = ConsumerSpec {
        keys: Vec::new(),
        ..spec.clone()
    };
    serde_json::to_string(&keyless).unwrap_or_else(|_| "{}".to_owned())
}

fn key_json(allowed_models: &[String], limits: &Limits, budget: Option<&Budget>) -> String {
    serde_json::to_string(&KeyExtra {
        allowed_models: allowed_models.to_vec(),
        limits: *limits,
        budget: budget.cloned(),
    })
    .unwrap_or_else(|_| "{}".to_owned())
}

impl Store {
    pub async fn list_consumers(&self) -> Result<Vec<StoredConsumer>> {
        let mut conn = self.db.pool().acquire().await?;
        load_consumers(&mut conn, None).await
    }

    pub async fn get_consumer(&self, name: &str) -> Result<StoredConsumer> {
        let mut conn = self.db.pool().acquire().await?;
        load_consumers(&mut conn, Some(name))
            .await?
            .pop()
            .ok_or_else(|| consumer_not_found(name))
    }

    pub async fn create_consumer(
        &self,
        origin: &Origin,
        spec: ConsumerSpec,
    ) -> Result<StoredConsumer> {
        refuse_inline_keys(&spec)?;
        validate_consumer(&spec)?;
        let mut tx = self.db.begin_write().await?;
        if consumer_id(&mut tx, &spec.name).await?.is_some() {
            return Err(StoreError::Conflict {
                message: format!("a consumer named '{}' already exists", spec.name),
                routes: Vec::new(),
            });
        }
        check_guardrail_references(&mut tx, &spec).await?;
        let audit =
            Audit::begin(&mut tx, &self.sealer, origin, &[Item::Consumer(&spec.name)]).await?;
        let id = insert_consumer(&mut tx, &spec).await?;
        let summary = format!("consumer '{}' created", spec.name);
        audit
            .commit(&mut tx, &self.sealer, "create", &summary)
            .await?;
        tx.commit().await?;
        Ok(StoredConsumer {
            id,
            spec,
            keys: Vec::new(),
        })
    }

    /// Replaces a consumer's settings; its keys stay as they are.
    pub async fn replace_consumer(
        &self,
        origin: &Origin,
        name: &str,
        spec: ConsumerSpec,
    ) -> Result<StoredConsumer> {
        if spec.name != name {
            return Err(ValidationErrors::single(
                "name",
                format!("must equal the name in the URL ('{name}'); consumers cannot be renamed"),
            )
            .into());
        }
        refuse_inline_keys(&spec)?;
        validate_consumer(&spec)?;
        let mut tx = self.db.begin_write().await?;
        let id = consumer_id(&mut tx, name)
            .await?
            .ok_or_else(|| consumer_not_found(name))?;
        check_guardrail_references(&mut tx, &spec).await?;
        let audit = Audit::begin(&mut tx, &self.sealer, origin, &[Item::Consumer(name)]).await?;
        update_consumer(&mut tx, id, &spec).await?;
        let stored = load_consumers(&mut tx, Some(name))
            .await?
            .pop()
            .ok_or_else(|| consumer_not_found(name))?;
        let summary = format!("consumer '{name}' replaced");
        audit
            .commit(&mut tx, &self.sealer, "replace", &summary)
            .await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Deletes a consumer; its keys go with it.
    pub async fn delete_consumer(&self, origin: &Origin, name: &str) -> Result<()> {
        self.delete_named(origin, Named::Consumer, name).await
    }

    /// Issues a new key for a consumer; the plaintext exists only in the answer.
    pub async fn create_key(
        &self,
        origin: &Origin,
        consumer: &str,
        new: NewKey,
    ) -> Result<IssuedKey> {
        validate_new_key(&new)?;
        let expires_at_ms = new
            .expires_at
            .as_deref()
            .map(|text| parse_rfc3339("expires_at", text))
            .transpose()?;
        let mut tx = self.db.begin_write().await?;
        let consumer_id = consumer_id(&mut tx, consumer)
            .await?
            .ok_or_else(|| consumer_not_found(consumer))?;
        check_key_count(&mut tx, consumer_id).await?;
        let audit =
            Audit::begin(&mut tx, &self.sealer, origin, &[Item::Consumer(consumer)]).await?;
        let issued = insert_new_key(
            &mut tx,
            consumer_id,
            &new.name,
            &new.allowed_models,
            &new.limits,
            new.budget.as_ref(),
            expires_at_ms,
        )
        .await?;
        let summary = format!(
            "key '{}' ({}) added to consumer '{consumer}'",
            issued.stored.name,
            issued.stored.masked()
        );
        audit
            .commit(&mut tx, &self.sealer, "key_create", &summary)
            .await?;
        tx.commit().await?;
        Ok(issued)
    }

    pub async fn list_keys(&self, consumer: &str) -> Result<Vec<StoredKey>> {
        Ok(self.get_consumer(consumer).await?.keys)
    }

    /// Changes the fields an update names; the others stay.
    pub async fn update_key(
        &self,
        origin: &Origin,
        consumer: &str,
        id: i64,
        update: KeyUpdate,
    ) -> Result<StoredKey> {
        let mut tx = self.db.begin_write().await?;
        let mut key = load_key(&mut tx, consumer, id).await?;
        let audit =
            Audit::begin(&mut tx, &self.sealer, origin, &[Item::Consumer(consumer)]).await?;
        if let Some(name) = update.name {
            key.name = name;
        }
        if let Some(disabled) = update.disabled {
            key.disabled = disabled;
        }
        if let Some(expires_at) = update.expires_at {
            key.expires_at_ms = expires_at
                .as_deref()
                .map(|text| parse_rfc3339("expires_at", text))
                .transpose()?;
        }
        if let Some(models) = update.allowed_models {
            key.allowed_models = models;
        }
        if let Some(limits) = update.limits {
            key.limits = limits;
        }
        if let Some(budget) = update.budget {
            key.budget = budget;
        }
        validate_new_key(&NewKey {
            name: key.name.clone(),
            expires_at: None,
            allowed_models: key.allowed_models.clone(),
            limits: key.limits,
            budget: key.budget.clone(),
        })?;
        update_key_row(
            &mut tx,
            id,
            KeyRow {
                name: &key.name,
                digest_hex: &key.digest_hex,
                // `None` keeps the stored last four characters.
                last4: None,
                allowed_models: &key.allowed_models,
                limits: &key.limits,
                budget: key.budget.as_ref(),
                disabled: key.disabled,
                expires_at_ms: key.expires_at_ms,
            },
        )
        .await?;
        let summary = format!(
            "key '{}' ({}) of consumer '{consumer}' updated",
            key.name,
            key.masked()
        );
        audit
            .commit(&mut tx, &self.sealer, "key_update", &summary)
            .await?;
        tx.commit().await?;
        Ok(key)
    }

    /// Revokes a key at once.
    pub async fn delete_key(&self, origin: &Origin, consumer: &str, id: i64) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let key = load_key(&mut tx, consumer, id).await?;
        let audit =
            Audit::begin(&mut tx, &self.sealer, origin, &[Item::Consumer(consumer)]).await?;
        sqlx::query("DELETE FROM consumer_keys WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let summary = format!(
            "key '{}' ({}) of consumer '{consumer}' revoked",
            key.name,
            key.masked()
        );
        audit
            .commit(&mut tx, &self.sealer, "key_delete", &summary)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Issues a successor with the same name, models and limits; the old key keeps working for
    /// `grace` (its expiry moves to then, or stays if that is sooner) and is refused after.
    pub async fn rotate_key(
        &self,
        origin: &Origin,
        consumer: &str,
        id: i64,
        grace: Duration,
    ) -> Result<IssuedKey> {
        let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
        let mut tx = self.db.begin_write().await?;
        let old = load_key(&mut tx, consumer, id).await?;
        check_key_count(&mut tx, old.consumer_id).await?;
        let audit =
            Audit::begin(&mut tx, &self.sealer, origin, &[Item::Consumer(consumer)]).await?;
        let ends = now_ms().saturating_add(grace_ms);
        let old_expiry = old.expires_at_ms.map_or(ends, |at| at.min(ends));
        sqlx::query("UPDATE consumer_keys SET expires_at = $1 WHERE id = $2")
            .bind(old_expiry)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let issued = insert_new_key(
            &mut tx,
            old.consumer_id,
            &old.name,
            &old.allowed_models,
            &old.limits,
            old.budget.as_ref(),
            // The successor keeps an expiry the old key had beyond the grace period.
            old.expires_at_ms.filter(|at| *at > ends),
        )
        .await?;
        let summary = format!(
            "key '{}' of consumer '{consumer}' rotated ({} → {})",
            old.name,
            old.masked(),
            issued.stored.masked()
        );
        audit
            .commit(&mut tx, &self.sealer, "key_rotate", &summary)
            .await?;
        tx.commit().await?;
        Ok(issued)
    }

    /// Writes when keys were last used (from memory, every few seconds). Not a configuration
    /// change: the revision stays, so no reload follows.
    pub async fn record_key_use(&self, uses: &[(i64, i64)]) -> Result<()> {
        if uses.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.begin_write().await?;
        for (id, at) in uses {
            sqlx::query(
                "UPDATE consumer_keys SET last_used_at = $1
                 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
            )
            .bind(at)
            .bind(id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn settings(&self) -> Result<Settings> {
        let mut conn = self.db.pool().acquire().await?;
        load_settings(&mut conn).await
    }

    pub async fn put_settings(&self, origin: &Origin, settings: &Settings) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let audit = Audit::begin(&mut tx, &self.sealer, origin, &[Item::Settings]).await?;
        write_settings(&mut tx, settings).await?;
        audit
            .commit(&mut tx, &self.sealer, "settings", "settings changed")
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Every guardrail policy the consumer names must be stored.
async fn check_guardrail_references(conn: &mut AnyConnection, spec: &ConsumerSpec) -> Result<()> {
    let policies = guardrail_names(conn).await?;
    Ok(validate_guardrail_references(&spec.guardrails, |name| {
        policies.contains(name)
    })?)
}

async fn check_key_count(conn: &mut AnyConnection, consumer_id: i64) -> Result<()> {
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM consumer_keys WHERE consumer_id = $1")
            .bind(consumer_id)
            .fetch_one(&mut *conn)
            .await?;
    let max = i64::try_from(switchyard_shared::validate::MAX_CONSUMER_KEYS).unwrap_or(i64::MAX);
    if count >= max {
        return Err(ValidationErrors::single(
            "keys",
            format!("a consumer holds at most {max} keys; delete one first"),
        )
        .into());
    }
    Ok(())
}

async fn insert_new_key(
    conn: &mut AnyConnection,
    consumer_id: i64,
    name: &str,
    allowed_models: &[String],
    limits: &Limits,
    budget: Option<&Budget>,
    expires_at_ms: Option<i64>,
) -> Result<IssuedKey> {
    let plaintext = client_key::generate();
    let stored = insert_key(
        conn,
        consumer_id,
        KeyRow {
            name,
            digest_hex: &client_key::digest_hex(&plaintext),
            last4: Some(&client_key::last4(&plaintext)),
            allowed_models,
            limits,
            budget,
            disabled: false,
            expires_at_ms,
        },
    )
    .await?;
    Ok(IssuedKey { plaintext, stored })
}

/// The columns of a key row being written.
pub(super) struct KeyRow<'a> {
    pub name: &'a str,
    pub digest_hex: &'a str,
    pub last4: Option<&'a str>,
    pub allowed_models: &'a [String],
    pub limits: &'a Limits,
    pub budget: Option<&'a Budget>,
    pub disabled: bool,
    pub expires_at_ms: Option<i64>,
}

pub(super) async fn insert_key(
    conn: &mut AnyConnection,
    consumer_id: i64,
    row: KeyRow<'_>,
) -> Result<StoredKey> {
    let now = now_ms();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO consumer_keys
           (consumer_id, name, key_sha256, last4, spec, disabled, expires_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(consumer_id)
    .bind(row.name)
    .bind(row.digest_hex)
    .bind(row.last4)
    .bind(key_json(row.allowed_models, row.limits, row.budget))
    .bind(row.disabled)
    .bind(row.expires_at_ms)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .map_err(|error| match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict {
            message: "that key is already held by a consumer".into(),
            routes: Vec::new(),
        },
        _ => StoreError::Db(error),
    })?;
    Ok(StoredKey {
        id,
        consumer_id,
        name: row.name.to_owned(),
        digest_hex: row.digest_hex.to_owned(),
        last4: row.last4.map(str::to_owned),
        allowed_models: row.allowed_models.to_vec(),
        limits: *row.limits,
        budget: row.budget.cloned(),
        disabled: row.disabled,
        expires_at_ms: row.expires_at_ms,
        created_at_ms: now,
        last_used_ms: None,
    })
}

pub(super) async fn update_key_row(
    conn: &mut AnyConnection,
    id: i64,
    row: KeyRow<'_>,
) -> Result<()> {
    sqlx::query(
        "UPDATE consumer_keys SET name = $1, last4 = COALESCE($2, last4), spec = $3, disabled = $4,
         expires_at = $5 WHERE id = $6",
    )
    .bind(row.name)
    .bind(row.last4)
    .bind(key_json(row.allowed_models, row.limits, row.budget))
    .bind(row.disabled)
    .bind(row.expires_at_ms)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn consumer_id(conn: &mut AnyConnection, name: &str) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM consumers WHERE name = $1")
            .bind(name)
            .fetch_optional(conn)
            .await?,
    )
}

pub(super) async fn insert_consumer(conn: &mut AnyConnection, spec: &ConsumerSpec) -> Result<i64> {
    let now = now_ms();
    Ok(sqlx::query_scalar(
        "INSERT INTO consumers (name, spec, created_at, updated_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(&spec.name)
    .bind(consumer_json(spec))
    .bind(now)
    .bind(now)
    .fetch_one(conn)
    .await?)
}

pub(super) async fn update_consumer(
    conn: &mut AnyConnection,
    id: i64,
    spec: &ConsumerSpec,
) -> Result<()> {
    sqlx::query("UPDATE consumers SET spec = $1, updated_at = $2 WHERE id = $3")
        .bind(consumer_json(spec))
        .bind(now_ms())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

async fn load_key(conn: &mut AnyConnection, consumer: &str, id: i64) -> Result<StoredKey> {
    let mut consumers = load_consumers(conn, Some(consumer)).await?;
    let stored = consumers
        .pop()
        .ok_or_else(|| consumer_not_found(consumer))?;
    stored
        .keys
        .into_iter()
        .find(|k| k.id == id)
        .ok_or_else(|| key_not_found(consumer, id))
}

/// A consumer row before its JSON is parsed.
pub(super) struct RawConsumer {
    id: i64,
    name: String,
    spec: String,
}

/// A key row before its JSON is parsed.
pub(super) struct RawKey {
    id: i64,
    consumer_id: i64,
    name: String,
    digest_hex: String,
    last4: Option<String>,
    spec: String,
    disabled: bool,
    expires_at: Option<i64>,
    created_at: i64,
    last_used_at: Option<i64>,
}

pub(super) async fn fetch_consumers(
    conn: &mut AnyConnection,
    only: Option<&str>,
) -> Result<(Vec<RawConsumer>, Vec<RawKey>)> {
    let rows = sqlx::query(
        "SELECT id, name, spec FROM consumers WHERE $1 IS NULL OR name = $1 ORDER BY name",
    )
    .bind(only)
    .fetch_all(&mut *conn)
    .await?;
    let consumers = rows
        .iter()
        .map(|row| {
            Ok(RawConsumer {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                spec: row.try_get("spec")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let rows = sqlx::query(
        "SELECT k.id, k.consumer_id, k.name, k.key_sha256, k.last4, k.spec, k.disabled,
                k.expires_at, k.created_at, k.last_used_at
         FROM consumer_keys k JOIN consumers c ON c.id = k.consumer_id
         WHERE $1 IS NULL OR c.name = $1 ORDER BY k.consumer_id, k.id",
    )
    .bind(only)
    .fetch_all(&mut *conn)
    .await?;
    let keys = rows
        .iter()
        .map(|row| {
            Ok(RawKey {
                id: row.try_get("id")?,
                consumer_id: row.try_get("consumer_id")?,
                name: row.try_get("name")?,
                digest_hex: row.try_get("key_sha256")?,
                last4: row.try_get("last4")?,
                spec: row.try_get("spec")?,
                disabled: get_bool(row, "disabled")?,
                expires_at: row.try_get("expires_at")?,
                created_at: row.try_get("created_at")?,
                last_used_at: row.try_get("last_used_at")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((consumers, keys))
}

pub(super) fn parse_consumers(
    consumers: Vec<RawConsumer>,
    keys: Vec<RawKey>,
) -> Result<Vec<StoredConsumer>> {
    let mut by_consumer: HashMap<i64, Vec<StoredKey>> = HashMap::new();
    for raw in keys {
        let extra: KeyExtra =
            serde_json::from_str(&raw.spec).map_err(|source| StoreError::Corrupt {
                what: "consumer key",
                name: raw.name.clone(),
                source,
            })?;
        by_consumer
            .entry(raw.consumer_id)
            .or_default()
            .push(StoredKey {
                id: raw.id,
                consumer_id: raw.consumer_id,
                name: raw.name,
                digest_hex: raw.digest_hex,
                last4: raw.last4,
                allowed_models: extra.allowed_models,
                limits: extra.limits,
                budget: extra.budget,
                disabled: raw.disabled,
                expires_at_ms: raw.expires_at,
                created_at_ms: raw.created_at,
                last_used_ms: raw.last_used_at,
            });
    }
    consumers
        .into_iter()
        .map(|raw| {
            let mut spec: ConsumerSpec =
                serde_json::from_str(&raw.spec).map_err(|source| StoreError::Corrupt {
                    what: "consumer",
                    name: raw.name.clone(),
                    source,
                })?;
            spec.name = raw.name;
            spec.keys = Vec::new();
            Ok(StoredConsumer {
                id: raw.id,
                spec,
                keys: by_consumer.remove(&raw.id).unwrap_or_default(),
            })
        })
        .collect()
}

pub(super) async fn load_consumers(
    conn: &mut AnyConnection,
    only: Option<&str>,
) -> Result<Vec<StoredConsumer>> {
    let (consumers, keys) = fetch_consumers(conn, only).await?;
    parse_consumers(consumers, keys)
}

pub(super) async fn fetch_settings(conn: &mut AnyConnection) -> Result<String> {
    Ok(sqlx::query_scalar("SELECT spec FROM settings WHERE id = 1")
        .fetch_optional(conn)
        .await?
        .unwrap_or_else(|| "{}".to_owned()))
}

pub(super) fn parse_settings(json: &str) -> Result<Settings> {
    serde_json::from_str(json).map_err(|source| StoreError::Corrupt {
        what: "settings",
        name: "settings".into(),
        source,
    })
}

pub(super) async fn load_settings(conn: &mut AnyConnection) -> Result<Settings> {
    parse_settings(&fetch_settings(conn).await?)
}

pub(super) async fn write_settings(conn: &mut AnyConnection, settings: &Settings) -> Result<()> {
    let json = serde_json::to_string(settings).unwrap_or_else(|_| "{}".to_owned());
    sqlx::query("INSERT INTO settings (id, spec) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET spec = excluded.spec")
        .bind(json)
        .execute(conn)
        .await?;
    Ok(())
}

/// Brings a document's consumer into the form an export writes, so it compares equal to the
/// stored one when nothing changed: plaintext keys become digests, expiries canonical RFC 3339.
/// Errors name fields relative to the consumer.
pub(super) fn normalise_document_consumer(spec: &mut ConsumerSpec) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    for (i, key) in spec.keys.iter_mut().enumerate() {
        let field = |name: &str| format!("keys[{i}].{name}");
        let mut last4 = None;
        if let Some(plaintext) = key.key.take() {
            if !client_key::is_well_formed(&plaintext) {
                errors.add(
                    field("key"),
                    "is not a Switchyard key (sy-… with a valid checksum)",
                );
                continue;
            }
            let digest = client_key::digest_hex(&plaintext);
            if key
                .key_sha256
                .as_deref()
                .is_some_and(|given| !given.eq_ignore_ascii_case(&digest))
            {
                errors.add(field("key_sha256"), "does not match the plaintext key");
            }
            key.key_sha256 = Some(digest);
            last4 = Some(client_key::last4(&plaintext));
        }
        match key.key_sha256.as_deref().map(str::to_ascii_lowercase) {
            Some(hex) if client_key::from_hex(&hex).is_some() => key.key_sha256 = Some(hex),
            _ => errors.add(field("key_sha256"), "must be 64 hexadecimal digits"),
        }
        let last4 = last4.or_else(|| key.masked.as_deref().and_then(masked_last4));
        key.masked = Some(client_key::masked(last4.as_deref()));
        if let Some(text) = key.expires_at.take() {
            match parse_rfc3339(&field("expires_at"), &text) {
                Ok(ms) => key.expires_at = Some(rfc3339_ms(ms)),
                Err(e) => errors.0.extend(e.0),
            }
        }
        key.id = None;
        key.created_at = None;
        key.last_used_at = None;
    }
    errors.into_result()
}

/// The last four characters a masked key (`sy-…k3Qz`) shows.
fn masked_last4(masked: &str) -> Option<String> {
    let last4 = masked.strip_prefix(client_key::PREFIX)?.strip_prefix('…')?;
    (last4.len() == 4 && last4.bytes().all(|b| b.is_ascii_alphanumeric())).then(|| last4.to_owned())
}

/// Makes the stored consumers named in `consumers` equal to them (keys matched by digest, so a
/// kept key keeps its id and counters), and with `prune` deletes the others. The consumers are
/// normalised and validated already. Returns (created, updated, unchanged, deleted).
pub(super) async fn apply_consumers(
    conn: &mut AnyConnection,
    consumers: &[ConsumerSpec],
    prune: bool,
) -> Result<[usize; 4]> {
    let mut counts = [0usize; 4];
    let mut stored: HashMap<String, StoredConsumer> = load_consumers(conn, None)
        .await?
        .into_iter()
        .map(|c| (c.spec.name.clone(), c))
        .collect();
    for spec in consumers {
        let existing = stored.remove(&spec.name);
        let (id, old_keys) = match existing {
            Some(existing) if existing.exported() == *spec => {
                counts[2] += 1;
                continue;
            }
            Some(existing) => {
                update_consumer(conn, existing.id, spec).await?;
                counts[1] += 1;
                (existing.id, existing.keys)
            }
            None => {
                counts[0] += 1;
                (insert_consumer(conn, spec).await?, Vec::new())
            }
        };
        let mut old: HashMap<String, StoredKey> = old_keys
            .into_iter()
            .map(|k| (k.digest_hex.clone(), k))
            .collect();
        for key in &spec.keys {
            let digest = key.key_sha256.as_deref().unwrap_or_default();
            let expires_at_ms = key
                .expires_at
                .as_deref()
                .map(|text| parse_rfc3339("expires_at", text))
                .transpose()?;
            let last4 = key.masked.as_deref().and_then(masked_last4);
            let row = KeyRow {
                name: &key.name,
                digest_hex: digest,
                last4: last4.as_deref(),
                allowed_models: &key.allowed_models,
                limits: &key.limits,
                budget: key.budget.as_ref(),
                disabled: key.disabled,
                expires_at_ms,
            };
            match old.remove(digest) {
                Some(existing) => update_key_row(conn, existing.id, row).await?,
                None => {
                    insert_key(conn, id, row).await?;
                }
            }
        }
        for gone in old.values() {
            sqlx::query("DELETE FROM consumer_keys WHERE id = $1")
                .bind(gone.id)
                .execute(&mut *conn)
                .await?;
        }
    }
    if prune {
        for gone in stored.values() {
            sqlx::query("DELETE FROM consumers WHERE id = $1")
                .bind(gone.id)
                .execute(&mut *conn)
                .await?;
            counts[3] += 1;
        }
    }
    Ok(counts)
}
