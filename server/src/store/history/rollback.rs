//! Rolling the configuration back to a kept revision: its preview, what cannot be restored, and
//! the write, which is `apply` with prune in the same transaction that rebuilds the document.
//!
//! History holds secrets only masked, so a rollback can restore a provider key or header value
//! only while the same provider still stores it. Client keys are never recreated from history,
//! even though their digests could be: a key deleted (revoked) since must stay revoked, and a key
//! still stored keeps the stricter of its state then and now (disabled, the earlier expiry). What
//! is lost is listed, in the preview and in the answer, never silently.

use std::collections::HashMap;

use sqlx::AnyConnection;
use switchyard_shared::audit::{RollbackDone, RollbackPreview, Unrecoverable};
use switchyard_shared::secret::{is_mask_of, is_masked};
use switchyard_shared::{ConfigDocument, ConsumerKey, ValidationErrors};

use super::super::config::log_moves;
use super::super::consumers::{StoredKey, load_consumers, parse_rfc3339, rfc3339_ms};
use super::super::{Result, Store, StoreError, load_providers};
use super::document_at;
use crate::secrets::Sealer;
use crate::store::Origin;

/// The document a rollback writes, and what it had to leave out.
struct Prepared {
    doc: ConfigDocument,
    unrecoverable: Vec<Unrecoverable>,
}

impl Store {
    /// What rolling back to `to` would change, and what it could not restore. Refuses (as
    /// `Invalid`) exactly what the rollback would refuse.
    pub async fn rollback_preview(&self, to: i64) -> Result<RollbackPreview> {
        let (prepared, revision_now) = {
            let mut tx = self.db.begin_read().await?;
            let revision_now = current_revision(&mut tx).await?;
            (prepare(&mut tx, &self.sealer, to).await?, revision_now)
        };
        let diff = self.diff(prepared.doc, true).await?;
        Ok(RollbackPreview {
            to,
            revision_now,
            diff,
            unrecoverable: prepared.unrecoverable,
        })
    }

    /// Makes the configuration equal to the one after revision `to`, less what cannot be restored,
    /// as one new revision recorded as a rollback. `expected_revision` must be the current
    /// revision (the one the preview showed), or nothing is written and this is a `Conflict`.
    pub async fn rollback(
        &self,
        origin: &Origin,
        to: i64,
        expected_revision: i64,
    ) -> Result<RollbackDone> {
        let mut tx = self.db.begin_write().await?;
        let now = current_revision(&mut tx).await?;
        if now != expected_revision {
            return Err(StoreError::Conflict {
                message: format!(
                    "the configuration is at revision {now}, not {expected_revision}: it changed since the preview; preview the rollback again"
                ),
                routes: Vec::new(),
            });
        }
        let prepared = prepare(&mut tx, &self.sealer, to).await?;
        let (summary, moved) = self
            .apply_in(&mut tx, origin, prepared.doc, true, Some(to))
            .await?;
        let revision = current_revision(&mut tx).await?;
        tx.commit().await?;
        log_moves(moved.iter());
        Ok(RollbackDone {
            revision,
            rolled_back_to: to,
            summary: format!("rolled back to revision {to}: {summary}"),
            unrecoverable: prepared.unrecoverable,
        })
    }
}

async fn current_revision(conn: &mut AnyConnection) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT revision FROM meta WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?)
}

/// Rebuilds the document at `to` and removes from it what the store can no longer supply.
async fn prepare(conn: &mut AnyConnection, sealer: &Sealer, to: i64) -> Result<Prepared> {
    let mut doc = document_at(conn, sealer, to).await?;
    let stored: HashMap<String, switchyard_shared::ProviderSpec> =
        load_providers(conn, None, sealer)
            .await?
            .into_iter()
            .map(|p| (p.spec.name.clone(), p.spec))
            .collect();
    let mut unrecoverable = Vec::new();
    let mut errors = ValidationErrors::default();
    for (i, provider) in doc.providers.iter_mut().enumerate() {
        let existing = stored.get(&provider.name);
        let lost = |what: String| Unrecoverable {
            kind: "provider".into(),
            name: provider.name.clone(),
            what,
        };
        let mut lost_here = Vec::new();
        if let Some(keys) = &mut provider.api_keys {
            let had = keys.len();
            // Each stored key stands for one mask at most, as `apply` resolves them.
            let mut unused: Vec<&String> = existing
                .and_then(|e| e.api_keys.as_ref())
                .map(|keys| keys.iter().collect())
                .unwrap_or_default();
            keys.retain(|key| {
                if !is_masked(key) {
                    return true;
                }
                match unused.iter().position(|s| is_mask_of(s, key)) {
                    Some(pos) => {
                        unused.swap_remove(pos);
                        true
                    }
                    None => {
                        lost_here.push(lost(format!("key {key}")));
                        false
                    }
                }
            });
            if had > 0 && keys.is_empty() {
                errors.add(
                    format!("providers[{i}].api_keys"),
                    format!(
                        "every API key provider '{}' had at revision {to} has been deleted since, and history keeps keys only masked; add a key to the provider first",
                        provider.name
                    ),
                );
            }
        }
        provider.headers.retain(|name, value| {
            if !is_masked(value) {
                return true;
            }
            let kept = existing.is_some_and(|e| {
                e.headers.iter().any(|(stored, secret)| {
                    stored.eq_ignore_ascii_case(name) && is_mask_of(secret, value)
                })
            });
            if !kept {
                lost_here.push(lost(format!("header '{name}' ({value})")));
            }
            kept
        });
        unrecoverable.extend(lost_here);
    }
    errors.into_result()?;
    // The keys still stored, by digest, with their state now.
    let stored_keys: HashMap<String, StoredKey> = load_consumers(conn, None)
        .await?
        .into_iter()
        .flat_map(|consumer| consumer.keys)
        .map(|key| (key.digest_hex.clone(), key))
        .collect();
    for consumer in &mut doc.consumers {
        for key in &mut consumer.keys {
            if let Some(now) = key.key_sha256.as_ref().and_then(|d| stored_keys.get(d)) {
                keep_stricter_state(key, now);
            }
        }
        consumer.keys.retain(|key| {
            // A key still stored has its digest; one deleted since has none and stays deleted.
            let kept = key.key_sha256.is_some();
            if !kept {
                unrecoverable.push(Unrecoverable {
                    kind: "consumer".into(),
                    name: consumer.name.clone(),
                    what: format!(
                        "client key '{}' ({})",
                        key.name,
                        key.masked.as_deref().unwrap_or("masked")
                    ),
                });
            }
            kept
        });
    }
    Ok(Prepared { doc, unrecoverable })
}

/// A key kept by a rollback keeps whatever is stricter, its state then or now: a key disabled
/// or given an expiry since (a leaked key rotated out with a grace period, say) stays disabled
/// or expiring. A rollback undoes configuration; it must never bring a withdrawn credential
/// back. Its other fields (limits, models, budget) are restored as they were.
fn keep_stricter_state(key: &mut ConsumerKey, now: &StoredKey) {
    key.disabled |= now.disabled;
    let then_ms = key
        .expires_at
        .as_deref()
        .and_then(|text| parse_rfc3339("expires_at", text).ok());
    let stricter = match (then_ms, now.expires_at_ms) {
        (Some(then), Some(now)) => Some(then.min(now)),
        (then, now) => then.or(now),
    };
    if stricter != then_ms {
        key.expires_at = stricter.map(rfc3339_ms);
    }
}
