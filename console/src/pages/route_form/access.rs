//! The route form's access section: which consumers may call the route (`auth`), the limits on
//! all its callers together, and the completion tokens a token limit reserves per request.

use leptos::prelude::*;
use switchyard_shared::config::DEFAULT_RESERVED_COMPLETION_TOKENS;
use switchyard_shared::{Limits, RouteAuth, RouteSpec};

use crate::components::field::TextField;
use crate::components::limits::{LimitsFields, LimitsInputs};
use crate::components::rows::TagList;
use crate::form::{Parse, opt_text};

#[derive(Clone, Copy)]
pub struct AccessInputs {
    pub consumers: RwSignal<Vec<String>>,
    pub consumer_draft: RwSignal<String>,
    limits: LimitsInputs,
    reserve: RwSignal<String>,
}

impl AccessInputs {
    pub fn new(spec: Option<&RouteSpec>) -> Self {
        let consumers = spec
            .and_then(|s| s.auth.as_ref())
            .map(|a| a.allowed_consumers.clone())
            .unwrap_or_default();
        AccessInputs {
            consumers: RwSignal::new(consumers),
            consumer_draft: RwSignal::new(String::new()),
            limits: LimitsInputs::new(&spec.map(|s| s.limits).unwrap_or_default()),
            reserve: RwSignal::new(opt_text(spec.and_then(|s| s.reserve_completion_tokens))),
        }
    }

    /// `auth`, `limits` and `reserve_completion_tokens`. An `auth` the route had is kept (with
    /// whatever else it may say) even when its list is emptied; none is added for an empty list.
    pub fn build(
        &self,
        parse: &mut Parse,
        original: Option<&RouteSpec>,
    ) -> (Option<RouteAuth>, Limits, Option<u32>) {
        let consumers = self.consumers.get_untracked();
        let auth = match original.and_then(|o| o.auth.clone()) {
            Some(mut auth) => {
                auth.allowed_consumers = consumers;
                Some(auth)
            }
            None => (!consumers.is_empty()).then_some(RouteAuth {
                allowed_consumers: consumers,
            }),
        };
        let limits = self.limits.build(parse, "limits");
        let reserve = parse.opt_u32("reserve_completion_tokens", &self.reserve.get_untracked());
        (auth, limits, reserve)
    }
}

#[component]
pub fn AccessSection(inputs: AccessInputs) -> impl IntoView {
    view! {
        <section class="card">
            <h2 class="card-title">"Access and limits"</h2>
            <TagList
                tags=inputs.consumers
                draft=inputs.consumer_draft
                prefix="auth.allowed_consumers"
                testid="route-allowed-consumers"
                label="Allowed consumers"
                id="route-allowed-consumers"
                placeholder="e.g. team-a"
                hint="Only these consumers may use this route (others get 403, callers without a key 401). Empty: every caller."
            />
            <h3 class="sub-title">"Limits on all callers together"</h3>
            <p class="hint">
                "Protect this route's upstreams, whoever calls: anonymous callers and every consumer count against them. Empty means unlimited."
            </p>
            <LimitsFields inputs=inputs.limits prefix="limits" id_prefix="route-limits" />
            <div class="grid-3">
                <TextField
                    label="Reserved completion tokens"
                    id="route-reserve-tokens"
                    value=inputs.reserve
                    testid="route-reserve-tokens"
                    path="reserve_completion_tokens"
                    numeric=true
                    placeholder=DEFAULT_RESERVED_COMPLETION_TOKENS.to_string()
                    hint="What a token limit holds back for a request without max_tokens, until the real count is known."
                />
            </div>
        </section>
    }
}
