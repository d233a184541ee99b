//! Warnings about configurations that are valid but will not do what they seem to: for now, a
//! fallback that sends the client's model name to a provider that will not recognise it.
//!
//! A warning never blocks a save. Paths look like errors' paths inside a document
//! (`routes[2].fallback.upstreams[0].model`), so the console can show them by the same inputs.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::config::{MatchKind, MatchRule, ProviderSpec, RouteSpec};
use crate::provider_type::ProviderType;

/// One field whose value is accepted but probably wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldWarning {
    pub field: String,
    pub message: String,
}

/// Warnings about a set of providers and routes (the whole configuration, or a document with the
/// stored providers it refers to). Routes whose providers are missing are the errors' business
/// and get no warning here.
///
/// A fallback upstream without `model` sends the client's model name on, through the provider's
/// `model_mapping`. It is flagged when that provider would not recognise the route's model
/// names: it lists `models` and none of them answers a match rule, or it lists none and is of
/// another type than the route's primary upstreams; in both cases with no mapping that renames
/// the name. A disabled fallback, and a provider that serves whatever name it gets (llama.cpp,
/// TGI), are left alone.
pub fn config_warnings(providers: &[ProviderSpec], routes: &[RouteSpec]) -> Vec<FieldWarning> {
    let by_name: BTreeMap<&str, &ProviderSpec> =
        providers.iter().map(|p| (p.name.as_str(), p)).collect();
    let mut warnings = Vec::new();
    for (r, route) in routes.iter().enumerate() {
        let Some(fallback) = route.fallback.as_ref().filter(|f| f.enabled) else {
            continue;
        };
        let primary_kinds: BTreeSet<ProviderType> = route
            .upstreams
            .iter()
            .filter_map(|u| by_name.get(u.provider.as_str()))
            .map(|p| p.kind)
            .collect();
        for (u, upstream) in fallback.upstreams.iter().enumerate() {
            if upstream.model.is_some() {
                continue;
            }
            let Some(provider) = by_name.get(upstream.provider.as_str()) else {
                continue;
            };
            if provider.kind.preset().accepts_any_model {
                continue;
            }
            let unrecognised = route
                .matches
                .iter()
                .find(|rule| !recognises(provider, rule, &primary_kinds));
            if let Some(rule) = unrecognised {
                warnings.push(FieldWarning {
                    field: format!("routes[{r}].fallback.upstreams[{u}].model"),
                    message: message(provider, rule, &primary_kinds),
                });
            }
        }
    }
    warnings
}

/// Whether the provider would take the names a match rule lets through: its mapping renames
/// them, its `models` list has them, or (listing none) it is of a primary upstream's type, whose
/// names the route was written for. With no known primary type there is nothing to compare, so
/// the provider gets the benefit of the doubt.
fn recognises(provider: &ProviderSpec, rule: &MatchRule, primary: &BTreeSet<ProviderType>) -> bool {
    if mapping_renames(&provider.model_mapping, rule) {
        return true;
    }
    if provider.models.is_empty() {
        return primary.is_empty() || primary.contains(&provider.kind);
    }
    match rule.kind {
        MatchKind::Exact => provider.models.contains(&rule.value),
        // A prefix lets many names through; one listed model among them is taken as intent.
        MatchKind::Prefix => provider.models.iter().any(|m| m.starts_with(&rule.value)),
    }
}

/// Whether `model_mapping` gives the rule's names a new (non-empty) name, with the server's
/// precedence for an exact name: exact key, then the longest `prefix*`, then `*`. For a prefix
/// rule, any key that reaches some of its names counts.
fn mapping_renames(mapping: &BTreeMap<String, String>, rule: &MatchRule) -> bool {
    match rule.kind {
        MatchKind::Exact => mapped(mapping, &rule.value).is_some_and(|to| !to.is_empty()),
        MatchKind::Prefix => mapping.iter().any(|(key, to)| {
            let reaches = match key.strip_suffix('*') {
                Some(prefix) => rule.value.starts_with(prefix) || prefix.starts_with(&rule.value),
                None => key.starts_with(&rule.value),
            };
            reaches && !to.is_empty()
        }),
    }
}

/// The mapping's target for one name, as the server looks it up.
fn mapped<'a>(mapping: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    if let Some(to) = mapping.get(name) {
        return Some(to);
    }
    let longest_prefix = mapping
        .iter()
        .filter_map(|(key, to)| Some((key.strip_suffix('*')?, to)))
        .filter(|(prefix, _)| name.starts_with(prefix))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, to)| to.as_str());
    longest_prefix.or_else(|| mapping.get("*").map(String::as_str))
}

/// "fallback to 'deepseek' sends the client's model name (e.g. 'qwen-plus') unchanged; DeepSeek
/// will not recognise it — set model (DeepSeek's default is deepseek-chat)".
fn message(provider: &ProviderSpec, rule: &MatchRule, primary: &BTreeSet<ProviderType>) -> String {
    let name = &provider.name;
    let label = provider.kind.preset().short_label();
    let example = example_name(rule, primary);
    let reason = if provider.models.is_empty() {
        format!("{label} will not recognise it")
    } else {
        format!("it is not among the models '{name}' lists, and no model_mapping renames it")
    };
    let advice = match (provider.kind.default_model(), provider.models.first()) {
        (Some(default), _)
            if provider.models.is_empty() || provider.models.iter().any(|m| m == default) =>
        {
            format!("set model ({label}'s default is {default})")
        }
        (_, Some(listed)) => format!("set model to one it serves, such as {listed}"),
        (Some(default), None) => format!("set model ({label}'s default is {default})"),
        (None, None) => "set model to one it serves".to_owned(),
    };
    format!(
        "fallback to '{name}' sends the client's model name (e.g. '{example}') unchanged; {reason} — {advice}"
    )
}

/// A name the rule lets through: its value when exact; for a prefix, a primary type's default
/// model that has it, else the prefix followed by an ellipsis.
fn example_name(rule: &MatchRule, primary: &BTreeSet<ProviderType>) -> String {
    match rule.kind {
        MatchKind::Exact => rule.value.clone(),
        MatchKind::Prefix => primary
            .iter()
            .filter_map(|kind| kind.default_model())
            .find(|model| model.starts_with(&rule.value))
            .map_or_else(|| format!("{}…", rule.value), str::to_owned),
    }
}

#[cfg(test)]
mod tests;
