//! Types the server and the console share: the configuration model, its validation and the admin API bodies.
//!
//! This crate compiles to `wasm32-unknown-unknown`, so it must not depend on tokio, axum, sqlx or
//! anything else that needs an operating system. The server is the authority on validity, but both
//! sides run the same [`validate`] code so the console can show a field's error before it saves.

pub mod admin;
pub mod audit;
pub mod config;
pub mod consumer;
pub mod guardrails;
pub mod metering;
pub mod provider_type;
pub mod secret;
pub mod validate;

pub use audit::{
    AuditChangeView, AuditEntryView, AuditPage, DiffLine, DiffOp, RollbackDone, RollbackPreview,
    RollbackRequest, Unrecoverable, json_diff,
};
pub use config::{
    ConfigDocument, Fallback, FallbackStrategy, FallbackUpstream, HealthCheck, MatchKind,
    MatchRule, ProviderSpec, Retry, RouteAuth, RouteSpec, RouteUpstream, RoutingStrategy,
    StatusPattern, StickyBy, Timeouts, TokenFailover,
};
pub use consumer::{
    ClientAuth, ConsumerKey, ConsumerSpec, KeyUpdate, Limits, NewKey, RedisFailure, RotateKey,
    Settings, SettingsView,
};
pub use guardrails::{
    CachePurged, CacheScope, CacheStats, DetectorSpec, DetectorType, GuardrailAction, GuardrailHit,
    GuardrailMode, GuardrailSpec, ResponseCheck, RouteCache,
};
pub use metering::{
    Budget, BudgetAlert, BudgetPeriod, BudgetStatus, BudgetsView, LogStatus, LogsPage, ModelPrice,
    PriceEntry, PriceOverride, PricingOverrides, PricingView, RequestLog, TrailStep, UsageReport,
    UsageRow,
};
pub use provider_type::{
    AuthStyle, Capabilities, Group, Preset, Protocol, ProviderType, ReasoningField,
};
pub use validate::{FieldError, FieldWarning, ValidationErrors};
