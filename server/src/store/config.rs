//! Writing the configuration: providers and routes one at a time, and whole documents (apply and
//! its preview, diff). Every write validates first, then runs in one `BEGIN IMMEDIATE` transaction
//! that bumps the revision.

use std::collections::{BTreeSet, HashMap};

use sqlx::{Row, SqliteConnection};
use switchyard_shared::admin::{ConfigDiff, SectionDiff};
use switchyard_shared::secret::{is_masked, mask_secret};
use switchyard_shared::validate::{
    referenced_providers, validate_document, validate_provider, validate_route,
    validate_route_references,
};
use switchyard_shared::{ConfigDocument, ConsumerSpec, ProviderSpec, RouteSpec, ValidationErrors};

use super::consumers;
use super::{
    ApplySummary, Result, Store, StoreError, StoredProvider, load_providers, load_routes, now_ms,
};

impl Store {
    pub async fn list_providers(&self) -> Result<Vec<ProviderSpec>> {
        let mut conn = self.pool.acquire().await?;
        let providers = load_providers(&mut conn, None).await?;
        Ok(providers.into_iter().map(|p| p.spec).collect())
    }

    pub async fn get_provider(&self, name: &str) -> Result<ProviderSpec> {
        let mut conn = self.pool.acquire().await?;
        load_providers(&mut conn, Some(name))
            .await?
            .pop()
            .map(|p| p.spec)
            .ok_or_else(|| provider_not_found(name))
    }

    /// Creates a provider; `api_keys: None` means no keys.
    pub async fn create_provider(&self, mut spec: ProviderSpec) -> Result<ProviderSpec> {
        spec.api_keys.get_or_insert_with(Vec::new);
        validate_provider(&spec)?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if provider_id(&mut tx, &spec.name).await?.is_some() {
            return Err(StoreError::Conflict {
                message: format!("a provider named '{}' already exists", spec.name),
                routes: Vec::new(),
            });
        }
        insert_provider(&mut tx, &spec).await?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(spec)
    }

    /// Replaces a provider. Keys left out are kept; masked keys that match stored ones keep them.
    pub async fn replace_provider(
        &self,
        name: &str,
        mut spec: ProviderSpec,
    ) -> Result<ProviderSpec> {
        if spec.name != name {
            return Err(ValidationErrors::single(
                "name",
                format!("must equal the name in the URL ('{name}'); providers cannot be renamed"),
            )
            .into());
        }
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let existing = load_providers(&mut tx, Some(name))
            .await?
            .pop()
            .ok_or_else(|| provider_not_found(name))?;
        resolve_keys(&mut spec, Some(&existing.spec));
        validate_provider(&spec)?;
        update_provider(&mut tx, existing.id, &spec).await?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(spec)
    }

    pub async fn delete_provider(&self, name: &str) -> Result<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let id = provider_id(&mut tx, name)
            .await?
            .ok_or_else(|| provider_not_found(name))?;
        let routes: Vec<String> = sqlx::query_scalar(
            "SELECT r.name FROM routes r JOIN route_providers rp ON rp.route_id = r.id
             WHERE rp.provider_id = ? ORDER BY r.name",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        if !routes.is_empty() {
            return Err(StoreError::Conflict {
                message: format!(
                    "provider '{name}' is used by routes: {}; change or delete them first",
                    routes.join(", ")
                ),
                routes,
            });
        }
        sqlx::query("DELETE FROM providers WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_routes(&self) -> Result<Vec<RouteSpec>> {
        let mut conn = self.pool.acquire().await?;
        let routes = load_routes(&mut conn, None).await?;
        Ok(routes.into_iter().map(|r| r.spec).collect())
    }

    pub async fn get_route(&self, name: &str) -> Result<RouteSpec> {
        let mut conn = self.pool.acquire().await?;
        load_routes(&mut conn, Some(name))
            .await?
            .pop()
            .map(|r| r.spec)
            .ok_or_else(|| route_not_found(name))
    }

    pub async fn create_route(&self, spec: RouteSpec) -> Result<RouteSpec> {
        validate_route(&spec)?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if route_id(&mut tx, &spec.name).await?.is_some() {
            return Err(StoreError::Conflict {
                message: format!("a route named '{}' already exists", spec.name),
                routes: Vec::new(),
            });
        }
        let providers = provider_ids(&mut tx).await?;
        validate_route_references(&spec, |name| providers.contains_key(name))?;
        insert_route(&mut tx, &spec, &providers).await?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(spec)
    }

    pub async fn replace_route(&self, name: &str, spec: RouteSpec) -> Result<RouteSpec> {
        if spec.name != name {
            return Err(ValidationErrors::single(
                "name",
                format!("must equal the name in the URL ('{name}'); routes cannot be renamed"),
            )
            .into());
        }
        validate_route(&spec)?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let id = route_id(&mut tx, name)
            .await?
            .ok_or_else(|| route_not_found(name))?;
        let providers = provider_ids(&mut tx).await?;
        validate_route_references(&spec, |name| providers.contains_key(name))?;
        update_route(&mut tx, id, &spec, &providers).await?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(spec)
    }

    pub async fn delete_route(&self, name: &str) -> Result<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let deleted = sqlx::query("DELETE FROM routes WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(route_not_found(name));
        }
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// What `apply` would change, validating the document the same way, without writing.
    pub async fn diff(&self, mut doc: ConfigDocument, prune: bool) -> Result<ConfigDiff> {
        let loaded = self.load().await?;
        let stored: HashMap<&str, &ProviderSpec> = loaded
            .providers
            .iter()
            .map(|p| (p.spec.name.as_str(), &p.spec))
            .collect();
        for spec in &mut doc.providers {
            resolve_keys(spec, stored.get(spec.name.as_str()).copied());
        }
        let known: BTreeSet<String> = if prune {
            BTreeSet::new()
        } else {
            stored.keys().map(|name| (*name).to_owned()).collect()
        };
        validate_document(&doc, &known)?;
        normalise_consumers(&mut doc.consumers)?;
        let consumers: HashMap<&str, ConsumerSpec> = loaded
            .consumers
            .iter()
            .map(|c| (c.spec.name.as_str(), c.exported()))
            .collect();
        let consumers: HashMap<&str, &ConsumerSpec> =
            consumers.iter().map(|(name, spec)| (*name, spec)).collect();
        let routes: HashMap<&str, &RouteSpec> = loaded
            .routes
            .iter()
            .map(|r| (r.spec.name.as_str(), &r.spec))
            .collect();
        Ok(ConfigDiff {
            valid: true,
            providers: section_diff(
                &stored,
                doc.providers.iter().map(|p| (p.name.as_str(), p)),
                prune,
            ),
            routes: section_diff(
                &routes,
                doc.routes.iter().map(|r| (r.name.as_str(), r)),
                prune,
            ),
            consumers: section_diff(
                &consumers,
                doc.consumers.iter().map(|c| (c.name.as_str(), c)),
                prune,
            ),
            settings_changed: doc
                .settings
                .as_ref()
                .is_some_and(|settings| *settings != loaded.settings),
        })
    }

    /// Upserts every provider and route of `doc` in one transaction, validating the whole document
    /// first. With `prune`, whatever the document does not name is deleted.
    pub async fn apply(&self, mut doc: ConfigDocument, prune: bool) -> Result<ApplySummary> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut stored: HashMap<String, StoredProvider> = load_providers(&mut tx, None)
            .await?
            .into_iter()
            .map(|p| (p.spec.name.clone(), p))
            .collect();
        for spec in &mut doc.providers {
            resolve_keys(spec, stored.get(&spec.name).map(|p| &p.spec));
        }
        let known: BTreeSet<String> = if prune {
            BTreeSet::new()
        } else {
            stored.keys().cloned().collect()
        };
        validate_document(&doc, &known)?;
        normalise_consumers(&mut doc.consumers)?;

        let mut summary = ApplySummary::default();
        for spec in &doc.providers {
            match stored.remove(&spec.name) {
                // Unchanged items are not rewritten, so the summary agrees with `diff`.
                Some(existing) if existing.spec == *spec => summary.providers_unchanged += 1,
                Some(existing) => {
                    update_provider(&mut tx, existing.id, spec).await?;
                    summary.providers_updated += 1;
                }
                None => {
                    insert_provider(&mut tx, spec).await?;
                    summary.providers_created += 1;
                }
            }
        }
        let providers = provider_ids(&mut tx).await?;
        let mut stored_routes: HashMap<String, (i64, RouteSpec)> = load_routes(&mut tx, None)
            .await?
            .into_iter()
            .map(|r| (r.spec.name.clone(), (r.id, r.spec)))
            .collect();
        for spec in &doc.routes {
            match stored_routes.remove(&spec.name) {
                Some((_, existing)) if existing == *spec => summary.routes_unchanged += 1,
                Some((id, _)) => {
                    update_route(&mut tx, id, spec, &providers).await?;
                    summary.routes_updated += 1;
                }
                None => {
                    insert_route(&mut tx, spec, &providers).await?;
                    summary.routes_created += 1;
                }
            }
        }
        if prune {
            for (id, _) in stored_routes.values() {
                sqlx::query("DELETE FROM routes WHERE id = ?")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                summary.routes_deleted += 1;
            }
            for provider in stored.values() {
                sqlx::query("DELETE FROM providers WHERE id = ?")
                    .bind(provider.id)
                    .execute(&mut *tx)
                    .await?;
                summary.providers_deleted += 1;
            }
        }
        [
            summary.consumers_created,
            summary.consumers_updated,
            summary.consumers_unchanged,
            summary.consumers_deleted,
        ] = consumers::apply_consumers(&mut tx, &doc.consumers, prune).await?;
        if let Some(settings) = &doc.settings {
            let stored = consumers::parse_settings(&consumers::fetch_settings(&mut tx).await?)?;
            if stored != *settings {
                consumers::write_settings(&mut tx, settings).await?;
                summary.settings_changed = true;
            }
        }
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(summary)
    }
}

/// Normalises every consumer of a document (see `normalise_document_consumer`), reporting
/// errors with their paths in the document.
fn normalise_consumers(consumers: &mut [ConsumerSpec]) -> Result<()> {
    let mut errors = ValidationErrors::default();
    for (i, consumer) in consumers.iter_mut().enumerate() {
        if let Err(e) = consumers::normalise_document_consumer(consumer) {
            for error in e.0 {
                errors.add(format!("consumers[{i}].{}", error.field), error.message);
            }
        }
    }
    let mut seen = HashMap::new();
    for (i, consumer) in consumers.iter().enumerate() {
        for (k, key) in consumer.keys.iter().enumerate() {
            if let Some(digest) = &key.key_sha256
                && seen.insert(digest.clone(), i).is_some()
            {
                errors.add(
                    format!("consumers[{i}].keys[{k}]"),
                    "the same key is listed twice in this document",
                );
            }
        }
    }
    Ok(errors.into_result()?)
}

/// Sorts the names of one section into create, update, delete (with prune) and unchanged.
fn section_diff<'a, T: PartialEq + 'a>(
    stored: &HashMap<&str, &T>,
    incoming: impl Iterator<Item = (&'a str, &'a T)>,
    prune: bool,
) -> SectionDiff {
    let mut diff = SectionDiff::default();
    let mut named = BTreeSet::new();
    for (name, item) in incoming {
        named.insert(name);
        match stored.get(name) {
            None => diff.create.push(name.to_owned()),
            Some(existing) if **existing == *item => diff.unchanged.push(name.to_owned()),
            Some(_) => diff.update.push(name.to_owned()),
        }
    }
    if prune {
        diff.delete = stored
            .keys()
            .filter(|name| !named.contains(*name))
            .map(|name| (*name).to_owned())
            .collect();
        diff.delete.sort();
    }
    diff
}

fn provider_not_found(name: &str) -> StoreError {
    StoreError::NotFound(format!("no provider named '{name}'"))
}

fn route_not_found(name: &str) -> StoreError {
    StoreError::NotFound(format!("no route named '{name}'"))
}

/// Fills in the keys a write leaves implicit: none given keeps the stored ones (or none for a new
/// provider), and a masked key that matches a stored key's mask stands for that key. A masked key
/// that matches nothing is left as it is, for validation to reject.
fn resolve_keys(spec: &mut ProviderSpec, existing: Option<&ProviderSpec>) {
    let stored = existing.and_then(|e| e.api_keys.as_deref()).unwrap_or(&[]);
    let Some(keys) = &mut spec.api_keys else {
        spec.api_keys = Some(stored.to_vec());
        return;
    };
    let mut unused: Vec<&String> = stored.iter().collect();
    for key in keys.iter_mut() {
        if !is_masked(key) {
            continue;
        }
        if let Some(pos) = unused.iter().position(|s| mask_secret(s) == *key) {
            *key = unused.swap_remove(pos).clone();
        }
    }
}

pub(super) async fn bump_revision(conn: &mut SqliteConnection) -> Result<()> {
    sqlx::query("UPDATE meta SET revision = revision + 1 WHERE id = 1")
        .execute(conn)
        .await?;
    Ok(())
}

async fn provider_id(conn: &mut SqliteConnection, name: &str) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM providers WHERE name = ?")
            .bind(name)
            .fetch_optional(conn)
            .await?,
    )
}

async fn route_id(conn: &mut SqliteConnection, name: &str) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar("SELECT id FROM routes WHERE name = ?")
        .bind(name)
        .fetch_optional(conn)
        .await?)
}

async fn provider_ids(conn: &mut SqliteConnection) -> Result<HashMap<String, i64>> {
    let rows = sqlx::query("SELECT name, id FROM providers")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("name")?, row.try_get("id")?)))
        .collect()
}

/// The provider's spec as stored: without its keys, which live in their own table.
fn provider_spec_json(spec: &ProviderSpec) -> String {
    let keyless = ProviderSpec {
        api_keys: None,
        ..spec.clone()
    };
    serde_json::to_string(&keyless).unwrap_or_else(|_| unreachable_json())
}

fn route_spec_json(spec: &RouteSpec) -> String {
    serde_json::to_string(spec).unwrap_or_else(|_| unreachable_json())
}

/// Serialising these plain structs cannot fail (string keys, no custom serializers that error);
/// should that ever change, storing an invalid document makes the next reload report it loudly.
fn unreachable_json() -> String {
    "{}".to_owned()
}

async fn insert_provider(conn: &mut SqliteConnection, spec: &ProviderSpec) -> Result<()> {
    let now = now_ms();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO providers (name, spec, created_at, updated_at) VALUES (?, ?, ?, ?) RETURNING id",
    )
    .bind(&spec.name)
    .bind(provider_spec_json(spec))
    .bind(now)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    sync_keys(conn, id, spec.api_keys.as_deref().unwrap_or(&[])).await
}

async fn update_provider(conn: &mut SqliteConnection, id: i64, spec: &ProviderSpec) -> Result<()> {
    sqlx::query("UPDATE providers SET spec = ?, updated_at = ? WHERE id = ?")
        .bind(provider_spec_json(spec))
        .bind(now_ms())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sync_keys(conn, id, spec.api_keys.as_deref().unwrap_or(&[])).await
}

/// Makes the stored keys equal `keys`, keeping the row (and so the id) of every key that stays.
async fn sync_keys(conn: &mut SqliteConnection, provider_id: i64, keys: &[String]) -> Result<()> {
    let rows = sqlx::query("SELECT id, secret FROM provider_keys WHERE provider_id = ?")
        .bind(provider_id)
        .fetch_all(&mut *conn)
        .await?;
    let mut existing: HashMap<String, i64> = HashMap::new();
    for row in &rows {
        existing.insert(row.try_get("secret")?, row.try_get("id")?);
    }
    for (position, secret) in keys.iter().enumerate() {
        let position = i64::try_from(position).unwrap_or(i64::MAX);
        match existing.remove(secret) {
            Some(id) => {
                sqlx::query("UPDATE provider_keys SET position = ? WHERE id = ?")
                    .bind(position)
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
            }
            None => {
                sqlx::query(
                    "INSERT INTO provider_keys (provider_id, position, secret) VALUES (?, ?, ?)",
                )
                .bind(provider_id)
                .bind(position)
                .bind(secret)
                .execute(&mut *conn)
                .await?;
            }
        }
    }
    for id in existing.values() {
        sqlx::query("DELETE FROM provider_keys WHERE id = ?")
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn insert_route(
    conn: &mut SqliteConnection,
    spec: &RouteSpec,
    providers: &HashMap<String, i64>,
) -> Result<()> {
    let now = now_ms();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO routes (name, spec, created_at, updated_at) VALUES (?, ?, ?, ?) RETURNING id",
    )
    .bind(&spec.name)
    .bind(route_spec_json(spec))
    .bind(now)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    link_route(conn, id, spec, providers).await
}

async fn update_route(
    conn: &mut SqliteConnection,
    id: i64,
    spec: &RouteSpec,
    providers: &HashMap<String, i64>,
) -> Result<()> {
    sqlx::query("UPDATE routes SET spec = ?, updated_at = ? WHERE id = ?")
        .bind(route_spec_json(spec))
        .bind(now_ms())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM route_providers WHERE route_id = ?")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    link_route(conn, id, spec, providers).await
}

/// Records which providers a route uses; the references were validated by the caller.
async fn link_route(
    conn: &mut SqliteConnection,
    route_id: i64,
    spec: &RouteSpec,
    providers: &HashMap<String, i64>,
) -> Result<()> {
    for name in referenced_providers(spec) {
        let Some(provider_id) = providers.get(name) else {
            continue;
        };
        sqlx::query("INSERT INTO route_providers (route_id, provider_id) VALUES (?, ?)")
            .bind(route_id)
            .bind(provider_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
