//! Presets of the model labs' own APIs (OpenAI, Anthropic, Google, xAI, Mistral, Cohere, AI21)
//! and of Azure OpenAI.

use super::ProviderType;
use super::preset::{AuthStyle, Capabilities, Group, Preset};
use crate::provider_type::Protocol;

pub static OPENAI: Preset = Preset {
    kind: ProviderType::Openai,
    name: "openai",
    label: "OpenAI",
    group: Group::Frontier,
    protocol: Protocol::OpenAi,
    default_base_url: Some("https://api.openai.com/v1"),
    base_url_template: None,
    default_model: Some("gpt-4o-mini"),
    suggested_models: &[
        "gpt-4o-mini",
        "gpt-4.1-mini",
        "gpt-5-mini",
        "gpt-5.4",
        "text-embedding-3-small",
    ],
    auth: AuthStyle::Bearer,
    requires_key: true,
    accepts_any_model: false,
    capabilities: Capabilities {
        vision: true,
        embeddings: true,
        responses: true,
        completions: true,
        images: true,
        audio_speech: true,
        audio_transcriptions: true,
        moderations: true,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://platform.openai.com/docs/api-reference"),
    hint: "Reasoning models keep their reasoning to themselves in chat completions; use the Responses API to get summaries of it.",
};

pub static ANTHROPIC: Preset = Preset {
    kind: ProviderType::Anthropic,
    name: "anthropic",
    label: "Anthropic (Claude)",
    group: Group::Frontier,
    protocol: Protocol::Anthropic,
    default_base_url: Some("https://api.anthropic.com/v1"),
    base_url_template: None,
    default_model: Some("claude-haiku-4-5"),
    suggested_models: &[
        "claude-haiku-4-5",
        "claude-sonnet-4-5",
        "claude-sonnet-4-6",
        "claude-opus-4-5",
    ],
    auth: AuthStyle::Header("x-api-key"),
    requires_key: true,
    accepts_any_model: false,
    capabilities: Capabilities {
        vision: true,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://platform.claude.com/docs/en/api/messages"),
    hint: "The gateway translates OpenAI-style chat to the Messages API; api_version sets the anthropic-version header (default 2023-06-01).",
};

pub static GEMINI: Preset = Preset {
    kind: ProviderType::Gemini,
    name: "gemini",
    label: "Google Gemini",
    group: Group::Frontier,
    protocol: Protocol::Gemini,
    default_base_url: Some("https://generativelanguage.googleapis.com/v1beta"),
    base_url_template: None,
    default_model: Some("gemini-2.5-flash"),
    suggested_models: &[
        "gemini-2.5-flash",
        "gemini-2.5-flash-lite",
        "gemini-2.5-pro",
        "gemini-embedding-001",
    ],
    auth: AuthStyle::Header("x-goog-api-key"),
    requires_key: true,
    accepts_any_model: false,
    capabilities: Capabilities {
        vision: true,
        embeddings: true,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://ai.google.dev/gemini-api/docs"),
    hint: "Keys from Google AI Studio; the gateway translates chat and embeddings to Gemini's own generateContent API.",
};

pub static AZURE: Preset = Preset {
    kind: ProviderType::Azure,
    name: "azure",
    label: "Azure OpenAI",
    group: Group::Frontier,
    protocol: Protocol::AzureOpenAi,
    default_base_url: None,
    base_url_template: Some("https://{resource}.openai.azure.com"),
    default_model: None,
    suggested_models: &[],
    auth: AuthStyle::Header("api-key"),
    requires_key: true,
    accepts_any_model: false,
    capabilities: Capabilities {
        vision: true,
        embeddings: true,
        responses: true,
        completions: true,
        images: true,
        audio_speech: true,
        audio_transcriptions: true,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://learn.microsoft.com/azure/ai-foundry/openai/reference"),
    hint: "Put your resource's endpoint in the base URL; each model is sent to the deployment of that name unless deployments maps it.",
};

pub static XAI: Preset = Preset {
    kind: ProviderType::Xai,
    name: "xai",
    label: "xAI (Grok)",
    group: Group::Frontier,
    protocol: Protocol::OpenAi,
    default_base_url: Some("https://api.x.ai/v1"),
    base_url_template: None,
    default_model: Some("grok-4.3"),
    suggested_models: &[
        "grok-4.3",
        "grok-4.20-0309-non-reasoning",
        "grok-4.20-0309-reasoning",
    ],
    auth: AuthStyle::Bearer,
    requires_key: true,
    accepts_any_model: false,
    capabilities: Capabilities {
        vision: true,
        responses: true,
        images: true,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://docs.x.ai/docs/api-reference"),
    hint: "OpenAI-compatible, Responses API included; image generation uses the grok-imagine models.",
};

pub static MISTRAL: Preset = Preset {
    kind: ProviderType::Mistral,
    name: "mistral",
    label: "Mistral",
    group: Group::Frontier,
    protocol: Protocol::OpenAi,
    default_base_url: Some("https://api.mistral.ai/v1"),
    base_url_template: None,
    default_model: Some("mistral-small-latest"),
    suggested_models: &[
        "mistral-small-latest",
        "mistral-medium-latest",
        "mistral-large-latest",
        "codestral-latest",
        "mistral-embed",
    ],
    auth: AuthStyle::Bearer,
    requires_key: true,
    accepts_any_model: false,
    capabilities: Capabilities {
        vision: true,
        embeddings: true,
        audio_transcriptions: true,
        moderations: true,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://docs.mistral.ai/api/"),
    hint: "Fill-in-the-middle is /fim/completions, not OpenAI's /completions; Magistral streams its thinking as content chunks of type thinking.",
};

pub static COHERE: Preset = Preset {
    kind: ProviderType::Cohere,
    name: "cohere",
    label: "Cohere",
    group: Group::Frontier,
    protocol: Protocol::Cohere,
    default_base_url: Some("https://api.cohere.com/v2"),
    base_url_template: None,
    default_model: Some("command-r7b-12-2024"),
    suggested_models: &[
        "command-r7b-12-2024",
        "command-r-08-2024",
        "command-a-03-2025",
        "embed-v4.0",
        "rerank-v3.5",
    ],
    auth: AuthStyle::Bearer,
    requires_key: true,
    accepts_any_model: false,
    capabilities: Capabilities {
        vision: true,
        embeddings: true,
        rerank: true,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://docs.cohere.com/reference/chat"),
    hint: "Cohere's own v2 API: chat (tool plans and thinking translated), embed and rerank.",
};

pub static AI21: Preset = Preset {
    kind: ProviderType::Ai21,
    name: "ai21",
    label: "AI21 Labs (Jamba)",
    group: Group::Frontier,
    protocol: Protocol::OpenAi,
    default_base_url: Some("https://api.ai21.com/studio/v1"),
    base_url_template: None,
    default_model: Some("jamba-mini"),
    suggested_models: &["jamba-mini", "jamba-large"],
    auth: AuthStyle::Bearer,
    requires_key: true,
    accepts_any_model: false,
    capabilities: Capabilities::CHAT,
    docs_url: Some("https://docs.ai21.com/reference/jamba-1-6-api-ref"),
    hint: "AI21 Studio offers chat completions only; the jamba-mini and jamba-large aliases follow the latest Jamba release.",
};
