//! Helpers for the metering tests: priced providers, upstream replies with and without usage,
//! request records, usage reports and budgets read back from the admin API, the test clock, and
//! a webhook receiver for budget alerts.
//!
//! Records reach `/api/logs` asynchronously (a background writer batches them), so everything
//! here that reads them polls with a deadline. [`Gateway::log_barrier`] gives the tests a fixed
//! point: once a request sent after all the others has its record, every earlier request's
//! record has been written too, so counts can be asserted exactly.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde_json::{Value, json};
use switchyard_shared::{BudgetStatus, BudgetsView, LogStatus, LogsPage, RequestLog, UsageReport};
use tokio::task::JoinHandle;

use crate::mock::{Reply, Script as MockScript};
use crate::providers::{Answer, Script, Tokens, openai};
use crate::{ApiResponse, Gateway, poll_until};

/// How long a metering test waits for a record, an alert or a counter before failing.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// The input price the tests configure, in US dollars per million tokens: one token costs
/// exactly 1,000 micro-dollars, so every cost is an exact integer of micro-dollars.
pub const INPUT_PER_MTOK: i64 = 1000;
/// The output price, likewise: one completion token costs 2,000 micro-dollars.
pub const OUTPUT_PER_MTOK: i64 = 2000;

/// The model prefix the barrier requests use; no route serves it.
const BARRIER_MODEL: &str = "barrier-model";
/// The request id prefix of barrier requests, by which their records are left out.
const BARRIER_ID: &str = "barrier-";

/// A provider's `pricing` field giving models matching `glob` the test prices.
pub fn pricing(glob: &str) -> Value {
    json!({ glob: {"input_per_mtok": INPUT_PER_MTOK, "output_per_mtok": OUTPUT_PER_MTOK} })
}

/// `spec` (a provider) with the test prices for models matching `glob`.
pub fn with_pricing(mut spec: Value, glob: &str) -> Value {
    spec["pricing"] = pricing(glob);
    spec
}

/// What `prompt` and `completion` tokens cost at the test prices, in micro-dollars.
pub fn cost_micros(prompt: u64, completion: u64) -> i64 {
    let tokens = |count: u64| i64::try_from(count).expect("token counts fit in i64");
    tokens(prompt) * INPUT_PER_MTOK + tokens(completion) * OUTPUT_PER_MTOK
}

/// Dollars (as the API writes them) to micro-dollars, rounded to the nearest one.
pub fn micros(usd: f64) -> i64 {
    (usd * 1_000_000.0).round() as i64
}

/// Micro-dollars as the dollars a budget's `limit_usd` takes.
pub fn usd(micros: i64) -> f64 {
    micros as f64 / 1_000_000.0
}

/// A record's cost in micro-dollars; panics when the record has none (an unpriced model).
pub fn record_cost(log: &RequestLog) -> i64 {
    micros(
        log.cost_usd
            .unwrap_or_else(|| panic!("the record has no cost: {log:?}")),
    )
}

/// A plain text answer whose usage reports `prompt` and `completion` tokens.
pub fn answer(text: &str, prompt: u64, completion: u64) -> Answer {
    Answer::text(text).with_tokens(Tokens {
        prompt,
        completion,
        ..Tokens::default()
    })
}

/// An OpenAI `chat.completion` reply for the [`crate::MockUpstream`], with its usage.
pub fn completion_reply(answer: &Answer, model: &str) -> Reply {
    openai::reply(&Script::Answer(answer.clone()), model, false)
}

/// An OpenAI stream reply whose last chunk before `[DONE]` carries the usage.
pub fn stream_reply(answer: &Answer, model: &str) -> Reply {
    openai::reply(&Script::Answer(answer.clone()), model, true)
}

/// An OpenAI `chat.completion` reply without any `usage`, as some self-hosted servers answer.
pub fn completion_reply_without_usage(answer: &Answer, model: &str) -> Reply {
    let mut body = openai::completion(answer, model);
    body.as_object_mut()
        .expect("a completion is an object")
        .remove("usage");
    Reply::Raw {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: Bytes::from(body.to_string()),
    }
}

/// An OpenAI stream reply that never sends a usage chunk, although the gateway asks for one.
pub fn stream_reply_without_usage(answer: &Answer, model: &str) -> Reply {
    Reply::Raw {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        body: Bytes::from(openai::stream_events(answer, model, false).concat()),
    }
}

/// A stream that sends each of `words` as its own chunk with `pause` after each, then `[DONE]`;
/// a client that leaves early leaves while the mock is still producing.
pub fn slow_stream(model: &str, words: &[&str], pause: Duration) -> Reply {
    let mut script = MockScript::sse();
    for word in words {
        script = script.chunk(model, word).pause(pause);
    }
    script.done().into()
}

/// `text` as one URL path segment: every byte but the unreserved ones percent-encoded.
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Whether `log` is the record of a [`Gateway::log_barrier`] request.
pub fn is_barrier(log: &RequestLog) -> bool {
    log.request_id.starts_with(BARRIER_ID)
}

/// Every distinct barrier request of this test process gets its own id.
static BARRIERS: AtomicU64 = AtomicU64::new(0);

impl Gateway {
    /// `GET /api/logs?{query}`, asserting 200.
    pub async fn logs_page(&self, query: &str) -> LogsPage {
        let response = self.admin_get(&format!("/api/logs?{query}")).await;
        response.expect_status(200, &format!("GET /api/logs?{query}"));
        serde_json::from_slice(&response.body).unwrap_or_else(|e| {
            panic!(
                "/api/logs answered an unexpected shape ({e}): {}",
                response.text()
            )
        })
    }

    /// `GET /api/logs/{request_id}` as it answers now; the id is percent-encoded, since a
    /// client's own id may hold `/`, `+` and other characters with a meaning in a URL.
    pub async fn log_entry(&self, request_id: &str) -> ApiResponse {
        self.admin_get(&format!("/api/logs/{}", path_segment(request_id)))
            .await
    }

    /// The record of `request_id`, waiting for the writer to store it.
    pub async fn wait_log(&self, request_id: &str) -> RequestLog {
        let what = format!("the record of request {request_id}");
        let response = poll_until(DEADLINE, &what, || async {
            let response = self.log_entry(request_id).await;
            (response.status != StatusCode::NOT_FOUND).then_some(response)
        })
        .await;
        response.expect_status(200, &format!("GET /api/logs/{request_id}"));
        serde_json::from_slice(&response.body).unwrap_or_else(|e| {
            panic!("a record of an unexpected shape ({e}): {}", response.text())
        })
    }

    /// Sends a request for a model no route serves and waits for its record. The meter writes
    /// records in the order requests finished, so when this returns every request that finished
    /// before the call has its record in `/api/logs`. Returns the barrier's request id.
    pub async fn log_barrier(&self) -> String {
        let n = BARRIERS.fetch_add(1, Ordering::Relaxed);
        let id = format!("{BARRIER_ID}{}-{n}", std::process::id());
        let body = json!({"model": BARRIER_MODEL, "messages": [{"role": "user", "content": "."}]});
        let request = self.chat_request(&body).header("x-request-id", &id);
        let response = ApiResponse::send(request).await;
        assert!(
            response.status.is_client_error(),
            "the barrier request must be refused: {} {}",
            response.status,
            response.text()
        );
        self.wait_log(&id).await;
        id
    }

    /// Every record in the log, newest first, after a [`Gateway::log_barrier`], without the
    /// barriers' own records. Follows `next_cursor` through every page.
    pub async fn settled_logs(&self) -> Vec<RequestLog> {
        self.log_barrier().await;
        let mut records = Vec::new();
        let mut query = "limit=500".to_owned();
        loop {
            let page = self.logs_page(&query).await;
            records.extend(page.items);
            match page.next_cursor {
                Some(cursor) => query = format!("limit=500&cursor={cursor}"),
                None => break,
            }
        }
        records.retain(|log| !is_barrier(log));
        records
    }

    /// `GET /api/usage?{query}` as JSON, asserting 200.
    pub async fn usage_report(&self, query: &str) -> UsageReport {
        let response = self.admin_get(&format!("/api/usage?{query}")).await;
        response.expect_status(200, &format!("GET /api/usage?{query}"));
        serde_json::from_slice(&response.body).unwrap_or_else(|e| {
            panic!(
                "/api/usage answered an unexpected shape ({e}): {}",
                response.text()
            )
        })
    }

    /// `GET /api/budgets`, asserting 200.
    pub async fn budgets(&self) -> Vec<BudgetStatus> {
        let response = self.admin_get("/api/budgets").await;
        response.expect_status(200, "GET /api/budgets");
        let view: BudgetsView = serde_json::from_slice(&response.body).unwrap_or_else(|e| {
            panic!(
                "/api/budgets answered an unexpected shape ({e}): {}",
                response.text()
            )
        });
        view.budgets
    }

    /// The budget of key `key_id`, or of the consumer itself when `key_id` is `None`.
    pub async fn budget_of(&self, consumer: &str, key_id: Option<i64>) -> BudgetStatus {
        let budgets = self.budgets().await;
        budgets
            .iter()
            .find(|b| b.consumer == consumer && b.key_id == key_id)
            .cloned()
            .unwrap_or_else(|| panic!("no budget of {consumer} / {key_id:?} in {budgets:?}"))
    }

    /// Waits until the budget (of key `key_id`, or of the consumer) holds no reservation: every
    /// request answered so far has been settled with its real cost.
    pub async fn settled_budget(&self, consumer: &str, key_id: Option<i64>) -> BudgetStatus {
        poll_until(DEADLINE, "every reservation settled", || async {
            let state = self.budget_of(consumer, key_id).await;
            (state.reserved_usd == 0.0).then_some(state)
        })
        .await
    }

    /// Waits until the meter has loaded the recorded spend of every budget created so far. It
    /// loads after writing each batch, and the second of two barriers is written in a later batch
    /// than the first, so by then the pass that followed the first batch is over.
    pub async fn budgets_loaded(&self) {
        self.log_barrier().await;
        self.log_barrier().await;
    }

    /// The request log's counters from `GET /api/status`.
    pub async fn log_status(&self) -> LogStatus {
        let response = self.admin_get("/api/status").await;
        response.expect_status(200, "GET /api/status");
        serde_json::from_value(response.json()["log"].clone()).unwrap_or_else(|e| {
            panic!("/api/status has no log counters ({e}): {}", response.text())
        })
    }

    /// `PUT /api/debug/clock`: moves the gateway's wall clock `offset_ms` from the system time.
    pub async fn move_clock(&self, offset_ms: i64) -> ApiResponse {
        self.admin_put("/api/debug/clock", &json!({ "offset_ms": offset_ms }))
            .await
    }

    /// Sets the `alert_webhook_url` setting, keeping every other stored setting as it is.
    pub async fn set_alert_webhook(&self, url: &str) {
        let current = self.admin_get("/api/settings").await;
        current.expect_status(200, "GET /api/settings");
        let current = current.json();
        let mut settings = json!({ "alert_webhook_url": url });
        for field in ["client_auth", "log_retention_days", "log_max_rows"] {
            settings[field] = current[field].clone();
        }
        let response = self.admin_put("/api/settings", &settings).await;
        response.expect_status(200, "PUT /api/settings with alert_webhook_url");
        assert_eq!(response.json()["alert_webhook_url"], url);
    }

    /// `GET /metrics` with `token` as the bearer token (or none).
    pub async fn scrape(&self, token: Option<&str>) -> ApiResponse {
        self.admin_request(Method::GET, "/metrics", token, None)
            .await
    }
}

/// What the webhook receiver got: one entry per POST.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub headers: HeaderMap,
    /// The body as JSON, or as a JSON string holding the raw text when it was not JSON.
    pub body: Value,
}

type Deliveries = Arc<Mutex<Vec<Delivery>>>;

/// A loopback HTTP server that accepts `POST /alerts` and keeps every body it receives.
pub struct WebhookReceiver {
    url: String,
    received: Deliveries,
    server: JoinHandle<()>,
}

impl WebhookReceiver {
    pub async fn start() -> WebhookReceiver {
        let received: Deliveries = Arc::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port can be bound for the webhook");
        let port = listener
            .local_addr()
            .expect("a bound listener has an address")
            .port();
        let app = Router::new()
            .route("/alerts", post(receive))
            .with_state(Arc::clone(&received));
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the webhook receiver serves until dropped");
        });
        WebhookReceiver {
            url: format!("http://127.0.0.1:{port}/alerts"),
            received,
            server,
        }
    }

    /// The URL to set as `alert_webhook_url`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every delivery so far, oldest first.
    pub fn received(&self) -> Vec<Delivery> {
        self.received
            .lock()
            .expect("webhook lock is not poisoned")
            .clone()
    }

    /// Waits until at least `count` deliveries arrived and returns them all.
    pub async fn wait_for(&self, count: usize) -> Vec<Delivery> {
        poll_until(DEADLINE, &format!("{count} webhook deliveries"), || async {
            let received = self.received();
            (received.len() >= count).then_some(received)
        })
        .await
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn receive(
    State(received): State<Deliveries>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let body = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    received
        .lock()
        .expect("webhook lock is not poisoned")
        .push(Delivery { headers, body });
    StatusCode::NO_CONTENT
}
