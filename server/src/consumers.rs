//! The compiled consumers and client keys of a snapshot: keys indexed by digest, each pointing at
//! its consumer and at the limit counters of both, so authenticating a request is one hash of the
//! key and one map lookup.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use switchyard_shared::consumer::glob_match;
use switchyard_shared::validate::validate_consumer;
use switchyard_shared::{ClientAuth, Limits, Settings};

use crate::budgets::{BudgetOwner, CompiledBudget};
use crate::client_key::{self, KeyDigest};
use crate::health::HealthRegistry;
use crate::limits::{LimitRegistry, Scope, ScopeId};
use crate::store::StoredConsumer;

#[derive(Debug)]
pub struct Consumer {
    pub id: i64,
    pub name: Arc<str>,
    pub disabled: bool,
    /// Model globs; empty allows every model.
    pub allowed_models: Vec<String>,
    /// Route names; empty allows every route.
    pub allowed_routes: HashSet<String>,
    /// The consumer's limits, when it has any.
    pub scope: Option<Scope>,
    pub budget: Option<Arc<CompiledBudget>>,
    /// Guardrail policies applied after the route's.
    pub guardrails: Vec<Arc<crate::guardrails::Policy>>,
    /// The consumer as a sticky session: a hash of its name, the same on every replica.
    pub sticky: u64,
}

#[derive(Debug)]
pub struct ClientKey {
    pub id: i64,
    pub name: Arc<str>,
    pub consumer: Arc<Consumer>,
    pub disabled: bool,
    pub expires_at: Option<SystemTime>,
    pub allowed_models: Vec<String>,
    /// The key's own limits, when it has any.
    pub scope: Option<Scope>,
    /// Where its last use is counted (even without limits), for `last_used_at`.
    pub usage: Arc<crate::limits::LimitState>,
    /// The key's budget, then its consumer's: every one must have room.
    pub budgets: Vec<Arc<CompiledBudget>>,
    /// The key as a sticky session: the first 8 bytes of its digest (never the key itself).
    pub sticky: u64,
}

impl ClientKey {
    /// Whether the key or its consumer allows `model`: both lists must allow it.
    pub fn allows_model(&self, model: &str) -> bool {
        let allows =
            |globs: &[String]| globs.is_empty() || globs.iter().any(|g| glob_match(g, model));
        allows(&self.allowed_models) && allows(&self.consumer.allowed_models)
    }

    /// Whether the key or its consumer lists allowed models at all.
    pub fn restricts_models(&self) -> bool {
        !self.allowed_models.is_empty() || !self.consumer.allowed_models.is_empty()
    }

    pub fn expired(&self, now: SystemTime) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// Finds the compiled guardrail policies a list of names refers to.
pub type ResolvePolicies<'a> =
    dyn Fn(&[String]) -> Result<Vec<Arc<crate::guardrails::Policy>>, String> + 'a;

/// Every consumer's keys, by digest, and the gateway settings.
#[derive(Debug, Default)]
pub struct Consumers {
    keys: HashMap<KeyDigest, Arc<ClientKey>>,
    pub client_auth: ClientAuth,
    pub settings: Settings,
    /// Every budget, each once.
    budgets: Vec<Arc<CompiledBudget>>,
}

fn scope(
    registry: &LimitRegistry,
    id: ScopeId,
    limits: Limits,
    label: String,
) -> (Option<Scope>, Arc<crate::limits::LimitState>) {
    let state = registry.state(id);
    let scope = (!limits.is_unset()).then(|| Scope {
        id,
        state: Arc::clone(&state),
        limits,
        label: Arc::from(label),
    });
    (scope, state)
}

impl Consumers {
    /// Compiles the stored consumers; fails on a consumer that does not validate or a digest
    /// that is not one.
    pub fn build(
        stored: &[StoredConsumer],
        settings: &Settings,
        health: &HealthRegistry,
        policies: &ResolvePolicies<'_>,
    ) -> Result<Consumers, (String, String)> {
        let registry = &health.limits;
        let mut keys = HashMap::new();
        let mut budgets = Vec::new();
        for consumer in stored {
            let fail = |message: String| (consumer.spec.name.clone(), message);
            validate_consumer(&consumer.spec).map_err(|e| fail(e.to_string()))?;
            let name = &consumer.spec.name;
            let (consumer_scope, _) = scope(
                registry,
                ScopeId::Consumer(consumer.id),
                consumer.spec.limits,
                format!("consumer '{name}'"),
            );
            let compiled = Arc::new(Consumer {
                id: consumer.id,
                name: Arc::from(name.as_str()),
                disabled: consumer.spec.disabled,
                allowed_models: consumer.spec.allowed_models.clone(),
                allowed_routes: consumer.spec.allowed_routes.iter().cloned().collect(),
                scope: consumer_scope,
                budget: consumer
                    .spec
                    .budget
                    .as_ref()
                    .map(|spec| {
                        let owner = BudgetOwner::Consumer {
                            id: consumer.id,
                            name: Arc::from(name.as_str()),
                        };
                        CompiledBudget::new(spec, owner, &health.budgets).map(Arc::new)
                    })
                    .transpose()
                    .map_err(&fail)?,
                guardrails: policies(&consumer.spec.guardrails).map_err(&fail)?,
                sticky: crate::routing::sticky::fnv1a64(name.as_bytes()),
            });
            budgets.extend(compiled.budget.clone());
            for key in &consumer.keys {
                let digest = client_key::from_hex(&key.digest_hex)
                    .ok_or_else(|| fail(format!("key {} has an invalid digest", key.id)))?;
                let (key_scope, usage) = scope(
                    registry,
                    ScopeId::Key(key.id),
                    key.limits,
                    format!("key '{}' of consumer '{name}'", key.name),
                );
                let key_budget = key
                    .budget
                    .as_ref()
                    .map(|spec| {
                        let owner = BudgetOwner::Key {
                            id: key.id,
                            name: Arc::from(key.name.as_str()),
                            consumer: Arc::from(name.as_str()),
                        };
                        CompiledBudget::new(spec, owner, &health.budgets).map(Arc::new)
                    })
                    .transpose()
                    .map_err(&fail)?;
                budgets.extend(key_budget.clone());
                let expires_at = key
                    .expires_at_ms
                    .map(|ms| UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0)));
                keys.insert(
                    digest,
                    Arc::new(ClientKey {
                        id: key.id,
                        name: Arc::from(key.name.as_str()),
                        consumer: Arc::clone(&compiled),
                        disabled: key.disabled,
                        expires_at,
                        allowed_models: key.allowed_models.clone(),
                        scope: key_scope,
                        usage,
                        budgets: key_budget
                            .into_iter()
                            .chain(compiled.budget.clone())
                            .collect(),
                        sticky: crate::routing::sticky::digest_key(&digest),
                    }),
                );
            }
        }
        Ok(Consumers {
            keys,
            client_auth: settings.client_auth,
            settings: settings.clone(),
            budgets,
        })
    }

    /// Every budget of every consumer and key.
    pub fn budgets(&self) -> &[Arc<CompiledBudget>] {
        &self.budgets
    }

    /// The key with this digest, whatever its state.
    pub fn key(&self, digest: &KeyDigest) -> Option<&Arc<ClientKey>> {
        self.keys.get(digest)
    }

    /// Every consumer's and key's limited scope (a consumer once, however many keys it has).
    pub fn scopes(&self) -> Vec<&Scope> {
        let mut seen = HashSet::new();
        let mut scopes = Vec::new();
        for key in self.keys.values() {
            scopes.extend(key.scope.as_ref());
            if seen.insert(key.consumer.id) {
                scopes.extend(key.consumer.scope.as_ref());
            }
        }
        scopes
    }

    /// The registry ids of every consumer and key, whose counters must be kept.
    pub fn scope_ids(&self) -> HashSet<ScopeId> {
        let mut ids = HashSet::new();
        for key in self.keys.values() {
            ids.insert(ScopeId::Key(key.id));
            ids.insert(ScopeId::Consumer(key.consumer.id));
        }
        ids
    }
}

/// How often keys' last use is written from memory to the store.
const LAST_USED_INTERVAL: Duration = Duration::from_secs(5);

/// Writes keys' `last_used_at` to the store every few seconds, from the counters the admit phase
/// touches: the request path never writes to the database.
pub fn spawn_last_used_writer(
    store: crate::store::Store,
    registry: Arc<crate::health::HealthRegistry>,
) {
    tokio::spawn(async move {
        let mut written: HashMap<i64, SystemTime> = HashMap::new();
        let mut ticks = tokio::time::interval(LAST_USED_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let mut uses = Vec::new();
            for (id, state) in registry.limits.all() {
                let (ScopeId::Key(id), Some(at)) = (id, state.last_used()) else {
                    continue;
                };
                if written.get(&id) != Some(&at) {
                    let ms = at
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
                    uses.push((id, ms));
                    written.insert(id, at);
                }
            }
            if let Err(error) = store.record_key_use(&uses).await {
                tracing::warn!(%error, "could not record when client keys were last used");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoredKey;
    use switchyard_shared::ConsumerSpec;

    fn stored(models: &[&str], key_models: &[&str]) -> StoredConsumer {
        StoredConsumer {
            id: 7,
            spec: ConsumerSpec {
                name: "team-a".into(),
                allowed_models: models.iter().map(|m| (*m).to_owned()).collect(),
                limits: Limits {
                    rpm: Some(60),
                    ..Limits::default()
                },
                ..ConsumerSpec::default()
            },
            keys: vec![StoredKey {
                id: 3,
                consumer_id: 7,
                name: "ci".into(),
                digest_hex: client_key::digest_hex("sy-test"),
                last4: None,
                allowed_models: key_models.iter().map(|m| (*m).to_owned()).collect(),
                limits: Limits::default(),
                budget: None,
                disabled: false,
                expires_at_ms: Some(1_000),
                created_at_ms: 0,
                last_used_ms: None,
            }],
        }
    }

    #[test]
    fn keys_are_found_by_digest_and_narrow_their_consumer() {
        let registry = HealthRegistry::default();
        let settings = Settings {
            client_auth: ClientAuth::Required,
            ..Settings::default()
        };
        let consumers = Consumers::build(
            &[stored(&["deepseek-*", "qwen-*"], &["qwen-*"])],
            &settings,
            &registry,
            &|_| Ok(Vec::new()),
        )
        .expect("builds");
        let key = consumers
            .key(&client_key::digest("sy-test"))
            .expect("found");
        assert!(key.allows_model("qwen-max"));
        assert!(!key.allows_model("deepseek-chat"), "the key narrows");
        assert!(!key.allows_model("gpt-4o"));
        assert!(key.expired(UNIX_EPOCH + Duration::from_secs(1)));
        assert!(!key.expired(UNIX_EPOCH));
        assert!(key.scope.is_none());
        let scope = key.consumer.scope.as_ref().expect("consumer limits");
        assert_eq!(&*scope.label, "consumer 'team-a'");
        assert!(consumers.key(&client_key::digest("sy-other")).is_none());
        assert_eq!(
            consumers.scope_ids(),
            HashSet::from([ScopeId::Key(3), ScopeId::Consumer(7)])
        );
    }

    #[test]
    fn counters_survive_a_rebuild() {
        let registry = HealthRegistry::default();
        let settings = Settings::default();
        let first = Consumers::build(&[stored(&[], &[])], &settings, &registry, &|_| {
            Ok(Vec::new())
        })
        .expect("1");
        let second = Consumers::build(&[stored(&[], &[])], &settings, &registry, &|_| {
            Ok(Vec::new())
        })
        .expect("2");
        let digest = client_key::digest("sy-test");
        let a = first.key(&digest).expect("a");
        let b = second.key(&digest).expect("b");
        assert!(Arc::ptr_eq(&a.usage, &b.usage));
    }
}
