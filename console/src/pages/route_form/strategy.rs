//! The route form's Routing card: how the upstreams of a priority group share its traffic, with
//! the latency target of `cost_under_latency` and the session of `sticky`.

use leptos::prelude::*;
use switchyard_shared::{RouteSpec, RoutingStrategy, StickyBy};

use crate::components::field::{FieldErr, SelectField, TextField};
use crate::form::{Parse, from_wire, opt_text, wire_name};

/// The message for a sticky-by-header route whose header is not named yet.
const NAME_THE_HEADER: &str = "name the header, e.g. x-session-id";

#[derive(Clone, Copy)]
pub struct StrategyInputs {
    strategy: RwSignal<String>,
    max_latency_ms: RwSignal<String>,
    /// `consumer`, `key` or `header`.
    sticky_kind: RwSignal<String>,
    sticky_header: RwSignal<String>,
}

impl StrategyInputs {
    pub fn new(spec: Option<&RouteSpec>) -> Self {
        let strategy = spec.map(|s| s.strategy).unwrap_or_default();
        let (kind, header) = match spec.and_then(|s| s.sticky_by.as_ref()) {
            Some(StickyBy::Header(name)) => ("header", name.clone()),
            Some(StickyBy::Key) => ("key", String::new()),
            Some(StickyBy::Consumer) | None => ("consumer", String::new()),
        };
        StrategyInputs {
            strategy: RwSignal::new(wire_name(&strategy)),
            max_latency_ms: RwSignal::new(opt_text(spec.and_then(|s| s.max_latency_ms))),
            sticky_kind: RwSignal::new(kind.to_owned()),
            sticky_header: RwSignal::new(header),
        }
    }

    fn chosen(&self) -> RoutingStrategy {
        from_wire(&self.strategy.get_untracked()).unwrap_or_default()
    }

    /// The strategy and its options. An option is sent only with the strategy it belongs to, so
    /// switching a route to another strategy leaves no option behind that the server refuses.
    pub fn build(&self, parse: &mut Parse) -> (RoutingStrategy, Option<u64>, Option<StickyBy>) {
        let strategy = self.chosen();
        let max_latency_ms = (strategy == RoutingStrategy::CostUnderLatency)
            .then(|| parse.opt_u64("max_latency_ms", &self.max_latency_ms.get_untracked()))
            .flatten();
        let sticky_by = (strategy == RoutingStrategy::Sticky)
            .then(|| self.sticky_by(parse))
            .flatten();
        (strategy, max_latency_ms, sticky_by)
    }

    fn sticky_by(&self, parse: &mut Parse) -> Option<StickyBy> {
        match self.sticky_kind.get_untracked().as_str() {
            "key" => Some(StickyBy::Key),
            "header" => {
                let name = self
                    .sticky_header
                    .get_untracked()
                    .trim()
                    .to_ascii_lowercase();
                if name.is_empty() {
                    parse.add("sticky_by", NAME_THE_HEADER);
                    return None;
                }
                Some(StickyBy::Header(name))
            }
            _ => Some(StickyBy::Consumer),
        }
    }
}

/// Each strategy's name in the picker and the one line that says what it does (the README's
/// "Routing strategies" section has the formulas in full).
fn describe(strategy: RoutingStrategy) -> (&'static str, &'static str) {
    match strategy {
        RoutingStrategy::Weighted => ("Weighted", "At random in proportion to the weights."),
        RoutingStrategy::LeastLatency => (
            "Least latency",
            "The lowest predicted time: time to first token + expected output tokens × ms per token.",
        ),
        RoutingStrategy::LeastCost => (
            "Least cost",
            "The lowest predicted price: prompt × input price + expected output × output price, cached input discounted.",
        ),
        RoutingStrategy::CostUnderLatency => (
            "Cost under latency",
            "The cheapest upstream predicted to answer within the target; if none does, the fastest.",
        ),
        RoutingStrategy::LeastBusy => (
            "Least busy",
            "The fewest requests in flight from this gateway, ties by weight.",
        ),
        RoutingStrategy::Sticky => (
            "Sticky",
            "One session keeps one upstream while it is healthy; sessions spread by weight.",
        ),
    }
}

#[component]
pub fn StrategySection(inputs: StrategyInputs) -> impl IntoView {
    let options: Vec<(String, String)> = RoutingStrategy::ALL
        .into_iter()
        .map(|s| (s.as_str().to_owned(), describe(s).0.to_owned()))
        .collect();
    let sticky_kinds = vec![
        ("consumer".to_owned(), "Consumer".to_owned()),
        ("key".to_owned(), "Client key".to_owned()),
        ("header".to_owned(), "A request header".to_owned()),
    ];
    let chosen = move || from_wire(&inputs.strategy.get()).unwrap_or(RoutingStrategy::Weighted);
    view! {
        <section class="card">
            <h2 class="card-title">"Routing"</h2>
            <p class="hint">
                "How the upstreams of one priority group share its traffic. Lower groups, the fallback and retries work the same for every strategy."
            </p>
            <div class="grid-2">
                <div>
                    <SelectField
                        label="Strategy"
                        id="route-strategy"
                        value=inputs.strategy
                        options=options
                        testid="route-strategy"
                        path="strategy"
                    />
                    <p class="hint" data-testid="route-strategy-hint">
                        {move || describe(chosen()).1}
                    </p>
                </div>
                {move || match chosen() {
                    RoutingStrategy::CostUnderLatency => {
                        view! {
                            <TextField
                                label="Latency target (ms)"
                                id="route-max-latency"
                                value=inputs.max_latency_ms
                                testid="route-max-latency"
                                path="max_latency_ms"
                                numeric=true
                                required=true
                                placeholder="e.g. 2000"
                                hint="The predicted time an upstream must meet to be chosen for its price."
                            />
                        }
                            .into_any()
                    }
                    RoutingStrategy::Sticky => {
                        view! { <StickyFields inputs=inputs options=sticky_kinds.clone() /> }.into_any()
                    }
                    _ => ().into_any(),
                }}
            </div>
        </section>
    }
}

/// What one session is: the consumer, the client key, or a header's value.
#[component]
fn StickyFields(inputs: StrategyInputs, options: Vec<(String, String)>) -> impl IntoView {
    view! {
        <div>
            <SelectField
                label="One session is"
                id="route-sticky-by"
                value=inputs.sticky_kind
                options=options
                testid="route-sticky-by"
            />
            {move || {
                if inputs.sticky_kind.get() == "header" {
                    view! {
                        <TextField
                            label="Header"
                            id="route-sticky-header"
                            value=inputs.sticky_header
                            testid="route-sticky-header"
                            path="sticky_by"
                            placeholder="x-session-id"
                            hint="Requests without it are spread by weight."
                        />
                    }
                        .into_any()
                } else {
                    view! { <FieldErr path="sticky_by".to_owned() /> }.into_any()
                }
            }}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_go_only_with_their_strategy() {
        let mut parse = Parse::default();
        let inputs = StrategyInputs::new(None);
        assert_eq!(
            inputs.build(&mut parse),
            (RoutingStrategy::Weighted, None, None)
        );

        inputs.max_latency_ms.set("2000".into());
        inputs.sticky_kind.set("header".into());
        inputs.sticky_header.set(" X-Session-Id ".into());
        assert_eq!(
            inputs.build(&mut parse),
            (RoutingStrategy::Weighted, None, None)
        );
        inputs.strategy.set("cost_under_latency".into());
        assert_eq!(
            inputs.build(&mut parse),
            (RoutingStrategy::CostUnderLatency, Some(2000), None)
        );
        inputs.strategy.set("sticky".into());
        assert_eq!(
            inputs.build(&mut parse),
            (
                RoutingStrategy::Sticky,
                None,
                Some(StickyBy::Header("x-session-id".into()))
            )
        );
        inputs.sticky_kind.set("key".into());
        assert_eq!(inputs.build(&mut parse).2, Some(StickyBy::Key));
        assert!(parse.errors.is_empty(), "{:?}", parse.errors);
    }

    #[test]
    fn an_unnamed_header_or_an_unreadable_target_is_a_field_error() {
        let mut parse = Parse::default();
        let inputs = StrategyInputs::new(None);
        inputs.strategy.set("sticky".into());
        inputs.sticky_kind.set("header".into());
        assert_eq!(inputs.build(&mut parse).2, None);
        inputs.strategy.set("cost_under_latency".into());
        inputs.max_latency_ms.set("fast".into());
        assert_eq!(inputs.build(&mut parse).1, None);
        let found: Vec<(&str, &str)> = parse
            .errors
            .iter()
            .map(|e| (e.field.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("sticky_by", NAME_THE_HEADER),
                ("max_latency_ms", "must be a whole number")
            ]
        );
    }

    #[test]
    fn every_strategy_has_a_name_and_a_hint() {
        for strategy in RoutingStrategy::ALL {
            let (name, hint) = describe(strategy);
            assert!(!name.is_empty() && hint.ends_with('.'), "{strategy:?}");
        }
    }
}
