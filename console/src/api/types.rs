//! The admin API's answers that are not configuration items, read leniently: a field the server
//! leaves out takes its default, so a small server change does not blank a whole page.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use switchyard_shared::FieldError;

/// The body of `POST /api/auth/setup` and `POST /api/auth/login`.
#[derive(Serialize)]
pub struct Credentials<'a> {
    pub username: &'a str,
    pub password: &'a str,
}

/// The body of `POST /api/auth/setup`: the account and the code the server printed at start.
#[derive(Serialize)]
pub struct SetupRequest<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub setup_code: &'a str,
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

// The admin API's bodies are defined once, in the shared crate, and read here as the server
// writes them.
pub use switchyard_shared::admin::{
    ConfigDiff, FailureView, HealthView as Health, MeView as Me, MetricsView as Metrics,
    MinuteView as MinuteBucket, ProviderHealthView as ProviderHealth, SectionDiff,
    SeriesView as GroupStats, StatusView as Status,
};

/// A failure as one line of text: the message and when it happened.
pub fn error_text(failure: &Option<FailureView>) -> Option<String> {
    failure
        .as_ref()
        .map(|failure| format!("{} (at {})", failure.message, failure.at))
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
    fn failures_read_as_one_line() {
        let failure = FailureView {
            message: "boom".into(),
            at: "t".into(),
        };
        assert_eq!(error_text(&Some(failure)).as_deref(), Some("boom (at t)"));
        assert_eq!(error_text(&None), None);
    }
}
