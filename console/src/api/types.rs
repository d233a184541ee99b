//! The admin API's answers that are not configuration items, read leniently: a field the server
//! leaves out takes its default, so a small server change does not blank a whole page.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use switchyard_shared::FieldError;

/// `GET /api/auth/me`, and the answer of setup and login.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Me {
    pub setup_required: bool,
    pub authenticated: bool,
    pub username: Option<String>,
    pub csrf_token: Option<String>,
}

/// The body of `POST /api/auth/setup` and `POST /api/auth/login`.
#[derive(Serialize)]
pub struct Credentials<'a> {
    pub username: &'a str,
    pub password: &'a str,
}

/// The body of `POST /api/auth/password`.
#[derive(Serialize)]
pub struct PasswordChange<'a> {
    pub current_password: &'a str,
    pub new_password: &'a str,
}

/// Any error body: the admin API's `{"error":{message,code,fields,routes}}` and the proxy's
/// OpenAI-style `{"error":{message,type,code}}` alike.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ErrorBody {
    pub error: Option<ErrorDetail>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ErrorDetail {
    pub message: Option<String>,
    pub code: Option<serde_json::Value>,
    pub fields: Vec<FieldError>,
    pub routes: Vec<String>,
}

/// `GET /api/status`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Status {
    pub version: u64,
    pub config_revision: i64,
    pub loaded_at: String,
    pub build_ms: f64,
    pub last_reload_error: Option<serde_json::Value>,
    pub providers: u64,
    pub routes: u64,
    /// The proxy listener's port (0 from a server too old to say).
    pub proxy_port: u16,
}

/// `GET /api/metrics?minutes=60`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Metrics {
    pub window_minutes: u32,
    pub totals: Totals,
    pub per_minute: Vec<MinuteBucket>,
    pub by_provider: Vec<GroupStats>,
    pub by_route: Vec<GroupStats>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Totals {
    pub requests: u64,
    pub errors: u64,
    pub success_rate: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct MinuteBucket {
    /// The minute's start, in Unix seconds.
    pub minute: i64,
    pub requests: u64,
    pub errors: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// Traffic of one provider or one route.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct GroupStats {
    pub name: String,
    pub requests: u64,
    pub errors: u64,
    pub success_rate: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// `GET /api/health`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Health {
    pub providers: Vec<ProviderHealth>,
}

impl Health {
    pub fn provider(&self, name: &str) -> Option<&ProviderHealth> {
        self.providers.iter().find(|p| p.name == name)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ProviderHealth {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// `closed`, `open`, `half_open`, `down` or `cooling_down`.
    pub state: String,
    pub consecutive_failures: u64,
    pub last_error: Option<serde_json::Value>,
    pub next_probe_in_ms: Option<u64>,
    pub token_failover: bool,
    pub keys: Vec<KeyHealth>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct KeyHealth {
    /// The key, masked.
    pub key: String,
    /// `healthy`, `ejected` or `cooling_down`.
    pub state: String,
    pub consecutive_failures: u64,
    pub last_error: Option<serde_json::Value>,
    pub next_probe_in_ms: Option<u64>,
}

/// The text of a `last_error`, which is `{"message","at"}` or, leniently, a plain string.
pub fn error_text(value: &Option<serde_json::Value>) -> Option<String> {
    match value.as_ref()? {
        serde_json::Value::Null => None,
        serde_json::Value::String(text) => Some(text.clone()),
        serde_json::Value::Object(map) => {
            let message = map.get("message").and_then(|m| m.as_str()).unwrap_or("");
            match map.get("at").and_then(|a| a.as_str()) {
                Some(at) => Some(format!("{message} (at {at})")),
                None => Some(message.to_owned()),
            }
        }
        other => Some(other.to_string()),
    }
}

/// `POST /api/config/diff`: what applying a document would change.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ConfigDiff {
    pub valid: bool,
    pub providers: SectionDiff,
    pub routes: SectionDiff,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct SectionDiff {
    pub create: Vec<String>,
    pub update: Vec<String>,
    pub delete: Vec<String>,
    pub unchanged: Vec<String>,
}

/// `POST /api/config/apply`: counts such as `providers_created`, kept generic so that new
/// counters show up without a console change.
pub type ApplySummary = BTreeMap<String, serde_json::Value>;

/// `GET /api/playground/models`, in OpenAI's list format.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ModelList {
    pub data: Vec<ModelEntry>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ModelEntry {
    pub id: String,
    pub owned_by: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_reads() {
        let health: Health = serde_json::from_str(
            r#"{"providers":[{"name":"d","type":"deepseek","state":"closed","keys":[{"key":"sk-…f3a9","state":"healthy"}]}]}"#,
        )
        .expect("health");
        assert_eq!(health.providers[0].keys[0].state, "healthy");
        let metrics: Metrics =
            serde_json::from_str(r#"{"totals":{"requests":3,"success_rate":null,"p50_ms":12}}"#)
                .expect("metrics");
        assert_eq!(metrics.totals.p50_ms, Some(12.0));
        assert_eq!(
            error_text(&Some(serde_json::json!({"message":"boom","at":"t"}))).as_deref(),
            Some("boom (at t)")
        );
    }
}
