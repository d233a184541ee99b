//! Guardrail policies (`/api/guardrails`, a document's `guardrails:`): detectors of personal data
//! and secrets, each with what to do on a hit, referenced by routes and consumers; and the
//! response cache's per-route settings and admin bodies (`/api/cache`).

use serde::{Deserialize, Serialize};

/// What a policy does with its hits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum GuardrailMode {
    /// Actions apply.
    #[default]
    Enforce,
    /// Hits are recorded; nothing is changed or refused.
    Monitor,
}

/// The kinds of detector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DetectorType {
    Email,
    /// International (E.164-like) and mainland-China mobile numbers.
    Phone,
    /// Payment card numbers that pass the Luhn check.
    CreditCard,
    /// IBANs that pass the mod-97 check.
    Iban,
    /// Mainland-China resident identity numbers with a valid check digit.
    CnResidentId,
    UsSsn,
    /// IPv4 and IPv6 addresses.
    IpAddress,
    /// Strings shaped like API keys and tokens (`sk-…`, `AKIA…`, `ghp_…`, `sy-…`).
    Secret,
    /// A custom regular expression (`pattern`), reported under `label`.
    Regex,
    /// A list of words or phrases (`words`), matched case-insensitively.
    DenyWords,
}

impl DetectorType {
    pub fn as_str(self) -> &'static str {
        match self {
            DetectorType::Email => "email",
            DetectorType::Phone => "phone",
            DetectorType::CreditCard => "credit_card",
            DetectorType::Iban => "iban",
            DetectorType::CnResidentId => "cn_resident_id",
            DetectorType::UsSsn => "us_ssn",
            DetectorType::IpAddress => "ip_address",
            DetectorType::Secret => "secret",
            DetectorType::Regex => "regex",
            DetectorType::DenyWords => "deny_words",
        }
    }
}

/// What happens to a detected value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum GuardrailAction {
    /// The request is refused (400 `content_filtered`) before any provider sees it.
    Block,
    /// Replaced by the detector's label (`[EMAIL]`).
    Mask,
    /// Replaced by a stable keyed digest (`[EMAIL:3f9a1c2b]`): equal values stay equal.
    Hash,
    /// Replaced by a placeholder upstream and restored in the answer the client gets.
    RedactRestore,
}

/// One detector of a policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DetectorSpec {
    #[serde(rename = "type")]
    pub kind: DetectorType,
    pub action: GuardrailAction,
    /// The name hits are reported and masked under; defaults to the type in upper case
    /// (`EMAIL`). Required for `regex`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// `regex` only: the pattern (Rust `regex` syntax, no look-around).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// `deny_words` only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<String>,
}

/// What to do when the answer itself holds something a detector finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResponseCheck {
    /// `mask` or `block` (the answer is replaced by a `content_filtered` error).
    pub action: GuardrailAction,
}

/// A guardrail policy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GuardrailSpec {
    /// Unique slug, `[a-z0-9][a-z0-9-_]{0,63}`.
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default)]
    pub mode: GuardrailMode,
    pub detectors: Vec<DetectorSpec>,
    /// Checks of the answer with the same detectors; `null` checks nothing.
    #[serde(default)]
    pub on_response: Option<ResponseCheck>,
}

/// One detector's hits in one request, as its record keeps them (never the values).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GuardrailHit {
    /// The policy.
    pub guardrail: String,
    /// The detector's label (`EMAIL`, `EMPLOYEE_ID`).
    pub detector: String,
    /// What was done: `block`, `mask`, `hash`, `redact_restore`, or `monitor`.
    pub action: String,
    pub count: u32,
    /// Where: `request` or `response`.
    pub phase: String,
}

/// Whose requests may share a cached answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum CacheScope {
    /// Each consumer (anonymous callers form one) has its own entries.
    #[default]
    Consumer,
    /// Every caller of the route shares the entries.
    Global,
}

/// A route's `cache`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RouteCache {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "hour")]
    pub ttl_seconds: u64,
    #[serde(default)]
    pub scope: CacheScope,
}

fn yes() -> bool {
    true
}

fn hour() -> u64 {
    3600
}

impl RouteCache {
    /// The longest TTL accepted: 30 days.
    pub const MAX_TTL_SECONDS: u64 = 30 * 86_400;
}

/// `GET /api/cache`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CacheStats {
    pub entries: u64,
    /// The stored answers' size.
    pub bytes: u64,
    /// The size cap (`cache_max_mb`).
    pub max_bytes: u64,
    pub hits: u64,
    pub misses: u64,
    /// hits / (hits + misses); 0 before any lookup.
    pub hit_ratio: f64,
    /// Where the answers are kept: `memory` (this gateway's own), or `redis` (shared by every
    /// gateway of a cluster, `--redis-url`). With `redis`, `entries` and `bytes` are the whole
    /// cluster's, counted with `SCAN` when asked; `max_bytes` is 0, because Redis's `maxmemory`
    /// policy bounds the size; `hits` and `misses` are still this gateway's.
    #[serde(default)]
    pub backend: String,
    /// Cache lookups that became misses and stores that were skipped because Redis did not
    /// answer within its timeout (always 0 for `memory`).
    #[serde(default)]
    pub unavailable: u64,
}

/// `DELETE /api/cache`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CachePurged {
    pub removed: u64,
}
