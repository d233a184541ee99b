//! Validation of a route's routing strategy and the two options that belong to one strategy each:
//! `max_latency_ms` (only `cost_under_latency`) and `sticky_by` (only `sticky`).
//!
//! An option written for another strategy is refused rather than ignored, so that a route never
//! looks configured for something it does not do.

use super::{ValidationErrors, check_range, is_header_name};
use crate::config::{RouteSpec, RoutingStrategy, StickyBy, Timeouts};

/// The longest header name `sticky_by` accepts; real session headers are far shorter.
pub const MAX_STICKY_HEADER_LEN: usize = 64;

/// Headers that carry a client's credentials: hashing one to pick an upstream would make the
/// secret a routing input, and "key" sticks by the client key without reading it again.
const CREDENTIAL_HEADERS: [&str; 6] = [
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "cookie",
];

/// Checks `max_latency_ms` and `sticky_by` against the route's strategy.
pub(super) fn check_strategy(errors: &mut ValidationErrors, spec: &RouteSpec) {
    match (spec.strategy, spec.max_latency_ms) {
        (RoutingStrategy::CostUnderLatency, None) => errors.add(
            "max_latency_ms",
            "cost_under_latency needs max_latency_ms, the latency target in milliseconds",
        ),
        (RoutingStrategy::CostUnderLatency, Some(ms)) => {
            check_range(errors, "max_latency_ms", ms, 1..=Timeouts::MAX_MS);
        }
        (_, Some(_)) => errors.add(
            "max_latency_ms",
            "only the cost_under_latency strategy takes max_latency_ms",
        ),
        (_, None) => {}
    }
    match (spec.strategy, &spec.sticky_by) {
        (RoutingStrategy::Sticky, None) => errors.add(
            "sticky_by",
            "the sticky strategy needs sticky_by: \"consumer\", \"key\" or \"header:<name>\"",
        ),
        (RoutingStrategy::Sticky, Some(StickyBy::Header(name))) => {
            check_sticky_header(errors, name);
        }
        (RoutingStrategy::Sticky, Some(_)) => {}
        (_, Some(_)) => errors.add("sticky_by", "only the sticky strategy takes sticky_by"),
        (_, None) => {}
    }
}

fn check_sticky_header(errors: &mut ValidationErrors, name: &str) {
    if !is_header_name(name) || name.len() > MAX_STICKY_HEADER_LEN {
        errors.add(
            "sticky_by",
            "the header name must be 1 to 64 letters, digits or token symbols such as - and _",
        );
    } else if CREDENTIAL_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        errors.add(
            "sticky_by",
            format!("'{name}' carries a credential; use \"key\" to stick by the client key"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::{FieldError, validate_route};

    fn route(strategy: RoutingStrategy) -> RouteSpec {
        serde_json::from_value(serde_json::json!({
            "name": "r",
            "match": [{"type": "prefix", "value": "m-"}],
            "upstreams": [{"provider": "p"}],
            "strategy": strategy,
        }))
        .expect("a minimal route")
    }

    fn errors(spec: &RouteSpec) -> Vec<FieldError> {
        validate_route(spec).err().map(|e| e.0).unwrap_or_default()
    }

    fn one(field: &str, message: &str) -> Vec<FieldError> {
        vec![FieldError {
            field: field.into(),
            message: message.into(),
        }]
    }

    #[test]
    fn every_strategy_without_options_but_two_is_valid() {
        for strategy in RoutingStrategy::ALL {
            let found = errors(&route(strategy));
            match strategy {
                RoutingStrategy::CostUnderLatency | RoutingStrategy::Sticky => {
                    assert_eq!(found.len(), 1, "{strategy:?}: {found:?}")
                }
                _ => assert!(found.is_empty(), "{strategy:?}: {found:?}"),
            }
        }
    }

    #[test]
    fn max_latency_ms_belongs_to_cost_under_latency() {
        let mut spec = route(RoutingStrategy::CostUnderLatency);
        assert_eq!(
            errors(&spec),
            one(
                "max_latency_ms",
                "cost_under_latency needs max_latency_ms, the latency target in milliseconds"
            )
        );
        for bad in [0, Timeouts::MAX_MS + 1] {
            spec.max_latency_ms = Some(bad);
            assert_eq!(
                errors(&spec),
                one("max_latency_ms", "must be between 1 and 3600000")
            );
        }
        for good in [1, 2000, Timeouts::MAX_MS] {
            spec.max_latency_ms = Some(good);
            assert_eq!(errors(&spec), vec![]);
        }
        let mut other = route(RoutingStrategy::LeastLatency);
        other.max_latency_ms = Some(2000);
        assert_eq!(
            errors(&other),
            one(
                "max_latency_ms",
                "only the cost_under_latency strategy takes max_latency_ms"
            )
        );
    }

    #[test]
    fn sticky_by_belongs_to_sticky() {
        let mut spec = route(RoutingStrategy::Sticky);
        assert_eq!(
            errors(&spec),
            one(
                "sticky_by",
                "the sticky strategy needs sticky_by: \"consumer\", \"key\" or \"header:<name>\""
            )
        );
        for good in [
            StickyBy::Consumer,
            StickyBy::Key,
            StickyBy::Header("x-session-id".into()),
        ] {
            spec.sticky_by = Some(good);
            assert_eq!(errors(&spec), vec![]);
        }
        let mut other = route(RoutingStrategy::Weighted);
        other.sticky_by = Some(StickyBy::Key);
        assert_eq!(
            errors(&other),
            one("sticky_by", "only the sticky strategy takes sticky_by")
        );
    }

    #[test]
    fn sticky_headers_are_tokens_and_not_credentials() {
        let mut spec = route(RoutingStrategy::Sticky);
        let shape =
            "the header name must be 1 to 64 letters, digits or token symbols such as - and _";
        for bad in [String::new(), "x session".into(), "x".repeat(65)] {
            spec.sticky_by = Some(StickyBy::Header(bad.clone()));
            assert_eq!(errors(&spec), one("sticky_by", shape), "{bad:?}");
        }
        spec.sticky_by = Some(StickyBy::Header("x".repeat(64)));
        assert_eq!(errors(&spec), vec![]);
        for secret in CREDENTIAL_HEADERS {
            spec.sticky_by = Some(StickyBy::Header(secret.into()));
            assert_eq!(
                errors(&spec),
                one(
                    "sticky_by",
                    &format!(
                        "'{secret}' carries a credential; use \"key\" to stick by the client key"
                    )
                )
            );
        }
    }

    #[test]
    fn sticky_by_reads_and_writes_its_three_forms() {
        let read = |text: &str| serde_json::from_value::<StickyBy>(serde_json::json!(text));
        assert_eq!(read("consumer").ok(), Some(StickyBy::Consumer));
        assert_eq!(read("key").ok(), Some(StickyBy::Key));
        let header = read("header:X-Session-Id").expect("a header form");
        assert_eq!(header, StickyBy::Header("x-session-id".into()));
        assert_eq!(
            serde_json::to_value(&header).ok(),
            Some(serde_json::json!("header:x-session-id"))
        );
        for text in ["consumer", "key", "header:x-session-id"] {
            let value = read(text).expect("a valid form");
            assert_eq!(
                serde_json::to_value(&value).ok(),
                Some(serde_json::json!(text))
            );
        }
        let wrong = read("session").expect_err("not a form");
        assert_eq!(
            wrong.to_string(),
            "expected \"consumer\", \"key\" or \"header:<name>\""
        );
    }

    #[test]
    fn an_unknown_strategy_is_refused_by_name() {
        let wrong = serde_json::from_value::<RoutingStrategy>(serde_json::json!("fastest"))
            .expect_err("not a strategy");
        assert_eq!(
            wrong.to_string(),
            "unknown variant `fastest`, expected one of `weighted`, `least_latency`, `least_cost`, \
             `cost_under_latency`, `least_busy`, `sticky`"
        );
        for strategy in RoutingStrategy::ALL {
            assert_eq!(
                serde_json::to_value(strategy).ok(),
                Some(serde_json::json!(strategy.as_str()))
            );
        }
    }

    #[test]
    fn a_document_names_the_route_of_a_wrong_option() {
        let mut spec = route(RoutingStrategy::Sticky);
        spec.sticky_by = Some(StickyBy::Header("authorization".into()));
        let doc = crate::config::ConfigDocument {
            routes: vec![spec],
            ..Default::default()
        };
        let known = std::collections::BTreeSet::from(["p".to_owned()]);
        let found = crate::validate::validate_document(&doc, &known, &Default::default())
            .expect_err("a credential header");
        let fields: Vec<&str> = found.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["routes[0].sticky_by"]);
    }

    #[test]
    fn a_weighted_route_writes_none_of_the_new_fields() {
        let spec = route(RoutingStrategy::Weighted);
        let written = serde_json::to_value(&spec).expect("serialisable");
        for field in ["strategy", "max_latency_ms", "sticky_by"] {
            assert!(written.get(field).is_none(), "{field} in {written}");
        }
    }
}
