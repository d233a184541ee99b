//! The closed list of provider types, and each one's preset: its wire protocol, default base
//! URL and model, how its key is sent and what its service offers (see [`Preset`]).

use serde::{Deserialize, Serialize};

mod china;
mod clouds;
mod frontier;
mod preset;
mod self_hosted;

pub use preset::{AuthStyle, Capabilities, Group, Preset, ReasoningField};

/// The wire protocol a provider speaks. Every provider type maps to exactly one protocol, and the
/// server has one module per protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// OpenAI's chat completions and embeddings API, spoken by most providers natively.
    OpenAi,
    /// Azure OpenAI: OpenAI's bodies, with deployments in the URL and an `api-key` header.
    AzureOpenAi,
    /// Anthropic's Messages API.
    Anthropic,
    /// Google's Gemini API (generateContent).
    Gemini,
    /// Amazon Bedrock's Converse and ConverseStream APIs, signed with SigV4.
    Bedrock,
    /// Gemini on Google Vertex AI: Gemini's bodies, Vertex's paths, a service account's token.
    Vertex,
    /// Cohere's v2 API (chat, embed, rerank).
    Cohere,
}

/// A provider type as written in the config (`"type": "deepseek"`). Stored configurations name
/// types by these serde names, so an existing name never changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum ProviderType {
    Openai,
    Deepseek,
    Qwen,
    Moonshot,
    Zhipu,
    Groq,
    Mistral,
    Together,
    Xai,
    Openrouter,
    Fireworks,
    Siliconflow,
    Ollama,
    Vllm,
    OpenaiCompatible,
    Anthropic,
    Gemini,
    Azure,
    Cohere,
    Ai21,
    Baidu,
    Hunyuan,
    Minimax,
    Doubao,
    Spark,
    Stepfun,
    Yi,
    Baichuan,
    Ai360,
    Perplexity,
    Github,
    Nvidia,
    Cerebras,
    Sambanova,
    Deepinfra,
    Cloudflare,
    Hyperbolic,
    Novita,
    Nebius,
    Huggingface,
    Lmstudio,
    Llamacpp,
    Localai,
    Tgi,
    Bedrock,
    Vertex,
}

impl ProviderType {
    /// Every type, in the order a picker lists them: by [`Group`], then as the group's file
    /// lists them.
    pub const ALL: [ProviderType; 46] = [
        // Frontier labs.
        ProviderType::Openai,
        ProviderType::Anthropic,
        ProviderType::Gemini,
        ProviderType::Azure,
        ProviderType::Xai,
        ProviderType::Mistral,
        ProviderType::Cohere,
        ProviderType::Ai21,
        // China.
        ProviderType::Deepseek,
        ProviderType::Qwen,
        ProviderType::Moonshot,
        ProviderType::Zhipu,
        ProviderType::Baidu,
        ProviderType::Hunyuan,
        ProviderType::Minimax,
        ProviderType::Doubao,
        ProviderType::Spark,
        ProviderType::Stepfun,
        ProviderType::Yi,
        ProviderType::Baichuan,
        ProviderType::Ai360,
        ProviderType::Siliconflow,
        // Inference clouds and aggregators.
        ProviderType::Groq,
        ProviderType::Together,
        ProviderType::Fireworks,
        ProviderType::Openrouter,
        ProviderType::Perplexity,
        ProviderType::Github,
        ProviderType::Nvidia,
        ProviderType::Cerebras,
        ProviderType::Sambanova,
        ProviderType::Deepinfra,
        ProviderType::Cloudflare,
        ProviderType::Hyperbolic,
        ProviderType::Novita,
        ProviderType::Nebius,
        ProviderType::Huggingface,
        ProviderType::Bedrock,
        ProviderType::Vertex,
        // Self-hosted and generic.
        ProviderType::Ollama,
        ProviderType::Vllm,
        ProviderType::Lmstudio,
        ProviderType::Llamacpp,
        ProviderType::Localai,
        ProviderType::Tgi,
        ProviderType::OpenaiCompatible,
    ];

    /// The type's row of facts.
    pub fn preset(self) -> &'static Preset {
        match self {
            ProviderType::Openai => &frontier::OPENAI,
            ProviderType::Anthropic => &frontier::ANTHROPIC,
            ProviderType::Gemini => &frontier::GEMINI,
            ProviderType::Azure => &frontier::AZURE,
            ProviderType::Xai => &frontier::XAI,
            ProviderType::Mistral => &frontier::MISTRAL,
            ProviderType::Cohere => &frontier::COHERE,
            ProviderType::Ai21 => &frontier::AI21,
            ProviderType::Deepseek => &china::DEEPSEEK,
            ProviderType::Qwen => &china::QWEN,
            ProviderType::Moonshot => &china::MOONSHOT,
            ProviderType::Zhipu => &china::ZHIPU,
            ProviderType::Baidu => &china::BAIDU,
            ProviderType::Hunyuan => &china::HUNYUAN,
            ProviderType::Minimax => &china::MINIMAX,
            ProviderType::Doubao => &china::DOUBAO,
            ProviderType::Spark => &china::SPARK,
            ProviderType::Stepfun => &china::STEPFUN,
            ProviderType::Yi => &china::YI,
            ProviderType::Baichuan => &china::BAICHUAN,
            ProviderType::Ai360 => &china::AI360,
            ProviderType::Siliconflow => &china::SILICONFLOW,
            ProviderType::Groq => &clouds::GROQ,
            ProviderType::Together => &clouds::TOGETHER,
            ProviderType::Fireworks => &clouds::FIREWORKS,
            ProviderType::Openrouter => &clouds::OPENROUTER,
            ProviderType::Perplexity => &clouds::PERPLEXITY,
            ProviderType::Github => &clouds::GITHUB,
            ProviderType::Nvidia => &clouds::NVIDIA,
            ProviderType::Cerebras => &clouds::CEREBRAS,
            ProviderType::Sambanova => &clouds::SAMBANOVA,
            ProviderType::Deepinfra => &clouds::DEEPINFRA,
            ProviderType::Cloudflare => &clouds::CLOUDFLARE,
            ProviderType::Hyperbolic => &clouds::HYPERBOLIC,
            ProviderType::Novita => &clouds::NOVITA,
            ProviderType::Nebius => &clouds::NEBIUS,
            ProviderType::Huggingface => &clouds::HUGGINGFACE,
            ProviderType::Bedrock => &clouds::BEDROCK,
            ProviderType::Vertex => &clouds::VERTEX,
            ProviderType::Ollama => &self_hosted::OLLAMA,
            ProviderType::Vllm => &self_hosted::VLLM,
            ProviderType::Lmstudio => &self_hosted::LMSTUDIO,
            ProviderType::Llamacpp => &self_hosted::LLAMACPP,
            ProviderType::Localai => &self_hosted::LOCALAI,
            ProviderType::Tgi => &self_hosted::TGI,
            ProviderType::OpenaiCompatible => &self_hosted::OPENAI_COMPATIBLE,
        }
    }

    /// The type named `name` in configuration, if any.
    pub fn from_name(name: &str) -> Option<ProviderType> {
        ProviderType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The name used in configuration and in the API.
    pub fn as_str(self) -> &'static str {
        self.preset().name
    }

    /// The name people know the service by (`Baidu Qianfan (ERNIE)`).
    pub fn label(self) -> &'static str {
        self.preset().label
    }

    pub fn group(self) -> Group {
        self.preset().group
    }

    pub fn protocol(self) -> Protocol {
        self.preset().protocol
    }

    /// What the type's service offers, for the gateway's pass-through and the console.
    pub fn capabilities(self) -> Capabilities {
        self.preset().capabilities
    }

    /// How the type sends its API key: which header, and whether as `Bearer <key>`.
    pub fn auth(self) -> AuthStyle {
        self.preset().auth
    }

    /// The model a fallback to this type should ask for when the client's name means nothing to
    /// it; `None` where the models depend on the operator's server or account.
    pub fn default_model(self) -> Option<&'static str> {
        self.preset().default_model
    }

    /// The base URL used when a provider sets none; `None` means the operator must give one.
    /// Paths such as `/chat/completions` are appended to it.
    pub fn default_base_url(self) -> Option<&'static str> {
        self.preset().default_base_url
    }

    /// The base URL requests go to, given the configured one. A URL without a path gets the
    /// version path the provider's API lives under, as the providers' own SDKs add it:
    /// `https://api.anthropic.com` → `…/v1`, `https://generativelanguage.googleapis.com` →
    /// `…/v1beta`; a self-hosted server's root (Ollama, vLLM, LM Studio, …) → `…/v1`; and a
    /// hosted service's own host (`https://api.deepseek.com`) → its documented path. Any other
    /// URL is taken as given, without a trailing slash.
    pub fn effective_base_url(self, configured: Option<&str>) -> Option<String> {
        let Some(configured) = configured else {
            return self.default_base_url().map(str::to_owned);
        };
        let trimmed = configured.trim().trim_end_matches('/');
        let Some((scheme, rest)) = trimmed.split_once("://") else {
            return Some(trimmed.to_owned());
        };
        if rest.contains('/') || rest.contains('?') || rest.is_empty() {
            return Some(trimmed.to_owned());
        }
        let default = self.default_base_url();
        let default_path = default
            .and_then(|url| url.split_once("://"))
            .and_then(|(_, rest)| rest.find('/').map(|at| &rest[at..]));
        let default_host = default
            .and_then(|url| url.split_once("://"))
            .map(|(_, rest)| rest.split('/').next().unwrap_or(rest));
        let append = match self.protocol() {
            Protocol::Anthropic | Protocol::Gemini => default_path,
            _ if self.group() == Group::SelfHosted => default_path,
            _ if default_host.is_some_and(|host| host.eq_ignore_ascii_case(rest)) => default_path,
            _ => None,
        };
        Some(match append {
            Some(path) => format!("{scheme}://{rest}{path}"),
            None => trimmed.to_owned(),
        })
    }

    /// Whether a provider of this type needs at least one API key. Self-hosted servers usually
    /// run without one, so for them keys are optional.
    pub fn requires_key(self) -> bool {
        self.preset().requires_key
    }
}

impl std::fmt::Display for ProviderType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests;
