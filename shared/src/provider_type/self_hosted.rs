//! Presets of servers the operator runs (Ollama, vLLM, LM Studio, llama.cpp, LocalAI, TGI) and of
//! the generic OpenAI-compatible type. Their default ports are the servers' own; keys are
//! optional, since most run without one.

use super::ProviderType;
use super::preset::{AuthStyle, Capabilities, Group, Preset, ReasoningField};
use crate::provider_type::Protocol;

/// The fields every row here shares: OpenAI's wire format, an optional bearer key.
macro_rules! local {
    ($($field:ident: $value:expr),* $(,)?) => {
        Preset {
            group: Group::SelfHosted,
            protocol: Protocol::OpenAi,
            auth: AuthStyle::Bearer,
            requires_key: false,
            $($field: $value),*
        }
    };
}

pub static OLLAMA: Preset = local! {
    kind: ProviderType::Ollama,
    name: "ollama",
    label: "Ollama",
    default_base_url: Some("http://127.0.0.1:11434/v1"),
    base_url_template: None,
    default_model: Some("llama3.2"),
    suggested_models: &["llama3.2", "qwen3", "gpt-oss:20b", "nomic-embed-text"],
    accepts_any_model: false,
    capabilities: Capabilities {
        vision: true,
        embeddings: true,
        completions: true,
        reasoning: ReasoningField::Reasoning,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://docs.ollama.com/api/openai-compatibility"),
    hint: "Serves the models pulled with ollama pull, by their tag (llama3.2, qwen3:8b); thinking models return it in reasoning.",
};

pub static VLLM: Preset = local! {
    kind: ProviderType::Vllm,
    name: "vllm",
    label: "vLLM",
    default_base_url: Some("http://127.0.0.1:8000/v1"),
    base_url_template: None,
    default_model: None,
    suggested_models: &[],
    accepts_any_model: false,
    capabilities: Capabilities {
        vision: true,
        embeddings: true,
        responses: true,
        completions: true,
        audio_transcriptions: true,
        rerank: true,
        reasoning: ReasoningField::ReasoningContent,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html"),
    hint: "Serves the model it was started with, by its Hugging Face name or --served-model-name; tools need --enable-auto-tool-choice.",
};

pub static LMSTUDIO: Preset = local! {
    kind: ProviderType::Lmstudio,
    name: "lmstudio",
    label: "LM Studio",
    default_base_url: Some("http://127.0.0.1:1234/v1"),
    base_url_template: None,
    default_model: None,
    suggested_models: &[],
    accepts_any_model: false,
    capabilities: Capabilities {
        vision: true,
        embeddings: true,
        responses: true,
        completions: true,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://lmstudio.ai/docs/developer/openai-compat"),
    hint: "Start the server in LM Studio's Developer tab; a downloaded model loads on its first request by its model key.",
};

pub static LLAMACPP: Preset = local! {
    kind: ProviderType::Llamacpp,
    name: "llamacpp",
    label: "llama.cpp server",
    default_base_url: Some("http://127.0.0.1:8080/v1"),
    base_url_template: None,
    default_model: None,
    suggested_models: &[],
    accepts_any_model: true,
    capabilities: Capabilities {
        vision: true,
        embeddings: true,
        completions: true,
        rerank: true,
        reasoning: ReasoningField::ReasoningContent,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://github.com/ggml-org/llama.cpp/blob/master/tools/server/README.md"),
    hint: "llama-server answers with the model it loaded whatever the model name; tools need --jinja, embeddings --embeddings, rerank --reranking.",
};

pub static LOCALAI: Preset = local! {
    kind: ProviderType::Localai,
    name: "localai",
    label: "LocalAI",
    default_base_url: Some("http://127.0.0.1:8080/v1"),
    base_url_template: None,
    default_model: None,
    suggested_models: &[],
    accepts_any_model: false,
    capabilities: Capabilities {
        vision: true,
        embeddings: true,
        completions: true,
        images: true,
        audio_speech: true,
        audio_transcriptions: true,
        rerank: true,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://localai.io/"),
    hint: "Serves the models installed in its gallery by their configured names; the all-in-one images answer to OpenAI names such as gpt-4.",
};

pub static TGI: Preset = local! {
    kind: ProviderType::Tgi,
    name: "tgi",
    label: "Hugging Face TGI",
    default_base_url: Some("http://127.0.0.1:8080/v1"),
    base_url_template: None,
    default_model: Some("tgi"),
    suggested_models: &["tgi"],
    accepts_any_model: true,
    capabilities: Capabilities {
        vision: true,
        completions: true,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://huggingface.co/docs/text-generation-inference/messages_api"),
    hint: "Text Generation Inference serves one model and ignores the model name (its docs use tgi); the container's port 80 is usually published as 8080.",
};

pub static OPENAI_COMPATIBLE: Preset = local! {
    kind: ProviderType::OpenaiCompatible,
    name: "openai-compatible",
    label: "OpenAI-compatible (any)",
    default_base_url: None,
    base_url_template: Some("https://llm.example.com/v1"),
    default_model: None,
    suggested_models: &[],
    accepts_any_model: false,
    // Any endpoint may exist behind a generic base URL: requests are passed through and the
    // server answers for what it supports.
    capabilities: Capabilities {
        vision: true,
        embeddings: true,
        responses: true,
        completions: true,
        images: true,
        audio_speech: true,
        audio_transcriptions: true,
        moderations: true,
        rerank: true,
        ..Capabilities::CHAT
    },
    docs_url: None,
    hint: "Any server that speaks OpenAI's API; give its base URL up to and including the version path (…/v1).",
};
