//! Tests of the preset table: every type listed once with its serde name, sound base URLs and
//! defaults, and base URLs completed with each type's documented path.

use super::*;
use crate::validate::check_base_url;

/// The variant names serde knows, read from its "unknown variant" error, which lists them all:
/// the one list that cannot miss a variant.
fn serde_variant_names() -> Vec<String> {
    let error = serde_json::from_str::<ProviderType>("\"no-such-type\"")
        .expect_err("an unknown type is refused")
        .to_string();
    // serde_json appends the position: "… expected one of `a`, `b` at line 1 column 14".
    let list = error
        .split_once("expected one of ")
        .map(|(_, list)| list.split(" at line").next().unwrap_or(list))
        .expect("serde names the expected variants");
    list.split(", ")
        .map(|name| {
            name.trim_end_matches(|c: char| !c.is_alphanumeric())
                .trim_matches('`')
                .to_owned()
        })
        .collect()
}

#[test]
fn all_lists_every_type_once_with_its_serde_name() {
    let mut variants = serde_variant_names();
    assert!(variants.len() >= 40, "{variants:?}");
    let mut listed: Vec<String> = ProviderType::ALL
        .iter()
        .map(|kind| kind.as_str().to_owned())
        .collect();
    variants.sort();
    listed.sort();
    let before = listed.len();
    listed.dedup();
    assert_eq!(listed.len(), before, "ALL lists a type twice");
    assert_eq!(listed, variants, "ALL and the enum differ");
    for kind in ProviderType::ALL {
        let json = serde_json::to_string(&kind).expect("serializes");
        assert_eq!(json, format!("\"{}\"", kind.as_str()));
        let back: ProviderType = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, kind);
        assert_eq!(kind.preset().kind, kind, "{kind}'s row is another type's");
        assert_eq!(ProviderType::from_name(kind.as_str()), Some(kind));
    }
}

#[test]
fn stored_type_names_never_change() {
    let names = [
        "openai",
        "deepseek",
        "qwen",
        "moonshot",
        "zhipu",
        "groq",
        "mistral",
        "together",
        "xai",
        "openrouter",
        "fireworks",
        "siliconflow",
        "ollama",
        "vllm",
        "openai-compatible",
        "anthropic",
        "gemini",
        "azure",
    ];
    for name in names {
        assert!(ProviderType::from_name(name).is_some(), "{name} is gone");
    }
}

#[test]
fn all_is_ordered_by_group() {
    let groups: Vec<Group> = ProviderType::ALL.iter().map(|k| k.group()).collect();
    assert!(
        groups.windows(2).all(|pair| pair[0] <= pair[1]),
        "{groups:?}"
    );
    for group in Group::ALL {
        assert!(groups.contains(&group), "{group:?} is empty");
    }
}

#[test]
fn every_row_is_usable() {
    for kind in ProviderType::ALL {
        let preset = kind.preset();
        match (preset.default_base_url, preset.base_url_template) {
            (Some(url), None) => {
                assert_eq!(check_base_url(url), Ok(()), "{kind}: {url}");
                assert!(!url.ends_with('/'), "{kind}: {url}");
                assert_eq!(
                    kind.effective_base_url(Some(url)).as_deref(),
                    Some(url),
                    "{kind}: its own default is kept as it is"
                );
            }
            (None, Some(template)) => assert!(template.starts_with("https://"), "{kind}"),
            other => panic!("{kind}: a default base URL or a template, not {other:?}"),
        }
        if let Some(model) = preset.default_model {
            assert_eq!(preset.suggested_models.first(), Some(&model), "{kind}");
        }
        // Only services whose models are the operator's choice go without a default model.
        if preset.default_model.is_none() {
            assert!(
                matches!(kind, ProviderType::Azure) || preset.group == Group::SelfHosted,
                "{kind} needs a default model"
            );
        }
        let header = preset.auth.header_name();
        assert_eq!(header, header.to_ascii_lowercase(), "{kind}");
        assert!(
            preset.capabilities.chat && preset.capabilities.stream,
            "{kind}"
        );
        assert!(
            !preset.label.is_empty() && !preset.hint.is_empty(),
            "{kind}"
        );
        assert!(preset.hint.ends_with('.'), "{kind}: the hint is a sentence");
        if let Some(docs) = preset.docs_url {
            assert!(docs.starts_with("https://"), "{kind}: {docs}");
        }
        assert_eq!(
            preset.requires_key,
            preset.group != Group::SelfHosted,
            "{kind}"
        );
    }
}

#[test]
fn keys_travel_as_each_service_expects() {
    assert_eq!(ProviderType::Openai.auth(), AuthStyle::Bearer);
    assert_eq!(
        ProviderType::Anthropic.auth(),
        AuthStyle::Header("x-api-key")
    );
    assert_eq!(
        ProviderType::Gemini.auth(),
        AuthStyle::Header("x-goog-api-key")
    );
    assert_eq!(ProviderType::Azure.auth(), AuthStyle::Header("api-key"));
    assert_eq!(AuthStyle::Bearer.header_value("sk-1"), "Bearer sk-1");
    assert_eq!(AuthStyle::Header("api-key").header_value("k"), "k");
    assert_eq!(
        AuthStyle::Header("x-api-key").to_string(),
        "x-api-key: <key>"
    );
}

#[test]
fn capabilities_read_as_a_short_line() {
    assert_eq!(
        ProviderType::Anthropic.capabilities().summary(),
        "chat · stream · tools · vision"
    );
    assert_eq!(
        ProviderType::Deepseek.capabilities().reasoning,
        ReasoningField::ReasoningContent
    );
    assert_eq!(
        ProviderType::Openrouter.capabilities().reasoning,
        ReasoningField::Reasoning
    );
}

#[test]
fn own_hosts_get_their_documented_paths() {
    let effective = |kind: ProviderType, url: &str| kind.effective_base_url(Some(url));
    let cases = [
        (
            ProviderType::Github,
            "https://models.github.ai",
            "https://models.github.ai/inference",
        ),
        (
            ProviderType::Baidu,
            "https://qianfan.baidubce.com",
            "https://qianfan.baidubce.com/v2",
        ),
        (
            ProviderType::Deepinfra,
            "https://api.deepinfra.com/",
            "https://api.deepinfra.com/v1/openai",
        ),
        (
            ProviderType::Doubao,
            "https://ark.cn-beijing.volces.com",
            "https://ark.cn-beijing.volces.com/api/v3",
        ),
        (
            ProviderType::Cohere,
            "https://api.cohere.com",
            "https://api.cohere.com/v2",
        ),
        // Perplexity's API has no version path.
        (
            ProviderType::Perplexity,
            "https://api.perplexity.ai/",
            "https://api.perplexity.ai",
        ),
        // A self-hosted server's root gets /v1 wherever it runs.
        (
            ProviderType::Lmstudio,
            "http://10.0.0.7:1234",
            "http://10.0.0.7:1234/v1",
        ),
        (
            ProviderType::Llamacpp,
            "http://gpu-box:8080",
            "http://gpu-box:8080/v1",
        ),
        // Cloudflare's URL carries the account id, so a bare host is left alone.
        (
            ProviderType::Cloudflare,
            "https://api.cloudflare.com",
            "https://api.cloudflare.com",
        ),
        // Another region's host is not the type's own: taken as given.
        (
            ProviderType::Moonshot,
            "https://api.moonshot.ai/v1",
            "https://api.moonshot.ai/v1",
        ),
    ];
    for (kind, configured, expected) in cases {
        assert_eq!(
            effective(kind, configured).as_deref(),
            Some(expected),
            "{kind}"
        );
    }
    assert_eq!(ProviderType::Cloudflare.effective_base_url(None), None);
}

#[test]
fn base_urls_work_with_or_without_the_version_path() {
    let effective = |kind: ProviderType, url: &str| kind.effective_base_url(Some(url));
    let anthropic = ProviderType::Anthropic;
    assert_eq!(
        effective(anthropic, "https://api.anthropic.com").as_deref(),
        Some("https://api.anthropic.com/v1")
    );
    assert_eq!(
        effective(anthropic, "https://api.anthropic.com/v1/").as_deref(),
        Some("https://api.anthropic.com/v1")
    );
    assert_eq!(
        effective(
            ProviderType::Gemini,
            "https://generativelanguage.googleapis.com"
        )
        .as_deref(),
        Some("https://generativelanguage.googleapis.com/v1beta")
    );
    assert_eq!(
        effective(
            ProviderType::Gemini,
            "https://generativelanguage.googleapis.com/v1"
        )
        .as_deref(),
        Some("https://generativelanguage.googleapis.com/v1")
    );
    assert_eq!(
        effective(ProviderType::Deepseek, "https://api.deepseek.com").as_deref(),
        Some("https://api.deepseek.com/v1")
    );
    assert_eq!(
        effective(ProviderType::Ollama, "http://10.0.0.5:11434").as_deref(),
        Some("http://10.0.0.5:11434/v1")
    );
    // Another host of an OpenAI-style type is taken as given: it may serve at its root.
    assert_eq!(
        effective(ProviderType::Openai, "https://proxy.example.com").as_deref(),
        Some("https://proxy.example.com")
    );
    assert_eq!(
        effective(ProviderType::OpenaiCompatible, "http://127.0.0.1:9000/").as_deref(),
        Some("http://127.0.0.1:9000")
    );
    assert_eq!(
        ProviderType::Openai.effective_base_url(None).as_deref(),
        Some("https://api.openai.com/v1")
    );
}
