//! Upstream providers in compiled form, and the dispatch to the one module per wire protocol.
//!
//! `Protocol` is a closed enum: adding a protocol means adding a module here and a match arm in each
//! function below, so the compiler lists every place that must learn about it.

pub mod openai;

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, Uri};
use switchyard_shared::{Protocol, ProviderSpec, ProviderType};

use crate::model_mapping::ModelMapping;

/// The gateway endpoints a provider can serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    Embeddings,
}

/// One API key, ready to send. The header value is marked sensitive so hyper and our own
/// `Debug` output never print it.
pub struct ApiKey {
    /// The key's stable row id, for health state that must outlive reloads.
    pub id: i64,
    pub header: HeaderValue,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKey({})", self.id)
    }
}

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
    chat_uri: Uri,
    embeddings_uri: Uri,
    /// `host:port` of the base URL, which the connector uses to find the connect timeout.
    pub authority: String,
    auth_header: HeaderName,
    pub keys: Box<[ApiKey]>,
    pub headers: HeaderMap,
    pub mapping: ModelMapping,
    pub timeouts: ProviderTimeouts,
    pub models: Vec<String>,
}

impl Provider {
    /// Compiles a stored provider; `key_ids` line up with `spec.api_keys`.
    pub fn build(id: i64, spec: &ProviderSpec, key_ids: &[i64]) -> Result<Provider, String> {
        let protocol = spec.kind.protocol();
        let base = spec
            .base_url
            .as_deref()
            .or(spec.kind.default_base_url())
            .ok_or("no base_url")?
            .trim_end_matches('/');
        let uri_for = |endpoint: Endpoint| -> Result<Uri, String> {
            let url = format!("{base}{}", endpoint_path(protocol, endpoint));
            url.parse::<Uri>()
                .map_err(|e| format!("base_url '{base}' is not a valid URL: {e}"))
        };
        let chat_uri = uri_for(Endpoint::ChatCompletions)?;
        let embeddings_uri = uri_for(Endpoint::Embeddings)?;
        let authority = authority_of(&chat_uri)?;

        let secrets = spec.api_keys.as_deref().unwrap_or(&[]);
        let mut keys = Vec::with_capacity(secrets.len());
        for (i, secret) in secrets.iter().enumerate() {
            let mut header = auth_value(protocol, secret)
                .map_err(|_| format!("api_keys[{i}] cannot be sent in a header"))?;
            header.set_sensitive(true);
            keys.push(ApiKey {
                id: key_ids.get(i).copied().unwrap_or(-1),
                header,
            });
        }

        let mut headers = HeaderMap::with_capacity(spec.headers.len());
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
            chat_uri,
            embeddings_uri,
            authority,
            auth_header: auth_header_name(protocol),
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
        })
    }

    pub fn uri(&self, endpoint: Endpoint) -> &Uri {
        match endpoint {
            Endpoint::ChatCompletions => &self.chat_uri,
            Endpoint::Embeddings => &self.embeddings_uri,
        }
    }

    /// Picks a key at random, spreading load evenly; `None` for a provider without keys.
    pub fn pick_key(&self) -> Option<&ApiKey> {
        match self.keys.len() {
            0 => None,
            1 => self.keys.first(),
            n => self.keys.get(fastrand::usize(..n)),
        }
    }

    /// Adds the authentication and configured headers to an upstream request.
    pub fn apply_headers(&self, headers: &mut HeaderMap, key: Option<&ApiKey>) {
        if let Some(key) = key {
            headers.insert(self.auth_header.clone(), key.header.clone());
        }
        for (name, value) in &self.headers {
            headers.insert(name.clone(), value.clone());
        }
    }
}

fn authority_of(uri: &Uri) -> Result<String, String> {
    let host = uri.host().ok_or("base_url has no host")?;
    let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
        Some("https") => 443,
        _ => 80,
    });
    Ok(format!("{host}:{port}"))
}

fn endpoint_path(protocol: Protocol, endpoint: Endpoint) -> &'static str {
    match protocol {
        Protocol::OpenAi => openai::endpoint_path(endpoint),
    }
}

fn auth_header_name(protocol: Protocol) -> HeaderName {
    match protocol {
        Protocol::OpenAi => openai::AUTH_HEADER,
    }
}

fn auth_value(
    protocol: Protocol,
    secret: &str,
) -> Result<HeaderValue, http::header::InvalidHeaderValue> {
    match protocol {
        Protocol::OpenAi => openai::auth_value(secret),
    }
}

/// An upstream error reduced to the fields of OpenAI's error shape.
#[derive(Debug, Default, PartialEq)]
pub struct UpstreamErrorBody {
    pub message: String,
    pub kind: Option<String>,
    pub code: Option<serde_json::Value>,
    pub param: Option<serde_json::Value>,
}

/// Reads a provider's error body in its protocol's shape.
pub fn parse_error_body(protocol: Protocol, body: &[u8]) -> UpstreamErrorBody {
    match protocol {
        Protocol::OpenAi => openai::parse_error_body(body),
    }
}
