//! Bodies of the admin API that are not configuration items themselves: status and errors.

use serde::{Deserialize, Serialize};

use crate::validate::FieldError;

/// `GET /api/status`: what the proxy is serving right now and how the last reload went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusView {
    /// Counts snapshot swaps since the process started; the first snapshot is version 1.
    pub version: u64,
    /// The store's revision the snapshot was built from; every admin write increments it.
    pub config_revision: i64,
    /// When the current snapshot was installed (RFC 3339).
    pub loaded_at: String,
    /// How long loading, validating, compiling and swapping in the current snapshot took.
    pub build_ms: f64,
    /// The last reload that failed after the current snapshot was installed, if any.
    pub last_reload_error: Option<ReloadErrorView>,
    pub providers: usize,
    pub routes: usize,
    /// The port the proxy listens on, for clients that build URLs (the console's usage snippets).
    pub proxy_port: u16,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReloadErrorView {
    pub message: String,
    /// RFC 3339.
    pub at: String,
}

/// Every admin API error: `{"error": {...}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminErrorBody {
    pub error: AdminError,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminError {
    pub message: String,
    /// A stable machine-readable code: `validation_failed`, `not_found`, `conflict`,
    /// `unauthorized`, `bad_request`, `internal`.
    pub code: String,
    /// The failing fields, for `validation_failed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
    /// For a `conflict` on deleting a provider: the routes that still use it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<String>,
}

/// The header on admin write responses carrying the snapshot version that made the change live.
pub const SNAPSHOT_VERSION_HEADER: &str = "x-switchyard-snapshot-version";

/// What applying a config document would change, per section (names only).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SectionDiff {
    pub create: Vec<String>,
    pub update: Vec<String>,
    pub delete: Vec<String>,
    pub unchanged: Vec<String>,
}

/// `POST /api/config/diff`: the preview of an import.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConfigDiff {
    pub valid: bool,
    pub providers: SectionDiff,
    pub routes: SectionDiff,
}
