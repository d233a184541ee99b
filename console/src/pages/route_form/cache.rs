//! The route form's response cache section: whether repeated requests are answered from the
//! cache, for how long, and whose requests may share an answer.

use leptos::prelude::*;
use switchyard_shared::{CacheScope, RouteCache};

use crate::components::field::{Checkbox, FieldErr, SelectField, TextField};
use crate::form::{Parse, from_wire, opt_text, wire_name};

/// The TTL an empty field means, as the shared crate's serde default defines it.
fn default_ttl() -> u64 {
    serde_json::from_str::<RouteCache>("{}")
        .map(|c| c.ttl_seconds)
        .unwrap_or(3600)
}

#[derive(Clone, Copy)]
pub struct CacheInputs {
    enabled: RwSignal<bool>,
    ttl: RwSignal<String>,
    scope: RwSignal<String>,
}

impl CacheInputs {
    pub fn new(cache: Option<&RouteCache>) -> Self {
        CacheInputs {
            enabled: RwSignal::new(cache.is_some_and(|c| c.enabled)),
            ttl: RwSignal::new(opt_text(cache.map(|c| c.ttl_seconds))),
            scope: RwSignal::new(wire_name(&cache.map(|c| c.scope).unwrap_or_default())),
        }
    }

    /// `cache`: none while a route that had none is left untouched; otherwise every setting,
    /// kept (switched off) when the box is unticked, so the TTL and scope are not forgotten.
    pub fn build(&self, parse: &mut Parse, original: Option<&RouteCache>) -> Option<RouteCache> {
        let enabled = self.enabled.get_untracked();
        let ttl = self.ttl.get_untracked();
        let scope: CacheScope = from_wire(&self.scope.get_untracked()).unwrap_or_default();
        let touched = enabled || !ttl.trim().is_empty() || scope != CacheScope::default();
        (original.is_some() || touched).then(|| RouteCache {
            enabled,
            ttl_seconds: parse.u64_or("cache.ttl_seconds", &ttl, default_ttl()),
            scope,
        })
    }
}

#[component]
pub fn CacheSection(inputs: CacheInputs) -> impl IntoView {
    let scopes = vec![
        (
            "consumer".to_owned(),
            "Per consumer: a consumer only gets its own cached answers".to_owned(),
        ),
        (
            "global".to_owned(),
            "Shared: every caller of this route shares the answers".to_owned(),
        ),
    ];
    let max_days = RouteCache::MAX_TTL_SECONDS / 86_400;
    view! {
        <section class="card">
            <h2 class="card-title">"Response cache"</h2>
            <p class="hint">
                "A request identical to an earlier one (same upstream model, messages and parameters) is answered from memory, at no cost, until the entry expires. Clients can skip it with Cache-Control: no-cache (or no-store, which also keeps their answer out)."
            </p>
            <Checkbox
                label="Answer repeated requests from the cache"
                id="route-cache-enabled"
                checked=inputs.enabled
                testid="route-cache-enabled"
            />
            <div class="grid-2">
                <TextField
                    label="Keep answers for (seconds)"
                    id="route-cache-ttl"
                    value=inputs.ttl
                    testid="route-cache-ttl"
                    path="cache.ttl_seconds"
                    numeric=true
                    placeholder=default_ttl().to_string()
                    hint=format!("At most {max_days} days. Empty: one hour.")
                />
                <SelectField
                    label="Shared between"
                    id="route-cache-scope"
                    value=inputs.scope
                    options=scopes
                    testid="route-cache-scope"
                    path="cache.scope"
                />
            </div>
            <FieldErr path="cache".to_owned() />
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_untouched_route_gets_no_cache_and_a_cache_is_kept_when_switched_off() {
        let mut parse = Parse::default();
        assert_eq!(CacheInputs::new(None).build(&mut parse, None), None);

        let inputs = CacheInputs::new(None);
        inputs.enabled.set(true);
        let built = inputs.build(&mut parse, None);
        assert_eq!(
            built,
            Some(RouteCache {
                enabled: true,
                ttl_seconds: 3600,
                scope: CacheScope::Consumer,
            })
        );

        let original = RouteCache {
            enabled: true,
            ttl_seconds: 60,
            scope: CacheScope::Global,
        };
        let inputs = CacheInputs::new(Some(&original));
        inputs.enabled.set(false);
        assert_eq!(
            inputs.build(&mut parse, Some(&original)),
            Some(RouteCache {
                enabled: false,
                ..original
            })
        );
        assert!(parse.errors.is_empty());
    }
}
