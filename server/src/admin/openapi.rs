//! The OpenAPI document of the admin API, served at `GET /api/openapi.json`.
//!
//! Schemas come from the shared types' derives; the paths are built here in code, because the
//! providers, routes, consumers and guardrails collections are one generic set of handlers.

use switchyard_shared::admin::{
    AdminErrorBody, ConfigDiff, FailureView, HealthView, KeyHealthView, MeView, MetricsView,
    MinuteView, ProviderHealthView, SectionDiff, SeriesView, StatusView,
};
use switchyard_shared::audit::{
    AuditChangeView, AuditEntryView, AuditPage, DiffLine, DiffOp, RollbackDone, RollbackPreview,
    RollbackRequest, Unrecoverable,
};
use switchyard_shared::validate::FieldError;
use switchyard_shared::{
    CacheScope, ClientAuth, ConfigDocument, ConsumerKey, ConsumerSpec, DetectorSpec, DetectorType,
    Fallback, FallbackStrategy, FallbackUpstream, GuardrailAction, GuardrailHit, GuardrailMode,
    GuardrailSpec, KeyUpdate, Limits, MatchKind, MatchRule, ModelPrice, NewKey, PriceEntry,
    PriceOverride, PricingView, ProviderSpec, ProviderType, ResponseCheck, RotateKey, RouteAuth,
    RouteCache, RouteSpec, RouteUpstream, Settings, SettingsView, Timeouts,
};
use utoipa::openapi::path::{Operation, OperationBuilder, Parameter, ParameterIn, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ArrayBuilder, ComponentsBuilder, ContentBuilder, HttpMethod, InfoBuilder, OpenApi,
    OpenApiBuilder, PathsBuilder, Ref, RefOr, Required, ResponseBuilder, Schema,
};
use utoipa::{PartialSchema, ToSchema};

fn schema_ref(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

fn json_response(description: &str, schema: RefOr<Schema>) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(schema)).build(),
        )
        .build()
}

fn error_response(description: &str) -> utoipa::openapi::Response {
    json_response(description, schema_ref("AdminErrorBody"))
}

fn operation(tag: &str, summary: &str) -> OperationBuilder {
    OperationBuilder::new()
        .tag(tag)
        .summary(Some(summary))
        .response("401", error_response("Missing or wrong admin token"))
}

fn with_body(builder: OperationBuilder, schema: &str) -> OperationBuilder {
    builder
        .request_body(Some(
            RequestBodyBuilder::new()
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(schema_ref(schema)))
                        .build(),
                )
                .required(Some(Required::True))
                .build(),
        ))
        .response("400", error_response("Malformed JSON"))
        .response(
            "422",
            error_response("Invalid fields, listed in error.fields"),
        )
}

fn name_parameter() -> Parameter {
    Parameter::builder()
        .name("name")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .schema(Some(String::schema()))
        .build()
}

/// `/api/{plural}` and `/api/{plural}/{name}` for one resource.
fn collection(paths: PathsBuilder, plural: &str, schema: &str) -> PathsBuilder {
    let list_schema = RefOr::T(Schema::Array(
        ArrayBuilder::new().items(schema_ref(schema)).build(),
    ));
    let list: Operation = operation(plural, &format!("List {plural}"))
        .response("200", json_response("All of them", list_schema))
        .build();
    let create = with_body(
        operation(plural, &format!("Create one of the {plural}")),
        schema,
    )
    .response("201", json_response("Created and live", schema_ref(schema)))
    .response("409", error_response("The name is taken"))
    .build();
    let get = operation(plural, "Read one")
        .parameter(name_parameter())
        .response("200", json_response("Found", schema_ref(schema)))
        .response("404", error_response("No such name"))
        .build();
    let put = with_body(operation(plural, "Replace one"), schema)
        .parameter(name_parameter())
        .response(
            "200",
            json_response("Replaced and live", schema_ref(schema)),
        )
        .response("404", error_response("No such name"))
        .build();
    let delete = operation(plural, "Delete one")
        .parameter(name_parameter())
        .response(
            "204",
            ResponseBuilder::new()
                .description("Deleted and live")
                .build(),
        )
        .response("404", error_response("No such name"))
        .response(
            "409",
            error_response("Still used; error.routes lists by what"),
        )
        .build();
    let mut collection = PathItem::new(HttpMethod::Get, list);
    collection.post = Some(create);
    let mut item = PathItem::new(HttpMethod::Get, get);
    item.put = Some(put);
    item.delete = Some(delete);
    paths
        .path(format!("/api/{plural}"), collection)
        .path(format!("/api/{plural}/{{name}}"), item)
}

fn query_parameter(name: &str, description: &str) -> Parameter {
    Parameter::builder()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(String::schema()))
        .build()
}

/// `/api/logs`, `/api/logs/{request_id}` and `/api/usage`: the request log and usage reports.
fn usage_paths(paths: PathsBuilder) -> PathsBuilder {
    let period = [
        (
            "since",
            "From this time (RFC 3339, or a date for its UTC midnight)",
        ),
        ("until", "Before this time (RFC 3339, or a date)"),
    ];
    let mut logs = operation("logs", "Request records, newest first, one page at a time")
        .response(
            "200",
            json_response(
                "A page; pass next_cursor as cursor for the next",
                schema_ref("LogsPage"),
            ),
        )
        .response(
            "422",
            error_response("Bad parameters, each listed in error.fields"),
        );
    for (name, description) in [
        ("consumer", "A consumer's name"),
        ("key", "A client key's id"),
        ("route", "A route's name"),
        ("provider", "The provider that answered (or failed last)"),
        ("model", "The requested or the upstream model"),
        (
            "status",
            "A status (429), a class (2xx, 4xx, 5xx) or error (400 and up)",
        ),
        period[0],
        period[1],
        ("limit", "Records per page: 1 to 500, 50 by default"),
        ("cursor", "The previous page's next_cursor"),
    ] {
        logs = logs.parameter(query_parameter(name, description));
    }
    let log = operation(
        "logs",
        "The newest record with this request id (x-request-id)",
    )
    .parameter(
        Parameter::builder()
            .name("request_id")
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .schema(Some(String::schema()))
            .build(),
    )
    .response("200", json_response("The record", schema_ref("RequestLog")))
    .response("404", error_response("No record with this id"))
    .build();
    let mut usage = operation(
        "usage",
        "Requests, errors, tokens and cost per hour or day and per consumer, key, route, provider or model, from the hourly rollups",
    )
    .response(
        "200",
        ResponseBuilder::new()
            .description("The report; with format=csv, the same columns as text/csv")
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(schema_ref("UsageReport")))
                    .build(),
            )
            .content("text/csv", ContentBuilder::new().build())
            .build(),
    )
    .response("422", error_response("Bad parameters, each listed in error.fields"));
    for (name, description) in [
        (
            "group_by",
            "consumer, key, route, provider or model (the default)",
        ),
        ("bucket", "hour or day (the default), in UTC"),
        (
            period[0].0,
            "From this time, rounded down to its bucket; 7 days ago by default",
        ),
        period[1],
        ("format", "json (the default) or csv"),
    ] {
        usage = usage.parameter(query_parameter(name, description));
    }
    paths
        .path("/api/logs", PathItem::new(HttpMethod::Get, logs.build()))
        .path(
            "/api/logs/{request_id}",
            PathItem::new(HttpMethod::Get, log),
        )
        .path("/api/usage", PathItem::new(HttpMethod::Get, usage.build()))
}

/// `/api/cache`: the response cache's stats, and purging it (all of it, or one route's answers).
fn cache_paths(paths: PathsBuilder) -> PathsBuilder {
    let stats = operation(
        "cache",
        "The response cache: entries, bytes stored and the cap, hits, misses and the hit ratio since start",
    )
    .response("200", json_response("Stats", schema_ref("CacheStats")))
    .build();
    let purge = operation(
        "cache",
        "Remove every cached answer, or with ?route= those stored for one route",
    )
    .parameter(query_parameter(
        "route",
        "A route's name; only its answers are removed",
    ))
    .response(
        "200",
        json_response("How many answers were removed", schema_ref("CachePurged")),
    )
    .response(
        "422",
        error_response("An empty or repeated route, or an unknown parameter"),
    )
    .build();
    let mut item = PathItem::new(HttpMethod::Get, stats);
    item.delete = Some(purge);
    paths.path("/api/cache", item)
}

/// `/api/audit`, `/api/audit/{revision}` and `/api/config/rollback`: the audit trail and rollback.
fn audit_paths(paths: PathsBuilder) -> PathsBuilder {
    let mut list = operation(
        "audit",
        "Audit entries (one per configuration revision), newest first",
    )
    .response(
        "200",
        json_response(
            "A page of entries without documents; pass next_cursor as cursor for the next",
            schema_ref("AuditPage"),
        ),
    )
    .response(
        "422",
        error_response("Bad parameters, each listed in error.fields"),
    );
    for (name, description) in [
        (
            "resource",
            "A kind (provider, route, consumer, guardrail, settings, account) or kind/name",
        ),
        (
            "actor",
            "An exact actor (console:ana, admin-token, cli:root), or a prefix ending in ':'",
        ),
        (
            "since",
            "From this time (RFC 3339, a date, or epoch milliseconds), inclusive",
        ),
        (
            "until",
            "Up to this time (RFC 3339, a date, or epoch milliseconds), inclusive",
        ),
        ("limit", "Entries per page: 1 to 500, 50 by default"),
        (
            "cursor",
            "The previous page's next_cursor: only older revisions",
        ),
    ] {
        list = list.parameter(query_parameter(name, description));
    }
    let entry = operation(
        "audit",
        "One revision's entry: each change's masked before/after and their diff",
    )
    .parameter(
        Parameter::builder()
            .name("revision")
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .schema(Some(i64::schema()))
            .build(),
    )
    .response(
        "200",
        json_response("The entry", schema_ref("AuditEntryView")),
    )
    .response("404", error_response("No such revision"))
    .response(
        "410",
        error_response("The entry has been pruned, or predates the audit trail"),
    )
    .build();
    let rollback = with_body(
        operation(
            "audit",
            "Roll the configuration back to a revision: with dry_run, the preview (RollbackPreview); otherwise the rollback, which needs expected_revision",
        ),
        "RollbackRequest",
    )
    .response(
        "200",
        json_response(
            "With dry_run: a RollbackPreview. Otherwise: RollbackDone, live when answered",
            schema_ref("RollbackDone"),
        ),
    )
    .response("404", error_response("The revision has not been reached"))
    .response("409", error_response("expected_revision is not the current revision"))
    .response("410", error_response("History before that revision is not kept"))
    .build();
    paths
        .path("/api/audit", PathItem::new(HttpMethod::Get, list.build()))
        .path(
            "/api/audit/{revision}",
            PathItem::new(HttpMethod::Get, entry),
        )
        .path(
            "/api/config/rollback",
            PathItem::new(HttpMethod::Post, rollback),
        )
}

/// Builds the document. Called once per request for it; it is small and rarely read.
pub fn document() -> OpenApi {
    let mut paths = collection(PathsBuilder::new(), "providers", "ProviderSpec");
    paths = collection(paths, "routes", "RouteSpec");
    paths = collection(paths, "consumers", "ConsumerSpec");
    paths = collection(paths, "guardrails", "GuardrailSpec");
    let status = operation(
        "system",
        "What the proxy serves now, and the last reload error",
    )
    .response("200", json_response("Status", schema_ref("StatusView")))
    .build();
    let live = OperationBuilder::new()
        .tag("system")
        .summary(Some("Liveness; needs no token"))
        .response("200", ResponseBuilder::new().description("Alive").build())
        .security(SecurityRequirement::default())
        .build();
    let health = operation("system", "Each provider's circuit and each key's pool state")
        .response(
            "200",
            ResponseBuilder::new()
                .description("`{providers: [{name, type, state, consecutive_failures, last_error, next_probe_in_ms, keys: [{key, state, …}]}]}`")
                .build(),
        )
        .build();
    let pricing = operation(
        "pricing",
        "The shipped price table (USD per million tokens, dated, with its source) and every provider's `pricing` overrides",
    )
    .response("200", json_response("Prices", schema_ref("PricingView")))
    .build();
    let described = |method: HttpMethod, tag: &str, summary: &str, ok: &str, open: bool| {
        let mut builder = OperationBuilder::new()
            .tag(tag)
            .summary(Some(summary))
            .response("200", ResponseBuilder::new().description(ok).build());
        if open {
            builder = builder.security(SecurityRequirement::default());
        }
        PathItem::new(method, builder.build())
    };
    paths = paths
        .path("/api/auth/me", described(HttpMethod::Get, "auth", "Who is signed in; whether setup is needed", "`{setup_required, authenticated, username, csrf_token}`", true))
        .path("/api/auth/setup", described(HttpMethod::Post, "auth", "First-run setup: create the admin account (`{username, password}`, password ≥ 8); once only", "201 with the /me body and session cookies", true))
        .path("/api/auth/login", described(HttpMethod::Post, "auth", "Log in (`{username, password}`); 10 attempts per minute per address", "The /me body and session cookies; 401 on a wrong password, 429 when rate-limited", true))
        .path("/api/auth/logout", described(HttpMethod::Post, "auth", "End the session", "204", false))
        .path("/api/auth/password", described(HttpMethod::Post, "auth", "Change the password (`{current_password, new_password}`); ends other sessions", "204", false))
        .path("/api/metrics", described(HttpMethod::Get, "system", "Live metrics for the last `minutes` (≤ 60): totals, per minute, by provider, by route", "`{window_minutes, totals, per_minute, by_provider, by_route}`", false))
        .path("/api/config", described(HttpMethod::Get, "config", "Export the configuration (`?format=yaml|json`), keys masked; `?at=R`: as it was right after revision R, from the audit trail", "The document; 404 for a revision not reached, 410 for one whose history is not kept", false))
        .path("/api/config/diff", described(HttpMethod::Post, "config", "Preview importing the body (YAML or JSON; `?prune=true` deletes what it does not name)", "`{valid, providers:{create,update,delete,unchanged}, routes:{…}}`; 422 with fields", false))
        .path("/api/config/apply", described(HttpMethod::Post, "config", "Import the body in one transaction (`?prune=`)", "Counts created/updated/deleted; live when answered", false))
        .path("/api/playground/models", described(HttpMethod::Get, "playground", "The proxy's /v1/models", "OpenAI model list", false))
        .path("/api/playground/chat/completions", described(HttpMethod::Post, "playground", "A chat sent through the proxy listener, streamed back with the x-switchyard-* headers", "The proxy's answer", false))
        .path("/api/consumers/{name}/keys", {
            let mut item = described(HttpMethod::Get, "consumers", "A consumer's keys, masked (`sy-…k3Qz`) with created_at, expires_at, last_used_at, disabled", "`[ConsumerKey]`", false);
            item.post = described(HttpMethod::Post, "consumers", "Issue a key (`NewKey`: name, expires_at, allowed_models, limits)", "201 with the full `key`: this answer only; never shown again", false).post;
            item
        })
        .path("/api/consumers/{name}/keys/{id}", {
            let mut item = described(HttpMethod::Put, "consumers", "Change a key (`KeyUpdate`: only the fields given; `expires_at: null` clears)", "The key, masked; live when answered", false);
            item.delete = described(HttpMethod::Delete, "consumers", "Revoke a key: refused from the next request on", "204", false).delete;
            item
        })
        .path("/api/consumers/{name}/keys/{id}/rotate", described(HttpMethod::Post, "consumers", "Issue a successor (`{grace_seconds}`); the old key works until the grace period ends", "201 with the new full `key`, shown once", false))
        .path("/api/settings", {
            let mut item = described(HttpMethod::Get, "settings", "Gateway settings and what is in force (`SettingsView`)", "`{client_auth, effective_client_auth, client_auth_from_flag, proxy_loopback}`", false);
            item.put = described(HttpMethod::Put, "settings", "Change settings (`Settings`: `{client_auth: off|required}`); `off` is refused on a non-loopback proxy without --allow-open-proxy", "The SettingsView; live when answered", false).put;
            item
        })
        .path("/api/pricing", PathItem::new(HttpMethod::Get, pricing))
        .path("/api/health", PathItem::new(HttpMethod::Get, health))
        .path("/api/status", PathItem::new(HttpMethod::Get, status))
        .path("/api/health/live", PathItem::new(HttpMethod::Get, live));

    paths = usage_paths(paths);
    paths = cache_paths(paths);
    paths = audit_paths(paths);
    let schemas: Vec<(String, RefOr<Schema>)> = vec![
        (ProviderSpec::name().into(), ProviderSpec::schema()),
        (ProviderType::name().into(), ProviderType::schema()),
        (Timeouts::name().into(), Timeouts::schema()),
        (RouteSpec::name().into(), RouteSpec::schema()),
        (MatchRule::name().into(), MatchRule::schema()),
        (MatchKind::name().into(), MatchKind::schema()),
        (RouteUpstream::name().into(), RouteUpstream::schema()),
        (Fallback::name().into(), Fallback::schema()),
        (FallbackStrategy::name().into(), FallbackStrategy::schema()),
        (FallbackUpstream::name().into(), FallbackUpstream::schema()),
        (ConfigDocument::name().into(), ConfigDocument::schema()),
        (ConsumerSpec::name().into(), ConsumerSpec::schema()),
        (ConsumerKey::name().into(), ConsumerKey::schema()),
        (NewKey::name().into(), NewKey::schema()),
        (KeyUpdate::name().into(), KeyUpdate::schema()),
        (RotateKey::name().into(), RotateKey::schema()),
        (Limits::name().into(), Limits::schema()),
        (ClientAuth::name().into(), ClientAuth::schema()),
        (Settings::name().into(), Settings::schema()),
        (SettingsView::name().into(), SettingsView::schema()),
        (RouteAuth::name().into(), RouteAuth::schema()),
        (StatusView::name().into(), StatusView::schema()),
        (FailureView::name().into(), FailureView::schema()),
        (AdminErrorBody::name().into(), AdminErrorBody::schema()),
        (
            switchyard_shared::admin::AdminError::name().into(),
            switchyard_shared::admin::AdminError::schema(),
        ),
        (FieldError::name().into(), FieldError::schema()),
        (MeView::name().into(), MeView::schema()),
        (HealthView::name().into(), HealthView::schema()),
        (
            ProviderHealthView::name().into(),
            ProviderHealthView::schema(),
        ),
        (KeyHealthView::name().into(), KeyHealthView::schema()),
        (MetricsView::name().into(), MetricsView::schema()),
        (SeriesView::name().into(), SeriesView::schema()),
        (MinuteView::name().into(), MinuteView::schema()),
        (
            switchyard_shared::LogsPage::name().into(),
            switchyard_shared::LogsPage::schema(),
        ),
        (
            switchyard_shared::RequestLog::name().into(),
            switchyard_shared::RequestLog::schema(),
        ),
        (
            switchyard_shared::TrailStep::name().into(),
            switchyard_shared::TrailStep::schema(),
        ),
        (
            switchyard_shared::UsageReport::name().into(),
            switchyard_shared::UsageReport::schema(),
        ),
        (
            switchyard_shared::UsageRow::name().into(),
            switchyard_shared::UsageRow::schema(),
        ),
        (PricingView::name().into(), PricingView::schema()),
        (PriceEntry::name().into(), PriceEntry::schema()),
        (PriceOverride::name().into(), PriceOverride::schema()),
        (ModelPrice::name().into(), ModelPrice::schema()),
        (
            switchyard_shared::CacheStats::name().into(),
            switchyard_shared::CacheStats::schema(),
        ),
        (
            switchyard_shared::CachePurged::name().into(),
            switchyard_shared::CachePurged::schema(),
        ),
        (GuardrailSpec::name().into(), GuardrailSpec::schema()),
        (DetectorSpec::name().into(), DetectorSpec::schema()),
        (DetectorType::name().into(), DetectorType::schema()),
        (GuardrailAction::name().into(), GuardrailAction::schema()),
        (GuardrailMode::name().into(), GuardrailMode::schema()),
        (ResponseCheck::name().into(), ResponseCheck::schema()),
        (GuardrailHit::name().into(), GuardrailHit::schema()),
        (RouteCache::name().into(), RouteCache::schema()),
        (CacheScope::name().into(), CacheScope::schema()),
        (ConfigDiff::name().into(), ConfigDiff::schema()),
        (SectionDiff::name().into(), SectionDiff::schema()),
        (AuditPage::name().into(), AuditPage::schema()),
        (AuditEntryView::name().into(), AuditEntryView::schema()),
        (AuditChangeView::name().into(), AuditChangeView::schema()),
        (DiffLine::name().into(), DiffLine::schema()),
        (DiffOp::name().into(), DiffOp::schema()),
        (RollbackRequest::name().into(), RollbackRequest::schema()),
        (RollbackPreview::name().into(), RollbackPreview::schema()),
        (RollbackDone::name().into(), RollbackDone::schema()),
        (Unrecoverable::name().into(), Unrecoverable::schema()),
    ];
    let components = ComponentsBuilder::new()
        .schemas_from_iter(schemas)
        .security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        )
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Switchyard admin API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Configure providers, AI routes, consumers and their keys, guardrail policies, and settings. Every write is live on the proxy when it returns.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components))
        .security(Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]))
        .build()
}
