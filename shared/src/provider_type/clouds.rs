//! Presets of hosted inference clouds and routers that serve many vendors' open models.

use super::ProviderType;
use super::preset::{AuthStyle, Capabilities, Group, Preset, ReasoningField};
use crate::provider_type::Protocol;

/// The fields every row here shares: OpenAI's wire format, a bearer key that is required.
macro_rules! cloud {
    ($($field:ident: $value:expr),* $(,)?) => {
        Preset {
            group: Group::Clouds,
            protocol: Protocol::OpenAi,
            auth: AuthStyle::Bearer,
            requires_key: true,
            accepts_any_model: false,
            $($field: $value),*
        }
    };
}

pub static GROQ: Preset = cloud! {
    kind: ProviderType::Groq,
    name: "groq",
    label: "Groq",
    default_base_url: Some("https://api.groq.com/openai/v1"),
    base_url_template: None,
    default_model: Some("llama-3.3-70b-versatile"),
    suggested_models: &["llama-3.3-70b-versatile", "llama-3.1-8b-instant", "openai/gpt-oss-120b", "whisper-large-v3-turbo"],
    capabilities: Capabilities {
        vision: true,
        responses: true,
        audio_speech: true,
        audio_transcriptions: true,
        reasoning: ReasoningField::Reasoning,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://console.groq.com/docs/openai"),
    hint: "Reasoning models return their thinking in reasoning when a request sets reasoning_format to parsed.",
};

pub static TOGETHER: Preset = cloud! {
    kind: ProviderType::Together,
    name: "together",
    label: "Together AI",
    default_base_url: Some("https://api.together.xyz/v1"),
    base_url_template: None,
    default_model: Some("meta-llama/Llama-3.3-70B-Instruct-Turbo"),
    suggested_models: &["meta-llama/Llama-3.3-70B-Instruct-Turbo", "openai/gpt-oss-120b", "Qwen/Qwen3-235B-A22B-Instruct-2507-tput"],
    capabilities: Capabilities {
        vision: true,
        embeddings: true,
        completions: true,
        images: true,
        audio_speech: true,
        audio_transcriptions: true,
        rerank: true,
        reasoning: ReasoningField::Reasoning,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://docs.together.ai/docs/openai-api-compatibility"),
    hint: "Model names are vendor/model as on Together's model pages; rerank is at /rerank in Cohere's shape.",
};

pub static FIREWORKS: Preset = cloud! {
    kind: ProviderType::Fireworks,
    name: "fireworks",
    label: "Fireworks AI",
    default_base_url: Some("https://api.fireworks.ai/inference/v1"),
    base_url_template: None,
    default_model: Some("accounts/fireworks/models/gpt-oss-120b"),
    suggested_models: &["accounts/fireworks/models/gpt-oss-120b", "accounts/fireworks/models/deepseek-v4-flash", "accounts/fireworks/models/kimi-k2p6"],
    capabilities: Capabilities {
        vision: true,
        embeddings: true,
        responses: true,
        completions: true,
        reasoning: ReasoningField::ReasoningContent,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://fireworks.ai/docs/tools-sdks/openai-compatibility"),
    hint: "Model names are full paths such as accounts/fireworks/models/gpt-oss-120b.",
};

pub static OPENROUTER: Preset = cloud! {
    kind: ProviderType::Openrouter,
    name: "openrouter",
    label: "OpenRouter",
    default_base_url: Some("https://openrouter.ai/api/v1"),
    base_url_template: None,
    default_model: Some("openai/gpt-4o-mini"),
    suggested_models: &["openai/gpt-4o-mini", "anthropic/claude-haiku-4.5", "google/gemini-2.5-flash", "deepseek/deepseek-chat"],
    capabilities: Capabilities {
        vision: true,
        embeddings: true,
        responses: true,
        completions: true,
        reasoning: ReasoningField::Reasoning,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://openrouter.ai/docs/api-reference/overview"),
    hint: "Model names are vendor/model; add HTTP-Referer and X-Title headers to be listed in OpenRouter's rankings.",
};

pub static PERPLEXITY: Preset = cloud! {
    kind: ProviderType::Perplexity,
    name: "perplexity",
    label: "Perplexity (Sonar)",
    default_base_url: Some("https://api.perplexity.ai"),
    base_url_template: None,
    default_model: Some("sonar"),
    suggested_models: &["sonar", "sonar-pro", "sonar-reasoning-pro"],
    capabilities: Capabilities {
        tools: false,
        vision: true,
        reasoning: ReasoningField::ThinkTags,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://docs.perplexity.ai"),
    hint: "The base URL has no /v1; answers are web-grounded and carry citations, and the reasoning models think inside <think> tags.",
};

pub static GITHUB: Preset = cloud! {
    kind: ProviderType::Github,
    name: "github",
    label: "GitHub Models",
    default_base_url: Some("https://models.github.ai/inference"),
    base_url_template: None,
    default_model: Some("openai/gpt-4o-mini"),
    suggested_models: &["openai/gpt-4o-mini", "openai/gpt-4.1-mini", "meta/llama-3.3-70b-instruct", "openai/text-embedding-3-small"],
    capabilities: Capabilities {
        vision: true,
        embeddings: true,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://docs.github.com/en/rest/models/inference"),
    hint: "The key is a GitHub token with the models:read permission; to bill an organization use https://models.github.ai/orgs/{org}/inference.",
};

pub static NVIDIA: Preset = cloud! {
    kind: ProviderType::Nvidia,
    name: "nvidia",
    label: "NVIDIA NIM",
    default_base_url: Some("https://integrate.api.nvidia.com/v1"),
    base_url_template: None,
    default_model: Some("meta/llama-3.3-70b-instruct"),
    suggested_models: &["meta/llama-3.3-70b-instruct", "meta/llama-3.1-8b-instruct", "nvidia/nemotron-3-super-120b-a12b"],
    capabilities: Capabilities {
        vision: true,
        embeddings: true,
        completions: true,
        reasoning: ReasoningField::ReasoningContent,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://docs.api.nvidia.com/nim/reference/llm-apis"),
    hint: "Keys (nvapi-…) from build.nvidia.com; a self-hosted NIM container serves the same API at http://<host>:8000/v1.",
};

pub static CEREBRAS: Preset = cloud! {
    kind: ProviderType::Cerebras,
    name: "cerebras",
    label: "Cerebras",
    default_base_url: Some("https://api.cerebras.ai/v1"),
    base_url_template: None,
    default_model: Some("gpt-oss-120b"),
    suggested_models: &["gpt-oss-120b", "zai-glm-4.7"],
    capabilities: Capabilities {
        completions: true,
        reasoning: ReasoningField::Reasoning,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://inference-docs.cerebras.ai/resources/openai"),
    hint: "Reasoning models return their thinking in reasoning; legacy /completions is served too.",
};

pub static SAMBANOVA: Preset = cloud! {
    kind: ProviderType::Sambanova,
    name: "sambanova",
    label: "SambaNova",
    default_base_url: Some("https://api.sambanova.ai/v1"),
    base_url_template: None,
    default_model: Some("Meta-Llama-3.3-70B-Instruct"),
    suggested_models: &["Meta-Llama-3.3-70B-Instruct", "gpt-oss-120b", "DeepSeek-V3.1", "Meta-Llama-3.1-8B-Instruct"],
    capabilities: Capabilities {
        vision: true,
        embeddings: true,
        audio_transcriptions: true,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://docs.sambanova.ai/cloud/docs/capabilities/openai-compatibility"),
    hint: "Model names are case-sensitive (Meta-Llama-3.3-70B-Instruct).",
};

pub static DEEPINFRA: Preset = cloud! {
    kind: ProviderType::Deepinfra,
    name: "deepinfra",
    label: "DeepInfra",
    default_base_url: Some("https://api.deepinfra.com/v1/openai"),
    base_url_template: None,
    default_model: Some("meta-llama/Llama-3.3-70B-Instruct-Turbo"),
    suggested_models: &["meta-llama/Llama-3.3-70B-Instruct-Turbo", "openai/gpt-oss-120b", "deepseek-ai/DeepSeek-V3.2", "BAAI/bge-m3"],
    capabilities: Capabilities {
        vision: true,
        embeddings: true,
        completions: true,
        images: true,
        audio_speech: true,
        audio_transcriptions: true,
        reasoning: ReasoningField::ReasoningContent,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://deepinfra.com/docs/openai_api"),
    hint: "The OpenAI-compatible API lives under /v1/openai; model names are vendor/model.",
};

pub static CLOUDFLARE: Preset = cloud! {
    kind: ProviderType::Cloudflare,
    name: "cloudflare",
    label: "Cloudflare Workers AI",
    default_base_url: None,
    base_url_template: Some("https://api.cloudflare.com/client/v4/accounts/{account_id}/ai/v1"),
    default_model: Some("@cf/meta/llama-3.3-70b-instruct-fp8-fast"),
    suggested_models: &["@cf/meta/llama-3.3-70b-instruct-fp8-fast", "@cf/openai/gpt-oss-120b", "@cf/baai/bge-m3"],
    capabilities: Capabilities {
        embeddings: true,
        responses: true,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://developers.cloudflare.com/workers-ai/configuration/open-ai-compatibility/"),
    hint: "Put your account id in the base URL (…/accounts/{account_id}/ai/v1); the key is an API token with Workers AI permission.",
};

pub static HYPERBOLIC: Preset = cloud! {
    kind: ProviderType::Hyperbolic,
    name: "hyperbolic",
    label: "Hyperbolic",
    default_base_url: Some("https://api.hyperbolic.xyz/v1"),
    base_url_template: None,
    default_model: Some("meta-llama/Llama-3.3-70B-Instruct"),
    suggested_models: &["meta-llama/Llama-3.3-70B-Instruct", "deepseek-ai/DeepSeek-V3-0324", "Qwen/Qwen3-235B-A22B"],
    capabilities: Capabilities {
        tools: false,
        vision: true,
        completions: true,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://docs.hyperbolic.xyz/docs/rest-api"),
    hint: "Image generation uses Hyperbolic's own /image/generation API, which this type does not pass through.",
};

pub static NOVITA: Preset = cloud! {
    kind: ProviderType::Novita,
    name: "novita",
    label: "Novita AI",
    default_base_url: Some("https://api.novita.ai/openai"),
    base_url_template: None,
    default_model: Some("meta-llama/llama-3.3-70b-instruct"),
    suggested_models: &["meta-llama/llama-3.3-70b-instruct", "deepseek/deepseek-v3.2", "openai/gpt-oss-20b"],
    capabilities: Capabilities {
        vision: true,
        embeddings: true,
        completions: true,
        reasoning: ReasoningField::ReasoningContent,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://novita.ai/docs/guides/llm-api"),
    hint: "Model names are vendor/model in lower case; some reasoning models split their thinking into reasoning_content only with separate_reasoning.",
};

pub static NEBIUS: Preset = cloud! {
    kind: ProviderType::Nebius,
    name: "nebius",
    label: "Nebius Token Factory",
    default_base_url: Some("https://api.tokenfactory.nebius.com/v1"),
    base_url_template: None,
    default_model: Some("meta-llama/Llama-3.3-70B-Instruct"),
    suggested_models: &["meta-llama/Llama-3.3-70B-Instruct", "openai/gpt-oss-120b", "Qwen/Qwen3-235B-A22B-Instruct-2507"],
    capabilities: Capabilities {
        vision: true,
        embeddings: true,
        completions: true,
        images: true,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://docs.tokenfactory.nebius.com/api-reference/introduction"),
    hint: "Formerly Nebius AI Studio (api.studio.nebius.com); a -fast suffix on a model name selects its faster, dearer flavour.",
};

pub static HUGGINGFACE: Preset = cloud! {
    kind: ProviderType::Huggingface,
    name: "huggingface",
    label: "Hugging Face Inference Providers",
    default_base_url: Some("https://router.huggingface.co/v1"),
    base_url_template: None,
    default_model: Some("openai/gpt-oss-120b"),
    suggested_models: &["openai/gpt-oss-120b", "meta-llama/Llama-3.3-70B-Instruct", "deepseek-ai/DeepSeek-V4-Flash"],
    capabilities: Capabilities {
        vision: true,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://huggingface.co/docs/inference-providers"),
    hint: "The key is a Hugging Face token; a :provider suffix on the model name (openai/gpt-oss-120b:groq) pins the inference provider.",
};

pub static BEDROCK: Preset = Preset {
    kind: ProviderType::Bedrock,
    name: "bedrock",
    label: "Amazon Bedrock",
    group: Group::Clouds,
    protocol: Protocol::Bedrock,
    default_base_url: Some("https://bedrock-runtime.us-east-1.amazonaws.com"),
    base_url_template: None,
    default_model: Some("amazon.nova-lite-v1:0"),
    suggested_models: &[
        "amazon.nova-lite-v1:0",
        "amazon.nova-pro-v1:0",
        "us.anthropic.claude-3-5-haiku-20241022-v1:0",
        "us.meta.llama3-3-70b-instruct-v1:0",
    ],
    auth: AuthStyle::AwsSigV4,
    requires_key: true,
    accepts_any_model: false,
    capabilities: Capabilities {
        vision: true,
        ..Capabilities::CHAT
    },
    docs_url: Some(
        "https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html",
    ),
    hint: "The key is ACCESS_KEY_ID:SECRET_ACCESS_KEY (or with :SESSION_TOKEN) of an IAM identity allowed bedrock:InvokeModel; another region is https://bedrock-runtime.REGION.amazonaws.com.",
};

pub static VERTEX: Preset = Preset {
    kind: ProviderType::Vertex,
    name: "vertex",
    label: "Google Vertex AI",
    group: Group::Clouds,
    protocol: Protocol::Vertex,
    default_base_url: None,
    base_url_template: Some(
        "https://{location}-aiplatform.googleapis.com/v1/projects/{project}/locations/{location}",
    ),
    default_model: Some("gemini-2.5-flash"),
    suggested_models: &["gemini-2.5-flash", "gemini-2.5-pro", "text-embedding-005"],
    auth: AuthStyle::GoogleServiceAccount,
    requires_key: true,
    accepts_any_model: false,
    capabilities: Capabilities {
        vision: true,
        embeddings: true,
        ..Capabilities::CHAT
    },
    docs_url: Some(
        "https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/inference",
    ),
    hint: "The key is a service account's JSON key file (role Vertex AI User); the base URL names the project and location.",
};
