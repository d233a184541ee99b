//! Tests of the fallback warnings: when a provider would not recognise the client's model name,
//! and when a model, a mapping, a models list or a shared type says it would.

use serde_json::{Value, json};

use super::*;

fn provider(value: Value) -> ProviderSpec {
    serde_json::from_value(value).expect("a provider spec")
}

/// A route taking `prefix` to `primary`, falling back to `fallback` (a JSON list of upstreams).
fn route(name: &str, prefix: &str, primary: &str, fallback: Value) -> RouteSpec {
    serde_json::from_value(json!({
        "name": name,
        "match": [{"type": "prefix", "value": prefix}],
        "upstreams": [{"provider": primary}],
        "fallback": {"enabled": true, "upstreams": fallback},
    }))
    .expect("a route spec")
}

fn providers() -> Vec<ProviderSpec> {
    vec![
        provider(json!({"name": "qwen", "type": "qwen", "api_keys": ["k"]})),
        provider(json!({"name": "qwen-backup", "type": "qwen", "api_keys": ["k"]})),
        provider(json!({"name": "deepseek", "type": "deepseek", "api_keys": ["k"]})),
        provider(json!({"name": "local", "type": "llamacpp"})),
    ]
}

fn fields(warnings: &[FieldWarning]) -> Vec<&str> {
    warnings.iter().map(|w| w.field.as_str()).collect()
}

#[test]
fn a_fallback_to_another_type_without_a_model_is_flagged() {
    let routes = [route(
        "qwen",
        "qwen",
        "qwen",
        json!([{"provider": "deepseek"}]),
    )];
    let warnings = config_warnings(&providers(), &routes);
    assert_eq!(fields(&warnings), ["routes[0].fallback.upstreams[0].model"]);
    assert_eq!(
        warnings[0].message,
        "fallback to 'deepseek' sends the client's model name (e.g. 'qwen-plus') unchanged; \
         DeepSeek will not recognise it — set model (DeepSeek's default is deepseek-chat)"
    );
}

#[test]
fn a_model_a_mapping_or_a_shared_type_settles_it() {
    let quiet = |routes: &[RouteSpec], providers: &[ProviderSpec]| {
        let warnings = config_warnings(providers, routes);
        assert!(warnings.is_empty(), "{warnings:?}");
    };
    let with_model = json!([{"provider": "deepseek", "model": "deepseek-chat"}]);
    quiet(&[route("r", "qwen", "qwen", with_model)], &providers());
    // Another provider of the primary's type knows the same names.
    quiet(
        &[route(
            "r",
            "qwen",
            "qwen",
            json!([{"provider": "qwen-backup"}]),
        )],
        &providers(),
    );
    // A mapping that renames the route's names.
    let mut mapped = providers();
    mapped[2]
        .model_mapping
        .insert("qwen*".into(), "deepseek-chat".into());
    let to_deepseek = || route("r", "qwen", "qwen", json!([{"provider": "deepseek"}]));
    quiet(&[to_deepseek()], &mapped);
    mapped[2].model_mapping.clear();
    mapped[2]
        .model_mapping
        .insert("*".into(), "deepseek-chat".into());
    quiet(&[to_deepseek()], &mapped);
    // llama.cpp answers whatever the name.
    quiet(
        &[route("r", "qwen", "qwen", json!([{"provider": "local"}]))],
        &providers(),
    );
    // A disabled fallback sends nothing.
    let mut disabled = to_deepseek();
    if let Some(fallback) = disabled.fallback.as_mut() {
        fallback.enabled = false;
    }
    quiet(&[disabled], &providers());
    // Missing providers are the reference check's errors, not warnings.
    quiet(
        &[route("r", "qwen", "qwen", json!([{"provider": "nowhere"}]))],
        &providers(),
    );
    quiet(
        &[route(
            "r",
            "qwen",
            "nowhere",
            json!([{"provider": "deepseek"}]),
        )],
        &providers(),
    );
}

#[test]
fn an_empty_mapping_target_keeps_the_name() {
    let mut providers = providers();
    providers[2].model_mapping.insert("*".into(), String::new());
    let routes = [route(
        "r",
        "qwen",
        "qwen",
        json!([{"provider": "deepseek"}]),
    )];
    assert_eq!(
        fields(&config_warnings(&providers, &routes)),
        ["routes[0].fallback.upstreams[0].model"]
    );
}

#[test]
fn exact_names_follow_the_servers_mapping_precedence() {
    let mut providers = providers();
    let exact: RouteSpec = serde_json::from_value(json!({
        "name": "gpt",
        "match": [{"type": "exact", "value": "gpt-4o"}],
        "upstreams": [{"provider": "qwen"}],
        "fallback": {"enabled": true, "upstreams": [{"provider": "deepseek"}]},
    }))
    .expect("a route spec");
    let routes = [exact];
    let deepseek = &mut providers[2].model_mapping;
    deepseek.insert("gpt-*".into(), "deepseek-chat".into());
    assert!(config_warnings(&providers, &routes).is_empty());
    // The exact key wins, and its empty target keeps the name.
    providers[2]
        .model_mapping
        .insert("gpt-4o".into(), String::new());
    let warnings = config_warnings(&providers, &routes);
    assert_eq!(fields(&warnings), ["routes[0].fallback.upstreams[0].model"]);
    assert!(
        warnings[0].message.contains("(e.g. 'gpt-4o')"),
        "{warnings:?}"
    );
}

#[test]
fn a_models_list_must_answer_the_route() {
    let mut providers = providers();
    providers[2].models = vec!["deepseek-chat".into(), "deepseek-reasoner".into()];
    let routes = [route(
        "r",
        "qwen",
        "qwen",
        json!([{"provider": "deepseek"}]),
    )];
    let warnings = config_warnings(&providers, &routes);
    assert_eq!(
        warnings[0].message,
        "fallback to 'deepseek' sends the client's model name (e.g. 'qwen-plus') unchanged; \
         it is not among the models 'deepseek' lists, and no model_mapping renames it — \
         set model (DeepSeek's default is deepseek-chat)"
    );
    // Listed models without the default are offered instead.
    providers[2].models = vec!["deepseek-v4-flash".into()];
    let warnings = config_warnings(&providers, &routes);
    assert!(
        warnings[0]
            .message
            .ends_with("set model to one it serves, such as deepseek-v4-flash"),
        "{warnings:?}"
    );
    // A listed model under the route's prefix is taken as the operator's intent, even across types.
    providers[2].models = vec!["qwen-plus".into()];
    assert!(config_warnings(&providers, &routes).is_empty());
    // So is it for the route's own provider type.
    providers[1].models = vec!["qwen-max".into()];
    let same_type = [route(
        "r",
        "qwen",
        "qwen",
        json!([{"provider": "qwen-backup"}]),
    )];
    assert!(config_warnings(&providers, &same_type).is_empty());
    let other_prefix = [route(
        "r",
        "deepseek-",
        "qwen",
        json!([{"provider": "qwen-backup"}]),
    )];
    assert_eq!(
        fields(&config_warnings(&providers, &other_prefix)),
        ["routes[0].fallback.upstreams[0].model"]
    );
}

#[test]
fn paths_name_the_route_and_the_upstream() {
    let routes = [
        route(
            "quiet",
            "qwen",
            "qwen",
            json!([{"provider": "qwen-backup"}]),
        ),
        route(
            "loud",
            "deepseek-",
            "deepseek",
            json!([
                {"provider": "deepseek"},
                {"provider": "qwen", "model": "qwen-plus"},
                {"provider": "qwen"},
            ]),
        ),
    ];
    let warnings = config_warnings(&providers(), &routes);
    assert_eq!(fields(&warnings), ["routes[1].fallback.upstreams[2].model"]);
    assert!(
        warnings[0].message.contains(
            "(e.g. 'deepseek-chat') unchanged; Qwen will not recognise it — \
             set model (Qwen's default is qwen-plus)"
        ),
        "{warnings:?}"
    );
}
