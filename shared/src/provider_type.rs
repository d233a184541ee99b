//! The closed list of provider types, with each one's wire protocol, default base URL and auth needs.

use serde::{Deserialize, Serialize};

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
}

/// A provider type as written in the config (`"type": "deepseek"`).
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
}

impl ProviderType {
    /// Every type, in the order a picker should list them.
    pub const ALL: [ProviderType; 18] = [
        ProviderType::Openai,
        ProviderType::Anthropic,
        ProviderType::Gemini,
        ProviderType::Azure,
        ProviderType::Deepseek,
        ProviderType::Qwen,
        ProviderType::Moonshot,
        ProviderType::Zhipu,
        ProviderType::Groq,
        ProviderType::Mistral,
        ProviderType::Together,
        ProviderType::Xai,
        ProviderType::Openrouter,
        ProviderType::Fireworks,
        ProviderType::Siliconflow,
        ProviderType::Ollama,
        ProviderType::Vllm,
        ProviderType::OpenaiCompatible,
    ];

    /// The name used in configuration and in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderType::Openai => "openai",
            ProviderType::Deepseek => "deepseek",
            ProviderType::Qwen => "qwen",
            ProviderType::Moonshot => "moonshot",
            ProviderType::Zhipu => "zhipu",
            ProviderType::Groq => "groq",
            ProviderType::Mistral => "mistral",
            ProviderType::Together => "together",
            ProviderType::Xai => "xai",
            ProviderType::Openrouter => "openrouter",
            ProviderType::Fireworks => "fireworks",
            ProviderType::Siliconflow => "siliconflow",
            ProviderType::Ollama => "ollama",
            ProviderType::Vllm => "vllm",
            ProviderType::OpenaiCompatible => "openai-compatible",
            ProviderType::Anthropic => "anthropic",
            ProviderType::Gemini => "gemini",
            ProviderType::Azure => "azure",
        }
    }

    pub fn protocol(self) -> Protocol {
        match self {
            ProviderType::Anthropic => Protocol::Anthropic,
            ProviderType::Gemini => Protocol::Gemini,
            ProviderType::Azure => Protocol::AzureOpenAi,
            _ => Protocol::OpenAi,
        }
    }

    /// What the gateway can do with this type, for documentation and the console.
    pub fn capabilities(self) -> Capabilities {
        let embeddings = !matches!(self, ProviderType::Anthropic);
        Capabilities {
            chat: true,
            stream: true,
            tools: true,
            vision: true,
            embeddings,
        }
    }

    /// The base URL used when a provider sets none; `None` means the operator must give one.
    /// Paths such as `/chat/completions` are appended to it.
    pub fn default_base_url(self) -> Option<&'static str> {
        Some(match self {
            ProviderType::Openai => "https://api.openai.com/v1",
            ProviderType::Deepseek => "https://api.deepseek.com/v1",
            ProviderType::Qwen => "https://dashscope.aliyuncs.com/compatible-mode/v1",
            ProviderType::Moonshot => "https://api.moonshot.cn/v1",
            ProviderType::Zhipu => "https://open.bigmodel.cn/api/paas/v4",
            ProviderType::Groq => "https://api.groq.com/openai/v1",
            ProviderType::Mistral => "https://api.mistral.ai/v1",
            ProviderType::Together => "https://api.together.xyz/v1",
            ProviderType::Xai => "https://api.x.ai/v1",
            ProviderType::Openrouter => "https://openrouter.ai/api/v1",
            ProviderType::Fireworks => "https://api.fireworks.ai/inference/v1",
            ProviderType::Siliconflow => "https://api.siliconflow.cn/v1",
            ProviderType::Ollama => "http://127.0.0.1:11434/v1",
            ProviderType::Vllm => "http://127.0.0.1:8000/v1",
            ProviderType::Anthropic => "https://api.anthropic.com/v1",
            ProviderType::Gemini => "https://generativelanguage.googleapis.com/v1beta",
            ProviderType::OpenaiCompatible | ProviderType::Azure => return None,
        })
    }

    /// The base URL requests go to, given the configured one. A URL without a path gets the
    /// version path the provider's API lives under, as the providers' own SDKs add it:
    /// `https://api.anthropic.com` → `…/v1`, `https://generativelanguage.googleapis.com` →
    /// `…/v1beta`; a self-hosted Ollama or vLLM root → `…/v1`; and an OpenAI-style provider's own
    /// host (`https://api.deepseek.com`) → its documented path. Any other URL is taken as given,
    /// without a trailing slash.
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
            _ if matches!(self, ProviderType::Ollama | ProviderType::Vllm) => default_path,
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
        !matches!(
            self,
            ProviderType::Ollama | ProviderType::Vllm | ProviderType::OpenaiCompatible
        )
    }
}

/// The gateway features a provider type supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    pub chat: bool,
    pub stream: bool,
    pub tools: bool,
    pub vision: bool,
    pub embeddings: bool,
}

impl std::fmt::Display for ProviderType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
