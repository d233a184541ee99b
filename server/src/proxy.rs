//! The client-facing proxy on :8080 (OpenAI's API, and Anthropic's Messages API): routes each
//! request by its model through the current snapshot and hands it to the exchange.
//!
//! The hot path reads the body once, peeks at a few fields, takes one `Arc` of the snapshot (never
//! holding an arc-swap guard across an `.await`), and passes bytes through untouched unless the
//! model name must be rewritten or the protocols differ.

mod answer_guard;
mod attempts;
mod body;
mod error;
mod exchange;
mod forward;
// Public only for the fuzz tests (`tests/fuzz.rs`): both read untrusted bytes.
#[doc(hidden)]
pub mod request;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use attempts::Attempts;
pub use error::{ProxyError, retry_after_seconds};
use exchange::Exchange;
pub use exchange::Inbound;
use switchyard_shared::ClientAuth;
use tokio::time::Instant;

use crate::guard::{self, HostPolicy};
use crate::health::HealthRegistry;
use crate::metrics::Metrics;
use crate::pipeline::{self, Caller, Finish, GuardedBody, InFlightLimit};
use crate::protocols::Endpoint;
use crate::protocols::anthropic::inbound as messages_api;
use crate::providers::Provider;
use crate::reload::CurrentSnapshot;
use crate::routing::stats::stamp;
use crate::routing::sticky::session_key;
use crate::routing::{Demand, Strategy};
use crate::snapshot::{Route, Snapshot};
use crate::stream::ClientApi;
use crate::upstream::UpstreamClient;
use crate::usage::UsageContext;

pub const ROUTE_HEADER: HeaderName = HeaderName::from_static("x-switchyard-route");
pub const PROVIDER_HEADER: HeaderName = HeaderName::from_static("x-switchyard-provider");
/// The route's strategy and why it chose this attempt's upstream, e.g. `least_latency;explore`.
pub const STRATEGY_HEADER: HeaderName = HeaderName::from_static("x-switchyard-strategy");
pub const MODEL_HEADER: HeaderName = HeaderName::from_static("x-switchyard-model");
pub const ATTEMPTS_HEADER: HeaderName = HeaderName::from_static("x-switchyard-attempts");
pub const FALLBACK_HEADER: HeaderName = HeaderName::from_static("x-switchyard-fallback");
/// Every proxy answer carries one; the request's record is found by it.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Clone)]
pub struct ProxyState {
    pub snapshot: Arc<CurrentSnapshot>,
    pub client: UpstreamClient,
    pub max_body_bytes: usize,
    pub metrics: Arc<Metrics>,
    /// State that outlives snapshots: health, and the limit counters admission uses.
    pub registry: Arc<HealthRegistry>,
    /// `--client-auth`, which overrides the stored setting when given.
    pub client_auth: Option<ClientAuth>,
    /// The `Host` names the proxy answers to.
    pub hosts: HostPolicy,
    /// Browser origins allowed to call the proxy.
    pub allowed_origins: Arc<[String]>,
    pub in_flight: Arc<InFlightLimit>,
    /// How long reading a request body may take.
    pub body_read_timeout: std::time::Duration,
    /// Where finished requests' records go.
    pub meter: crate::metering::Meter,
    /// The wall clock of records and budget periods.
    pub clock: Arc<crate::clock::Clock>,
    /// The response cache routes with `cache` use.
    pub cache: Arc<crate::cache::ResponseCache>,
    /// The cluster's Redis (`--redis-url`): shared limits, slots, budgets and cache.
    pub redis: Option<Arc<crate::shared_state::Redis>>,
    /// Limits, concurrency leases and budgets shared through that Redis.
    pub shared_limits: Option<Arc<crate::shared_state::admission::SharedLimits>>,
    /// Keys the guardrails' `hash` action, stable across restarts (kept in the store).
    pub guardrail_key: [u8; 32],
}

impl ProxyState {
    /// The authenticate phase under the client-auth mode in force (`--client-auth` wins over the
    /// stored setting).
    fn caller(&self, headers: &HeaderMap, snapshot: &Snapshot) -> Result<Caller, ProxyError> {
        let mode = self.client_auth.unwrap_or(snapshot.consumers.client_auth);
        pipeline::authenticate(
            headers,
            &snapshot.consumers,
            mode,
            std::time::SystemTime::now(),
        )
    }

    /// Refuses requests for a foreign `Host` and cross-site browser requests.
    fn check_origin(&self, headers: &HeaderMap, uri: &http::Uri) -> Result<(), ProxyError> {
        let host = guard::request_host(headers, uri);
        if !self.hosts.allows(host) {
            return Err(ProxyError::HostNotAllowed(format!(
                "This gateway does not answer to the host '{}'; the operator can add it with \
                 --allowed-hosts.",
                host.unwrap_or_default()
            )));
        }
        match guard::cross_site_refusal(headers, host, &self.allowed_origins) {
            Some(message) => Err(ProxyError::CrossSite(message)),
            None => Ok(()),
        }
    }
}

pub fn router(state: ProxyState) -> Router {
    Router::new()
        .route(
            "/v1/chat/completions",
            post(chat_completions).fallback(method_not_allowed),
        )
        .route(
            "/v1/embeddings",
            post(embeddings).fallback(method_not_allowed),
        )
        .route("/v1/messages", post(messages).fallback(method_not_allowed))
        .route(
            "/v1/messages/count_tokens",
            post(count_tokens).fallback(method_not_allowed),
        )
        .route("/v1/models", get(models).fallback(method_not_allowed))
        .route(
            "/v1/responses",
            post(responses).fallback(method_not_allowed),
        )
        // Gemini's `models/{model}:{method}`, under both of its API versions.
        .route(
            "/v1beta/models/{model_method}",
            post(gemini).fallback(method_not_allowed),
        )
        .route(
            "/v1/models/{model_method}",
            post(gemini).fallback(method_not_allowed),
        )
        .route(
            "/v1/completions",
            post(completions).fallback(method_not_allowed),
        )
        .route(
            "/v1/images/generations",
            post(images).fallback(method_not_allowed),
        )
        .route(
            "/v1/audio/speech",
            post(audio_speech).fallback(method_not_allowed),
        )
        .route(
            "/v1/audio/transcriptions",
            post(audio_transcriptions).fallback(method_not_allowed),
        )
        .route(
            "/v1/moderations",
            post(moderations).fallback(method_not_allowed),
        )
        .route("/v1/rerank", post(rerank).fallback(method_not_allowed))
        .fallback(unknown_url)
        .with_state(state)
}

async fn chat_completions(State(state): State<ProxyState>, request: Request) -> Response {
    proxy(&state, Inbound::Chat, request).await
}

async fn embeddings(State(state): State<ProxyState>, request: Request) -> Response {
    proxy(&state, Inbound::Embeddings, request).await
}

async fn messages(State(state): State<ProxyState>, request: Request) -> Response {
    proxy(&state, Inbound::Messages, request).await
}

async fn count_tokens(State(state): State<ProxyState>, request: Request) -> Response {
    proxy(&state, Inbound::CountTokens, request).await
}

async fn responses(State(state): State<ProxyState>, request: Request) -> Response {
    proxy(&state, Inbound::Responses, request).await
}

/// `POST /v1beta/models/{model}:{method}`: `generateContent`, `streamGenerateContent` or
/// `countTokens`; the model and the method are in the path.
async fn gemini(
    State(state): State<ProxyState>,
    Path(model_method): Path<String>,
    request: Request,
) -> Response {
    let (model, method) = model_method
        .rsplit_once(':')
        .unwrap_or((model_method.as_str(), ""));
    let model = model.strip_prefix("models/").unwrap_or(model).to_owned();
    let (inbound, stream) = match method {
        "generateContent" => (Inbound::Gemini, false),
        "streamGenerateContent" => (Inbound::Gemini, true),
        "countTokens" => (Inbound::GeminiCountTokens, false),
        other => {
            let error = ProxyError::UnknownUrl(format!(
                "POST {} (the gateway serves generateContent, streamGenerateContent and \
                 countTokens, not '{other}')",
                request.uri().path()
            ));
            return error_response(Inbound::Gemini, error);
        }
    };
    let path = PathModel { model, stream };
    proxy_with(&state, inbound, request, Some(path)).await
}

async fn completions(State(state): State<ProxyState>, request: Request) -> Response {
    proxy(&state, Inbound::Endpoint(Endpoint::Completions), request).await
}

async fn images(State(state): State<ProxyState>, request: Request) -> Response {
    proxy(&state, Inbound::Endpoint(Endpoint::Images), request).await
}

async fn audio_speech(State(state): State<ProxyState>, request: Request) -> Response {
    proxy(&state, Inbound::Endpoint(Endpoint::AudioSpeech), request).await
}

async fn audio_transcriptions(State(state): State<ProxyState>, request: Request) -> Response {
    let inbound = Inbound::Endpoint(Endpoint::AudioTranscriptions);
    proxy(&state, inbound, request).await
}

async fn moderations(State(state): State<ProxyState>, request: Request) -> Response {
    proxy(&state, Inbound::Endpoint(Endpoint::Moderations), request).await
}

async fn rerank(State(state): State<ProxyState>, request: Request) -> Response {
    proxy(&state, Inbound::Endpoint(Endpoint::Rerank), request).await
}

/// The model and the streaming choice of an API that names them in the URL path (Gemini's).
struct PathModel {
    model: String,
    stream: bool,
}

/// `GET /v1/models`: authenticated like every proxy request; a caller whose key or consumer is
/// limited to some models sees only those.
async fn models(State(state): State<ProxyState>, uri: http::Uri, headers: HeaderMap) -> Response {
    if let Err(error) = state.check_origin(&headers, &uri) {
        return error.into_response();
    }
    let snapshot = state.snapshot.load_full();
    let caller = match state.caller(&headers, &snapshot) {
        Ok(caller) => caller,
        Err(error) => return error.into_response(),
    };
    let body = match caller.key() {
        Some(key) if key.restricts_models() => {
            filtered_models(&snapshot.models_body(), |model| key.allows_model(model))
        }
        _ => snapshot.models_body(),
    };
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The model list with only the models `allowed` keeps.
fn filtered_models(body: &Bytes, allowed: impl Fn(&str) -> bool) -> Bytes {
    let Ok(mut list) = serde_json::from_slice::<serde_json::Value>(body) else {
        return body.clone();
    };
    if let Some(data) = list.get_mut("data").and_then(|d| d.as_array_mut()) {
        data.retain(|model| model["id"].as_str().is_some_and(&allowed));
    }
    Bytes::from(list.to_string())
}

/// The API a path belongs to, for answering a request the router has no handler for in that
/// API's error shape.
fn api_of_path(path: &str) -> Inbound {
    if path.starts_with("/v1/messages") {
        Inbound::Messages
    } else if path.starts_with("/v1beta/") || path.contains(':') {
        Inbound::Gemini
    } else {
        Inbound::Chat
    }
}

async fn method_not_allowed(request: Request) -> Response {
    let inbound = api_of_path(request.uri().path());
    error_response(
        inbound,
        ProxyError::MethodNotAllowed(request.method().to_string()),
    )
}

async fn unknown_url(request: Request) -> Response {
    let inbound = api_of_path(request.uri().path());
    let error = ProxyError::UnknownUrl(format!("{} {}", request.method(), request.uri().path()));
    error_response(inbound, error)
}

/// Renders an error in the shape of the API the client called.
fn error_response(inbound: Inbound, error: ProxyError) -> Response {
    let body = match inbound.client_api() {
        ClientApi::OpenAi | ClientApi::Responses => return error.into_response(),
        ClientApi::Anthropic => {
            messages_api::error_body(error.anthropic_kind(), &error.to_string())
        }
        ClientApi::Gemini => crate::protocols::gemini::inbound::error_body(
            error.status().as_u16(),
            &error.to_string(),
        ),
    };
    let mut response = (error.status(), Bytes::from(body.to_string())).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(value) = error.retry_after() {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    if error.never_retry() {
        response
            .headers_mut()
            .insert(error::SHOULD_RETRY, HeaderValue::from_static("false"));
    }
    response
}

/// Anthropic clients' version and beta headers, forwarded to Anthropic providers only.
fn anthropic_headers(inbound: Inbound, headers: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
    if !matches!(inbound, Inbound::Messages | Inbound::CountTokens) {
        return Vec::new();
    }
    ["anthropic-version", "anthropic-beta"]
        .into_iter()
        .filter_map(|name| {
            let value = headers.get(name)?;
            Some((HeaderName::from_static(name), value.clone()))
        })
        .collect()
}

async fn proxy(state: &ProxyState, inbound: Inbound, request: Request) -> Response {
    proxy_with(state, inbound, request, None).await
}

async fn proxy_with(
    state: &ProxyState,
    inbound: Inbound,
    request: Request,
    path_model: Option<PathModel>,
) -> Response {
    let request_id = request_id(request.headers(), state.clock.now_ms());
    let id_header = HeaderValue::try_from(request_id.as_str()).ok();
    let mut finish = Finish::new(
        Arc::clone(&state.registry),
        state.meter.clone(),
        Arc::clone(&state.clock),
        request_id,
        inbound.as_str(),
    );
    let mut response = match serve(state, inbound, request, path_model, &mut finish).await {
        // The body holds the finish phase and the in-flight slot until it ends or the client
        // goes away.
        Ok((response, in_flight)) => {
            response.map(|body| Body::new(GuardedBody::new(body, finish, in_flight)))
        }
        // The finish phase runs here, as `finish` goes.
        Err(response) => response,
    };
    if let Some(id) = id_header {
        response.headers_mut().insert(REQUEST_ID_HEADER, id);
    }
    response
}

/// The client's own request id when it is sane (at most 128 visible ASCII characters of a safe
/// set), else a new one: the time in milliseconds, then 80 random bits. Ids that grow with time
/// append to the request log's index instead of landing on a random page of it, which more than
/// doubles how many records a second the writer can store.
fn request_id(headers: &HeaderMap, now_ms: i64) -> String {
    let sane = |id: &&str| {
        !id.is_empty()
            && id.len() <= 128
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(&b))
    };
    match headers
        .get(&REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(sane)
    {
        Some(id) => id.to_owned(),
        None => format!(
            "req_{:012x}{:020x}",
            now_ms.max(0),
            fastrand::u128(..) & ((1 << 80) - 1)
        ),
    }
}

/// The peek phase for the API the request came in on: a JSON body's fields, a form's, or the
/// model the URL path names.
fn peek<'a>(
    inbound: Inbound,
    body: &'a Bytes,
    headers: &HeaderMap,
    path_model: Option<&PathModel>,
) -> Result<request::Peeked<'a>, ProxyError> {
    if let Some(path) = path_model {
        return request::peek_gemini(body, path.model.clone(), path.stream);
    }
    match inbound {
        Inbound::Endpoint(endpoint) if endpoint.multipart() => {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            request::peek_multipart(body, content_type)
        }
        _ => request::peek(body),
    }
}

/// Gemini's clients may send their key as `?key=`: it becomes the `x-goog-api-key` header the
/// authenticate phase reads (unless that header is there already), and leaves the URI, so it is
/// never logged or forwarded with it.
fn gemini_query_key(parts: &mut http::request::Parts) {
    let Some(query) = parts.uri.query() else {
        return;
    };
    let mut key = None;
    let mut rest = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("key", value)) if key.is_none() => key = Some(value.to_owned()),
            _ => rest.push(pair),
        }
    }
    let Some(key) = key else {
        return;
    };
    if !parts.headers.contains_key(GOOG_API_KEY)
        && let Ok(mut value) = HeaderValue::try_from(key)
    {
        value.set_sensitive(true);
        parts.headers.insert(GOOG_API_KEY, value);
    }
    let path_and_query = if rest.is_empty() {
        parts.uri.path().to_owned()
    } else {
        format!("{}?{}", parts.uri.path(), rest.join("&"))
    };
    if let Ok(uri) = http::Uri::builder().path_and_query(path_and_query).build() {
        parts.uri = uri;
    }
}

const GOOG_API_KEY: HeaderName = HeaderName::from_static("x-goog-api-key");

/// Refuses the request with `error`, recording why.
fn refuse(finish: &mut Finish, inbound: Inbound, error: ProxyError) -> Response {
    finish.fail(error.status().as_u16(), error.log_code());
    error_response(inbound, error)
}

/// The pipeline of one request, up to the answer's head: its phases fill in `finish`, which
/// the caller attaches to the answer's body or drops at once for an error answer.
async fn serve(
    state: &ProxyState,
    inbound: Inbound,
    request: Request,
    path_model: Option<PathModel>,
    finish: &mut Finish,
) -> Result<(Response, pipeline::InFlight), Response> {
    if let Err(error) = state.check_origin(request.headers(), request.uri()) {
        return Err(refuse(finish, inbound, error));
    }
    let Some(in_flight) = state.in_flight.enter() else {
        let error = ProxyError::Overloaded(state.in_flight.max());
        return Err(refuse(finish, inbound, error));
    };
    let (mut parts, body) = request.into_parts();
    if inbound.client_api() == ClientApi::Gemini {
        gemini_query_key(&mut parts);
    }
    let read = tokio::time::timeout(
        state.body_read_timeout,
        read_body(body, state.max_body_bytes),
    );
    let body = match read.await.unwrap_or(Err(ProxyError::BodyUnreadable(
        "the client did not send the whole body in time".into(),
    ))) {
        Ok(body) => body,
        Err(error) => return Err(refuse(finish, inbound, error)),
    };
    let peeked = match peek(inbound, &body, &parts.headers, path_model.as_ref()) {
        Ok(peeked) => peeked,
        Err(error) => return Err(refuse(finish, inbound, error)),
    };
    finish.keep_prompt(body.clone());
    finish.row.requested_model = Some(peeked.model.clone().into_owned());
    finish.row.stream = peeked.stream;
    // One Arc for the whole request: it finishes on this snapshot whatever reloads happen.
    let snapshot = state.snapshot.load_full();
    // The record's time is taken after the snapshot: a budget activated by a reload counts
    // exactly the requests timed at or after its activation in memory (see `budgets.rs`).
    finish.row.time_ms = finish.clock().now_ms();
    let caller = match state.caller(&parts.headers, &snapshot) {
        Ok(caller) => caller,
        Err(error) => return Err(refuse(finish, inbound, error)),
    };
    if let Some(key) = caller.key() {
        finish.row.key_id = Some(key.id);
        finish.row.consumer_id = Some(key.consumer.id);
        finish.row.consumer = Some(Arc::clone(&key.consumer.name));
    }
    let Some(route) = snapshot.route(&peeked.model) else {
        let error = ProxyError::ModelNotFound(peeked.model.into_owned());
        return Err(refuse(finish, inbound, error));
    };
    finish.row.route = Some(Arc::clone(&route.name));
    if let Err(error) = pipeline::authorize(&caller, route, &peeked.model) {
        return Err(refuse(finish, inbound, error));
    }
    let policies = pipeline::policies(route, &caller);
    let guarded = match pipeline::guard_request(&policies, &body, inbound, &state.guardrail_key) {
        Ok(guarded) => guarded,
        Err(blocked) => {
            finish.row.guardrails.push(blocked.hit("request"));
            let error = ProxyError::ContentFiltered(blocked.to_string());
            return Err(refuse(finish, inbound, error));
        }
    };
    finish.row.guardrails = guarded.hits;
    let restorer = guarded.restore;
    // What goes upstream: the client's bytes, or the guardrails' rewrite of them (peeked
    // again, since the model's place in the body may have moved).
    let upstream_body = guarded.body.unwrap_or_else(|| body.clone());
    let repeeked;
    let sent_peek = if upstream_body.as_ptr() == body.as_ptr() {
        &peeked
    } else {
        repeeked = match peek(inbound, &upstream_body, &parts.headers, path_model.as_ref()) {
            Ok(peeked) => peeked,
            Err(error) => return Err(refuse(finish, inbound, error)),
        };
        &repeeked
    };
    let mut cache_plan = pipeline::CachePlan::new(
        &state.cache,
        route.spec.cache,
        &parts.headers,
        &caller,
        inbound,
        restorer.is_some(),
        &upstream_body,
    );
    let cache_entries = match &mut cache_plan {
        Some(plan) if pipeline::asks_redis(state.shared_limits.as_ref(), &caller, route) => {
            plan.read_ahead(route, &peeked.model, Instant::now())
        }
        _ => Vec::new(),
    };
    let ask = pipeline::Ask {
        caller: &caller,
        route,
        model: &peeked.model,
        inbound,
        body_len: body.len(),
        max_tokens: peeked.max_tokens,
        now_ms: finish.clock().now_ms(),
        cache_entries: &cache_entries,
    };
    let cleared = match pipeline::admit_and_reserve(
        state.shared_limits.as_ref(),
        snapshot.consumers.settings.redis_failure,
        &state.registry.limits,
        &ask,
        finish,
    )
    .await
    {
        Ok(cleared) => cleared,
        Err((error, budgets)) => {
            let mut response = refuse(finish, inbound, error);
            if let Some(budgets) = &budgets {
                pipeline::rate_limit_headers(budgets, inbound, response.headers_mut());
            }
            return Err(response);
        }
    };
    let budgets = cleared.budgets;
    if let (Some(plan), Some(values)) = (&mut cache_plan, cleared.cached) {
        plan.values_read(values);
    }
    if cache_plan.is_some() {
        let settings = &snapshot.consumers.settings;
        state
            .cache
            .resize(crate::cache::max_bytes(settings.cache_max_mb));
    }
    let anthropic_headers = anthropic_headers(inbound, &parts.headers);
    let body_type = match inbound {
        Inbound::Endpoint(endpoint) if endpoint.multipart() => {
            parts.headers.get(header::CONTENT_TYPE).cloned()
        }
        _ => None,
    };
    let deadline = route.timeout.map(|timeout| Instant::now() + timeout);
    let demand = Demand {
        prompt_tokens: pipeline::prompt_estimate(body.len()),
        max_tokens: peeked.max_tokens,
        generates: inbound.generates(),
        sticky: match &route.strategy {
            Strategy::Sticky(source) => session_key(source, &caller, &parts.headers),
            _ => None,
        },
        now_ms: stamp(finish.clock().now_ms()),
    };
    let mut attempts = Attempts::new(route, demand, &peeked.model);
    let mut last: Option<(ProxyError, &Arc<Provider>, &str)> = None;
    loop {
        attempts.set_now_ms(stamp(finish.clock().now_ms()));
        let Some(plan) = attempts.next(Instant::now()) else {
            break;
        };
        if !plan.wait.is_zero() {
            let until = Instant::now() + plan.wait;
            if deadline.is_some_and(|deadline| until >= deadline) {
                break;
            }
            tokio::time::sleep_until(until).await;
        }
        let provider = &plan.upstream.provider;
        let target = plan.upstream.target_model(&peeked.model);
        if let Some(cache) = &mut cache_plan {
            match serve_from_cache(cache, finish, route, provider, target, sent_peek).await {
                Ok(mut response) => {
                    let strategy = route.strategy_header(plan.why);
                    response.headers_mut().insert(STRATEGY_HEADER, strategy);
                    if let Some(budgets) = &budgets {
                        pipeline::rate_limit_headers(budgets, inbound, response.headers_mut());
                    }
                    // The cache is shared across callers with other policies, and answers may
                    // predate a policy: a stored answer passes this caller's answer checks too.
                    return match guard_answer(response, &policies, None, inbound, finish).await {
                        Ok(response) => Ok((response, in_flight)),
                        Err(error) => Err(refuse(finish, inbound, error)),
                    };
                }
                Err(store) => finish.plan_cache_store(store),
            }
        }
        tracing::debug!(route = %route.name, provider = %provider.name, model = target, attempt = attempts.count(), "proxying");
        // Counts the attempt in flight (what least_busy reads) until its answer's body ends.
        // Counting tokens is no model call (and may be answered locally in microseconds): it
        // gives no sample, or a client could make an upstream look fast by sending many.
        let mut flight = plan.upstream.stats.start(
            Instant::now(),
            inbound.generates(),
            !inbound.counts_tokens(),
        );
        let exchange = Exchange {
            client: &state.client,
            inbound,
            provider,
            key: plan.key,
            target,
            body: &upstream_body,
            peeked: sent_peek,
            anthropic_headers: provider.anthropic_headers(&anthropic_headers),
            body_type: body_type.as_ref(),
            usage: UsageContext {
                route: Arc::clone(&route.name),
                provider: Arc::clone(&provider.name),
                metrics: Arc::clone(&state.metrics),
                tally: Arc::clone(&finish.tally),
            },
        };
        let result = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, exchange.run())
                .await
                .unwrap_or(Err(ProxyError::UpstreamTimeout(
                    "the route's timeout_ms passed",
                ))),
            None => exchange.run().await,
        };
        match result {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let streamed = peeked.stream && is_event_stream(&response);
                flight.answered(Instant::now(), streamed, stamp(finish.clock().now_ms()));
                finish.track_flight(flight);
                attempts.succeeded(&plan, status);
                state.metrics.record_request(
                    &route.name,
                    &provider.name,
                    true,
                    finish.started().elapsed(),
                );
                add_headers(&mut response, route, provider, target, &attempts);
                if let Some(budgets) = &budgets {
                    pipeline::rate_limit_headers(budgets, inbound, response.headers_mut());
                }
                record_answer(finish, provider, target, &attempts);
                finish.row.status = status;
                if let Some(cache) = &cache_plan {
                    response
                        .headers_mut()
                        .insert(pipeline::CACHE_HEADER, cache.header(false));
                }
                let response =
                    match guard_answer(response, &policies, restorer.as_ref(), inbound, finish)
                        .await
                    {
                        Ok(response) => response,
                        Err(error) => return Err(refuse(finish, inbound, error)),
                    };
                return Ok((response, in_flight));
            }
            Err(error) => {
                tracing::debug!(route = %route.name, provider = %provider.name, %error, "attempt failed");
                let timed_out = matches!(error, ProxyError::UpstreamTimeout(_));
                flight.failed(timed_out, Instant::now(), stamp(finish.clock().now_ms()));
                attempts.failed(&plan, &error, Instant::now());
                last = Some((error, provider, target));
            }
        }
    }
    let Some((error, provider, target)) = last else {
        let error = ProxyError::UpstreamTimeout("the route's timeout_ms passed");
        return Err(refuse(finish, inbound, error));
    };
    state.metrics.record_request(
        &route.name,
        &provider.name,
        false,
        finish.started().elapsed(),
    );
    record_answer(finish, provider, target, &attempts);
    let mut response = refuse(finish, inbound, error);
    add_headers(&mut response, route, provider, target, &attempts);
    if let Some(budgets) = &budgets {
        pipeline::rate_limit_headers(budgets, inbound, response.headers_mut());
    }
    Err(response)
}

/// Answers from the cache when it holds the request as this attempt would send it; otherwise
/// says where the attempt's answer is to be stored (`Err`, `None` when it must not be).
async fn serve_from_cache(
    cache: &mut pipeline::CachePlan,
    finish: &mut Finish,
    route: &Route,
    provider: &Arc<Provider>,
    target: &str,
    peeked: &request::Peeked<'_>,
) -> Result<Response, Option<pipeline::CacheStore>> {
    let Some(key) = cache.key(provider.id, target) else {
        return Err(None);
    };
    let (shared, ttl_ms, client) = (Arc::clone(cache.cache()), cache.ttl_ms(), cache.client);
    let store = move || pipeline::CacheStore {
        cache: shared,
        key,
        ttl_ms,
        client,
        stream: peeked.stream,
        route: Arc::clone(&route.name),
        provider: Arc::clone(&provider.name),
        model: target.to_owned(),
    };
    let Some(answer) = cache.lookup(&route.name, &key).await else {
        return Err(Some(store()));
    };
    let replayed = match crate::cache::replay(&answer, peeked.stream, peeked.include_usage) {
        Ok(replayed) => replayed,
        Err(_) => {
            cache.forget(&route.name, &key);
            return Err(Some(store()));
        }
    };
    finish.served_from_cache(&answer);
    let age = answer.age_secs(cache.cache().now_ms());
    let content_type = replayed.content_type().clone();
    let mut response = Response::new(Body::new(replayed));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    if peeked.stream {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    headers.insert(pipeline::CACHE_HEADER, cache.header(true));
    headers.insert(header::AGE, HeaderValue::from(age));
    headers.insert(ROUTE_HEADER, route.name_header.clone());
    headers.insert(PROVIDER_HEADER, provider.name_header.clone());
    if let Ok(model) = HeaderValue::try_from(answer.model.as_str()) {
        headers.insert(MODEL_HEADER, model);
    }
    headers.insert(ATTEMPTS_HEADER, HeaderValue::from(0));
    Ok(response)
}

/// The largest plain answer read whole for the answer checks and restoring.
const MAX_GUARDED_ANSWER: usize = 32 * 1024 * 1024;

/// Runs a successful answer through the guardrails' answer checks and restores redacted
/// values: a stream event by event, a plain answer whole. `Err` when a check blocks a plain
/// answer (a stream is ended with an error event instead).
async fn guard_answer(
    response: Response,
    policies: &[Arc<crate::guardrails::Policy>],
    restorer: Option<&crate::guardrails::Restorer>,
    inbound: Inbound,
    finish: &mut Finish,
) -> Result<Response, ProxyError> {
    let checks = policies.iter().any(|p| p.on_response().is_some());
    if !checks && restorer.is_none() {
        return Ok(response);
    }
    let (api, client) = (inbound.guardrails_api(), inbound.client_api());
    let stream = is_event_stream(&response);
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if !stream && !json {
        // Audio, images as bytes, plain-text transcripts: no JSON text to check or restore, and
        // never read whole (speech can be long).
        return Ok(response);
    }
    let (mut parts, body) = response.into_parts();
    if stream {
        let tally = Arc::clone(&finish.tally);
        let body = match answer_guard::GuardedStream::new(body, policies, restorer, client, tally) {
            Ok(guarded) => Body::new(guarded),
            Err(body) => body,
        };
        return Ok(Response::from_parts(parts, body));
    }
    let bytes = match Limited::new(body, MAX_GUARDED_ANSWER).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => return Err(ProxyError::BadUpstreamResponse(error.to_string())),
    };
    let mut hits = Vec::new();
    let guarded = answer_guard::guard_plain(&bytes, policies, restorer, api, &mut hits);
    finish.row.guardrails.extend(hits);
    match guarded {
        Ok(Some(rewritten)) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            Ok(Response::from_parts(parts, Body::from(rewritten)))
        }
        Ok(None) => Ok(Response::from_parts(parts, Body::from(bytes))),
        Err(blocked) => Err(ProxyError::ContentFiltered(answer_guard::blocked_message(
            &blocked,
        ))),
    }
}

/// What the record keeps of the attempts: who answered last, with which model, and the trail.
fn record_answer(finish: &mut Finish, provider: &Arc<Provider>, target: &str, attempts: &Attempts) {
    finish.row.provider = Some(Arc::clone(&provider.name));
    finish.row.model = Some(target.to_owned());
    finish.row.attempts = attempts.count();
    finish.row.fallback_trail = attempts.steps();
    finish.answered_by(Arc::clone(&provider.pricing));
}

/// The `x-switchyard-*` headers of a proxied answer: which route, provider and model served it
/// (or failed it last), how many attempts it took, and their trail when there was more than one.
fn add_headers(
    response: &mut Response,
    route: &Route,
    provider: &Provider,
    target: &str,
    attempts: &Attempts<'_>,
) {
    let headers = response.headers_mut();
    headers.insert(ROUTE_HEADER, route.name_header.clone());
    headers.insert(PROVIDER_HEADER, provider.name_header.clone());
    if let Ok(model) = HeaderValue::try_from(target) {
        headers.insert(MODEL_HEADER, model);
    }
    headers.insert(ATTEMPTS_HEADER, HeaderValue::from(attempts.count()));
    headers.insert(STRATEGY_HEADER, route.strategy_header(attempts.last_why()));
    if attempts.count() > 1
        && let Ok(trail) = HeaderValue::try_from(attempts.trail())
    {
        headers.insert(FALLBACK_HEADER, trail);
    }
}

fn is_event_stream(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"))
}

/// Reads the whole request body, refusing more than `limit` bytes.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, ProxyError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) => {
            // axum may wrap a limit hit inside its own error type, so look through the chain.
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error.as_ref());
            while let Some(current) = source {
                if current.is::<LengthLimitError>() {
                    return Err(ProxyError::BodyTooLarge(limit));
                }
                source = current.source();
            }
            Err(ProxyError::BodyUnreadable(error.to_string()))
        }
    }
}
