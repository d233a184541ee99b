//! Upstream providers in compiled form: URIs parsed, key headers built, mapping indexed. What each
//! wire protocol means lives in `protocols.rs`, one module per protocol.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, Uri};
use switchyard_shared::{Protocol, ProviderSpec, ProviderType};

use tokio::time::Instant;

use crate::health::{CircuitPolicy, HealthRegistry, KeyHealth, KeyPolicy, ProviderHealth};
use crate::model_mapping::ModelMapping;
use crate::protocols::bedrock::AwsCredentials;
pub use crate::protocols::{Operation, UpstreamErrorBody};
use crate::protocols::{ProviderProtocol, anthropic, azure};
use switchyard_shared::AuthStyle;

/// How a key authenticates a request.
pub enum KeyAuth {
    /// Sent in the provider's key header, marked sensitive so hyper never prints it.
    Header(HeaderValue),
    /// Signs each request with AWS Signature Version 4 (Bedrock); the secret is never sent.
    SigV4(Arc<AwsCredentials>),
    /// A Google service account's OAuth2 access token, fetched and cached (Vertex).
    Google(Arc<crate::protocols::vertex::TokenCache>),
}

/// One API key, ready to use. Neither its `Debug` output nor hyper's ever shows the secret.
pub struct ApiKey {
    /// The key's stable row id, for health state that must outlive reloads.
    pub id: i64,
    pub auth: KeyAuth,
    /// The key as it may be shown (`sk-…f3a9`).
    pub masked: String,
    pub health: Arc<KeyHealth>,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKey({})", self.id)
    }
}

/// Every key of a provider was tried by this request.
#[derive(Debug, PartialEq, Eq)]
pub struct KeysExhausted;

/// The resolved timeouts of a provider.
#[derive(Clone, Copy, Debug)]
pub struct ProviderTimeouts {
    pub connect: Duration,
    pub first_byte: Duration,
    pub idle: Duration,
    pub total: Duration,
}

/// A provider compiled for the hot path: URIs parsed, headers built, mapping indexed.
#[derive(Debug)]
pub struct Provider {
    pub id: i64,
    pub name: Arc<str>,
    /// The provider's name as a header value, for `x-switchyard-provider`.
    pub name_header: HeaderValue,
    pub kind: ProviderType,
    pub protocol: Protocol,
    /// The base URL without a trailing slash.
    base: Box<str>,
    /// The URIs that do not depend on the model, parsed once, by `Operation::slot`.
    fixed_uris: [Option<Uri>; Operation::SLOTS],
    /// `host:port` of the base URL, which the connector uses to find the connect timeout.
    pub authority: String,
    auth_header: HeaderName,
    /// The region requests are signed for (Bedrock), read from the base URL.
    aws_region: Option<Box<str>>,
    pub keys: Box<[ApiKey]>,
    pub headers: HeaderMap,
    pub mapping: ModelMapping,
    pub timeouts: ProviderTimeouts,
    pub models: Vec<String>,
    /// Azure's `api-version`.
    api_version: Box<str>,
    /// Azure deployments by model name.
    deployments: HashMap<String, String>,
    /// Anthropic's `max_tokens` for requests without one.
    pub default_max_tokens: u32,
    /// Anthropic: the client `anthropic-beta` names forwarded.
    pub anthropic_betas: anthropic::BetaAllowList,
    pub health: Arc<ProviderHealth>,
    pub key_policy: KeyPolicy,
    pub circuit: CircuitPolicy,
    /// Whether the provider serves OpenAI's Responses API (`/responses`) itself; when not, the
    /// gateway translates that API to chat completions.
    pub responses_api: bool,
    /// Prices of this provider's models: its `pricing` overrides over the shipped table.
    pub pricing: Arc<crate::pricing::ProviderPricing>,
}

impl Provider {
    /// Compiles a stored provider; `key_ids` line up with `spec.api_keys`.
    pub fn build(
        id: i64,
        spec: &ProviderSpec,
        key_ids: &[i64],
        registry: &HealthRegistry,
    ) -> Result<Provider, String> {
        let protocol = spec.kind.protocol();
        // Stored URLs are normalised on write; this covers databases written before that.
        let effective = spec
            .kind
            .effective_base_url(spec.base_url.as_deref())
            .ok_or("no base_url")?;
        let base = effective.as_str();
        let parse = |path: &str| -> Result<Uri, String> {
            format!("{base}{path}")
                .parse::<Uri>()
                .map_err(|e| format!("base_url '{base}' is not a valid URL: {e}"))
        };
        let wire = crate::protocols::provider_protocol(protocol);
        let mut fixed_uris: [Option<Uri>; Operation::SLOTS] = Default::default();
        for operation in Operation::ALL {
            if !wire.per_model(operation)
                && let Some(path) = wire.path(operation, "", "")
            {
                fixed_uris[operation.slot()] = Some(parse(&path)?);
            }
        }
        let authority = authority(&parse("")?).ok_or("base_url has no host")?;

        let secrets = spec.api_keys.as_deref().unwrap_or(&[]);
        let mut keys = Vec::with_capacity(secrets.len());
        let style = spec.kind.auth();
        for (i, secret) in secrets.iter().enumerate() {
            let id = key_ids.get(i).copied().unwrap_or(-1);
            let auth = match style {
                AuthStyle::Bearer | AuthStyle::Header(_) => {
                    let mut header = HeaderValue::try_from(style.header_value(secret))
                        .map_err(|_| format!("api_keys[{i}] cannot be sent in a header"))?;
                    header.set_sensitive(true);
                    KeyAuth::Header(header)
                }
                AuthStyle::AwsSigV4 => KeyAuth::SigV4(Arc::new(
                    AwsCredentials::parse(secret).map_err(|e| format!("api_keys[{i}]: {e}"))?,
                )),
                AuthStyle::GoogleServiceAccount => KeyAuth::Google(
                    registry
                        .token_cache(id, secret)
                        .map_err(|e| format!("api_keys[{i}]: {e}"))?,
                ),
            };
            keys.push(ApiKey {
                id,
                auth,
                masked: switchyard_shared::secret::mask_secret(secret),
                health: registry.key(id),
            });
        }

        let mut headers = HeaderMap::with_capacity(spec.headers.len() + 1);
        if protocol == Protocol::Anthropic {
            let version = spec
                .api_version
                .as_deref()
                .unwrap_or(anthropic::DEFAULT_VERSION);
            headers.insert(
                HeaderName::from_static("anthropic-version"),
                HeaderValue::try_from(version)
                    .map_err(|_| "api_version is not a valid header value")?,
            );
        }
        for (name, value) in &spec.headers {
            let name = HeaderName::try_from(name.as_str())
                .map_err(|_| format!("header name '{name}' is invalid"))?;
            let value = HeaderValue::try_from(value.as_str())
                .map_err(|_| format!("header '{name}' has an invalid value"))?;
            headers.insert(name, value);
        }

        let [connect, first_byte, idle, total] =
            spec.timeouts.resolved().map(Duration::from_millis);
        Ok(Provider {
            id,
            name: Arc::from(spec.name.as_str()),
            name_header: HeaderValue::try_from(spec.name.as_str())
                .map_err(|_| "name is not a valid header value".to_owned())?,
            kind: spec.kind,
            protocol,
            base: base.into(),
            fixed_uris,
            authority,
            auth_header: HeaderName::from_static(style.header_name()),
            aws_region: match style {
                AuthStyle::AwsSigV4 => Some(
                    spec.aws_region
                        .clone()
                        .or_else(|| crate::protocols::bedrock::region_from_base_url(base))
                        .unwrap_or_else(|| "us-east-1".to_owned())
                        .into(),
                ),
                _ => None,
            },
            keys: keys.into_boxed_slice(),
            headers,
            mapping: ModelMapping::new(&spec.model_mapping),
            timeouts: ProviderTimeouts {
                connect,
                first_byte,
                idle,
                total,
            },
            models: spec.models.clone(),
            api_version: spec
                .api_version
                .as_deref()
                .unwrap_or(azure::DEFAULT_API_VERSION)
                .into(),
            deployments: spec
                .deployments
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            default_max_tokens: spec
                .default_max_tokens
                .unwrap_or(anthropic::DEFAULT_MAX_TOKENS),
            anthropic_betas: anthropic::BetaAllowList::new(spec.anthropic_betas.as_deref()),
            health: registry.provider(id),
            key_policy: KeyPolicy::new(spec.token_failover.as_ref()),
            circuit: CircuitPolicy::new(spec.health_check.as_ref()),
            // Services documented to serve it, unless told otherwise; a generic OpenAI-compatible
            // server opts in (many do not serve it).
            responses_api: spec.responses_api.unwrap_or(
                spec.kind.capabilities().responses && spec.kind != ProviderType::OpenaiCompatible,
            ),
            pricing: Arc::new(crate::pricing::ProviderPricing::new(
                spec.kind,
                &spec.pricing,
            )),
        })
    }

    /// The base URL without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URI for an operation on `model` (the name sent upstream), or a message saying the
    /// provider's protocol cannot do it.
    pub fn uri(&self, operation: Operation, model: &str) -> Result<Uri, String> {
        let unsupported = || {
            format!(
                "provider '{}' ({}) does not support {}",
                self.name,
                self.kind,
                operation.describe()
            )
        };
        let wire = self.wire();
        if !wire.per_model(operation) {
            return self.fixed_uris[operation.slot()]
                .clone()
                .ok_or_else(unsupported);
        }
        // The model is one path segment from here on: percent-encoded (by the protocol), so `/`,
        // `?`, `#` and `%` stay inside it, and never a segment that is empty or a dot-segment
        // (which `%2E` would still be), so the request cannot climb out of its path.
        // (On Azure the segment is the model's deployment; only Azure has deployments.)
        let segment = self.deployments.get(model).map_or(model, String::as_str);
        if segment.is_empty() || switchyard_shared::validate::is_dot_segment(segment) {
            return Err(format!(
                "the model name '{segment}' cannot be used in the upstream URL"
            ));
        }
        let path = wire
            .path(operation, segment, &self.api_version)
            .ok_or_else(unsupported)?;
        format!("{}{path}", self.base)
            .parse()
            .map_err(|e| format!("cannot build the upstream URL for model '{model}': {e}"))
    }

    /// Whether this provider takes a client API's requests as they are: its protocol speaks the
    /// API, and (for the Responses API, which not every OpenAI-style server offers) the provider
    /// serves it.
    pub fn native(&self, inbound: crate::protocols::Inbound) -> bool {
        use crate::protocols::{Endpoint, Inbound};
        let offers = self.kind.capabilities();
        self.wire().native(inbound)
            && match inbound {
                Inbound::Responses => self.responses_api,
                // OpenAI's other endpoints go only to services that offer them; any other
                // answers a clear 400 naming its type, and a fallback may take the request.
                Inbound::Endpoint(endpoint) => match endpoint {
                    Endpoint::Completions => offers.completions,
                    Endpoint::Images => offers.images,
                    Endpoint::AudioSpeech => offers.audio_speech,
                    Endpoint::AudioTranscriptions => offers.audio_transcriptions,
                    Endpoint::Moderations => offers.moderations,
                    Endpoint::Rerank => offers.rerank,
                },
                _ => true,
            }
    }

    /// The deployment serving `model` (Azure), or the model itself.
    pub fn deployment<'a>(&'a self, model: &'a str) -> &'a str {
        self.deployments.get(model).map_or(model, String::as_str)
    }

    /// The module of the protocol this provider speaks.
    pub fn wire(&self) -> &'static dyn ProviderProtocol {
        crate::protocols::provider_protocol(self.protocol)
    }

    /// Chooses a key for an attempt: at random among the keys in the pool that this request has
    /// not tried, so load spreads evenly; when none is in the pool, the untried key that failed
    /// least recently rather than refusing outright. `Err` when every key was tried;
    /// `Ok(None)` for a provider without keys.
    pub fn choose_key(
        &self,
        now: Instant,
        tried: &[i64],
    ) -> Result<Option<&ApiKey>, KeysExhausted> {
        if self.keys.is_empty() {
            return Ok(None);
        }
        let untried = || self.keys.iter().filter(|k| !tried.contains(&k.id));
        let healthy = untried()
            .filter(|k| k.health.available(now, &self.key_policy))
            .count();
        if healthy > 0 {
            let pick = if healthy == 1 {
                0
            } else {
                fastrand::usize(..healthy)
            };
            return untried()
                .filter(|k| k.health.available(now, &self.key_policy))
                .nth(pick)
                .map(Some)
                .ok_or(KeysExhausted);
        }
        untried()
            .min_by_key(|k| k.health.last_failure_at())
            .map(Some)
            .ok_or(KeysExhausted)
    }

    /// The key that failed least recently, ignoring what this request tried (for retries).
    pub fn least_recently_failed_key(&self) -> Option<&ApiKey> {
        self.keys.iter().min_by_key(|k| k.health.last_failure_at())
    }

    /// The client's Anthropic headers as this provider forwards them: `anthropic-beta` names it
    /// does not allow are removed (see [`anthropic::BetaAllowList`]).
    pub fn anthropic_headers(
        &self,
        client: &[(HeaderName, HeaderValue)],
    ) -> Vec<(HeaderName, HeaderValue)> {
        if client.is_empty() || self.protocol != Protocol::Anthropic {
            return Vec::new();
        }
        anthropic::forwarded_headers(&self.anthropic_betas, client)
    }

    /// Adds the configured headers to an upstream request, and the key's header when the key is
    /// sent as one.
    pub fn apply_headers(&self, headers: &mut HeaderMap, key: Option<&ApiKey>) {
        if let Some(ApiKey {
            auth: KeyAuth::Header(value),
            ..
        }) = key
        {
            headers.insert(self.auth_header.clone(), value.clone());
        }
        for (name, value) in &self.headers {
            headers.insert(name.clone(), value.clone());
        }
    }

    /// Authenticates a request whose headers are final: signs it (SigV4) or adds a service
    /// account's access token. Keys sent as a header were added by `apply_headers`. An error
    /// is the gateway's own failure to authenticate (a token endpoint that refused), never the
    /// client's.
    pub async fn authorize(
        &self,
        request: &mut http::Request<http_body_util::Full<bytes::Bytes>>,
        body: &[u8],
        key: Option<&ApiKey>,
        client: &crate::upstream::UpstreamClient,
    ) -> Result<(), String> {
        let Some(key) = key else {
            return Ok(());
        };
        match &key.auth {
            KeyAuth::Header(_) => Ok(()),
            KeyAuth::SigV4(credentials) => {
                let region = self.aws_region.as_deref().unwrap_or("us-east-1");
                let (mut parts, body_holder) = std::mem::take(request).into_parts();
                let signed = crate::protocols::bedrock::sign(
                    &mut parts,
                    body,
                    credentials,
                    region,
                    crate::protocols::bedrock::SIGNING_SERVICE,
                    std::time::SystemTime::now(),
                );
                *request = http::Request::from_parts(parts, body_holder);
                signed
            }
            KeyAuth::Google(tokens) => {
                let value = tokens
                    .authorization(client, std::time::SystemTime::now())
                    .await?;
                request
                    .headers_mut()
                    .insert(http::header::AUTHORIZATION, value);
                Ok(())
            }
        }
    }
}

/// `host:port` of a URI, with the scheme's default port filled in: the key under which the
/// connector finds a provider's connect timeout.
pub fn authority(uri: &Uri) -> Option<String> {
    let host = uri.host()?;
    let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
        Some("https") => 443,
        _ => 80,
    });
    Some(format!("{host}:{port}"))
}

/// Percent-encodes a model or deployment name for use as one URL path segment.
pub fn encode_path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_reserves_the_header_each_type_sends_its_key_in() {
        for kind in ProviderType::ALL {
            assert_eq!(
                HeaderName::from_static(kind.auth().header_name()).as_str(),
                switchyard_shared::validate::key_header_name(kind)
            );
        }
    }

    fn provider(spec: serde_json::Value) -> Provider {
        let spec: ProviderSpec = serde_json::from_value(spec).expect("a provider spec");
        Provider::build(1, &spec, &[1], &HealthRegistry::default()).expect("builds")
    }

    fn uri(provider: &Provider, operation: Operation, model: &str) -> Result<String, String> {
        provider.uri(operation, model).map(|uri| uri.to_string())
    }

    #[test]
    fn model_names_stay_inside_their_path_segment() {
        let gemini =
            provider(serde_json::json!({"name": "g", "type": "gemini", "api_keys": ["k"]}));
        let azure = provider(serde_json::json!({"name": "a", "type": "azure",
            "base_url": "https://x.openai.azure.com", "api_keys": ["k"],
            "deployments": {"gpt-4o": "prod/4o"}}));
        let chat = Operation::Chat { stream: false };
        assert_eq!(
            uri(&gemini, chat, "a/../b?c#d%2F").expect("encoded"),
            "https://generativelanguage.googleapis.com/v1beta/models/a%2F..%2Fb%3Fc%23d%252F:generateContent"
        );
        assert_eq!(
            uri(&azure, chat, "../../admin?x=1#").expect("encoded"),
            "https://x.openai.azure.com/openai/deployments/..%2F..%2Fadmin%3Fx%3D1%23/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(
            uri(&azure, Operation::Embeddings, "gpt-4o").expect("a deployment"),
            "https://x.openai.azure.com/openai/deployments/prod%2F4o/embeddings?api-version=2024-10-21"
        );
        for model in ["..", ".", ""] {
            for (provider, operation) in [
                (&gemini, chat),
                (&gemini, Operation::Chat { stream: true }),
                (&gemini, Operation::Embeddings),
                (&azure, chat),
                (&azure, Operation::Embeddings),
            ] {
                let error = uri(provider, operation, model).expect_err("a dot-segment");
                assert!(
                    error.contains("cannot be used in the upstream URL"),
                    "{error}"
                );
            }
        }
        // Names with dots that are not dot-segments are ordinary names.
        assert!(uri(&gemini, chat, "gemini-1.5-pro").is_ok());
        assert!(uri(&azure, chat, "...").is_ok());
    }

    #[test]
    fn fixed_paths_ignore_the_model() {
        let openai =
            provider(serde_json::json!({"name": "o", "type": "openai", "api_keys": ["k"]}));
        let chat = uri(&openai, Operation::Chat { stream: true }, "..").expect("fixed");
        assert!(chat.ends_with("/chat/completions"), "{chat}");
    }
}
