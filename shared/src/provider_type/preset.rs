//! The shape of a provider type's preset: one row of facts per type (label, group, wire protocol,
//! base URL, default model, how the key is sent, which endpoints the service offers).

use super::{Protocol, ProviderType};

/// Everything the gateway, the console and the installer know about one provider type. The rows
/// live in `frontier.rs`, `china.rs`, `clouds.rs` and `self_hosted.rs`, one file per [`Group`].
#[derive(Debug, PartialEq, Eq)]
pub struct Preset {
    pub kind: ProviderType,
    /// The name in configuration files and the API (`"deepseek"`); the type's serde name.
    pub name: &'static str,
    /// The name people know the service by, for the console's picker.
    pub label: &'static str,
    pub group: Group,
    pub protocol: Protocol,
    /// The base URL used when a provider sets none, as the service's own documentation gives it
    /// for OpenAI-style clients; `None` when it depends on the operator's account or server.
    pub default_base_url: Option<&'static str>,
    /// For types without a default: the shape the base URL takes, with the operator's part in
    /// braces (`https://{resource}.openai.azure.com`).
    pub base_url_template: Option<&'static str>,
    /// A current, inexpensive, generally available chat model of the service: what a fallback
    /// to this type should ask for when the client's model name means nothing to it. `None` where
    /// the models depend on what the operator runs.
    pub default_model: Option<&'static str>,
    /// A few model names worth offering in a picker, the default first.
    pub suggested_models: &'static [&'static str],
    /// How the API key travels.
    pub auth: AuthStyle,
    /// Whether a provider of this type needs at least one API key (self-hosted servers usually
    /// run without one).
    pub requires_key: bool,
    /// Whether the server answers with the one model it has loaded whatever name a request
    /// carries (llama.cpp, TGI): a client's model name never fails there.
    pub accepts_any_model: bool,
    pub capabilities: Capabilities,
    /// The service's API documentation.
    pub docs_url: Option<&'static str>,
    /// One sentence for the console about the type's quirk or setup step.
    pub hint: &'static str,
}

impl Preset {
    /// The label without its parenthesised detail, for sentences: `Qwen` for
    /// `Qwen (Alibaba DashScope)`.
    pub fn short_label(&self) -> &'static str {
        self.label.split(" (").next().unwrap_or(self.label)
    }
}

/// The families a picker groups provider types into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    /// The model labs' own APIs, and Azure's hosting of OpenAI's models.
    Frontier,
    /// Services based in China, most of them with an OpenAI-compatible endpoint.
    China,
    /// Hosted inference clouds and routers that serve many vendors' open models.
    Clouds,
    /// Servers the operator runs, and any other OpenAI-compatible endpoint.
    SelfHosted,
}

impl Group {
    /// Every group, in the order a picker shows them.
    pub const ALL: [Group; 4] = [
        Group::Frontier,
        Group::China,
        Group::Clouds,
        Group::SelfHosted,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Group::Frontier => "Frontier labs",
            Group::China => "China",
            Group::Clouds => "Inference clouds and aggregators",
            Group::SelfHosted => "Self-hosted and generic",
        }
    }
}

/// How a provider's API key is sent upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthStyle {
    /// `Authorization: Bearer <key>`, as OpenAI's API takes it.
    Bearer,
    /// The raw key in the named header (lower case): Azure's `api-key`, Anthropic's
    /// `x-api-key`, Gemini's `x-goog-api-key`.
    Header(&'static str),
    /// AWS Signature Version 4: the key is `ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]`,
    /// never sent; each request is signed in `Authorization` (Bedrock).
    AwsSigV4,
    /// A Google service account's key file (JSON), never sent: it signs a token request, and
    /// the OAuth2 access token goes in `Authorization: Bearer` (Vertex AI).
    GoogleServiceAccount,
}

impl AuthStyle {
    /// The header the key is sent in, in lower case. A provider's custom `headers` may not set
    /// it: the key belongs in `api_keys`, where it is masked, sealed and health-checked.
    pub fn header_name(self) -> &'static str {
        match self {
            AuthStyle::Bearer | AuthStyle::AwsSigV4 | AuthStyle::GoogleServiceAccount => {
                "authorization"
            }
            AuthStyle::Header(name) => name,
        }
    }

    /// The header's value for a key: `Bearer <key>` or the key itself.
    pub fn header_value(self, key: &str) -> String {
        match self {
            AuthStyle::Bearer => format!("Bearer {key}"),
            AuthStyle::Header(_) => key.to_owned(),
            // Neither sends the key: the server signs or fetches a token instead.
            AuthStyle::AwsSigV4 | AuthStyle::GoogleServiceAccount => String::new(),
        }
    }
}

/// How the header looks, for the console: `Authorization: Bearer <key>` or `x-api-key: <key>`.
impl std::fmt::Display for AuthStyle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthStyle::Bearer => f.write_str("Authorization: Bearer <key>"),
            AuthStyle::Header(name) => write!(f, "{name}: <key>"),
            AuthStyle::AwsSigV4 => f.write_str("Authorization: AWS4-HMAC-SHA256 (SigV4-signed)"),
            AuthStyle::GoogleServiceAccount => {
                f.write_str("Authorization: Bearer <OAuth2 token from the service account>")
            }
        }
    }
}

/// Where a service's OpenAI-style responses carry a model's reasoning, when they carry it apart
/// from the answer. The gateway passes unknown fields through, so this is for documentation and
/// for whoever translates streams between protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReasoningField {
    /// Not returned separately, or not documented.
    None,
    /// `reasoning_content` on the message and on stream deltas (DeepSeek's convention).
    ReasoningContent,
    /// `reasoning` on the message and on stream deltas (OpenRouter's and Groq's convention).
    Reasoning,
    /// Inside the answer's text between `<think>` and `</think>`.
    ThinkTags,
}

/// The endpoints a provider type's service offers at its base URL, which the gateway may pass
/// requests through to. Chat and embeddings are the ones the gateway translates between
/// protocols; the others exist only in OpenAI's API shape and are passed through as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// `/chat/completions` (or the protocol's equivalent).
    pub chat: bool,
    /// Streamed chat responses.
    pub stream: bool,
    /// Tool (function) calls in chat.
    pub tools: bool,
    /// Images in chat messages.
    pub vision: bool,
    /// `/embeddings`.
    pub embeddings: bool,
    /// OpenAI's Responses API, `/responses`, spoken natively.
    pub responses: bool,
    /// The legacy text completions endpoint, `/completions`.
    pub completions: bool,
    /// `/images/generations`.
    pub images: bool,
    /// `/audio/speech` (text to speech).
    pub audio_speech: bool,
    /// `/audio/transcriptions` (speech to text).
    pub audio_transcriptions: bool,
    /// `/moderations`.
    pub moderations: bool,
    /// `/rerank` in the Cohere/Jina request shape.
    pub rerank: bool,
    /// Where streamed reasoning arrives.
    pub reasoning: ReasoningField,
}

impl Capabilities {
    /// Chat with streaming and tools, and nothing else: the common ground of OpenAI-compatible
    /// services, from which each row adds what its service offers.
    pub const CHAT: Capabilities = Capabilities {
        chat: true,
        stream: true,
        tools: true,
        vision: false,
        embeddings: false,
        responses: false,
        completions: false,
        images: false,
        audio_speech: false,
        audio_transcriptions: false,
        moderations: false,
        rerank: false,
        reasoning: ReasoningField::None,
    };

    /// The supported endpoints' short names, in a fixed order, for a line such as
    /// `chat · stream · tools · vision · embeddings`.
    pub fn names(&self) -> Vec<&'static str> {
        let all = [
            ("chat", self.chat),
            ("stream", self.stream),
            ("tools", self.tools),
            ("vision", self.vision),
            ("embeddings", self.embeddings),
            ("responses", self.responses),
            ("completions", self.completions),
            ("images", self.images),
            ("speech", self.audio_speech),
            ("transcriptions", self.audio_transcriptions),
            ("moderations", self.moderations),
            ("rerank", self.rerank),
        ];
        all.into_iter()
            .filter(|(_, on)| *on)
            .map(|(name, _)| name)
            .collect()
    }

    /// [`Capabilities::names`] joined with ` · `.
    pub fn summary(&self) -> String {
        self.names().join(" · ")
    }
}
