//! Validation of providers, routes, consumers, guardrail policies and whole config documents,
//! reporting every failing field at once.
//!
//! Field paths look like `upstreams[0].weight`, or `routes[2].upstreams[0].provider` inside a
//! document, so the console can put each message next to its input.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::config::{
    ConfigDocument, Fallback, HealthCheck, MAX_ATTEMPTS, MAX_WEIGHT, MatchRule, ProviderSpec,
    RouteSpec, RouteUpstream, Timeouts, TokenFailover,
};
use crate::consumer::{ConsumerSpec, Limits, NewKey, Settings};
use crate::guardrails::{DetectorSpec, DetectorType, GuardrailAction, GuardrailSpec, RouteCache};
use crate::metering::{Budget, ModelPrice};
use crate::provider_type::{Protocol, ProviderType};
use crate::secret::is_masked;

mod strategy;
mod warnings;

pub use strategy::MAX_STICKY_HEADER_LEN;
pub use warnings::{FieldWarning, config_warnings};

/// One field that failed validation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// All the fields that failed; never empty when returned as an error.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = ValidationErrors::default();
        errors.add(field, message);
        errors
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok` when nothing was added.
    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    /// Adds another set of errors with their field paths nested under `prefix`.
    fn absorb(&mut self, prefix: &str, other: ValidationErrors) {
        for error in other.0 {
            let field = if error.field.is_empty() {
                prefix.to_owned()
            } else {
                format!("{prefix}.{}", error.field)
            };
            self.add(field, error.message);
        }
    }
}

impl std::fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", error.field, error.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// The longest model name or match value accepted.
pub const MAX_MODEL_LEN: usize = 256;
/// The most API keys one provider may hold.
pub const MAX_KEYS: usize = 64;

/// Whether `name` is a slug: `[a-z0-9][a-z0-9-_]{0,63}`.
pub fn is_slug(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'_')
}

fn check_slug(errors: &mut ValidationErrors, field: &str, name: &str) {
    if !is_slug(name) {
        errors.add(
            field,
            "must be 1 to 64 characters of a-z, 0-9, '-' and '_', starting with a letter or digit",
        );
    }
}

/// Whether a name is `.` or `..`: a model name goes into Azure's and Gemini's URL paths, where
/// it would be a dot-segment (percent-encoding does not help: `%2E` is the same character).
pub fn is_dot_segment(name: &str) -> bool {
    name == "." || name == ".."
}

/// A model name or match value: printable, no white space, not too long, not `.` or `..`.
fn check_model_name(errors: &mut ValidationErrors, field: &str, value: &str) {
    if value.is_empty() {
        errors.add(field, "must not be empty");
    } else if is_dot_segment(value) {
        errors.add(field, "must not be '.' or '..'");
    } else if value.len() > MAX_MODEL_LEN {
        errors.add(field, format!("must be at most {MAX_MODEL_LEN} bytes"));
    } else if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        errors.add(field, "must not contain white space or control characters");
    }
}

/// Checks a base URL the way the server will use it: http or https, a host, no query or fragment.
pub fn check_base_url(url: &str) -> Result<(), &'static str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("must start with http:// or https://")?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err("must name a host");
    }
    if url.contains(['?', '#']) {
        return Err("must not contain a query or fragment");
    }
    if url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || !c.is_ascii())
    {
        return Err("must be plain ASCII without white space");
    }
    if authority.contains('@') {
        return Err("must not contain credentials; use api_keys or headers");
    }
    Ok(())
}

/// The origin of a base URL as `scheme://host:port`, lower-cased and with the scheme's default
/// port filled in: what decides where a provider's keys are sent. `None` when the URL is not one
/// [`check_base_url`] accepts.
pub fn base_url_origin(url: &str) -> Option<String> {
    check_base_url(url).ok()?;
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.split('/').next()?.to_ascii_lowercase();
    // An IPv6 literal keeps its brackets; a port follows the last ':' outside them.
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => (&authority[..i], Some(&authority[i + 1..])),
        _ => (authority.as_str(), None),
    };
    let port = match port.filter(|p| !p.is_empty()) {
        Some(port) => port.to_owned(),
        None if scheme == "https" => "443".to_owned(),
        None => "80".to_owned(),
    };
    Some(format!("{scheme}://{host}:{port}"))
}

/// The header a provider type sends its API key in, in lower case (see
/// [`ProviderType::auth`]). A provider's custom `headers` may not set it: the key belongs in
/// `api_keys`, where it is masked, sealed and health-checked.
pub fn key_header_name(kind: ProviderType) -> &'static str {
    kind.auth().header_name()
}

/// The most `anthropic_betas` entries a provider may list.
pub const MAX_ANTHROPIC_BETAS: usize = 64;

/// Header names that the gateway manages itself and so cannot be configured.
const RESERVED_HEADERS: [&str; 8] = [
    "authorization",
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
];

fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn is_header_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
}

/// What is wrong with a key in the form its type's authentication takes, if anything: a token
/// sent in a header, AWS credentials (`ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]`), or a
/// Google service account's JSON key file.
fn key_problem(auth: crate::AuthStyle, key: &str) -> Option<String> {
    match auth {
        crate::AuthStyle::GoogleServiceAccount => {
            if key.len() > 16 * 1024 {
                return Some("must be at most 16384 bytes".into());
            }
            let Ok(serde_json::Value::Object(file)) = serde_json::from_str(key) else {
                return Some("must be a service account's JSON key file".into());
            };
            if file.get("type").and_then(|t| t.as_str()) != Some("service_account") {
                return Some("must be a key file of \"type\": \"service_account\"".into());
            }
            ["client_email", "private_key"]
                .into_iter()
                .find(|field| !file.get(*field).is_some_and(|v| v.is_string()))
                .map(|field| format!("the key file has no {field}"))
        }
        _ if !key.bytes().all(|b| (b'!'..=b'~').contains(&b)) => {
            Some("must be printable ASCII without spaces".into())
        }
        _ if key.len() > 4096 => Some("must be at most 4096 bytes".into()),
        crate::AuthStyle::AwsSigV4 => {
            let parts: Vec<&str> = key.split(':').collect();
            (!(2..=3).contains(&parts.len()) || parts.iter().any(|part| part.is_empty())).then(
                || "must be ACCESS_KEY_ID:SECRET_ACCESS_KEY or ACCESS_KEY_ID:SECRET_ACCESS_KEY:SESSION_TOKEN".into(),
            )
        }
        crate::AuthStyle::Bearer | crate::AuthStyle::Header(_) => None,
    }
}

/// Validates a provider on its own. `api_keys: None` is accepted: it means "keep the stored keys",
/// and creation turns it into an empty list before validating.
pub fn validate_provider(spec: &ProviderSpec) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    check_slug(&mut errors, "name", &spec.name);

    match &spec.base_url {
        Some(url) => {
            if let Err(message) = check_base_url(url) {
                errors.add("base_url", message);
            }
        }
        None if spec.kind.default_base_url().is_none() => {
            errors.add("base_url", format!("is required for type {}", spec.kind));
        }
        None => {}
    }

    if let Some(keys) = &spec.api_keys {
        if keys.is_empty() && spec.kind.requires_key() {
            errors.add(
                "api_keys",
                format!("type {} needs at least one API key", spec.kind),
            );
        }
        if keys.len() > MAX_KEYS {
            errors.add("api_keys", format!("at most {MAX_KEYS} keys"));
        }
        let mut seen = HashSet::new();
        for (i, key) in keys.iter().enumerate() {
            let field = format!("api_keys[{i}]");
            if key.trim().is_empty() {
                errors.add(field, "must not be empty");
            } else if is_masked(key) {
                errors.add(
                    field,
                    "is a masked key that matches no stored key of this provider",
                );
            } else if let Some(problem) = key_problem(spec.kind.auth(), key) {
                errors.add(field, problem);
            } else if !seen.insert(key.as_str()) {
                errors.add(field, "is listed twice");
            }
        }
    }

    let mut seen = HashSet::new();
    for (i, model) in spec.models.iter().enumerate() {
        let field = format!("models[{i}]");
        check_model_name(&mut errors, &field, model);
        if !seen.insert(model.as_str()) {
            errors.add(field, "is listed twice");
        }
    }

    for (key, value) in &spec.model_mapping {
        let field = format!("model_mapping.{key}");
        let pattern = key.strip_suffix('*').unwrap_or(key);
        if key != "*" {
            check_model_name(&mut errors, &field, pattern);
        }
        if pattern.contains('*') {
            errors.add(
                &field,
                "'*' may only end a key (prefix*) or stand alone (*)",
            );
        }
        if !value.is_empty() {
            check_model_name(&mut errors, &field, value);
        }
    }

    let key_header = key_header_name(spec.kind);
    for (name, value) in &spec.headers {
        let field = format!("headers.{name}");
        if !is_header_name(name) {
            errors.add(field, "is not a valid HTTP header name");
        } else if name.eq_ignore_ascii_case(key_header) && key_header != "authorization" {
            errors.add(
                field,
                format!(
                    "is the header {} providers send their API key in; put the key in api_keys",
                    spec.kind
                ),
            );
        } else if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            errors.add(field, "is set by the gateway and cannot be configured");
        } else if is_masked(value) {
            // A masked value stands for the stored one: the server resolves it when it writes,
            // and refuses one that matches nothing stored.
        } else if !is_header_value(value) {
            errors.add(field, "value must be printable ASCII");
        }
    }

    for (glob, price) in &spec.pricing {
        check_price(&mut errors, glob, price);
    }

    check_timeouts(&mut errors, &spec.timeouts);
    check_protocol_settings(&mut errors, spec);
    if let Some(failover) = &spec.token_failover {
        check_token_failover(&mut errors, failover);
    }
    if let Some(check) = &spec.health_check {
        check_health_check(&mut errors, check);
    }
    errors.into_result()
}

/// The longest model glob a provider's `pricing` may use.
pub const MAX_PRICE_GLOB_LEN: usize = 200;
/// The highest price accepted, in US dollars per million tokens: far above any real model, low
/// enough that a typo in the wrong unit is caught.
pub const MAX_PRICE_PER_MTOK: f64 = 100_000.0;

/// One entry of a provider's `pricing`: a usable glob, and prices that are real amounts.
fn check_price(errors: &mut ValidationErrors, glob: &str, price: &ModelPrice) {
    // Debug formatting quotes the glob and escapes anything odd in it, so the path stays readable.
    let prefix = format!("pricing[{glob:?}]");
    if glob.trim().is_empty() {
        errors.add(&prefix, "the model glob must not be empty");
    } else if glob.chars().count() > MAX_PRICE_GLOB_LEN {
        errors.add(
            &prefix,
            format!("the model glob must be at most {MAX_PRICE_GLOB_LEN} characters"),
        );
    }
    let fields = [
        ("input_per_mtok", Some(price.input_per_mtok)),
        ("output_per_mtok", Some(price.output_per_mtok)),
        ("cached_input_per_mtok", price.cached_input_per_mtok),
        ("cache_write_per_mtok", price.cache_write_per_mtok),
        ("reasoning_per_mtok", price.reasoning_per_mtok),
    ];
    for (name, value) in fields {
        if let Some(value) = value
            && !(value.is_finite() && (0.0..=MAX_PRICE_PER_MTOK).contains(&value))
        {
            errors.add(
                format!("{prefix}.{name}"),
                format!("must be a number of US dollars per million tokens from 0 to {MAX_PRICE_PER_MTOK}"),
            );
        }
    }
}

fn check_range(
    errors: &mut ValidationErrors,
    field: &str,
    value: u64,
    range: std::ops::RangeInclusive<u64>,
) {
    if !range.contains(&value) {
        errors.add(
            field,
            format!("must be between {} and {}", range.start(), range.end()),
        );
    }
}

fn check_token_failover(errors: &mut ValidationErrors, failover: &TokenFailover) {
    check_range(
        errors,
        "token_failover.failure_threshold",
        u64::from(failover.failure_threshold),
        1..=100,
    );
    check_range(
        errors,
        "token_failover.success_threshold",
        u64::from(failover.success_threshold),
        1..=100,
    );
    check_range(
        errors,
        "token_failover.health_check_interval_ms",
        failover.health_check_interval_ms,
        100..=Timeouts::MAX_MS,
    );
    check_range(
        errors,
        "token_failover.health_check_timeout_ms",
        failover.health_check_timeout_ms,
        100..=Timeouts::MAX_MS,
    );
    if let Some(cooldown) = failover.cooldown_ms {
        check_range(
            errors,
            "token_failover.cooldown_ms",
            cooldown,
            100..=Timeouts::MAX_MS * 24,
        );
    }
    if let Some(model) = &failover.health_check_model {
        check_model_name(errors, "token_failover.health_check_model", model);
    }
    if failover.on_status.is_empty() {
        errors.add(
            "token_failover.on_status",
            "needs at least one status or class",
        );
    }
}

fn check_health_check(errors: &mut ValidationErrors, check: &HealthCheck) {
    check_range(
        errors,
        "health_check.interval_ms",
        check.interval_ms,
        100..=Timeouts::MAX_MS,
    );
    check_range(
        errors,
        "health_check.timeout_ms",
        check.timeout_ms,
        100..=Timeouts::MAX_MS,
    );
    check_range(
        errors,
        "health_check.unhealthy_after",
        u64::from(check.unhealthy_after),
        1..=100,
    );
    check_range(
        errors,
        "health_check.healthy_after",
        u64::from(check.healthy_after),
        1..=100,
    );
    check_range(
        errors,
        "health_check.cooldown_ms",
        check.cooldown_ms,
        1..=Timeouts::MAX_MS,
    );
    check_range(
        errors,
        "health_check.max_cooldown_ms",
        check.max_cooldown_ms,
        1..=Timeouts::MAX_MS * 24,
    );
    if check.max_cooldown_ms < check.cooldown_ms {
        errors.add(
            "health_check.max_cooldown_ms",
            "must not be below cooldown_ms",
        );
    }
    match (&check.path, &check.model) {
        (Some(_), Some(_)) => errors.add("health_check", "set either path or model, not both"),
        (None, None) if check.enabled => errors.add(
            "health_check",
            "needs a path (GET) or a model (chat) to check",
        ),
        _ => {}
    }
    if let Some(path) = &check.path
        && (!path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        errors.add(
            "health_check.path",
            "must start with '/' and contain no white space",
        );
    }
    if let Some(model) = &check.model {
        check_model_name(errors, "health_check.model", model);
    }
}

/// Settings that only one protocol reads are rejected elsewhere, so that a misplaced setting is
/// an error instead of silently doing nothing.
fn check_protocol_settings(errors: &mut ValidationErrors, spec: &ProviderSpec) {
    let protocol = spec.kind.protocol();
    if let Some(version) = &spec.api_version {
        if !matches!(protocol, Protocol::AzureOpenAi | Protocol::Anthropic) {
            errors.add(
                "api_version",
                "only azure and anthropic providers take an api_version",
            );
        } else if version.is_empty()
            || !version
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            errors.add("api_version", "must be letters, digits, '-' and '.'");
        }
    }
    if let Some(region) = &spec.aws_region {
        if protocol != Protocol::Bedrock {
            errors.add("aws_region", "only bedrock providers take an AWS region");
        } else if region.is_empty()
            || region.len() > 32
            || !region.contains('-')
            || !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            errors.add("aws_region", "must be an AWS region such as us-east-1");
        }
    }
    if !spec.deployments.is_empty() && protocol != Protocol::AzureOpenAi {
        errors.add("deployments", "only azure providers take deployments");
    }
    for (model, deployment) in &spec.deployments {
        check_model_name(errors, &format!("deployments.{model}"), model);
        check_model_name(errors, &format!("deployments.{model}"), deployment);
    }
    if let Some(betas) = &spec.anthropic_betas {
        if protocol != Protocol::Anthropic {
            errors.add(
                "anthropic_betas",
                "only anthropic providers take anthropic_betas",
            );
        } else if betas.len() > MAX_ANTHROPIC_BETAS {
            errors.add(
                "anthropic_betas",
                format!("at most {MAX_ANTHROPIC_BETAS} names"),
            );
        }
        let mut seen = HashSet::new();
        for (i, beta) in betas.iter().enumerate() {
            let field = format!("anthropic_betas[{i}]");
            let name = beta.len() <= 128
                && !beta.is_empty()
                && beta
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if beta != "*" && !name {
                errors.add(
                    field,
                    "must be a beta name (letters, digits, '-', '_', '.') or \"*\" for all",
                );
            } else if !seen.insert(beta.to_ascii_lowercase()) {
                errors.add(field, "is listed twice");
            }
        }
    }
    if let Some(max) = spec.default_max_tokens {
        if protocol != Protocol::Anthropic {
            errors.add(
                "default_max_tokens",
                "only anthropic providers take default_max_tokens",
            );
        } else if !(1..=1_000_000).contains(&max) {
            errors.add("default_max_tokens", "must be between 1 and 1000000");
        }
    }
}

fn check_timeouts(errors: &mut ValidationErrors, timeouts: &Timeouts) {
    let fields = [
        ("timeouts.connect_ms", timeouts.connect_ms),
        ("timeouts.first_byte_ms", timeouts.first_byte_ms),
        ("timeouts.idle_ms", timeouts.idle_ms),
        ("timeouts.total_ms", timeouts.total_ms),
    ];
    for (field, value) in fields {
        if let Some(ms) = value
            && !(1..=Timeouts::MAX_MS).contains(&ms)
        {
            errors.add(field, format!("must be between 1 and {}", Timeouts::MAX_MS));
        }
    }
}

/// Validates a route on its own, without checking that its providers exist.
pub fn validate_route(spec: &RouteSpec) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    check_slug(&mut errors, "name", &spec.name);

    if spec.matches.is_empty() {
        errors.add("match", "needs at least one predicate");
    }
    let mut seen: HashSet<&MatchRule> = HashSet::new();
    for (i, rule) in spec.matches.iter().enumerate() {
        let field = format!("match[{i}].value");
        check_model_name(&mut errors, &field, &rule.value);
        if !seen.insert(rule) {
            errors.add(field, "is listed twice");
        }
    }

    check_upstreams(&mut errors, &spec.upstreams);
    strategy::check_strategy(&mut errors, spec);

    if let Some(fallback) = &spec.fallback {
        check_fallback(&mut errors, fallback);
    }
    if let Some(retry) = &spec.retry {
        check_range(
            &mut errors,
            "retry.max_attempts",
            u64::from(retry.max_attempts),
            1..=u64::from(MAX_ATTEMPTS),
        );
        check_range(
            &mut errors,
            "retry.backoff_base_ms",
            retry.backoff_base_ms,
            0..=60_000,
        );
        check_range(
            &mut errors,
            "retry.backoff_max_ms",
            retry.backoff_max_ms,
            0..=600_000,
        );
        check_range(
            &mut errors,
            "retry.retry_after_max_ms",
            retry.retry_after_max_ms,
            0..=Timeouts::MAX_MS,
        );
        if retry.backoff_max_ms < retry.backoff_base_ms {
            errors.add("retry.backoff_max_ms", "must not be below backoff_base_ms");
        }
    }
    if let Some(timeout) = spec.timeout_ms {
        check_range(&mut errors, "timeout_ms", timeout, 1..=Timeouts::MAX_MS);
    }
    if let Some(auth) = &spec.auth {
        check_names(
            &mut errors,
            "auth.allowed_consumers",
            &auth.allowed_consumers,
        );
    }
    check_limits(&mut errors, "limits", &spec.limits);
    if let Some(tokens) = spec.reserve_completion_tokens {
        check_range(
            &mut errors,
            "reserve_completion_tokens",
            u64::from(tokens),
            0..=10_000_000,
        );
    }
    if let Some(cache) = &spec.cache {
        check_range(
            &mut errors,
            "cache.ttl_seconds",
            cache.ttl_seconds,
            1..=RouteCache::MAX_TTL_SECONDS,
        );
    }
    check_guardrail_names(&mut errors, &spec.guardrails);
    errors.into_result()
}

/// Each limit, when set, is a whole number from 1 to [`Limits::MAX`] (to refuse everything,
/// disable the consumer or key instead).
pub fn check_limits(errors: &mut ValidationErrors, prefix: &str, limits: &Limits) {
    let fields = [
        ("rpm", limits.rpm),
        ("rpd", limits.rpd),
        ("tpm", limits.tpm),
        ("tpd", limits.tpd),
        ("max_concurrent", limits.max_concurrent),
    ];
    for (name, value) in fields {
        if let Some(value) = value {
            check_range(errors, &format!("{prefix}.{name}"), value, 1..=Limits::MAX);
        }
    }
}

/// The longest budget timezone name accepted.
pub const MAX_TIMEZONE_LEN: usize = 64;

/// A budget: a positive limit, a soft limit below it, and a timezone shaped like an IANA name
/// (`Europe/Berlin`, `Etc/GMT+2`). Whether the timezone exists is checked by the server, which
/// has the timezone database.
pub fn check_budget(errors: &mut ValidationErrors, prefix: &str, budget: &Budget) {
    let limit_ok = budget.limit_usd.is_finite()
        && budget.limit_usd > 0.0
        && budget.limit_usd <= Budget::MAX_USD;
    if !limit_ok {
        errors.add(
            format!("{prefix}.limit_usd"),
            format!(
                "must be more than 0 and at most {} US dollars",
                Budget::MAX_USD
            ),
        );
    }
    if let Some(soft) = budget.soft_limit_usd {
        if !(soft.is_finite() && soft > 0.0) {
            errors.add(
                format!("{prefix}.soft_limit_usd"),
                "must be more than 0 US dollars",
            );
        } else if limit_ok && soft >= budget.limit_usd {
            errors.add(
                format!("{prefix}.soft_limit_usd"),
                "must be below limit_usd",
            );
        }
    }
    let timezone = &budget.timezone;
    let field = format!("{prefix}.timezone");
    if timezone.is_empty() {
        errors.add(field, "must not be empty");
    } else if timezone.len() > MAX_TIMEZONE_LEN {
        errors.add(
            field,
            format!("must be at most {MAX_TIMEZONE_LEN} characters"),
        );
    } else if !timezone
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_+-/".contains(&b))
    {
        errors.add(
            field,
            "must be an IANA timezone name such as UTC or Europe/Berlin",
        );
    } else if !known_timezone(timezone) {
        errors.add(
            field,
            "is not a known IANA timezone (such as UTC or Europe/Berlin)",
        );
    }
}

/// Whether the timezone database knows the name. The server checks it; the console leaves the
/// database out (it would weigh its wasm down) and lets the server answer.
#[cfg(feature = "tz")]
fn known_timezone(name: &str) -> bool {
    name.parse::<chrono_tz::Tz>().is_ok()
}

#[cfg(not(feature = "tz"))]
fn known_timezone(_name: &str) -> bool {
    true
}

/// A list of slugs (consumer or route names), each listed once.
fn check_names(errors: &mut ValidationErrors, field: &str, names: &[String]) {
    let mut seen = HashSet::new();
    for (i, name) in names.iter().enumerate() {
        check_slug(errors, &format!("{field}[{i}]"), name);
        if !seen.insert(name) {
            errors.add(format!("{field}[{i}]"), "is listed twice");
        }
    }
}

/// Model globs: model names in which `*` stands for any run of characters.
fn check_globs(errors: &mut ValidationErrors, field: &str, globs: &[String]) {
    for (i, glob) in globs.iter().enumerate() {
        check_model_name(errors, &format!("{field}[{i}]"), glob);
    }
}

/// The longest consumer description accepted.
pub const MAX_DESCRIPTION_LEN: usize = 1024;
/// The most keys one consumer may hold.
pub const MAX_CONSUMER_KEYS: usize = 100;

/// Validates a consumer on its own (its keys' fields included, not their plaintext or digests).
pub fn validate_consumer(spec: &ConsumerSpec) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    check_slug(&mut errors, "name", &spec.name);
    if spec.description.len() > MAX_DESCRIPTION_LEN {
        errors.add(
            "description",
            format!("must be at most {MAX_DESCRIPTION_LEN} bytes"),
        );
    }
    check_globs(&mut errors, "allowed_models", &spec.allowed_models);
    check_names(&mut errors, "allowed_routes", &spec.allowed_routes);
    check_limits(&mut errors, "limits", &spec.limits);
    if let Some(budget) = &spec.budget {
        check_budget(&mut errors, "budget", budget);
    }
    check_guardrail_names(&mut errors, &spec.guardrails);
    if serde_json::to_string(&spec.metadata).map_or(0, |json| json.len()) > 16 * 1024 {
        errors.add("metadata", "must be at most 16 KiB as JSON");
    }
    if spec.keys.len() > MAX_CONSUMER_KEYS {
        errors.add(
            "keys",
            format!("a consumer holds at most {MAX_CONSUMER_KEYS} keys"),
        );
    }
    for (i, key) in spec.keys.iter().enumerate() {
        let prefix = format!("keys[{i}]");
        check_key_name(&mut errors, &format!("{prefix}.name"), &key.name);
        check_globs(
            &mut errors,
            &format!("{prefix}.allowed_models"),
            &key.allowed_models,
        );
        check_limits(&mut errors, &format!("{prefix}.limits"), &key.limits);
        if let Some(budget) = &key.budget {
            check_budget(&mut errors, &format!("{prefix}.budget"), budget);
        }
    }
    errors.into_result()
}

/// A key's label: 1 to 64 printable characters.
pub fn check_key_name(errors: &mut ValidationErrors, field: &str, name: &str) {
    if name.trim().is_empty() {
        errors.add(field, "must not be empty");
    } else if name.chars().count() > 64 {
        errors.add(field, "must be at most 64 characters");
    } else if name.chars().any(char::is_control) {
        errors.add(field, "must not contain control characters");
    }
}

/// Validates a new key's fields (the expiry's format is checked by the server).
pub fn validate_new_key(key: &NewKey) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    check_key_name(&mut errors, "name", &key.name);
    check_globs(&mut errors, "allowed_models", &key.allowed_models);
    check_limits(&mut errors, "limits", &key.limits);
    if let Some(budget) = &key.budget {
        check_budget(&mut errors, "budget", budget);
    }
    errors.into_result()
}

/// The largest response cache accepted, in MiB (64 GiB).
pub const MAX_CACHE_MB: u64 = 65_536;

/// The longest alert webhook URL accepted.
pub const MAX_WEBHOOK_URL_LEN: usize = 2048;

/// An alert webhook: what [`check_base_url`] accepts, plus a query string (webhook services
/// often carry their token in one). Only the fragment stays refused: it is never sent.
fn check_webhook_url(url: &str) -> Result<(), &'static str> {
    if url.len() > MAX_WEBHOOK_URL_LEN {
        return Err("must be at most 2048 bytes");
    }
    if url.contains('#') {
        return Err("must not contain a fragment");
    }
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    check_base_url(base)?;
    if !query.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be plain ASCII without white space");
    }
    Ok(())
}

/// Validates the gateway-wide settings.
pub fn validate_settings(settings: &Settings) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    check_range(
        &mut errors,
        "log_retention_days",
        u64::from(settings.log_retention_days),
        1..=3650,
    );
    check_range(
        &mut errors,
        "log_max_rows",
        settings.log_max_rows,
        1000..=1_000_000_000,
    );
    if let Some(url) = &settings.alert_webhook_url
        && let Err(message) = check_webhook_url(url)
    {
        errors.add("alert_webhook_url", message);
    }
    check_range(
        &mut errors,
        "cache_max_mb",
        settings.cache_max_mb,
        1..=MAX_CACHE_MB,
    );
    if let Some(days) = settings.audit_retention_days {
        check_range(
            &mut errors,
            "audit_retention_days",
            u64::from(days),
            1..=MAX_AUDIT_RETENTION_DAYS,
        );
    }
    errors.into_result()
}

/// The longest audit retention accepted, in days (a hundred years: "keep it all" is unset).
pub const MAX_AUDIT_RETENTION_DAYS: u64 = 36_500;

/// The most detectors one guardrail policy may list.
pub const MAX_DETECTORS: usize = 64;
/// The longest custom pattern accepted, in characters.
pub const MAX_PATTERN_LEN: usize = 1000;
/// The most words one `deny_words` detector may list.
pub const MAX_DENY_WORDS: usize = 1000;
/// The longest deny word or phrase accepted, in characters.
pub const MAX_DENY_WORD_LEN: usize = 200;
/// The most memory one custom pattern may compile to, in bytes. A policy's patterns together
/// stay under [`MAX_DETECTORS`] times this, which is the limit to build their set with.
pub const MAX_PATTERN_COMPILED_BYTES: usize = 1 << 20;

/// The label a detector's hits are reported and masked under: its own, or its type in upper case
/// (`CREDIT_CARD`).
pub fn detector_label(detector: &DetectorSpec) -> String {
    match &detector.label {
        Some(label) => label.clone(),
        None => detector.kind.as_str().to_ascii_uppercase(),
    }
}

/// Whether `label` is `[A-Z][A-Z0-9_]{0,31}`: it becomes part of a placeholder (`[EMAIL]`), so
/// it is kept to characters no tokenizer or prompt splits or escapes.
pub fn is_detector_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 32
        && bytes[0].is_ascii_uppercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
}

/// Validates a guardrail policy on its own. Whether a custom pattern compiles is checked only
/// with the `regex` feature (the server's); without it the pattern's length is.
pub fn validate_guardrail(spec: &GuardrailSpec) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    check_slug(&mut errors, "name", &spec.name);
    if spec.description.len() > MAX_DESCRIPTION_LEN {
        errors.add(
            "description",
            format!("must be at most {MAX_DESCRIPTION_LEN} bytes"),
        );
    }
    if spec.detectors.is_empty() {
        errors.add("detectors", "needs at least one detector");
    } else if spec.detectors.len() > MAX_DETECTORS {
        errors.add(
            "detectors",
            format!("a policy holds at most {MAX_DETECTORS} detectors"),
        );
    }
    // Hits are recorded and masked by label, so two detectors with one label could not be told
    // apart in a record or a placeholder.
    let mut labels: HashMap<String, usize> = HashMap::new();
    for (i, detector) in spec.detectors.iter().enumerate() {
        let prefix = format!("detectors[{i}]");
        check_detector(&mut errors, &prefix, detector);
        let label = detector_label(detector);
        if let Some(first) = labels.insert(label.clone(), i) {
            let field = if detector.label.is_some() {
                format!("{prefix}.label")
            } else {
                format!("{prefix}.type")
            };
            errors.add(
                field,
                format!(
                    "detectors[{first}] already reports under {label}; give each detector a label of its own"
                ),
            );
        }
    }
    if let Some(check) = &spec.on_response
        && !matches!(check.action, GuardrailAction::Mask | GuardrailAction::Block)
    {
        errors.add("on_response.action", "must be mask or block");
    }
    errors.into_result()
}

fn check_detector(errors: &mut ValidationErrors, prefix: &str, detector: &DetectorSpec) {
    let field = |name: &str| format!("{prefix}.{name}");
    match &detector.label {
        Some(label) if !is_detector_label(label) => errors.add(
            field("label"),
            "must be 1 to 32 characters of A-Z, 0-9 and '_', starting with a letter",
        ),
        None if detector.kind == DetectorType::Regex => {
            errors.add(field("label"), "is required for a regex detector")
        }
        _ => {}
    }
    match detector.kind {
        DetectorType::Regex => match &detector.pattern {
            None => errors.add(field("pattern"), "is required for a regex detector"),
            Some(pattern) if pattern.is_empty() => {
                errors.add(field("pattern"), "must not be empty")
            }
            Some(pattern) if pattern.chars().count() > MAX_PATTERN_LEN => errors.add(
                field("pattern"),
                format!("must be at most {MAX_PATTERN_LEN} characters"),
            ),
            Some(pattern) => {
                if let Err(message) = check_pattern(pattern) {
                    errors.add(field("pattern"), message);
                }
            }
        },
        _ if detector.pattern.is_some() => {
            errors.add(field("pattern"), "only regex detectors take a pattern")
        }
        _ => {}
    }
    if detector.kind == DetectorType::DenyWords {
        if detector.words.is_empty() {
            errors.add(field("words"), "needs at least one word or phrase");
        } else if detector.words.len() > MAX_DENY_WORDS {
            errors.add(
                field("words"),
                format!("at most {MAX_DENY_WORDS} words or phrases"),
            );
        }
        for (w, word) in detector.words.iter().enumerate() {
            let field = format!("{prefix}.words[{w}]");
            if word.trim().is_empty() {
                errors.add(field, "must not be empty");
            } else if word.chars().count() > MAX_DENY_WORD_LEN {
                errors.add(
                    field,
                    format!("must be at most {MAX_DENY_WORD_LEN} characters"),
                );
            } else if word.chars().any(char::is_control) {
                errors.add(field, "must not contain control characters");
            }
        }
    } else if !detector.words.is_empty() {
        errors.add(field("words"), "only deny_words detectors take words");
    }
}

/// A custom pattern must compile within [`MAX_PATTERN_COMPILED_BYTES`] and must not match the
/// empty string (which would "find" something between every two characters).
#[cfg(feature = "regex")]
fn check_pattern(pattern: &str) -> Result<(), String> {
    let hir = regex_syntax::parse(pattern).map_err(|error| {
        let (kind, at) = match &error {
            regex_syntax::Error::Parse(e) => (e.kind().to_string(), Some(e.span().start.offset)),
            regex_syntax::Error::Translate(e) => {
                (e.kind().to_string(), Some(e.span().start.offset))
            }
            other => (other.to_string(), None),
        };
        match at {
            Some(at) => format!("is not a valid regular expression: {kind} (at byte {at})"),
            None => format!("is not a valid regular expression: {kind}"),
        }
    })?;
    match hir.properties().minimum_len() {
        Some(0) => return Err("must not match an empty string".into()),
        None => return Err("can never match anything".into()),
        Some(_) => {}
    }
    regex::RegexBuilder::new(pattern)
        .size_limit(MAX_PATTERN_COMPILED_BYTES)
        .build()
        .map(drop)
        .map_err(|error| match error {
            regex::Error::CompiledTooBig(_) => format!(
                "compiles to more than {} KiB; make it simpler (for example (?-u) or shorter repetitions)",
                MAX_PATTERN_COMPILED_BYTES / 1024
            ),
            other => format!("is not a valid regular expression: {other}"),
        })
}

/// Without the regex engine (the console's wasm) the server has the last word on patterns.
#[cfg(not(feature = "regex"))]
fn check_pattern(_pattern: &str) -> Result<(), String> {
    Ok(())
}

/// A route's or consumer's guardrail policies: slugs, each listed once.
fn check_guardrail_names(errors: &mut ValidationErrors, names: &[String]) {
    check_names(errors, "guardrails", names);
}

/// Checks that every guardrail policy a route or consumer names exists; errors are
/// `guardrails[i]`.
pub fn validate_guardrail_references(
    names: &[String],
    guardrail_exists: impl Fn(&str) -> bool,
) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    for (i, name) in names.iter().enumerate() {
        if !guardrail_exists(name) {
            errors.add(
                format!("guardrails[{i}]"),
                format!("no guardrail policy named '{name}'"),
            );
        }
    }
    errors.into_result()
}

fn check_upstreams(errors: &mut ValidationErrors, upstreams: &[RouteUpstream]) {
    if upstreams.is_empty() {
        errors.add("upstreams", "needs at least one upstream");
        return;
    }
    let mut seen = HashSet::new();
    for (i, upstream) in upstreams.iter().enumerate() {
        check_slug(
            errors,
            &format!("upstreams[{i}].provider"),
            &upstream.provider,
        );
        if upstream.weight > MAX_WEIGHT {
            errors.add(
                format!("upstreams[{i}].weight"),
                format!("must be between 0 and {MAX_WEIGHT}"),
            );
        }
        if let Some(model) = &upstream.model {
            check_model_name(errors, &format!("upstreams[{i}].model"), model);
        }
        if !seen.insert((&upstream.provider, &upstream.model)) {
            errors.add(
                format!("upstreams[{i}]"),
                "the same provider and model are listed twice",
            );
        }
    }
    if upstreams.iter().all(|u| u.weight == 0) {
        errors.add("upstreams", "at least one upstream needs a weight above 0");
    }
}

fn check_fallback(errors: &mut ValidationErrors, fallback: &Fallback) {
    if fallback.enabled && fallback.upstreams.is_empty() {
        errors.add(
            "fallback.upstreams",
            "needs at least one upstream when fallback is enabled",
        );
    }
    for (i, upstream) in fallback.upstreams.iter().enumerate() {
        check_slug(
            errors,
            &format!("fallback.upstreams[{i}].provider"),
            &upstream.provider,
        );
        if let Some(model) = &upstream.model {
            check_model_name(errors, &format!("fallback.upstreams[{i}].model"), model);
        }
    }
    if fallback.enabled && fallback.on_status.is_empty() {
        errors.add("fallback.on_status", "needs at least one status or class");
    }
}

/// Checks that every provider a route names exists.
pub fn validate_route_references(
    spec: &RouteSpec,
    provider_exists: impl Fn(&str) -> bool,
) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    for (i, upstream) in spec.upstreams.iter().enumerate() {
        if !provider_exists(&upstream.provider) {
            errors.add(
                format!("upstreams[{i}].provider"),
                format!("no provider named '{}'", upstream.provider),
            );
        }
    }
    if let Some(fallback) = &spec.fallback {
        for (i, upstream) in fallback.upstreams.iter().enumerate() {
            if !provider_exists(&upstream.provider) {
                errors.add(
                    format!("fallback.upstreams[{i}].provider"),
                    format!("no provider named '{}'", upstream.provider),
                );
            }
        }
    }
    errors.into_result()
}

/// The names of every provider a route references, primary and fallback.
pub fn referenced_providers(spec: &RouteSpec) -> BTreeSet<&str> {
    let primary = spec.upstreams.iter().map(|u| u.provider.as_str());
    let fallback = spec
        .fallback
        .iter()
        .flat_map(|f| f.upstreams.iter().map(|u| u.provider.as_str()));
    primary.chain(fallback).collect()
}

/// Validates a whole document: each item, unique names, and references. Routes may also
/// reference `known_providers`, and routes and consumers `known_guardrails` (items stored
/// already and not in the file; empty when the document replaces everything).
pub fn validate_document(
    doc: &ConfigDocument,
    known_providers: &BTreeSet<String>,
    known_guardrails: &BTreeSet<String>,
) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let mut provider_names: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, provider) in doc.providers.iter().enumerate() {
        let prefix = format!("providers[{i}]");
        if let Err(e) = validate_provider(provider) {
            errors.absorb(&prefix, e);
        }
        if provider_names.insert(&provider.name, i).is_some() {
            errors.add(
                format!("{prefix}.name"),
                "is used by another provider in this document",
            );
        }
    }
    let mut guardrail_names = HashSet::new();
    for (i, guardrail) in doc.guardrails.iter().enumerate() {
        let prefix = format!("guardrails[{i}]");
        if let Err(e) = validate_guardrail(guardrail) {
            errors.absorb(&prefix, e);
        }
        if !guardrail_names.insert(guardrail.name.as_str()) {
            errors.add(
                format!("{prefix}.name"),
                "is used by another guardrail policy in this document",
            );
        }
    }
    let guardrail_exists =
        |name: &str| guardrail_names.contains(name) || known_guardrails.contains(name);
    let mut route_names = HashSet::new();
    for (i, route) in doc.routes.iter().enumerate() {
        let prefix = format!("routes[{i}]");
        if let Err(e) = validate_route(route) {
            errors.absorb(&prefix, e);
        }
        if !route_names.insert(&route.name) {
            errors.add(
                format!("{prefix}.name"),
                "is used by another route in this document",
            );
        }
        let exists =
            |name: &str| provider_names.contains_key(name) || known_providers.contains(name);
        if let Err(e) = validate_route_references(route, exists) {
            errors.absorb(&prefix, e);
        }
        if let Err(e) = validate_guardrail_references(&route.guardrails, guardrail_exists) {
            errors.absorb(&prefix, e);
        }
    }
    let mut consumer_names = HashSet::new();
    for (i, consumer) in doc.consumers.iter().enumerate() {
        let prefix = format!("consumers[{i}]");
        if let Err(e) = validate_consumer(consumer) {
            errors.absorb(&prefix, e);
        }
        if !consumer_names.insert(&consumer.name) {
            errors.add(
                format!("{prefix}.name"),
                "is used by another consumer in this document",
            );
        }
        if let Err(e) = validate_guardrail_references(&consumer.guardrails, guardrail_exists) {
            errors.absorb(&prefix, e);
        }
        for (k, key) in consumer.keys.iter().enumerate() {
            if key.key.is_none() && key.key_sha256.is_none() {
                errors.add(
                    format!("{prefix}.keys[{k}]"),
                    "needs `key_sha256` (as export writes it) or a plaintext `key`",
                );
            }
        }
    }
    if let Some(settings) = &doc.settings
        && let Err(e) = validate_settings(settings)
    {
        errors.absorb("settings", e);
    }
    errors.into_result()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{MatchKind, StatusPattern};

    fn provider(name: &str) -> ProviderSpec {
        ProviderSpec {
            name: name.into(),
            kind: ProviderType::Deepseek,
            base_url: None,
            api_keys: Some(vec!["sk-1".into()]),
            models: vec![],
            model_mapping: BTreeMap::new(),
            headers: BTreeMap::new(),
            timeouts: Timeouts::default(),
            api_version: None,
            deployments: BTreeMap::new(),
            pricing: BTreeMap::new(),
            default_max_tokens: None,
            token_failover: None,
            health_check: None,
            anthropic_betas: None,
            responses_api: None,
            aws_region: None,
        }
    }

    fn route(name: &str, provider: &str) -> RouteSpec {
        RouteSpec {
            name: name.into(),
            priority: 0,
            matches: vec![MatchRule {
                kind: MatchKind::Prefix,
                value: "deepseek-".into(),
            }],
            upstreams: vec![RouteUpstream {
                provider: provider.into(),
                weight: 100,
                model: None,
                priority: 0,
            }],
            strategy: Default::default(),
            max_latency_ms: None,
            sticky_by: None,
            fallback: None,
            retry: None,
            timeout_ms: None,
            auth: None,
            limits: crate::consumer::Limits::default(),
            reserve_completion_tokens: None,
            cache: None,
            guardrails: Vec::new(),
        }
    }

    fn fields(result: Result<(), ValidationErrors>) -> Vec<String> {
        result
            .expect_err("expected errors")
            .0
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn slugs() {
        assert!(is_slug("deepseek"));
        assert!(is_slug("a-1_b"));
        assert!(!is_slug(""));
        assert!(!is_slug("-a"));
        assert!(!is_slug("Deepseek"));
        assert!(!is_slug(&"a".repeat(65)));
    }

    #[test]
    fn dot_segments_are_not_model_names() {
        for name in [".", ".."] {
            let mut p = provider("p");
            p.models = vec![name.into()];
            p.model_mapping.insert("a".into(), name.into());
            assert_eq!(
                fields(validate_provider(&p)),
                vec!["models[0]", "model_mapping.a"],
                "{name}"
            );
        }
        let mut p = provider("p");
        p.models = vec!["...".into(), "v1.5".into(), ".x".into()];
        assert!(validate_provider(&p).is_ok());
    }

    #[test]
    fn provider_errors_name_every_field() {
        let mut p = provider("Bad Name");
        p.base_url = Some("ftp://x".into());
        p.api_keys = Some(vec!["".into(), "sk-…abcd".into()]);
        p.headers.insert("Authorization".into(), "x".into());
        p.timeouts.idle_ms = Some(0);
        p.model_mapping.insert("a*b".into(), "c".into());
        assert_eq!(
            fields(validate_provider(&p)),
            vec![
                "name",
                "base_url",
                "api_keys[0]",
                "api_keys[1]",
                "model_mapping.a*b",
                "headers.Authorization",
                "timeouts.idle_ms"
            ]
        );
    }

    #[test]
    fn keys_required_only_for_hosted_types() {
        let mut p = provider("p");
        p.api_keys = Some(vec![]);
        assert_eq!(fields(validate_provider(&p)), vec!["api_keys"]);
        p.kind = ProviderType::Ollama;
        assert!(validate_provider(&p).is_ok());
        p.kind = ProviderType::OpenaiCompatible;
        assert_eq!(fields(validate_provider(&p)), vec!["base_url"]);
    }

    #[test]
    fn protocol_settings_belong_to_their_protocol() {
        let mut p = provider("p");
        p.api_version = Some("2024-10-21".into());
        p.default_max_tokens = Some(0);
        p.deployments.insert("gpt-4o".into(), "prod-4o".into());
        assert_eq!(
            fields(validate_provider(&p)),
            vec!["api_version", "deployments", "default_max_tokens"]
        );
        p.kind = ProviderType::Azure;
        p.base_url = Some("https://example.openai.azure.com".into());
        p.default_max_tokens = None;
        assert!(validate_provider(&p).is_ok());
    }

    #[test]
    fn the_protocols_key_header_is_reserved() {
        let cases = [
            (ProviderType::Deepseek, "Authorization"),
            (ProviderType::Anthropic, "x-api-key"),
            (ProviderType::Gemini, "X-Goog-Api-Key"),
            (ProviderType::Azure, "api-key"),
        ];
        for (kind, header) in cases {
            let mut p = provider("p");
            p.kind = kind;
            p.base_url = Some("https://llm.example.com/v1".into());
            p.headers.insert(header.into(), "secret-value".into());
            assert_eq!(
                fields(validate_provider(&p)),
                vec![format!("headers.{header}")],
                "{kind}"
            );
        }
        // Another protocol's key header is an ordinary (masked) header.
        let mut p = provider("p");
        p.headers.insert("x-api-key".into(), "secret-value".into());
        assert!(validate_provider(&p).is_ok());
        // A masked value is left for the server to resolve against the stored one.
        p.headers.insert("x-api-key".into(), "sec…alue".into());
        assert!(validate_provider(&p).is_ok());
    }

    #[test]
    fn anthropic_betas_belong_to_anthropic() {
        let mut p = provider("p");
        p.anthropic_betas = Some(vec!["claude-code-20250219".into()]);
        assert_eq!(fields(validate_provider(&p)), vec!["anthropic_betas"]);
        p.kind = ProviderType::Anthropic;
        assert!(validate_provider(&p).is_ok());
        p.anthropic_betas = Some(vec!["*".into(), "a b".into(), "*".into()]);
        assert_eq!(
            fields(validate_provider(&p)),
            vec!["anthropic_betas[1]", "anthropic_betas[2]"]
        );
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let origin = |url: &str| base_url_origin(url).expect("a valid base URL");
        assert_eq!(
            origin("https://API.openai.com/v1"),
            "https://api.openai.com:443"
        );
        assert_eq!(
            origin("https://api.openai.com:443/v2/"),
            origin("https://api.openai.com")
        );
        assert_ne!(
            origin("http://api.openai.com/v1"),
            origin("https://api.openai.com/v1")
        );
        assert_ne!(
            origin("https://api.openai.com:8443/v1"),
            origin("https://api.openai.com/v1")
        );
        assert_eq!(origin("http://[::1]:8080/v1"), "http://[::1]:8080");
        assert_eq!(origin("http://[::1]/v1"), "http://[::1]:80");
        assert_eq!(base_url_origin("ftp://x"), None);
    }

    #[test]
    fn route_errors() {
        let mut r = route("r", "p");
        r.upstreams[0].weight = 0;
        r.matches.push(r.matches[0].clone());
        r.fallback = Some(Fallback {
            enabled: true,
            strategy: Default::default(),
            on_status: vec![StatusPattern::Class(5)],
            upstreams: vec![],
        });
        assert_eq!(
            fields(validate_route(&r)),
            vec!["match[1].value", "upstreams", "fallback.upstreams"]
        );
        r.upstreams[0].weight = 1001;
        assert!(fields(validate_route(&r)).contains(&"upstreams[0].weight".to_owned()));
    }

    #[test]
    fn documents_check_references_and_duplicates() {
        let doc = ConfigDocument {
            providers: vec![provider("a"), provider("a")],
            routes: vec![route("r", "a"), route("r2", "missing")],
            ..ConfigDocument::default()
        };
        assert_eq!(
            fields(validate_document(&doc, &BTreeSet::new(), &BTreeSet::new())),
            vec!["providers[1].name", "routes[1].upstreams[0].provider"]
        );
        let known = BTreeSet::from(["missing".to_owned()]);
        let doc = ConfigDocument {
            providers: vec![provider("a")],
            routes: vec![route("r2", "missing")],
            ..ConfigDocument::default()
        };
        assert!(validate_document(&doc, &known, &BTreeSet::new()).is_ok());
    }

    fn price(input: f64, output: f64) -> ModelPrice {
        ModelPrice {
            input_per_mtok: input,
            output_per_mtok: output,
            ..ModelPrice::default()
        }
    }

    #[test]
    fn pricing_globs_and_amounts() {
        let mut p = provider("p");
        p.pricing.insert("my-model*".into(), price(0.5, 1.5));
        p.pricing.insert(
            "free".into(),
            ModelPrice {
                cached_input_per_mtok: Some(0.0),
                ..price(0.0, 0.0)
            },
        );
        p.pricing.insert("max".into(), price(100_000.0, 100_000.0));
        assert!(validate_provider(&p).is_ok());

        let mut p = provider("p");
        p.pricing.insert("".into(), price(1.0, 1.0));
        p.pricing.insert("x".repeat(201), price(1.0, 1.0));
        p.pricing.insert(
            "gpt-*".into(),
            ModelPrice {
                cached_input_per_mtok: Some(f64::NAN),
                cache_write_per_mtok: Some(f64::INFINITY),
                reasoning_per_mtok: Some(100_000.5),
                ..price(-0.1, 2.0)
            },
        );
        let long = format!("pricing[{:?}]", "x".repeat(201));
        assert_eq!(
            fields(validate_provider(&p)),
            vec![
                "pricing[\"\"]".to_owned(),
                "pricing[\"gpt-*\"].input_per_mtok".to_owned(),
                "pricing[\"gpt-*\"].cached_input_per_mtok".to_owned(),
                "pricing[\"gpt-*\"].cache_write_per_mtok".to_owned(),
                "pricing[\"gpt-*\"].reasoning_per_mtok".to_owned(),
                long,
            ]
        );
    }

    fn budget(limit: f64) -> Budget {
        Budget {
            limit_usd: limit,
            period: crate::metering::BudgetPeriod::Month,
            timezone: "UTC".into(),
            soft_limit_usd: None,
        }
    }

    fn budget_fields(budget: &Budget) -> Vec<String> {
        let mut errors = ValidationErrors::default();
        check_budget(&mut errors, "budget", budget);
        errors.0.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn budgets() {
        let ok = Budget {
            soft_limit_usd: Some(40.0),
            timezone: "America/Argentina/Buenos_Aires".into(),
            ..budget(50.0)
        };
        assert!(budget_fields(&ok).is_empty());
        for tz in ["Etc/GMT+2", "Etc/GMT-14", "Europe/Berlin", "UTC"] {
            let b = Budget {
                timezone: tz.into(),
                ..budget(1.0)
            };
            assert!(budget_fields(&b).is_empty(), "{tz}");
        }
        assert!(budget_fields(&budget(Budget::MAX_USD)).is_empty());
        for limit in [0.0, -1.0, f64::NAN, f64::INFINITY, Budget::MAX_USD * 2.0] {
            assert_eq!(
                budget_fields(&budget(limit)),
                vec!["budget.limit_usd"],
                "{limit}"
            );
        }
        for soft in [50.0, 60.0, 0.0, -1.0, f64::NAN] {
            let b = Budget {
                soft_limit_usd: Some(soft),
                ..budget(50.0)
            };
            assert_eq!(budget_fields(&b), vec!["budget.soft_limit_usd"], "{soft}");
        }
        for tz in ["", "Europe/Berlin ", "../etc", "Zürich", &"A".repeat(65)] {
            let b = Budget {
                timezone: tz.into(),
                ..budget(1.0)
            };
            assert_eq!(budget_fields(&b), vec!["budget.timezone"], "{tz:?}");
        }
    }

    #[test]
    fn budgets_are_checked_on_consumers_and_keys() {
        let consumer = ConsumerSpec {
            name: "team".into(),
            budget: Some(budget(0.0)),
            keys: vec![crate::consumer::ConsumerKey {
                name: "ci".into(),
                budget: Some(Budget {
                    soft_limit_usd: Some(5.0),
                    ..budget(1.0)
                }),
                ..crate::consumer::ConsumerKey::default()
            }],
            ..ConsumerSpec::default()
        };
        assert_eq!(
            fields(validate_consumer(&consumer)),
            vec!["budget.limit_usd", "keys[0].budget.soft_limit_usd"]
        );
        let key = NewKey {
            name: "ci".into(),
            budget: Some(Budget {
                timezone: String::new(),
                ..budget(1.0)
            }),
            ..NewKey::default()
        };
        assert_eq!(fields(validate_new_key(&key)), vec!["budget.timezone"]);
    }

    #[test]
    fn settings() {
        assert!(validate_settings(&Settings::default()).is_ok());
        let edges = Settings {
            log_retention_days: 3650,
            log_max_rows: 1000,
            alert_webhook_url: Some("https://hooks.example.com/budget?token=abc&x=1".into()),
            ..Settings::default()
        };
        assert!(validate_settings(&edges).is_ok());
        let bad = Settings {
            log_retention_days: 0,
            log_max_rows: 999,
            alert_webhook_url: Some("ftp://example.com".into()),
            ..Settings::default()
        };
        assert_eq!(
            fields(validate_settings(&bad)),
            vec!["log_retention_days", "log_max_rows", "alert_webhook_url"]
        );
        let too_much = Settings {
            log_retention_days: 3651,
            log_max_rows: 1_000_000_001,
            cache_max_mb: MAX_CACHE_MB + 1,
            ..Settings::default()
        };
        assert_eq!(
            fields(validate_settings(&too_much)),
            vec!["log_retention_days", "log_max_rows", "cache_max_mb"]
        );
        for mb in [1, 256, MAX_CACHE_MB] {
            let s = Settings {
                cache_max_mb: mb,
                ..Settings::default()
            };
            assert!(validate_settings(&s).is_ok(), "{mb}");
        }
        let none = Settings {
            cache_max_mb: 0,
            ..Settings::default()
        };
        assert_eq!(fields(validate_settings(&none)), vec!["cache_max_mb"]);
        for days in [1, 30, 36_500] {
            let s = Settings {
                audit_retention_days: Some(days),
                ..Settings::default()
            };
            assert!(validate_settings(&s).is_ok(), "{days}");
        }
        for days in [0, 36_501] {
            let s = Settings {
                audit_retention_days: Some(days),
                ..Settings::default()
            };
            assert_eq!(
                fields(validate_settings(&s)),
                vec!["audit_retention_days"],
                "{days}"
            );
        }
        for url in [
            "http://",
            "https://user:pw@example.com/hook",
            "https://example.com/hook#part",
            "https://example.com/a b",
            "https://example.com/?a=b c",
            "example.com/hook",
        ] {
            let s = Settings {
                alert_webhook_url: Some(url.into()),
                ..Settings::default()
            };
            assert_eq!(
                fields(validate_settings(&s)),
                vec!["alert_webhook_url"],
                "{url}"
            );
        }
        let doc = ConfigDocument {
            settings: Some(bad),
            ..ConfigDocument::default()
        };
        assert_eq!(
            fields(validate_document(&doc, &BTreeSet::new(), &BTreeSet::new())),
            vec![
                "settings.log_retention_days",
                "settings.log_max_rows",
                "settings.alert_webhook_url"
            ]
        );
    }

    fn detector(kind: DetectorType, action: GuardrailAction) -> DetectorSpec {
        DetectorSpec {
            kind,
            action,
            label: None,
            pattern: None,
            words: Vec::new(),
        }
    }

    fn regex_detector(label: &str, pattern: &str) -> DetectorSpec {
        DetectorSpec {
            label: Some(label.into()),
            pattern: Some(pattern.into()),
            ..detector(DetectorType::Regex, GuardrailAction::Hash)
        }
    }

    fn deny(words: &[&str]) -> DetectorSpec {
        DetectorSpec {
            words: words.iter().map(|w| (*w).to_owned()).collect(),
            ..detector(DetectorType::DenyWords, GuardrailAction::Block)
        }
    }

    /// The issue's example policy.
    fn policy() -> GuardrailSpec {
        GuardrailSpec {
            name: "pii-default".into(),
            description: String::new(),
            mode: crate::guardrails::GuardrailMode::Enforce,
            detectors: vec![
                detector(DetectorType::Email, GuardrailAction::Mask),
                detector(DetectorType::CreditCard, GuardrailAction::Block),
                regex_detector("EMPLOYEE_ID", r"E\d{6}"),
                deny(&["project-x"]),
            ],
            on_response: None,
        }
    }

    #[test]
    fn the_example_policy_is_valid() {
        assert_eq!(validate_guardrail(&policy()), Ok(()));
        let json = serde_json::json!({
            "name": "pii-default", "mode": "monitor",
            "detectors": [{"type": "phone", "action": "redact_restore"}],
            "on_response": {"action": "block"}
        });
        let spec: GuardrailSpec = serde_json::from_value(json).expect("a policy");
        assert_eq!(validate_guardrail(&spec), Ok(()));
    }

    #[test]
    fn detector_labels() {
        for good in ["A", "EMPLOYEE_ID", "X1", &format!("A{}", "B".repeat(31))] {
            assert!(is_detector_label(good), "{good}");
        }
        for bad in ["", "a", "1A", "_A", "EMPLOYEE-ID", "ÄB", &"A".repeat(33)] {
            assert!(!is_detector_label(bad), "{bad}");
        }
        assert_eq!(
            detector_label(&detector(DetectorType::CnResidentId, GuardrailAction::Mask)),
            "CN_RESIDENT_ID"
        );
        assert_eq!(
            detector_label(&regex_detector("EMPLOYEE_ID", "E1")),
            "EMPLOYEE_ID"
        );
    }

    #[test]
    fn policy_errors_name_every_field() {
        let mut p = policy();
        p.name = "PII".into();
        p.detectors = vec![
            // A regex without a label or a pattern.
            detector(DetectorType::Regex, GuardrailAction::Mask),
            // A pattern too long, and a bad label.
            DetectorSpec {
                label: Some("lower".into()),
                ..regex_detector("X", &"a".repeat(MAX_PATTERN_LEN + 1))
            },
            // Built-in types take no pattern or words.
            DetectorSpec {
                pattern: Some("x".into()),
                words: vec!["w".into()],
                ..detector(DetectorType::Email, GuardrailAction::Mask)
            },
            // Deny words: empty, blank, too long.
            deny(&[]),
            DetectorSpec {
                label: Some("MORE".into()),
                ..deny(&["ok", " ", &"w".repeat(MAX_DENY_WORD_LEN + 1), "a\nb"])
            },
            // The same label twice.
            detector(DetectorType::Email, GuardrailAction::Hash),
            regex_detector("MORE", "x"),
        ];
        p.on_response = Some(crate::guardrails::ResponseCheck {
            action: GuardrailAction::Hash,
        });
        assert_eq!(
            fields(validate_guardrail(&p)),
            vec![
                "name",
                "detectors[0].label",
                "detectors[0].pattern",
                "detectors[1].label",
                "detectors[1].pattern",
                "detectors[2].pattern",
                "detectors[2].words",
                "detectors[3].words",
                "detectors[4].words[1]",
                "detectors[4].words[2]",
                "detectors[4].words[3]",
                "detectors[5].type",
                "detectors[6].label",
                "on_response.action",
            ]
        );
    }

    #[test]
    fn detector_counts_are_bounded() {
        let mut p = policy();
        p.detectors.clear();
        assert_eq!(fields(validate_guardrail(&p)), vec!["detectors"]);
        p.detectors = (0..=MAX_DETECTORS)
            .map(|i| regex_detector(&format!("R{i}"), "x"))
            .collect();
        assert_eq!(fields(validate_guardrail(&p)), vec!["detectors"]);
        p.detectors.pop();
        assert_eq!(validate_guardrail(&p), Ok(()));
        let words: Vec<String> = (0..=MAX_DENY_WORDS).map(|i| format!("w{i}")).collect();
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        p.detectors = vec![deny(&refs)];
        assert_eq!(fields(validate_guardrail(&p)), vec!["detectors[0].words"]);
        p.detectors = vec![deny(&refs[..MAX_DENY_WORDS])];
        assert_eq!(validate_guardrail(&p), Ok(()));
    }

    #[cfg(feature = "regex")]
    #[test]
    fn patterns_must_compile_and_match_something() {
        let check = |pattern: &str| {
            let mut p = policy();
            p.detectors = vec![regex_detector("X", pattern)];
            validate_guardrail(&p)
        };
        for good in [r"E\d{6}", r"(?i)secret-[a-z]+", r"\bproj\b-x", "a|bc"] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
        for (bad, says) in [
            ("E(\\d", "not a valid regular expression: unclosed group"),
            ("(?<=a)b", "not a valid regular expression"),
            ("a*", "empty string"),
            ("x?|y", "empty string"),
            (r"\b", "empty string"),
            (r"[^\s\S]", "never match"),
            (r"(?:\w{100}){100}", "more than 1024 KiB"),
        ] {
            let error = check(bad).expect_err(bad);
            assert_eq!(error.0.len(), 1, "{bad}: {error}");
            assert_eq!(error.0[0].field, "detectors[0].pattern", "{bad}");
            assert!(error.0[0].message.contains(says), "{bad}: {error}");
            assert!(!error.0[0].message.contains('\n'), "{bad}: one line");
        }
    }

    #[cfg(not(feature = "regex"))]
    #[test]
    fn without_the_regex_engine_patterns_are_left_to_the_server() {
        let mut p = policy();
        p.detectors = vec![regex_detector("X", "E(\\d")];
        assert_eq!(validate_guardrail(&p), Ok(()));
    }

    #[test]
    fn routes_and_consumers_name_guardrails_once() {
        let mut r = route("r", "p");
        r.guardrails = vec!["pii".into(), "Bad".into(), "pii".into()];
        r.cache = Some(RouteCache {
            enabled: true,
            ttl_seconds: 0,
            scope: Default::default(),
        });
        assert_eq!(
            fields(validate_route(&r)),
            vec!["cache.ttl_seconds", "guardrails[1]", "guardrails[2]"]
        );
        for ttl in [1, 3600, RouteCache::MAX_TTL_SECONDS] {
            r.guardrails = vec!["pii".into()];
            r.cache = Some(RouteCache {
                enabled: false,
                ttl_seconds: ttl,
                scope: Default::default(),
            });
            assert_eq!(validate_route(&r), Ok(()), "{ttl}");
        }
        r.cache = Some(RouteCache {
            enabled: true,
            ttl_seconds: RouteCache::MAX_TTL_SECONDS + 1,
            scope: Default::default(),
        });
        assert_eq!(fields(validate_route(&r)), vec!["cache.ttl_seconds"]);

        let consumer = ConsumerSpec {
            name: "team".into(),
            guardrails: vec!["a".into(), "a".into()],
            ..ConsumerSpec::default()
        };
        assert_eq!(fields(validate_consumer(&consumer)), vec!["guardrails[1]"]);
        let exists = |name: &str| name == "a";
        assert_eq!(
            fields(validate_guardrail_references(
                &["a".into(), "b".into()],
                exists
            )),
            vec!["guardrails[1]"]
        );
    }

    #[test]
    fn documents_check_guardrails_and_their_references() {
        let mut referencing = route("r", "p");
        referencing.guardrails = vec!["pii-default".into(), "stored".into()];
        let consumer = ConsumerSpec {
            name: "team".into(),
            guardrails: vec!["missing".into()],
            ..ConsumerSpec::default()
        };
        let mut bad = policy();
        bad.detectors[0].label = Some("bad label".into());
        let doc = ConfigDocument {
            providers: vec![provider("p")],
            routes: vec![referencing],
            consumers: vec![consumer],
            guardrails: vec![policy(), bad],
            ..ConfigDocument::default()
        };
        let known = BTreeSet::from(["stored".to_owned()]);
        assert_eq!(
            fields(validate_document(&doc, &BTreeSet::new(), &known)),
            vec![
                "guardrails[1].detectors[0].label",
                "guardrails[1].name",
                "consumers[0].guardrails[0]"
            ]
        );
        // Without the stored policy, the route's second reference fails too.
        assert_eq!(
            fields(validate_document(&doc, &BTreeSet::new(), &BTreeSet::new())),
            vec![
                "guardrails[1].detectors[0].label",
                "guardrails[1].name",
                "routes[0].guardrails[1]",
                "consumers[0].guardrails[0]"
            ]
        );
    }
}
