//! Writing the configuration: providers and routes one at a time, and whole documents (apply and
//! its preview, diff) with their consumers and guardrail policies. Every write validates first,
//! then runs in one `BEGIN IMMEDIATE` transaction that bumps the revision.
//!
//! Secrets (API keys and header values) are write-only: a masked value sent back stands for the
//! stored one, except when the provider's base URL moves to another host, where every secret must
//! be sent again in full so that no stored key ever follows an edit to a host it was not meant for.

use std::collections::{BTreeSet, HashMap};

use sqlx::{AnyConnection, Row};
use switchyard_shared::admin::{ConfigDiff, SectionDiff};
use switchyard_shared::secret::{is_mask_of, is_masked};
use switchyard_shared::validate::{
    base_url_origin, referenced_providers, validate_document, validate_guardrail_references,
    validate_provider, validate_route, validate_route_references,
};
use switchyard_shared::{
    ConfigDocument, ConsumerSpec, GuardrailSpec, ProviderSpec, RouteSpec, ValidationErrors,
};

use super::audit::{Audit, Item, Origin};
use super::consumers;
use super::guardrails;
use super::{
    ApplySummary, Result, Store, StoreError, StoredProvider, load_providers, load_routes, now_ms,
};
use crate::secrets::{Sealer, SecretsError, is_sealed};

/// What `seal_secrets` or `unseal_secrets` rewrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ResealSummary {
    pub keys: usize,
    pub headers: usize,
}

impl Store {
    pub async fn list_providers(&self) -> Result<Vec<ProviderSpec>> {
        let mut conn = self.db.pool().acquire().await?;
        let providers = load_providers(&mut conn, None, &self.sealer).await?;
        Ok(providers.into_iter().map(|p| p.spec).collect())
    }

    pub async fn get_provider(&self, name: &str) -> Result<ProviderSpec> {
        let mut conn = self.db.pool().acquire().await?;
        load_providers(&mut conn, Some(name), &self.sealer)
            .await?
            .pop()
            .map(|p| p.spec)
            .ok_or_else(|| provider_not_found(name))
    }

    /// Creates a provider; `api_keys: None` means no keys.
    pub async fn create_provider(
        &self,
        origin: &Origin,
        mut spec: ProviderSpec,
    ) -> Result<ProviderSpec> {
        spec.normalize_base_url();
        let resolved = resolve_secrets(&mut spec, None);
        with_validation(resolved, validate_provider(&spec))?;
        compiles(&spec, "")?;
        let mut tx = self.db.begin_write().await?;
        if provider_id(&mut tx, &spec.name).await?.is_some() {
            return Err(StoreError::Conflict {
                message: format!("a provider named '{}' already exists", spec.name),
                routes: Vec::new(),
            });
        }
        let audit =
            Audit::begin(&mut tx, &self.sealer, origin, &[Item::Provider(&spec.name)]).await?;
        insert_provider(&mut tx, &self.sealer, &spec).await?;
        let summary = format!("provider '{}' created", spec.name);
        audit
            .commit(&mut tx, &self.sealer, "create", &summary)
            .await?;
        tx.commit().await?;
        Ok(spec)
    }

    /// Replaces a provider. Keys left out are kept; masked keys and header values that match
    /// stored ones keep them, unless the base URL moves to another host (see [`resolve_secrets`]).
    pub async fn replace_provider(
        &self,
        origin: &Origin,
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
        spec.normalize_base_url();
        let mut tx = self.db.begin_write().await?;
        let existing = load_providers(&mut tx, Some(name), &self.sealer)
            .await?
            .pop()
            .ok_or_else(|| provider_not_found(name))?;
        let resolved = resolve_secrets(&mut spec, Some(&existing.spec));
        let moved = with_validation(resolved, validate_provider(&spec))?;
        compiles(&spec, "")?;
        let audit = Audit::begin(&mut tx, &self.sealer, origin, &[Item::Provider(name)]).await?;
        update_provider(&mut tx, &self.sealer, existing.id, &spec).await?;
        let summary = format!("provider '{name}' replaced");
        audit
            .commit(&mut tx, &self.sealer, "replace", &summary)
            .await?;
        tx.commit().await?;
        log_moves(moved.iter());
        Ok(spec)
    }

    pub async fn delete_provider(&self, origin: &Origin, name: &str) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let id = provider_id(&mut tx, name)
            .await?
            .ok_or_else(|| provider_not_found(name))?;
        let routes: Vec<String> = sqlx::query_scalar(
            "SELECT r.name FROM routes r JOIN route_providers rp ON rp.route_id = r.id
             WHERE rp.provider_id = $1 ORDER BY r.name",
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
        let audit = Audit::begin(&mut tx, &self.sealer, origin, &[Item::Provider(name)]).await?;
        sqlx::query("DELETE FROM providers WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let summary = format!("provider '{name}' deleted");
        audit
            .commit(&mut tx, &self.sealer, "delete", &summary)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_routes(&self) -> Result<Vec<RouteSpec>> {
        let mut conn = self.db.pool().acquire().await?;
        let routes = load_routes(&mut conn, None).await?;
        Ok(routes.into_iter().map(|r| r.spec).collect())
    }

    pub async fn get_route(&self, name: &str) -> Result<RouteSpec> {
        let mut conn = self.db.pool().acquire().await?;
        load_routes(&mut conn, Some(name))
            .await?
            .pop()
            .map(|r| r.spec)
            .ok_or_else(|| route_not_found(name))
    }

    pub async fn create_route(&self, origin: &Origin, spec: RouteSpec) -> Result<RouteSpec> {
        validate_route(&spec)?;
        let mut tx = self.db.begin_write().await?;
        if route_id(&mut tx, &spec.name).await?.is_some() {
            return Err(StoreError::Conflict {
                message: format!("a route named '{}' already exists", spec.name),
                routes: Vec::new(),
            });
        }
        let providers = provider_ids(&mut tx).await?;
        check_route_references(&mut tx, &spec, &providers).await?;
        let audit = Audit::begin(&mut tx, &self.sealer, origin, &[Item::Route(&spec.name)]).await?;
        insert_route(&mut tx, &spec, &providers).await?;
        let summary = format!("route '{}' created", spec.name);
        audit
            .commit(&mut tx, &self.sealer, "create", &summary)
            .await?;
        tx.commit().await?;
        Ok(spec)
    }

    pub async fn replace_route(
        &self,
        origin: &Origin,
        name: &str,
        spec: RouteSpec,
    ) -> Result<RouteSpec> {
        if spec.name != name {
            return Err(ValidationErrors::single(
                "name",
                format!("must equal the name in the URL ('{name}'); routes cannot be renamed"),
            )
            .into());
        }
        validate_route(&spec)?;
        let mut tx = self.db.begin_write().await?;
        let id = route_id(&mut tx, name)
            .await?
            .ok_or_else(|| route_not_found(name))?;
        let providers = provider_ids(&mut tx).await?;
        check_route_references(&mut tx, &spec, &providers).await?;
        let audit = Audit::begin(&mut tx, &self.sealer, origin, &[Item::Route(name)]).await?;
        update_route(&mut tx, id, &spec, &providers).await?;
        let summary = format!("route '{name}' replaced");
        audit
            .commit(&mut tx, &self.sealer, "replace", &summary)
            .await?;
        tx.commit().await?;
        Ok(spec)
    }

    pub async fn delete_route(&self, origin: &Origin, name: &str) -> Result<()> {
        self.delete_named(origin, Named::Route, name).await
    }

    /// Deletes the route or consumer called `name` (what depends on it goes by `CASCADE`) in one
    /// transaction that bumps the revision.
    pub(super) async fn delete_named(
        &self,
        origin: &Origin,
        what: Named,
        name: &str,
    ) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let item = match what {
            Named::Route => Item::Route(name),
            Named::Consumer => Item::Consumer(name),
        };
        let audit = Audit::begin(&mut tx, &self.sealer, origin, &[item]).await?;
        let sql = match what {
            Named::Route => "DELETE FROM routes WHERE name = $1",
            Named::Consumer => "DELETE FROM consumers WHERE name = $1",
        };
        let deleted = sqlx::query(sql)
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(match what {
                Named::Route => route_not_found(name),
                Named::Consumer => StoreError::NotFound(format!("no consumer named '{name}'")),
            });
        }
        let kind = match what {
            Named::Route => "route",
            Named::Consumer => "consumer",
        };
        let summary = format!("{kind} '{name}' deleted");
        audit
            .commit(&mut tx, &self.sealer, "delete", &summary)
            .await?;
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
        for provider in &mut doc.providers {
            provider.normalize_base_url();
        }
        let resolved = resolve_document_secrets(&mut doc, |name| stored.get(name).copied());
        let guardrails: HashMap<&str, &GuardrailSpec> = loaded
            .guardrails
            .iter()
            .map(|g| (g.spec.name.as_str(), &g.spec))
            .collect();
        let (known, known_guardrails): (BTreeSet<String>, BTreeSet<String>) = if prune {
            Default::default()
        } else {
            (
                stored.keys().map(|name| (*name).to_owned()).collect(),
                guardrails.keys().map(|name| (*name).to_owned()).collect(),
            )
        };
        with_validation(resolved, validate_document(&doc, &known, &known_guardrails))?;
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
            guardrails: section_diff(
                &guardrails,
                doc.guardrails.iter().map(|g| (g.name.as_str(), g)),
                prune,
            ),
            settings_changed: doc
                .settings
                .as_ref()
                .is_some_and(|settings| *settings != loaded.settings),
        })
    }

    /// Upserts every item of `doc` in one transaction, validating the whole document first.
    /// Guardrail policies are written before the routes and consumers that name them. With
    /// `prune`, whatever the document does not name is deleted (policies last, once nothing left
    /// names them).
    pub async fn apply(
        &self,
        origin: &Origin,
        doc: ConfigDocument,
        prune: bool,
    ) -> Result<ApplySummary> {
        self.apply_as(origin, doc, prune, None).await
    }

    /// `apply`, recorded as a rollback to `rolled_back_to` when it is one.
    pub(super) async fn apply_as(
        &self,
        origin: &Origin,
        doc: ConfigDocument,
        prune: bool,
        rolled_back_to: Option<i64>,
    ) -> Result<ApplySummary> {
        let mut tx = self.db.begin_write().await?;
        let (summary, moved) = self
            .apply_in(&mut tx, origin, doc, prune, rolled_back_to)
            .await?;
        tx.commit().await?;
        log_moves(moved.iter());
        Ok(summary)
    }

    /// The body of `apply_as` inside a transaction the caller opened (`BEGIN IMMEDIATE`) and
    /// commits, so a rollback can check the revision and read the history it restores in the same
    /// transaction as the write. Returns the host moves to log once the transaction commits.
    pub(super) async fn apply_in(
        &self,
        tx: &mut AnyConnection,
        origin: &Origin,
        mut doc: ConfigDocument,
        prune: bool,
        rolled_back_to: Option<i64>,
    ) -> Result<(ApplySummary, Vec<HostMove>)> {
        let mut stored: HashMap<String, StoredProvider> =
            load_providers(&mut *tx, None, &self.sealer)
                .await?
                .into_iter()
                .map(|p| (p.spec.name.clone(), p))
                .collect();
        for provider in &mut doc.providers {
            provider.normalize_base_url();
        }
        let resolved = resolve_document_secrets(&mut doc, |name| stored.get(name).map(|p| &p.spec));
        let (known, known_guardrails) = if prune {
            Default::default()
        } else {
            (
                stored.keys().cloned().collect(),
                guardrails::guardrail_names(&mut *tx).await?,
            )
        };
        let moved = with_validation(resolved, validate_document(&doc, &known, &known_guardrails))?;
        for (i, provider) in doc.providers.iter().enumerate() {
            compiles(provider, &format!("providers[{i}]."))?;
        }
        normalise_consumers(&mut doc.consumers)?;

        let mut audit = Audit::begin_all(&mut *tx, &self.sealer, origin).await?;
        if let Some(revision) = rolled_back_to {
            audit = audit.rolling_back_to(revision);
        }
        let mut summary = ApplySummary::default();
        [
            summary.guardrails_created,
            summary.guardrails_updated,
            summary.guardrails_unchanged,
        ] = guardrails::upsert_guardrails(&mut *tx, &doc.guardrails).await?;
        for spec in &doc.providers {
            match stored.remove(&spec.name) {
                // Unchanged items are not rewritten, so the summary agrees with `diff`.
                Some(existing) if existing.spec == *spec => summary.providers_unchanged += 1,
                Some(existing) => {
                    update_provider(&mut *tx, &self.sealer, existing.id, spec).await?;
                    summary.providers_updated += 1;
                }
                None => {
                    insert_provider(&mut *tx, &self.sealer, spec).await?;
                    summary.providers_created += 1;
                }
            }
        }
        let providers = provider_ids(&mut *tx).await?;
        let mut stored_routes: HashMap<String, (i64, RouteSpec)> = load_routes(&mut *tx, None)
            .await?
            .into_iter()
            .map(|r| (r.spec.name.clone(), (r.id, r.spec)))
            .collect();
        for spec in &doc.routes {
            match stored_routes.remove(&spec.name) {
                Some((_, existing)) if existing == *spec => summary.routes_unchanged += 1,
                Some((id, _)) => {
                    update_route(&mut *tx, id, spec, &providers).await?;
                    summary.routes_updated += 1;
                }
                None => {
                    insert_route(&mut *tx, spec, &providers).await?;
                    summary.routes_created += 1;
                }
            }
        }
        if prune {
            for (id, _) in stored_routes.values() {
                sqlx::query("DELETE FROM routes WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                summary.routes_deleted += 1;
            }
            for provider in stored.values() {
                sqlx::query("DELETE FROM providers WHERE id = $1")
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
        ] = consumers::apply_consumers(&mut *tx, &doc.consumers, prune).await?;
        if prune {
            summary.guardrails_deleted =
                guardrails::prune_guardrails(&mut *tx, &doc.guardrails).await?;
        }
        if let Some(settings) = &doc.settings {
            let stored = consumers::parse_settings(&consumers::fetch_settings(&mut *tx).await?)?;
            if stored != *settings {
                consumers::write_settings(&mut *tx, settings).await?;
                summary.settings_changed = true;
            }
        }
        let (action, line) = match rolled_back_to {
            Some(revision) => (
                "rollback",
                format!("rolled back to revision {revision}: {summary}"),
            ),
            None => ("apply", format!("document applied: {summary}")),
        };
        audit.commit(&mut *tx, &self.sealer, action, &line).await?;
        Ok((summary, moved))
    }

    /// Seals every plaintext provider key and header value with the master key, in one
    /// transaction; then compacts the database and truncates its write-ahead log, so the old
    /// plaintext does not linger in free pages or old log frames.
    pub async fn seal_secrets(&self, origin: &Origin) -> Result<ResealSummary> {
        if !self.sealer.is_active() {
            return Err(SecretsError::KeyNeeded.into());
        }
        self.reseal(origin, true).await
    }

    /// Turns every sealed provider key and header value back into plaintext and forgets the
    /// database's key, in one transaction.
    pub async fn unseal_secrets(&self, origin: &Origin) -> Result<ResealSummary> {
        if !self.sealer.is_active() {
            return Err(SecretsError::KeyNeeded.into());
        }
        self.reseal(origin, false).await
    }

    async fn reseal(&self, origin: &Origin, seal: bool) -> Result<ResealSummary> {
        let plain = Sealer::default();
        let target = if seal { &self.sealer } else { &plain };
        let mut summary = ResealSummary::default();
        let mut tx = self.db.begin_write().await?;
        let rows = sqlx::query("SELECT id, secret FROM provider_keys")
            .fetch_all(&mut *tx)
            .await?;
        for row in &rows {
            let secret: String = row.try_get("secret")?;
            if is_sealed(&secret) == seal {
                continue;
            }
            let plaintext = self.sealer.unseal(&secret)?;
            sqlx::query("UPDATE provider_keys SET secret = $1 WHERE id = $2")
                .bind(target.seal(&plaintext)?)
                .bind(row.try_get::<i64, _>("id")?)
                .execute(&mut *tx)
                .await?;
            summary.keys += 1;
        }
        let rows = sqlx::query("SELECT id, name, spec FROM providers")
            .fetch_all(&mut *tx)
            .await?;
        for row in &rows {
            let name: String = row.try_get("name")?;
            let text: String = row.try_get("spec")?;
            let mut spec: serde_json::Value =
                serde_json::from_str(&text).map_err(|source| StoreError::Corrupt {
                    what: "provider",
                    name,
                    source,
                })?;
            let Some(headers) = spec
                .get_mut("headers")
                .and_then(serde_json::Value::as_object_mut)
            else {
                continue;
            };
            let mut changed = false;
            for value in headers.values_mut() {
                let Some(stored) = value.as_str().filter(|v| is_sealed(v) != seal) else {
                    continue;
                };
                *value = target.seal(&self.sealer.unseal(stored)?)?.into();
                changed = true;
                summary.headers += 1;
            }
            if changed {
                sqlx::query("UPDATE providers SET spec = $1 WHERE id = $2")
                    .bind(spec.to_string())
                    .bind(row.try_get::<i64, _>("id")?)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        // The guardrail hash key is a secret too, though not configuration: it is resealed with
        // the rest but not counted, and does not need a reload.
        guardrails::reseal_hash_key(&mut tx, &self.sealer, target, seal).await?;
        let check = if seal { self.sealer.key_check()? } else { None };
        sqlx::query("UPDATE meta SET key_check = $1 WHERE id = 1")
            .bind(check)
            .execute(&mut *tx)
            .await?;
        if summary != ResealSummary::default() {
            // The masked views do not change, so the entry has no documents: it says what
            // happened and who did it.
            let audit = Audit::begin(&mut tx, &self.sealer, origin, &[]).await?;
            let (action, verb) = if seal {
                ("seal", "sealed")
            } else {
                ("unseal", "unsealed")
            };
            let line = format!(
                "{} provider keys and {} header values {verb}",
                summary.keys, summary.headers
            );
            audit.commit(&mut tx, &self.sealer, action, &line).await?;
        }
        tx.commit().await?;
        if !self.db.scrub_old_copies().await {
            match self.db.engine() {
                super::Engine::Sqlite => tracing::warn!(
                    "the database is in use, so its write-ahead log could not be emptied: old copies of the secrets may remain in it until the gateway checkpoints; stop the gateway and run this again to be sure"
                ),
                // PostgreSQL keeps the old row versions until its own vacuum, and in its WAL
                // and backups; the gateway cannot scrub those, so it says so.
                super::Engine::Postgres => tracing::warn!(
                    "PostgreSQL keeps old row versions (with the previous form of the secrets) until it vacuums the tables, and in its write-ahead log and backups; run VACUUM FULL provider_keys, providers, meta to remove them from the tables"
                ),
            }
        }
        Ok(summary)
    }
}

/// How many provider keys and header values are stored in plaintext.
pub(super) async fn count_plaintext_secrets(conn: &mut AnyConnection) -> Result<usize> {
    let keys: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM provider_keys WHERE secret NOT LIKE 'sealed:v1:%'",
    )
    .fetch_one(&mut *conn)
    .await?;
    let specs: Vec<String> = sqlx::query_scalar("SELECT spec FROM providers")
        .fetch_all(&mut *conn)
        .await?;
    let headers = specs
        .iter()
        .filter_map(|text| serde_json::from_str::<ProviderSpec>(text).ok())
        .map(|spec| spec.headers.values().filter(|v| !is_sealed(v)).count())
        .sum::<usize>();
    Ok(usize::try_from(keys).unwrap_or(0) + headers)
}

/// A provider whose base URL moved to another host in a write.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct HostMove {
    provider: String,
    from: String,
    to: String,
}

/// Logs each provider that moved host (names and hosts only, never a secret).
pub(super) fn log_moves<'a>(moves: impl Iterator<Item = &'a HostMove>) {
    for moved in moves {
        tracing::warn!(
            provider = %moved.provider,
            old_host = %moved.from,
            new_host = %moved.to,
            "provider base URL moved to another host; its keys and header values were replaced by the ones this write sent"
        );
    }
}

/// The secrets' resolution errors and the validation's, reported together (a field the
/// resolution explained, such as `api_keys`, is not reported again for its items); the host
/// moves when both passed.
/// Refuses a provider the reload could not compile: its keys are parsed in their type's form (a
/// service account's key file, AWS credentials) and its URIs built exactly as the snapshot will,
/// so a write that answers success can never leave a configuration that no longer loads.
fn compiles(spec: &ProviderSpec, prefix: &str) -> std::result::Result<(), ValidationErrors> {
    let registry = crate::health::HealthRegistry::default();
    let Err(message) = crate::providers::Provider::build(0, spec, &[], &registry) else {
        return Ok(());
    };
    // The build names a key as `api_keys[i]: …`; anything else is about the provider as a whole.
    let (field, message) = match message.split_once(": ") {
        Some((field, rest)) if field.starts_with("api_keys[") => {
            (field.to_owned(), rest.to_owned())
        }
        _ => ("name".to_owned(), message),
    };
    let mut errors = ValidationErrors::default();
    errors.add(format!("{prefix}{field}"), message);
    Err(errors)
}

fn with_validation<T>(
    resolved: std::result::Result<T, ValidationErrors>,
    validated: std::result::Result<(), ValidationErrors>,
) -> std::result::Result<T, ValidationErrors> {
    match (resolved, validated) {
        (Ok(value), Ok(())) => Ok(value),
        (Ok(_), Err(errors)) => Err(errors),
        (Err(errors), Ok(())) => Err(errors),
        (Err(mut errors), Err(more)) => {
            let explained = |field: &str| {
                errors.0.iter().any(|e| {
                    field.strip_prefix(e.field.as_str()).is_some_and(|rest| {
                        rest.is_empty() || rest.starts_with('[') || rest.starts_with('.')
                    })
                })
            };
            let more: Vec<_> = more
                .0
                .into_iter()
                .filter(|e| !explained(&e.field))
                .collect();
            errors.0.extend(more);
            Err(errors)
        }
    }
}

/// [`resolve_secrets`] for every provider of a document, with the error paths under
/// `providers[i]`.
fn resolve_document_secrets<'a>(
    doc: &mut ConfigDocument,
    stored: impl Fn(&str) -> Option<&'a ProviderSpec>,
) -> std::result::Result<Vec<HostMove>, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let mut moves = Vec::new();
    for (i, spec) in doc.providers.iter_mut().enumerate() {
        let existing = stored(&spec.name);
        match resolve_secrets(spec, existing) {
            Ok(moved) => moves.extend(moved),
            Err(e) => {
                for error in e.0 {
                    errors.add(format!("providers[{i}].{}", error.field), error.message);
                }
            }
        }
    }
    errors.into_result()?;
    Ok(moves)
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

/// The kinds of item [`Store::delete_named`] deletes.
#[derive(Clone, Copy)]
pub(super) enum Named {
    Route,
    Consumer,
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

/// Fills in the secrets a write leaves implicit. No `api_keys` keeps the stored keys (none for a
/// new provider); a masked key that matches a stored key's mask stands for that key, and a masked
/// header value for the stored value of the same header. A masked key that matches nothing is
/// left for validation to reject; a masked header value that matches nothing is rejected here.
///
/// When the effective base URL's origin (scheme, host, port) changes, nothing stored is carried
/// over: keys left out or masked, and masked header values, are refused (`api_keys`,
/// `headers.<name>`), because a stored secret must never be sent to a host chosen after it was
/// stored. The move is returned, to be logged once the write commits.
fn resolve_secrets(
    spec: &mut ProviderSpec,
    existing: Option<&ProviderSpec>,
) -> std::result::Result<Option<HostMove>, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let stored_keys = existing.and_then(|e| e.api_keys.as_deref()).unwrap_or(&[]);
    let moved = existing.and_then(|existing| {
        let from = base_url_origin(existing.effective_base_url()?)?;
        let to = base_url_origin(spec.effective_base_url()?)?;
        (from != to).then(|| HostMove {
            provider: spec.name.clone(),
            from,
            to,
        })
    });
    if let Some(moved) = moved {
        let why = format!(
            "the base URL moves from {} to {}: send this provider's API keys again in full (stored keys are never sent to a new host)",
            moved.from, moved.to
        );
        let resent = match &spec.api_keys {
            None => stored_keys.is_empty(),
            Some(keys) => !keys.iter().any(|key| is_masked(key)),
        };
        if !resent {
            errors.add("api_keys", why);
        }
        for (name, value) in &spec.headers {
            if is_masked(value) {
                errors.add(
                    format!("headers.{name}"),
                    format!(
                        "the base URL moves from {} to {}: send this header's value again in full (stored values are never sent to a new host)",
                        moved.from, moved.to
                    ),
                );
            }
        }
        errors.into_result()?;
        spec.api_keys.get_or_insert_with(Vec::new);
        return Ok(Some(moved));
    }

    match &mut spec.api_keys {
        None => spec.api_keys = Some(stored_keys.to_vec()),
        Some(keys) => {
            let mut unused: Vec<&String> = stored_keys.iter().collect();
            for key in keys.iter_mut() {
                if !is_masked(key) {
                    continue;
                }
                if let Some(pos) = unused.iter().position(|s| is_mask_of(s, key)) {
                    *key = unused.swap_remove(pos).clone();
                }
            }
        }
    }
    for (name, value) in &mut spec.headers {
        if !is_masked(value) {
            continue;
        }
        let stored = existing.and_then(|e| {
            e.headers
                .get(name)
                .or_else(|| {
                    e.headers
                        .iter()
                        .find(|(stored, _)| stored.eq_ignore_ascii_case(name))
                        .map(|(_, value)| value)
                })
                .filter(|stored| is_mask_of(stored, value))
        });
        match stored {
            Some(stored) => *value = stored.clone(),
            None => errors.add(
                format!("headers.{name}"),
                "is a masked value that matches no stored value of this header; send the value in full",
            ),
        }
    }
    errors.into_result()?;
    Ok(None)
}

/// A route's references against the stored configuration: its providers and its guardrail
/// policies, every missing one reported.
async fn check_route_references(
    conn: &mut AnyConnection,
    spec: &RouteSpec,
    providers: &HashMap<String, i64>,
) -> Result<()> {
    let policies = guardrails::guardrail_names(conn).await?;
    let mut errors = ValidationErrors::default();
    for result in [
        validate_route_references(spec, |name| providers.contains_key(name)),
        validate_guardrail_references(&spec.guardrails, |name| policies.contains(name)),
    ] {
        if let Err(e) = result {
            errors.0.extend(e.0);
        }
    }
    Ok(errors.into_result()?)
}

async fn provider_id(conn: &mut AnyConnection, name: &str) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM providers WHERE name = $1")
            .bind(name)
            .fetch_optional(conn)
            .await?,
    )
}

async fn route_id(conn: &mut AnyConnection, name: &str) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar("SELECT id FROM routes WHERE name = $1")
        .bind(name)
        .fetch_optional(conn)
        .await?)
}

async fn provider_ids(conn: &mut AnyConnection) -> Result<HashMap<String, i64>> {
    let rows = sqlx::query("SELECT name, id FROM providers")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("name")?, row.try_get("id")?)))
        .collect()
}

/// The provider's spec as stored: without its keys, which live in their own table, and with its
/// header values sealed when there is a master key.
fn provider_spec_json(sealer: &Sealer, spec: &ProviderSpec) -> Result<String> {
    let mut headers = spec.headers.clone();
    for value in headers.values_mut() {
        *value = sealer.seal(value)?;
    }
    let keyless = ProviderSpec {
        api_keys: None,
        headers,
        ..spec.clone()
    };
    Ok(serde_json::to_string(&keyless).unwrap_or_else(|_| unreachable_json()))
}

fn route_spec_json(spec: &RouteSpec) -> String {
    serde_json::to_string(spec).unwrap_or_else(|_| unreachable_json())
}

/// Serialising these plain structs cannot fail (string keys, no custom serializers that error);
/// should that ever change, storing an invalid document makes the next reload report it loudly.
fn unreachable_json() -> String {
    "{}".to_owned()
}

async fn insert_provider(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    spec: &ProviderSpec,
) -> Result<()> {
    let now = now_ms();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO providers (name, spec, created_at, updated_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(&spec.name)
    .bind(provider_spec_json(sealer, spec)?)
    .bind(now)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    sync_keys(conn, sealer, id, spec.api_keys.as_deref().unwrap_or(&[])).await
}

async fn update_provider(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    id: i64,
    spec: &ProviderSpec,
) -> Result<()> {
    sqlx::query("UPDATE providers SET spec = $1, updated_at = $2 WHERE id = $3")
        .bind(provider_spec_json(sealer, spec)?)
        .bind(now_ms())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sync_keys(conn, sealer, id, spec.api_keys.as_deref().unwrap_or(&[])).await
}

/// Makes the stored keys equal `keys`, keeping the row (and so the id) of every key that stays.
/// Stored keys are matched by plaintext (a sealed value differs at every sealing); with a master
/// key, a kept key still stored in plaintext is sealed on the way.
async fn sync_keys(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    provider_id: i64,
    keys: &[String],
) -> Result<()> {
    let rows = sqlx::query("SELECT id, secret FROM provider_keys WHERE provider_id = $1")
        .bind(provider_id)
        .fetch_all(&mut *conn)
        .await?;
    let mut existing: HashMap<String, (i64, bool)> = HashMap::new();
    for row in &rows {
        let stored: String = row.try_get("secret")?;
        let plaintext = sealer.unseal(&stored)?.into_owned();
        existing.insert(plaintext, (row.try_get("id")?, is_sealed(&stored)));
    }
    for (position, secret) in keys.iter().enumerate() {
        let position = i64::try_from(position).unwrap_or(i64::MAX);
        match existing.remove(secret) {
            Some((id, sealed)) if sealer.is_active() && !sealed => {
                sqlx::query("UPDATE provider_keys SET position = $1, secret = $2 WHERE id = $3")
                    .bind(position)
                    .bind(sealer.seal(secret)?)
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
            }
            Some((id, _)) => {
                sqlx::query("UPDATE provider_keys SET position = $1 WHERE id = $2")
                    .bind(position)
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
            }
            None => {
                sqlx::query(
                    "INSERT INTO provider_keys (provider_id, position, secret) VALUES ($1, $2, $3)",
                )
                .bind(provider_id)
                .bind(position)
                .bind(sealer.seal(secret)?)
                .execute(&mut *conn)
                .await?;
            }
        }
    }
    for (id, _) in existing.values() {
        sqlx::query("DELETE FROM provider_keys WHERE id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn insert_route(
    conn: &mut AnyConnection,
    spec: &RouteSpec,
    providers: &HashMap<String, i64>,
) -> Result<()> {
    let now = now_ms();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO routes (name, spec, created_at, updated_at) VALUES ($1, $2, $3, $4) RETURNING id",
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
    conn: &mut AnyConnection,
    id: i64,
    spec: &RouteSpec,
    providers: &HashMap<String, i64>,
) -> Result<()> {
    sqlx::query("UPDATE routes SET spec = $1, updated_at = $2 WHERE id = $3")
        .bind(route_spec_json(spec))
        .bind(now_ms())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM route_providers WHERE route_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    link_route(conn, id, spec, providers).await
}

/// Records which providers a route uses; the references were validated by the caller.
async fn link_route(
    conn: &mut AnyConnection,
    route_id: i64,
    spec: &RouteSpec,
    providers: &HashMap<String, i64>,
) -> Result<()> {
    for name in referenced_providers(spec) {
        let Some(provider_id) = providers.get(name) else {
            continue;
        };
        sqlx::query("INSERT INTO route_providers (route_id, provider_id) VALUES ($1, $2)")
            .bind(route_id)
            .bind(provider_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::MasterKey;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const OTHER: &str = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const SECRET: &str = "sk-provider-secret-0123456789";
    const HEADER: &str = "hdr-header-secret-0123456789";

    fn spec(base_url: &str) -> ProviderSpec {
        serde_json::from_value(serde_json::json!({
            "name": "p", "type": "openai-compatible", "base_url": base_url,
            "api_keys": [SECRET], "headers": {"x-api-key": HEADER}
        }))
        .expect("a valid provider")
    }

    fn fields(error: ValidationErrors) -> Vec<String> {
        error.0.into_iter().map(|e| e.field).collect()
    }

    /// Keys that pass the shared validation's shape checks but that the reload could not use
    /// are refused at the write, naming the key, so a stored configuration always loads.
    #[test]
    fn a_provider_the_reload_could_not_compile_is_refused() {
        let provider = |kind: &str, key: &str, base_url: &str| -> ProviderSpec {
            serde_json::from_value(serde_json::json!({
                "name": "p", "type": kind, "base_url": base_url, "api_keys": [key]
            }))
            .expect("a provider")
        };
        let vertex = provider(
            "vertex",
            r#"{"type":"service_account","client_email":"a@b","private_key":"x"}"#,
            "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1",
        );
        assert_eq!(validate_provider(&vertex), Ok(()), "the shape is right");
        assert_eq!(
            fields(compiles(&vertex, "").expect_err("no key")),
            ["api_keys[0]"]
        );
        let bedrock = provider(
            "bedrock",
            "AKIA-EXAMPLE:secret",
            "https://bedrock-runtime.us-east-1.amazonaws.com",
        );
        assert_eq!(
            fields(compiles(&bedrock, "providers[2].").expect_err("not an access key id")),
            ["providers[2].api_keys[0]"]
        );
        assert_eq!(compiles(&spec("https://llm.example.com/v1"), ""), Ok(()));
    }

    #[test]
    fn masked_secrets_stand_for_the_stored_ones_on_the_same_host() {
        let stored = spec("https://llm.example.com/v1");
        let mut sent = stored.masked();
        sent.base_url = Some("https://LLM.example.com:443/v2".into());
        assert_eq!(resolve_secrets(&mut sent, Some(&stored)), Ok(None));
        assert_eq!(sent.api_keys, stored.api_keys);
        assert_eq!(sent.headers, stored.headers);

        let mut left_out = stored.masked();
        left_out.api_keys = None;
        assert_eq!(resolve_secrets(&mut left_out, Some(&stored)), Ok(None));
        assert_eq!(left_out.api_keys, stored.api_keys);

        // A masked header value that matches nothing stored is refused.
        let mut wrong = stored.masked();
        wrong.headers.insert("x-api-key".into(), "hdr…9999".into());
        let error = resolve_secrets(&mut wrong, Some(&stored)).expect_err("no match");
        assert_eq!(fields(error), ["headers.x-api-key"]);
        let mut new = stored.masked();
        let error = resolve_secrets(&mut new, None).expect_err("nothing stored");
        assert_eq!(fields(error), ["headers.x-api-key"]);
    }

    #[test]
    fn a_new_host_needs_every_secret_again() {
        let stored = spec("https://llm.example.com/v1");
        for moved_to in [
            "https://evil.example.net/v1",
            "http://llm.example.com/v1",
            "https://llm.example.com:8443/v1",
        ] {
            let mut masked = stored.masked();
            masked.base_url = Some(moved_to.into());
            let error = resolve_secrets(&mut masked, Some(&stored)).expect_err("masked");
            assert_eq!(
                fields(error.clone()),
                ["api_keys", "headers.x-api-key"],
                "{moved_to}"
            );
            assert!(
                error.0[0]
                    .message
                    .contains("send this provider's API keys again")
            );
            assert!(!error.to_string().contains(SECRET));

            let mut left_out = spec(moved_to);
            left_out.api_keys = None;
            let error = resolve_secrets(&mut left_out, Some(&stored)).expect_err("left out");
            assert_eq!(fields(error), ["api_keys"]);

            let mut full = spec(moved_to);
            let moved = resolve_secrets(&mut full, Some(&stored))
                .expect("sent in full")
                .expect("a move");
            assert_eq!(moved.from, "https://llm.example.com:443");
            assert_eq!(full.api_keys, stored.api_keys);
        }
        // A provider without keys may move without sending any.
        let mut keyless = spec("http://127.0.0.1:11434/v1");
        keyless.api_keys = Some(vec![]);
        keyless.headers.clear();
        let mut sent = keyless.clone();
        sent.api_keys = None;
        sent.base_url = Some("http://127.0.0.1:11435/v1".into());
        assert!(
            resolve_secrets(&mut sent, Some(&keyless))
                .expect("nothing to resend")
                .is_some()
        );
    }

    #[test]
    fn resolution_errors_are_not_repeated_by_validation() {
        let stored = spec("https://llm.example.com/v1");
        let mut moved = stored.masked();
        moved.base_url = Some("https://evil.example.net/v1".into());
        moved.models = vec![String::new()];
        let resolved = resolve_secrets(&mut moved, Some(&stored));
        let error = with_validation(resolved, validate_provider(&moved)).expect_err("refused");
        assert_eq!(
            fields(error),
            ["api_keys", "headers.x-api-key", "models[0]"]
        );
    }

    #[test]
    fn document_errors_name_the_provider() {
        let stored = spec("https://llm.example.com/v1");
        let mut moved = stored.masked();
        moved.base_url = Some("https://evil.example.net/v1".into());
        let mut doc = ConfigDocument {
            providers: vec![moved],
            ..ConfigDocument::default()
        };
        let error = resolve_document_secrets(&mut doc, |_| Some(&stored)).expect_err("moved");
        assert_eq!(
            fields(error),
            ["providers[0].api_keys", "providers[0].headers.x-api-key"]
        );
    }

    async fn raw_contents(dir: &std::path::Path) -> String {
        let mut all = String::new();
        for entry in std::fs::read_dir(dir).expect("the data dir") {
            // The -wal and -shm files may go away as the last connection closes.
            if let Ok(bytes) = std::fs::read(entry.expect("an entry").path()) {
                all.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
        all
    }

    #[tokio::test]
    async fn a_sealed_store_keeps_secrets_unreadable_and_needs_its_key() {
        let dir = tempfile::tempdir().expect("a scratch dir");
        let key = || Some(MasterKey::from_hex(KEY).expect("a key"));
        let store = Store::open_with_key(dir.path(), key())
            .await
            .expect("opens");
        store
            .create_provider(
                &crate::store::Origin::system(),
                spec("https://llm.example.com/v1"),
            )
            .await
            .expect("created");
        // Kept keys keep their row when the provider is rewritten.
        let before = store.load().await.expect("loads").providers[0]
            .key_ids
            .clone();
        store
            .replace_provider(
                &crate::store::Origin::system(),
                "p",
                spec("https://llm.example.com/v1").masked(),
            )
            .await
            .expect("replaced");
        let loaded = store.load().await.expect("loads");
        assert_eq!(loaded.providers[0].key_ids, before);
        assert_eq!(loaded.providers[0].spec, spec("https://llm.example.com/v1"));
        store.close().await;
        let raw = raw_contents(dir.path()).await;
        assert!(!raw.contains(SECRET) && !raw.contains(HEADER));
        assert!(raw.contains("sealed:v1:"));

        let error = Store::open(dir.path()).await.err();
        assert!(matches!(
            error,
            Some(StoreError::Secrets(SecretsError::KeyNeeded))
        ));
        let other = Some(MasterKey::from_hex(OTHER).expect("a key"));
        let error = Store::open_with_key(dir.path(), other).await.err();
        assert!(matches!(
            error,
            Some(StoreError::Secrets(SecretsError::WrongKey))
        ));

        // Unsealing returns the database to plaintext, readable without a key.
        let store = Store::open_with_key(dir.path(), key())
            .await
            .expect("opens");
        let summary = store
            .unseal_secrets(&crate::store::Origin::system())
            .await
            .expect("unsealed");
        assert_eq!(
            summary,
            ResealSummary {
                keys: 1,
                headers: 1
            }
        );
        store.close().await;
        let store = Store::open(dir.path()).await.expect("opens without a key");
        assert_eq!(
            store.get_provider("p").await.expect("loads"),
            spec("https://llm.example.com/v1")
        );
        store.close().await;
        assert!(raw_contents(dir.path()).await.contains(SECRET));

        // Sealing in place, then once more changes nothing.
        let store = Store::open_with_key(dir.path(), key())
            .await
            .expect("opens");
        let summary = store
            .seal_secrets(&crate::store::Origin::system())
            .await
            .expect("sealed");
        assert_eq!(
            summary,
            ResealSummary {
                keys: 1,
                headers: 1
            }
        );
        let again = store
            .seal_secrets(&crate::store::Origin::system())
            .await
            .expect("sealed");
        assert_eq!(again, ResealSummary::default());
        store.close().await;
        let raw = raw_contents(dir.path()).await;
        assert!(!raw.contains(SECRET) && !raw.contains(HEADER), "wiped");
        assert!(Store::open(dir.path()).await.is_err());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_data_dir_and_its_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let parent = tempfile::tempdir().expect("a scratch dir");
        let dir = parent.path().join("data");
        std::fs::create_dir(&dir).expect("created");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let token = dir.join("admin-token");
        std::fs::write(&token, "token").expect("written");
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let store = Store::open(&dir).await.expect("opens");
        let mode = |path: &std::path::Path| {
            std::fs::metadata(path)
                .expect("exists")
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode(&dir), 0o700);
        for entry in std::fs::read_dir(&dir).expect("listed") {
            let path = entry.expect("an entry").path();
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
        assert!(dir.join("switchyard.db-wal").exists());
        store.close().await;
    }
}
