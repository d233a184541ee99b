//! Consumers (the apps and teams that call the proxy), their client API keys, their limits, and the
//! gateway settings that decide whether a key is required.
//!
//! These are the admin API bodies under `/api/consumers` and `/api/settings`, and the `consumers:`
//! and `settings:` sections of a config document. A key's plaintext appears in exactly two places:
//! the answer that creates it, and (optionally) a config document being applied.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::metering::Budget;

/// Request, token and concurrency limits. Unset means unlimited; every limit that applies to a
/// request (its key's, its consumer's, its route's) must pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Requests per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u64>,
    /// Requests per day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpd: Option<u64>,
    /// Tokens (prompt + completion) per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u64>,
    /// Tokens (prompt + completion) per day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpd: Option<u64>,
    /// Requests in flight at once; a stream holds its slot until it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u64>,
}

impl Limits {
    /// The largest value any limit accepts.
    pub const MAX: u64 = 1_000_000_000_000;

    pub fn is_unset(&self) -> bool {
        *self == Limits::default()
    }

    /// Whether any token limit is set (and so requests need a token estimate).
    pub fn limits_tokens(&self) -> bool {
        self.tpm.is_some() || self.tpd.is_some()
    }
}

/// An app or team that calls the proxy with its own keys.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConsumerSpec {
    /// Unique slug, `[a-z0-9][a-z0-9-_]{0,63}`.
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Model globs (`gpt-*`, `*-mini`) this consumer may call; empty allows every model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_models: Vec<String>,
    /// Route names this consumer may use; empty allows every route.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_routes: Vec<String>,
    #[serde(default, skip_serializing_if = "Limits::is_unset")]
    pub limits: Limits,
    /// A spend cap over all the consumer's keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    /// Guardrail policies (names) applied to this consumer's requests, after the route's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guardrails: Vec<String>,
    /// A disabled consumer's keys are all refused.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disabled: bool,
    /// Free-form labels (owner, cost centre); not interpreted by the gateway.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: BTreeMap<String, serde_json::Value>,
    /// The consumer's keys. Read from the API they are masked; in a config document each carries
    /// `key_sha256` (or a plaintext `key` to be hashed on apply). The admin API's consumer
    /// endpoints do not take keys: they are managed under `/api/consumers/{name}/keys`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<ConsumerKey>,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// One client API key of a consumer.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConsumerKey {
    /// Stable id (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// A label such as `ci` or `laptop`; a rotated key and its successor share it.
    pub name: String,
    /// The plaintext key: only in the answer that creates it, or in a document being applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The key's SHA-256 digest (hex): what export writes so a setup moves with its keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_sha256: Option<String>,
    /// The masked form shown after creation (`sy-…k3Qz`, read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked: Option<String>,
    /// RFC 3339; the key is refused from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Model globs, narrowing the consumer's (empty: the consumer's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_models: Vec<String>,
    /// Limits of this key alone, on top of the consumer's.
    #[serde(default, skip_serializing_if = "Limits::is_unset")]
    pub limits: Limits,
    /// A spend cap of this key alone, on top of the consumer's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub disabled: bool,
    /// RFC 3339 (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// RFC 3339, to the minute or so (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
}

/// Debug output never shows the plaintext key.
impl std::fmt::Debug for ConsumerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerKey")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("masked", &self.masked)
            .field("expires_at", &self.expires_at)
            .field("allowed_models", &self.allowed_models)
            .field("limits", &self.limits)
            .field("disabled", &self.disabled)
            .finish()
    }
}

/// `POST /api/consumers/{name}/keys`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_models: Vec<String>,
    #[serde(default, skip_serializing_if = "Limits::is_unset")]
    pub limits: Limits,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
}

/// `PUT /api/consumers/{name}/keys/{id}`: only the fields given change. `expires_at: null` clears
/// the expiry, `budget: null` removes the budget.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "nullable"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub expires_at: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_models: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "nullable"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Budget>))]
    pub budget: Option<Option<Budget>>,
}

/// Tells a field given as `null` (`Some(None)`) from a field left out (`None`).
fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `POST /api/consumers/{name}/keys/{id}/rotate`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RotateKey {
    /// How long the old key keeps working; 0 refuses it at once.
    #[serde(default)]
    pub grace_seconds: u64,
}

/// Whether the proxy requires a client key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// Requests without a Switchyard key are anonymous; a `sy-` key must still be valid.
    #[default]
    Off,
    /// Every request needs a valid, live key.
    Required,
}

impl ClientAuth {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuth::Off => "off",
            ClientAuth::Required => "required",
        }
    }
}

impl std::str::FromStr for ClientAuth {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "off" => Ok(ClientAuth::Off),
            "required" => Ok(ClientAuth::Required),
            other => Err(format!("expected \"off\" or \"required\", not {other:?}")),
        }
    }
}

/// Gateway-wide settings: `GET/PUT /api/settings` and a document's `settings:`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// Days request records are kept in `usage.db` (hourly rollups are kept a year longer).
    #[serde(default = "default_retention_days")]
    pub log_retention_days: u32,
    /// The most request records kept; the oldest go first.
    #[serde(default = "default_log_max_rows")]
    pub log_max_rows: u64,
    /// Where budget alerts are posted as JSON (`http://` or `https://`); unset sends none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_webhook_url: Option<String>,
    /// The response cache's size cap, in MiB, across all routes.
    #[serde(default = "default_cache_max_mb")]
    pub cache_max_mb: u64,
    /// Days audit entries are kept; unset keeps every entry. Older ones are pruned hourly, and
    /// the configuration as of a pruned revision can no longer be rebuilt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_retention_days: Option<u32>,
    /// What a request does while the cluster's Redis (`--redis-url`) cannot be reached: `open`
    /// counts on each gateway alone until Redis is back, `closed` refuses with 503. Ignored
    /// without Redis.
    #[serde(default, skip_serializing_if = "RedisFailure::is_open")]
    pub redis_failure: RedisFailure,
}

/// The `redis_failure` setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum RedisFailure {
    /// Keep serving: limits, slots and budgets count on this gateway alone (so N gateways allow
    /// up to N times a limit) until Redis answers again, when local spend is added to Redis.
    #[default]
    Open,
    /// Refuse requests that a shared counter governs with 503 until Redis answers again.
    Closed,
}

impl RedisFailure {
    pub fn is_open(&self) -> bool {
        *self == RedisFailure::Open
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RedisFailure::Open => "open",
            RedisFailure::Closed => "closed",
        }
    }
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            client_auth: ClientAuth::default(),
            log_retention_days: default_retention_days(),
            log_max_rows: default_log_max_rows(),
            alert_webhook_url: None,
            cache_max_mb: default_cache_max_mb(),
            audit_retention_days: None,
            redis_failure: RedisFailure::Open,
        }
    }
}

fn default_retention_days() -> u32 {
    30
}

fn default_cache_max_mb() -> u64 {
    256
}

fn default_log_max_rows() -> u64 {
    10_000_000
}

/// `GET /api/settings`: the stored settings and what is in force.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SettingsView {
    #[serde(flatten)]
    pub settings: Settings,
    /// The value in force: `--client-auth` overrides the stored one.
    pub effective_client_auth: ClientAuth,
    /// Set when `--client-auth` (or `SWITCHYARD_CLIENT_AUTH`) overrides the stored value.
    pub client_auth_from_flag: bool,
    /// Whether the proxy listens on a loopback address only.
    pub proxy_loopback: bool,
}

/// Whether `text` matches a glob where `*` stands for any run of characters (possibly none).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let Some((first, rest)) = pattern.split_once('*') else {
        return pattern == text;
    };
    let Some(mut remaining) = text.strip_prefix(first) else {
        return false;
    };
    let mut parts: Vec<&str> = rest.split('*').collect();
    let last = parts.pop().unwrap_or("");
    for part in parts {
        match remaining.find(part) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("gpt-*", "gpt-4o"));
        assert!(glob_match("gpt-*", "gpt-"));
        assert!(!glob_match("gpt-*", "xgpt-4o"));
        assert!(glob_match("*-mini", "gpt-4o-mini"));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("deepseek-chat", "deepseek-chat"));
        assert!(!glob_match("deepseek-chat", "deepseek-chat2"));
        assert!(glob_match("a*b*c", "a-x-b-y-c"));
        assert!(!glob_match("a*b*c", "a-x-c-y-b"));
        assert!(
            !glob_match("ab*ba", "aba"),
            "the prefix and suffix must not overlap"
        );
    }

    #[test]
    fn key_update_tells_null_from_absent() {
        let cleared: KeyUpdate = serde_json::from_str(r#"{"expires_at":null}"#).expect("parses");
        assert_eq!(cleared.expires_at, Some(None));
        let untouched: KeyUpdate = serde_json::from_str(r#"{"disabled":true}"#).expect("parses");
        assert_eq!(untouched.expires_at, None);
        assert_eq!(untouched.disabled, Some(true));
    }

    #[test]
    fn debug_never_prints_the_key() {
        let key = ConsumerKey {
            name: "ci".into(),
            key: Some("sy-secretsecretsecret".into()),
            ..ConsumerKey::default()
        };
        assert!(!format!("{key:?}").contains("secretsecret"));
    }
}
