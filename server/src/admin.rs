//! The admin API on :8001 (JSON under `/api`; the admin bearer token or a console session), the
//! Prometheus metrics at `/metrics`, and the console itself.

mod audit;
mod audit_retention;
mod auth;
mod budgets;
mod cache;
mod config;
mod console;
mod consumers;
mod error;
mod json;
mod openapi;
mod playground;
mod pricing;
mod prometheus;
mod resources;
mod route_health;
mod usage;

use std::sync::Arc;
use std::time::SystemTime;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use switchyard_shared::admin::{FailureView, HealthView, ProviderHealthView, StatusView};
use switchyard_shared::{ConsumerSpec, GuardrailSpec, ProviderSpec, RouteSpec};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

pub use auth::{AuthState, MIN_ADMIN_TOKEN_LEN, new_setup_code};
pub use console::built as console_built;
pub use error::AdminApiError;

use crate::metrics::Metrics;
use crate::reload::CurrentSnapshot;
use crate::reload::{ReloadStatus, Reloader};
use crate::store::Store;
use crate::upstream::UpstreamClient;

#[derive(Clone)]
pub struct AdminState {
    pub store: Store,
    pub reloader: Reloader,
    pub snapshot: Arc<CurrentSnapshot>,
    pub reload_status: Arc<ReloadStatus>,
    pub auth: Arc<AuthState>,
    pub metrics: Arc<Metrics>,
    /// Where the proxy listens (`http://host:port`), for the playground.
    pub proxy_url: String,
    pub client: UpstreamClient,
    /// State that outlives snapshots (health, limit counters and last use).
    pub registry: Arc<crate::health::HealthRegistry>,
    pub gateway: GatewayFacts,
    /// The `Host` names the admin API answers to.
    pub hosts: crate::guard::HostPolicy,
    /// The request log (`usage.db`) that `/api/logs` and `/api/usage` read.
    pub usage_db: crate::store::usage::UsageDb,
    /// The Prometheus metrics `GET /metrics` renders; the meter task feeds the same instance.
    pub prom: Arc<crate::prometheus::PromMetrics>,
    /// The meter: the request log's written, dropped and queued records.
    pub meter: crate::metering::Meter,
    /// The wall clock of records and budget periods.
    pub clock: Arc<crate::clock::Clock>,
    /// `--test-clock`: `PUT /api/debug/clock` may move the clock.
    pub test_clock: bool,
    /// `--metrics-public`: `GET /metrics` answers without the admin token or a session.
    pub metrics_public: bool,
    /// The response cache the proxy serves from (the same `Arc`): `/api/cache` reads and purges it.
    pub cache: Arc<crate::cache::ResponseCache>,
    /// The cluster's Redis (`--redis-url`), for `/api/status`.
    pub redis: Option<Arc<crate::shared_state::Redis>>,
}

/// Facts about how this process was started that decide what client-auth settings may be stored.
#[derive(Clone, Copy, Debug)]
pub struct GatewayFacts {
    /// `--client-auth`, overriding the stored setting.
    pub client_auth_flag: Option<switchyard_shared::ClientAuth>,
    pub proxy_loopback: bool,
    pub allow_open_proxy: bool,
}

impl GatewayFacts {
    /// The client-auth mode in force when `stored` is the stored one.
    pub fn effective(
        &self,
        stored: switchyard_shared::ClientAuth,
    ) -> switchyard_shared::ClientAuth {
        self.client_auth_flag.unwrap_or(stored)
    }

    /// Whether `stored` would leave a non-loopback proxy open without `--allow-open-proxy`.
    pub fn refuses(&self, stored: switchyard_shared::ClientAuth) -> bool {
        self.effective(stored) == switchyard_shared::ClientAuth::Off
            && !self.proxy_loopback
            && !self.allow_open_proxy
    }
}

pub fn router(state: AdminState) -> Router {
    use resources::{create, delete, get as fetch, list, replace};
    let authenticated = Router::new()
        .route(
            "/providers",
            get(list::<ProviderSpec>).post(create::<ProviderSpec>),
        )
        .route(
            "/providers/{name}",
            get(fetch::<ProviderSpec>)
                .put(replace::<ProviderSpec>)
                .delete(delete::<ProviderSpec>),
        )
        .route("/routes", get(list::<RouteSpec>).post(create::<RouteSpec>))
        .route(
            "/routes/{name}",
            get(fetch::<RouteSpec>)
                .put(replace::<RouteSpec>)
                .delete(delete::<RouteSpec>),
        )
        .route(
            "/consumers",
            get(list::<ConsumerSpec>).post(create::<ConsumerSpec>),
        )
        .route(
            "/consumers/{name}",
            get(fetch::<ConsumerSpec>)
                .put(replace::<ConsumerSpec>)
                .delete(delete::<ConsumerSpec>),
        )
        .route(
            "/guardrails",
            get(list::<GuardrailSpec>).post(create::<GuardrailSpec>),
        )
        .route(
            "/guardrails/{name}",
            get(fetch::<GuardrailSpec>)
                .put(replace::<GuardrailSpec>)
                .delete(delete::<GuardrailSpec>),
        )
        .route(
            "/consumers/{name}/keys",
            get(consumers::list_keys).post(consumers::create_key),
        )
        .route(
            "/consumers/{name}/keys/{id}",
            axum::routing::put(consumers::update_key).delete(consumers::delete_key),
        )
        .route(
            "/consumers/{name}/keys/{id}/rotate",
            post(consumers::rotate_key),
        )
        .route(
            "/settings",
            get(consumers::get_settings).put(consumers::put_settings),
        )
        .route("/pricing", get(pricing::view))
        .route("/logs", get(usage::logs))
        .route("/logs/{request_id}", get(usage::log))
        .route("/usage", get(usage::usage))
        .route("/budgets", get(budgets::list))
        .route("/cache", get(cache::stats).delete(cache::purge))
        .route("/debug/clock", axum::routing::put(budgets::set_clock))
        .route("/debug/prune-audit", post(audit_retention::prune_now))
        .route("/status", get(status))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/config", get(config::export))
        .route("/config/diff", post(config::diff))
        .route("/config/apply", post(config::apply))
        .route("/config/rollback", post(audit::rollback))
        .route("/audit", get(audit::list))
        .route("/audit/{revision}", get(audit::entry))
        .route("/playground/models", get(playground::models))
        .route("/playground/chat/completions", post(playground::chat))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/password", post(auth::change_password))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_auth,
        ));
    let api = authenticated
        .route("/auth/me", get(auth::me))
        .route("/auth/setup", post(auth::setup))
        .route("/auth/login", post(auth::login))
        .route("/health/live", get(live))
        .route("/openapi.json", get(openapi_document))
        .fallback(api_not_found);
    // Scrapers look for `/metrics` at the top, not under `/api`. They send the admin token as a
    // bearer token like any automation, so the API's authentication applies unless the operator
    // chose to publish the metrics.
    let scrape = Router::new().route("/metrics", get(prometheus::scrape));
    let scrape = if state.metrics_public {
        scrape
    } else {
        scrape.route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_auth,
        ))
    };
    Router::new()
        .nest("/api", api)
        .merge(scrape)
        .fallback(console::serve)
        .layer(middleware::from_fn_with_state(state.clone(), edge))
        .layer(CatchPanicLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// The checks every admin request passes first: a `Host` this server answers to (DNS
/// rebinding), and on the API a body type that a cross-site form cannot send; then the headers
/// every answer carries.
async fn edge(
    State(state): State<AdminState>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> Response {
    let host = crate::guard::request_host(request.headers(), request.uri());
    if !state.hosts.allows(host) {
        return AdminApiError::Forbidden(format!(
            "this server does not answer to the host '{}'; start it with --allowed-hosts to add it",
            host.unwrap_or_default()
        ))
        .into_response();
    }
    let path = request.uri().path();
    let api = path.starts_with("/api/");
    let yaml = matches!(path, "/api/config/diff" | "/api/config/apply");
    if api && !crate::guard::admin_content_type_ok(request.method(), request.headers(), yaml) {
        let expected = if yaml {
            "application/json or YAML (text/yaml)"
        } else {
            "application/json"
        };
        return AdminApiError::UnsupportedMediaType(format!(
            "the request body must be sent with Content-Type: {expected}"
        ))
        .into_response();
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        http::HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        http::header::REFERRER_POLICY,
        http::HeaderValue::from_static("no-referrer"),
    );
    if api {
        headers.insert(
            http::header::CONTENT_SECURITY_POLICY,
            http::HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    response
}

async fn live() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn openapi_document() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi::document())
}

async fn api_not_found() -> Response {
    AdminApiError::Store(crate::store::StoreError::NotFound(
        "no such admin API endpoint".into(),
    ))
    .into_response()
}

/// `GET /api/health`: every provider's circuit and every key's place in its pool (keys masked),
/// and every route's upstreams as its strategy sees them.
async fn health(State(state): State<AdminState>) -> Json<HealthView> {
    let snapshot = state.snapshot.load_full();
    let now = tokio::time::Instant::now();
    let providers = snapshot
        .providers()
        .iter()
        .map(|provider| ProviderHealthView {
            name: provider.name.to_string(),
            kind: provider.kind.as_str().to_owned(),
            token_failover: provider.key_policy.enabled,
            keys: provider
                .keys
                .iter()
                .map(|key| key.health.view(now, &provider.key_policy, &key.masked))
                .collect(),
            ..provider.health.view(now)
        })
        .collect();
    let now_ms = crate::routing::stats::stamp(state.clock.now_ms());
    Json(HealthView {
        providers,
        routes: route_health::route_views(&snapshot, now, now_ms),
    })
}

#[derive(serde::Deserialize)]
struct MetricsQuery {
    minutes: Option<usize>,
}

/// `GET /api/metrics?minutes=60`: live request metrics for the dashboard.
async fn metrics(
    State(state): State<AdminState>,
    axum::extract::Query(query): axum::extract::Query<MetricsQuery>,
) -> Json<switchyard_shared::admin::MetricsView> {
    Json(state.metrics.summary(query.minutes.unwrap_or(60)))
}

fn rfc3339(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

async fn status(State(state): State<AdminState>) -> Json<StatusView> {
    let snapshot = state.snapshot.load_full();
    Json(StatusView {
        version: snapshot.version,
        config_revision: snapshot.revision,
        loaded_at: rfc3339(snapshot.loaded_at),
        build_ms: snapshot.build_time.as_secs_f64() * 1000.0,
        last_reload_error: state
            .reload_status
            .last_error()
            .map(|(message, at)| FailureView {
                message,
                at: rfc3339(at),
            }),
        log: state.meter.status(),
        warnings: snapshot.warnings.clone(),
        providers: snapshot.providers().len(),
        routes: snapshot.routes().len(),
        proxy_port: state
            .proxy_url
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .unwrap_or(0),
        redis: state
            .redis
            .as_ref()
            .map(|redis| redis.status(snapshot.consumers.settings.redis_failure)),
    })
}
