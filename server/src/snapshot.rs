//! The immutable routing snapshot: every provider and route compiled for lookup, swapped whole on reload.
//!
//! Building is fallible and happens off the request path (in the reloader); the proxy only reads.
//! A snapshot never changes after it is built, so a request that took one finishes on it however
//! many reloads happen meanwhile.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::HeaderValue;
use std::ops::Range;
use switchyard_shared::validate::{validate_guardrail, validate_provider, validate_route};

use switchyard_shared::config::DEFAULT_RESERVED_COMPLETION_TOKENS;
use switchyard_shared::{
    FallbackStrategy, MatchKind, Retry, RouteSpec, RouteUpstream, RoutingStrategy, StatusPattern,
    StickyBy,
};
use tokio::time::Instant;

use crate::consumers::Consumers;
use crate::guardrails::Policy;
use crate::health::HealthRegistry;
use crate::limits::{Scope, ScopeId};

use crate::pricing::Price;
use crate::providers::Provider;
use crate::routing::choose::{Candidate, StickySource, choose};
use crate::routing::{Demand, Strategy, UpstreamKey, UpstreamStats, Why};
use crate::store::LoadedConfig;

/// One upstream of a route: a provider and the model to send it, if the route rewrites it.
#[derive(Debug)]
pub struct Upstream {
    pub provider: Arc<Provider>,
    pub weight: u32,
    pub model: Option<Box<str>>,
    pub priority: i32,
    /// What routing has measured of this provider and model, shared with every route naming
    /// the same pair and kept across reloads.
    pub stats: Arc<UpstreamStats>,
    /// The price of `model`, resolved once; `None` without a fixed model or a price for it.
    pub price: Option<Price>,
    /// Seeds the sticky hash: the provider's name and the model, stable across restarts.
    pub seed: u64,
}

impl Upstream {
    /// The model name sent upstream: the route's rewrite, else the provider's mapping.
    pub fn target_model<'a>(&'a self, requested: &'a str) -> &'a str {
        match &self.model {
            Some(model) => model,
            None => self.provider.mapping.map(requested),
        }
    }

    fn build(
        provider: &Arc<Provider>,
        weight: u32,
        model: Option<&str>,
        priority: i32,
        registry: &HealthRegistry,
    ) -> Upstream {
        let mut seed_text = provider.name.as_bytes().to_vec();
        seed_text.push(0);
        seed_text.extend_from_slice(model.unwrap_or("").as_bytes());
        Upstream {
            provider: Arc::clone(provider),
            weight,
            model: model.map(Box::from),
            priority,
            stats: registry.upstream_stats(provider.id, model),
            price: model.and_then(|model| provider.pricing.price(model).copied()),
            seed: crate::routing::sticky::fnv1a64(&seed_text),
        }
    }

    /// This upstream as a strategy's candidate for a request of `requested`.
    fn candidate(
        &self,
        index: usize,
        strategy: &Strategy,
        demand: &Demand,
        requested: &str,
    ) -> Candidate {
        let price = match (self.price, strategy) {
            (Some(price), _) => Some(price),
            (None, Strategy::LeastCost | Strategy::CostUnderLatency { .. })
                if self.model.is_none() =>
            {
                self.provider
                    .pricing
                    .price(self.target_model(requested))
                    .copied()
            }
            (None, _) => None,
        };
        Candidate {
            index,
            weight: self.weight,
            est: self.stats.read(demand.now_ms),
            price,
            seed: self.seed,
        }
    }
}

#[derive(Debug)]
pub struct Route {
    /// The stored id, stable across edits.
    pub id: i64,
    pub name: Arc<str>,
    /// The route's name as a header value, for `x-switchyard-route`.
    pub name_header: HeaderValue,
    pub priority: i32,
    /// Sorted by upstream priority, highest first (stable, so equal priorities keep their order).
    upstreams: Vec<Upstream>,
    /// Ranges of `upstreams` with equal priority, highest first.
    groups: Vec<Range<usize>>,
    /// Fallback upstreams, in the order written; empty when fallback is off.
    pub fallback: Vec<Upstream>,
    pub fallback_random: bool,
    pub fallback_on: Vec<StatusPattern>,
    pub retry: Retry,
    pub timeout: Option<Duration>,
    /// The consumers allowed on this route; `None` allows everyone.
    pub allowed_consumers: Option<HashSet<String>>,
    /// The route's own limits (all callers together), when it has any.
    pub scope: Option<Scope>,
    /// Completion tokens a token limit reserves for a request without `max_tokens`.
    pub reserve_completion_tokens: u64,
    /// The route's guardrail policies, in order.
    pub guardrails: Vec<Arc<Policy>>,
    /// How a priority group's upstreams share its traffic.
    pub strategy: Strategy,
    /// `x-switchyard-strategy` for each [`Why`], built once.
    strategy_headers: [HeaderValue; WHYS.len()],
    /// The stored spec.
    pub spec: RouteSpec,
}

impl Route {
    pub fn upstreams(&self) -> &[Upstream] {
        &self.upstreams
    }

    /// Chooses a primary upstream for an attempt: within the highest priority group that has a
    /// healthy member this request has not failed on, by the route's strategy. `None` when no
    /// such member exists in any group. `weighted` costs no allocation: the group is scanned twice.
    pub fn pick_primary(
        &self,
        now: Instant,
        failed: &[usize],
        demand: &Demand,
        requested: &str,
    ) -> Option<(usize, Why)> {
        let usable = |i: usize| {
            let upstream = &self.upstreams[i];
            upstream.weight > 0 && !failed.contains(&i) && upstream.provider.health.available(now)
        };
        for group in &self.groups {
            if self.strategy == Strategy::Weighted {
                let total: u32 = group
                    .clone()
                    .filter(|&i| usable(i))
                    .map(|i| self.upstreams[i].weight)
                    .sum();
                if total == 0 {
                    continue;
                }
                let mut ticket = fastrand::u32(..total);
                for i in group.clone().filter(|&i| usable(i)) {
                    let weight = self.upstreams[i].weight;
                    if ticket < weight {
                        return Some((i, Why::Chosen));
                    }
                    ticket -= weight;
                }
                continue;
            }
            let candidates: Vec<Candidate> = group
                .clone()
                .filter(|&i| usable(i))
                .map(|i| self.upstreams[i].candidate(i, &self.strategy, demand, requested))
                .collect();
            if candidates.is_empty() {
                continue;
            }
            let mut rng = fastrand::Rng::new();
            let decision = choose(&self.strategy, &candidates, demand, &mut rng);
            if let Some(explore) = decision.explore {
                let index = candidates[explore].index;
                // Only one request measures a due upstream; the others keep the best choice.
                if self.upstreams[index].stats.claim_exploration(demand.now_ms) {
                    return Some((index, Why::Explore));
                }
            }
            return Some((candidates[decision.pick].index, decision.why));
        }
        None
    }

    /// The upstreams [`Route::pick_primary`] may choose for a request's first attempt: the
    /// usable members of the highest priority group that has one, in order. It only reads
    /// health: no exploration is claimed and no half-open probe taken, so it may run before the
    /// request is admitted (the response cache reads their entries ahead).
    pub fn first_candidates(&self, now: Instant) -> impl Iterator<Item = &Upstream> {
        let usable = move |i: &usize| {
            let upstream = &self.upstreams[*i];
            upstream.weight > 0 && upstream.provider.health.available(now)
        };
        self.groups
            .iter()
            .find(|group| (*group).clone().any(|i| usable(&i)))
            .into_iter()
            .flat_map(move |group| group.clone().filter(usable).map(|i| &self.upstreams[i]))
    }

    /// `x-switchyard-strategy` for an attempt chosen for `why`.
    pub fn strategy_header(&self, why: Why) -> HeaderValue {
        let position = WHYS.iter().position(|(w, _)| *w == why).unwrap_or(0);
        self.strategy_headers[position].clone()
    }
}

/// Every reason an attempt went where it went, with its `x-switchyard-strategy` parameter.
const WHYS: [(Why, &str); 6] = [
    (Why::Chosen, ""),
    (Why::Explore, ";explore"),
    (Why::OverTarget, ";over-target"),
    (Why::Unkeyed, ";unkeyed"),
    (Why::Retry, ";retry"),
    (Why::Fallback, ";fallback"),
];

/// Compiles a route's strategy; validation has already checked its options.
fn compile_strategy(spec: &RouteSpec) -> Result<Strategy, String> {
    Ok(match spec.strategy {
        RoutingStrategy::Weighted => Strategy::Weighted,
        RoutingStrategy::LeastLatency => Strategy::LeastLatency,
        RoutingStrategy::LeastCost => Strategy::LeastCost,
        RoutingStrategy::CostUnderLatency => Strategy::CostUnderLatency {
            max_ms: spec
                .max_latency_ms
                .map(|ms| u32::try_from(ms).unwrap_or(u32::MAX))
                .ok_or("cost_under_latency needs max_latency_ms")?,
        },
        RoutingStrategy::LeastBusy => Strategy::LeastBusy,
        RoutingStrategy::Sticky => Strategy::Sticky(match &spec.sticky_by {
            Some(StickyBy::Consumer) => StickySource::Consumer,
            Some(StickyBy::Key) => StickySource::Key,
            Some(StickyBy::Header(name)) => StickySource::Header(
                http::HeaderName::try_from(name.as_str())
                    .map_err(|_| format!("'{name}' is not a header name"))?,
            ),
            None => return Err("the sticky strategy needs sticky_by".into()),
        }),
    })
}

/// The header values of a strategy, one per [`Why`].
fn strategy_headers(strategy: RoutingStrategy) -> [HeaderValue; WHYS.len()] {
    WHYS.map(|(_, parameter)| {
        HeaderValue::try_from(format!("{}{parameter}", strategy.as_str()))
            .unwrap_or_else(|_| HeaderValue::from_static("weighted"))
    })
}

/// Why a snapshot could not be built.
#[derive(Debug, thiserror::Error)]
#[error("{what} '{name}': {message}")]
pub struct BuildError {
    what: &'static str,
    name: String,
    message: String,
}

#[derive(Debug)]
pub struct Snapshot {
    /// Counts swaps in this process: 1 is the snapshot loaded at start.
    pub version: u64,
    /// The store revision this was built from.
    pub revision: i64,
    pub loaded_at: SystemTime,
    /// How long *prepare* took for this snapshot (load, validate, compile), set by the reloader.
    pub build_time: Duration,
    providers: Vec<Arc<Provider>>,
    routes: Vec<Route>,
    exact: HashMap<Box<str>, usize>,
    prefixes: HashMap<Box<str>, usize>,
    /// Distinct prefix lengths, longest first: a lookup tries each length once.
    prefix_lengths: Vec<usize>,
    /// `GET /v1/models`, serialised once per snapshot.
    models_body: Bytes,
    /// Connect timeout per upstream `host:port`, the shortest any provider there asks for.
    connect_timeouts: HashMap<String, Duration>,
    /// Consumers, their keys by digest, and whether a key is required.
    pub consumers: Consumers,
    /// What is valid but probably not meant (a fallback that sends the client's model name to a
    /// provider that will not know it), for `/api/status` and the log.
    pub warnings: Vec<switchyard_shared::validate::FieldWarning>,
}

impl Snapshot {
    /// Compiles a loaded config. Everything is validated again, because another process may have
    /// written the database without going through our validation.
    pub fn build(
        config: LoadedConfig,
        version: u64,
        registry: &HealthRegistry,
    ) -> Result<Snapshot, BuildError> {
        let loaded_at = SystemTime::now();
        let mut providers_by_name: HashMap<&str, Arc<Provider>> = HashMap::new();
        let mut connect_timeouts: HashMap<String, Duration> = HashMap::new();
        for stored in &config.providers {
            let fail = |message: String| BuildError {
                what: "provider",
                name: stored.spec.name.clone(),
                message,
            };
            validate_provider(&stored.spec).map_err(|e| fail(e.to_string()))?;
            let provider = Provider::build(stored.id, &stored.spec, &stored.key_ids, registry)
                .map_err(fail)?;
            connect_timeouts
                .entry(provider.authority.clone())
                .and_modify(|t| *t = (*t).min(provider.timeouts.connect))
                .or_insert(provider.timeouts.connect);
            providers_by_name.insert(&stored.spec.name, Arc::new(provider));
        }

        let mut policies: HashMap<&str, Arc<Policy>> = HashMap::new();
        for stored in &config.guardrails {
            let fail = |message: String| BuildError {
                what: "guardrail",
                name: stored.spec.name.clone(),
                message,
            };
            validate_guardrail(&stored.spec).map_err(|e| fail(e.to_string()))?;
            let policy = Policy::compile(&stored.spec).map_err(fail)?;
            policies.insert(&stored.spec.name, Arc::new(policy));
        }
        let resolve_policies = |names: &[String]| -> Result<Vec<Arc<Policy>>, String> {
            names
                .iter()
                .map(|name| {
                    policies
                        .get(name.as_str())
                        .cloned()
                        .ok_or_else(|| format!("no guardrail policy named '{name}'"))
                })
                .collect()
        };

        let mut routes = Vec::with_capacity(config.routes.len());
        for stored in &config.routes {
            let spec = &stored.spec;
            let fail = |message: String| BuildError {
                what: "route",
                name: spec.name.clone(),
                message,
            };
            validate_route(spec).map_err(|e| fail(e.to_string()))?;
            let resolve = |provider: &str, weight: u32, model: &Option<String>, priority: i32| {
                providers_by_name
                    .get(provider)
                    .map(|p| Upstream::build(p, weight, model.as_deref(), priority, registry))
                    .ok_or_else(|| fail(format!("no provider named '{provider}'")))
            };
            let mut ordered: Vec<&RouteUpstream> = spec.upstreams.iter().collect();
            ordered.sort_by_key(|u| std::cmp::Reverse(u.priority));
            let mut upstreams = Vec::with_capacity(ordered.len());
            let mut groups: Vec<Range<usize>> = Vec::new();
            for (i, upstream) in ordered.iter().enumerate() {
                upstreams.push(resolve(
                    &upstream.provider,
                    upstream.weight,
                    &upstream.model,
                    upstream.priority,
                )?);
                match groups.last_mut() {
                    Some(group) if ordered[group.start].priority == upstream.priority => {
                        group.end = i + 1
                    }
                    _ => groups.push(i..i + 1),
                }
            }
            let fallback_spec = spec.fallback.as_ref().filter(|f| f.enabled);
            let mut fallback = Vec::new();
            for upstream in fallback_spec.iter().flat_map(|f| &f.upstreams) {
                fallback.push(resolve(&upstream.provider, 0, &upstream.model, 0)?);
            }
            routes.push(Route {
                id: stored.id,
                name: Arc::from(spec.name.as_str()),
                name_header: HeaderValue::try_from(spec.name.as_str())
                    .map_err(|_| fail("name is not a valid header value".into()))?,
                priority: spec.priority,
                upstreams,
                groups,
                fallback,
                fallback_random: fallback_spec
                    .is_some_and(|f| f.strategy == FallbackStrategy::Random),
                fallback_on: fallback_spec
                    .map(|f| f.on_status.clone())
                    .unwrap_or_default(),
                retry: spec.retry.unwrap_or_default(),
                timeout: spec.timeout_ms.map(Duration::from_millis),
                allowed_consumers: spec
                    .auth
                    .as_ref()
                    .filter(|auth| !auth.allowed_consumers.is_empty())
                    .map(|auth| auth.allowed_consumers.iter().cloned().collect()),
                scope: (!spec.limits.is_unset()).then(|| Scope {
                    id: ScopeId::Route(stored.id),
                    state: registry.limits.state(ScopeId::Route(stored.id)),
                    limits: spec.limits,
                    label: Arc::from(format!("route '{}'", spec.name)),
                }),
                reserve_completion_tokens: u64::from(
                    spec.reserve_completion_tokens
                        .unwrap_or(DEFAULT_RESERVED_COMPLETION_TOKENS),
                ),
                guardrails: resolve_policies(&spec.guardrails).map_err(fail)?,
                strategy: compile_strategy(spec).map_err(fail)?,
                strategy_headers: strategy_headers(spec.strategy),
                spec: spec.clone(),
            });
        }

        // Ties between routes with the same match value go to the higher priority, then the
        // smaller name: inserting in that order and keeping the first entry implements it.
        let mut order: Vec<usize> = (0..routes.len()).collect();
        order.sort_by(|&a, &b| {
            routes[b]
                .priority
                .cmp(&routes[a].priority)
                .then_with(|| routes[a].name.cmp(&routes[b].name))
        });
        let mut exact: HashMap<Box<str>, usize> = HashMap::new();
        let mut prefixes: HashMap<Box<str>, usize> = HashMap::new();
        for &index in &order {
            for rule in &routes[index].spec.matches {
                let table = match rule.kind {
                    MatchKind::Exact => &mut exact,
                    MatchKind::Prefix => &mut prefixes,
                };
                table.entry(rule.value.as_str().into()).or_insert(index);
            }
        }
        let mut prefix_lengths: Vec<usize> = prefixes.keys().map(|p| p.len()).collect();
        prefix_lengths.sort_unstable_by(|a, b| b.cmp(a));
        prefix_lengths.dedup();

        let consumers = Consumers::build(
            &config.consumers,
            &config.settings,
            registry,
            &resolve_policies,
        )
        .map_err(|(name, message)| BuildError {
            what: "consumer",
            name,
            message,
        })?;

        let mut providers: Vec<Arc<Provider>> = providers_by_name.into_values().collect();
        providers.sort_by(|a, b| a.name.cmp(&b.name));
        let models_body = models_body(&routes, &exact, loaded_at);
        let provider_specs: Vec<_> = config.providers.iter().map(|p| p.spec.clone()).collect();
        let route_specs: Vec<_> = config.routes.iter().map(|r| r.spec.clone()).collect();
        let mut warnings =
            switchyard_shared::validate::config_warnings(&provider_specs, &route_specs);
        warnings.extend(price_warnings(&route_specs, &providers));
        Ok(Snapshot {
            version,
            revision: config.revision,
            loaded_at,
            build_time: Duration::ZERO,
            providers,
            routes,
            exact,
            prefixes,
            prefix_lengths,
            models_body,
            connect_timeouts,
            consumers,
            warnings,
        })
    }

    /// The route serving `model`: an exact match, else the longest matching prefix.
    pub fn route(&self, model: &str) -> Option<&Route> {
        let index = self.exact.get(model).copied().or_else(|| {
            self.prefix_lengths
                .iter()
                .filter_map(|&len| model.get(..len))
                .find_map(|prefix| self.prefixes.get(prefix).copied())
        })?;
        self.routes.get(index)
    }

    pub fn providers(&self) -> &[Arc<Provider>] {
        &self.providers
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    pub fn models_body(&self) -> Bytes {
        self.models_body.clone()
    }

    /// The ids of every provider and key, whose health state must be kept.
    pub fn health_ids(&self) -> (HashSet<i64>, HashSet<i64>) {
        let providers = self.providers.iter().map(|p| p.id).collect();
        let keys = self
            .providers
            .iter()
            .flat_map(|p| p.keys.iter().map(|k| k.id))
            .collect();
        (providers, keys)
    }

    /// Every limited scope (consumers, keys, routes), to record its limits after a swap.
    pub fn limit_scopes(&self) -> Vec<&Scope> {
        let mut scopes = self.consumers.scopes();
        scopes.extend(self.routes.iter().filter_map(|route| route.scope.as_ref()));
        scopes
    }

    /// The ids of every consumer, client key and route whose limit counters must be kept.
    pub fn limit_ids(&self) -> HashSet<ScopeId> {
        let mut ids = self.consumers.scope_ids();
        ids.extend(self.routes.iter().map(|route| ScopeId::Route(route.id)));
        ids
    }

    /// Every upstream (primary and fallback) whose routing estimates must be kept.
    pub fn upstream_keys(&self) -> HashSet<UpstreamKey> {
        self.routes
            .iter()
            .flat_map(|route| route.upstreams.iter().chain(&route.fallback))
            .map(|upstream| UpstreamKey::new(upstream.provider.id, upstream.model.as_deref()))
            .collect()
    }

    pub fn connect_timeout(&self, authority: &str) -> Option<Duration> {
        self.connect_timeouts.get(authority).copied()
    }
}

/// For the cost strategies: each primary upstream with a fixed model that no price covers, since
/// it is ranked after every priced upstream whatever it really costs. An upstream without a
/// model is priced per request, and one of weight 0 gets no traffic, so neither is flagged.
fn price_warnings(
    routes: &[RouteSpec],
    providers: &[Arc<Provider>],
) -> Vec<switchyard_shared::validate::FieldWarning> {
    let mut warnings = Vec::new();
    for (r, route) in routes.iter().enumerate() {
        if !matches!(
            route.strategy,
            RoutingStrategy::LeastCost | RoutingStrategy::CostUnderLatency
        ) {
            continue;
        }
        for (u, upstream) in route.upstreams.iter().enumerate() {
            let Some(model) = upstream.model.as_deref().filter(|_| upstream.weight > 0) else {
                continue;
            };
            let Some(provider) = providers.iter().find(|p| *p.name == upstream.provider) else {
                continue;
            };
            if provider.pricing.price(model).is_none() {
                warnings.push(switchyard_shared::validate::FieldWarning {
                    field: format!("routes[{r}].upstreams[{u}].model"),
                    message: format!(
                        "no price for '{model}' at provider '{}': {} ranks it after every priced \
                         upstream; give the provider a pricing entry (0 for a free one)",
                        provider.name,
                        route.strategy.as_str()
                    ),
                });
            }
        }
    }
    warnings
}

/// Lists what the routes can serve: exact match values, upstream rewrites, mapping targets and
/// the models the routes' providers declare. `owned_by` names the provider that serves it.
fn models_body(routes: &[Route], exact: &HashMap<Box<str>, usize>, at: SystemTime) -> Bytes {
    let mut models: BTreeMap<&str, &str> = BTreeMap::new();
    for (value, &index) in exact {
        let route = &routes[index];
        models.insert(value, &route.pick_first_named().provider.name);
    }
    for route in routes {
        for upstream in route.upstreams() {
            let provider = &*upstream.provider;
            let owner: &str = &provider.name;
            if let Some(model) = &upstream.model {
                models.entry(model).or_insert(owner);
            }
            for target in provider.mapping.targets() {
                models.entry(target).or_insert(owner);
            }
            for model in &provider.models {
                models.entry(model).or_insert(owner);
            }
        }
    }
    let created = at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let data: Vec<serde_json::Value> = models
        .into_iter()
        .map(|(id, owner)| {
            serde_json::json!({"id": id, "object": "model", "created": created, "owned_by": owner})
        })
        .collect();
    Bytes::from(serde_json::json!({"object": "list", "data": data}).to_string())
}

impl Route {
    /// The upstream with the highest weight, as the route's representative provider.
    fn pick_first_named(&self) -> &Upstream {
        self.upstreams
            .iter()
            .max_by_key(|u| u.weight)
            .unwrap_or(&self.upstreams[0])
    }
}

/// A DeepSeek provider with one key, for unit tests.
#[cfg(test)]
pub(crate) fn test_provider_spec(name: &str) -> switchyard_shared::ProviderSpec {
    switchyard_shared::ProviderSpec {
        name: name.into(),
        kind: switchyard_shared::ProviderType::Deepseek,
        base_url: None,
        api_keys: Some(vec!["sk-test".into()]),
        models: vec![],
        model_mapping: Default::default(),
        headers: Default::default(),
        timeouts: Default::default(),
        api_version: None,
        deployments: Default::default(),
        pricing: Default::default(),
        default_max_tokens: None,
        token_failover: None,
        health_check: None,
        anthropic_betas: None,
        responses_api: None,
        aws_region: None,
    }
}

/// A route with one provider and no limits, for the pipeline's unit tests.
#[cfg(test)]
pub(crate) fn test_route(name: &str, allowed_consumers: Option<HashSet<String>>) -> Route {
    use switchyard_shared::MatchRule;
    let spec = RouteSpec {
        name: name.into(),
        priority: 0,
        matches: vec![MatchRule {
            kind: MatchKind::Prefix,
            value: "m".into(),
        }],
        upstreams: vec![RouteUpstream {
            provider: "p".into(),
            weight: 100,
            model: None,
            priority: 0,
        }],
        strategy: Default::default(),
        max_latency_ms: None,
        sticky_by: None,
        fallback: None,
        retry: None,
        timeout_ms: None,
        auth: None,
        limits: Default::default(),
        reserve_completion_tokens: None,
        cache: None,
        guardrails: Vec::new(),
    };
    let provider = test_provider_spec("p");
    let registry = HealthRegistry::default();
    let provider =
        Arc::new(Provider::build(1, &provider, &[1], &registry).unwrap_or_else(|e| panic!("{e}")));
    Route {
        id: 1,
        name: Arc::from(name),
        name_header: HeaderValue::from_static("test"),
        priority: 0,
        upstreams: vec![Upstream::build(&provider, 100, None, 0, &registry)],
        groups: std::iter::once(0..1).collect(),
        fallback: Vec::new(),
        fallback_random: false,
        fallback_on: Vec::new(),
        retry: Retry::default(),
        timeout: None,
        allowed_consumers,
        scope: None,
        reserve_completion_tokens: u64::from(DEFAULT_RESERVED_COMPLETION_TOKENS),
        guardrails: Vec::new(),
        strategy: Strategy::Weighted,
        strategy_headers: strategy_headers(RoutingStrategy::Weighted),
        spec,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{StoredProvider, StoredRoute};
    use switchyard_shared::{MatchRule, RouteUpstream};

    mod strategies;

    fn provider(name: &str) -> StoredProvider {
        StoredProvider {
            id: 1,
            spec: test_provider_spec(name),
            key_ids: vec![1],
        }
    }

    fn route(
        name: &str,
        priority: i32,
        rules: &[(MatchKind, &str)],
        weights: &[u32],
    ) -> StoredRoute {
        StoredRoute {
            id: 1,
            spec: RouteSpec {
                name: name.into(),
                priority,
                matches: rules
                    .iter()
                    .map(|(kind, value)| MatchRule {
                        kind: *kind,
                        value: (*value).into(),
                    })
                    .collect(),
                upstreams: weights
                    .iter()
                    .enumerate()
                    .map(|(i, w)| RouteUpstream {
                        provider: "p".into(),
                        weight: *w,
                        model: Some(format!("m{i}")),
                        priority: 0,
                    })
                    .collect(),
                strategy: Default::default(),
                max_latency_ms: None,
                sticky_by: None,
                fallback: None,
                retry: None,
                timeout_ms: None,
                auth: None,
                limits: Default::default(),
                reserve_completion_tokens: None,
                cache: None,
                guardrails: Vec::new(),
            },
        }
    }

    fn build(routes: Vec<StoredRoute>) -> Snapshot {
        Snapshot::build(
            LoadedConfig {
                revision: 1,
                providers: vec![provider("p")],
                routes,
                consumers: Vec::new(),
                settings: Default::default(),
                guardrails: Vec::new(),
            },
            1,
            &HealthRegistry::default(),
        )
        .expect("builds")
    }

    fn served_by<'a>(snapshot: &'a Snapshot, model: &str) -> Option<&'a str> {
        snapshot.route(model).map(|r| &*r.name)
    }

    #[test]
    fn matching_order() {
        use MatchKind::{Exact, Prefix};
        let snapshot = build(vec![
            route("short", 0, &[(Prefix, "gpt-")], &[1]),
            route("long", 0, &[(Prefix, "gpt-4")], &[1]),
            route("exact", 0, &[(Exact, "gpt-4o")], &[1]),
            route("b-tie", 0, &[(Prefix, "qwen")], &[1]),
            route("a-tie", 0, &[(Prefix, "qwen")], &[1]),
            route("low", 0, &[(Prefix, "ds-")], &[1]),
            route("high", 5, &[(Prefix, "ds-")], &[1]),
        ]);
        assert_eq!(served_by(&snapshot, "gpt-4o"), Some("exact"));
        assert_eq!(served_by(&snapshot, "gpt-4o-mini"), Some("long"));
        assert_eq!(served_by(&snapshot, "gpt-3.5"), Some("short"));
        assert_eq!(served_by(&snapshot, "qwen-max"), Some("a-tie"));
        assert_eq!(served_by(&snapshot, "ds-chat"), Some("high"));
        assert_eq!(served_by(&snapshot, "claude"), None);
        assert_eq!(served_by(&snapshot, "é"), None);
    }

    #[test]
    fn weighted_choice_skips_zero_weights() {
        let snapshot = build(vec![route("r", 0, &[(MatchKind::Prefix, "x")], &[0, 3, 1])]);
        let route = snapshot.route("x").expect("route");
        let mut counts = [0u32; 3];
        for _ in 0..4000 {
            let index = route
                .pick_primary(Instant::now(), &[], &Demand::default(), "x")
                .map(|(i, _)| i)
                .expect("a pick");
            let model = route.upstreams()[index].model.as_deref().expect("model");
            counts[model[1..].parse::<usize>().expect("index")] += 1;
        }
        assert_eq!(counts[0], 0);
        assert!((2700..3300).contains(&counts[1]), "{counts:?}");
    }

    #[test]
    fn lower_priority_groups_take_traffic_only_without_a_healthy_member_above() {
        let mut spec = route("r", 0, &[(MatchKind::Prefix, "x")], &[1, 100]);
        spec.spec.upstreams[0].priority = 5;
        let snapshot = build(vec![spec]);
        let route = snapshot.route("x").expect("route");
        assert_eq!(
            route.upstreams()[0].model.as_deref(),
            Some("m0"),
            "sorted by priority"
        );
        let now = Instant::now();
        for _ in 0..50 {
            assert_eq!(
                route
                    .pick_primary(now, &[], &Demand::default(), "x")
                    .map(|(i, _)| i),
                Some(0)
            );
        }
        assert_eq!(
            route
                .pick_primary(now, &[0], &Demand::default(), "x")
                .map(|(i, _)| i),
            Some(1)
        );
        assert_eq!(
            route
                .pick_primary(now, &[0, 1], &Demand::default(), "x")
                .map(|(i, _)| i),
            None
        );
    }

    #[test]
    fn broken_references_fail_the_build() {
        let mut bad = route("r", 0, &[(MatchKind::Prefix, "x")], &[1]);
        bad.spec.upstreams[0].provider = "missing".into();
        let err = Snapshot::build(
            LoadedConfig {
                revision: 1,
                providers: vec![provider("p")],
                routes: vec![bad],
                consumers: Vec::new(),
                settings: Default::default(),
                guardrails: Vec::new(),
            },
            1,
            &HealthRegistry::default(),
        )
        .expect_err("must fail");
        assert!(err.to_string().contains("missing"), "{err}");
    }
}
