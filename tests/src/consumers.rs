//! Consumers and their client API keys: creating them over the admin API, calling the proxy with
//! a key in any of the headers SDKs use, and starting a gateway on a non-loopback address (which
//! [`Gateway`] never does, as it always listens on `127.0.0.1`).

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use reqwest::Method;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::http_client::{ApiResponse, new_client};
use crate::mock::http_date;
use crate::server::{DEFAULT_ADMIN_TOKEN, Gateway, parse_listening_line};
use crate::switchyard_bin;

/// The header a client puts its key in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyHeader {
    /// `Authorization: Bearer <key>` (OpenAI SDKs).
    Bearer,
    /// `x-api-key: <key>` (Anthropic SDKs, Claude Code).
    XApiKey,
    /// `api-key: <key>` (Azure OpenAI clients).
    ApiKey,
}

impl KeyHeader {
    pub const ALL: [KeyHeader; 3] = [KeyHeader::Bearer, KeyHeader::XApiKey, KeyHeader::ApiKey];

    /// Adds `key` to `request` in this header.
    pub fn apply(self, request: reqwest::RequestBuilder, key: &str) -> reqwest::RequestBuilder {
        match self {
            KeyHeader::Bearer => request.header("authorization", format!("Bearer {key}")),
            KeyHeader::XApiKey => request.header("x-api-key", key),
            KeyHeader::ApiKey => request.header("api-key", key),
        }
    }
}

/// A key as `POST /api/consumers/{name}/keys` (or `…/rotate`) returned it.
#[derive(Clone)]
pub struct IssuedKey {
    pub id: i64,
    /// The plaintext: shown in this answer only.
    pub key: String,
    pub masked: String,
    /// The whole answer.
    pub body: Value,
}

impl std::fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedKey")
            .field("id", &self.id)
            .field("masked", &self.masked)
            .finish_non_exhaustive()
    }
}

impl IssuedKey {
    /// Reads a key out of a `201` answer, checking the fields the contract promises.
    pub fn from_response(response: &ApiResponse, context: &str) -> IssuedKey {
        response.expect_status(201, context);
        let body = response.json();
        let key = body["key"]
            .as_str()
            .unwrap_or_else(|| panic!("{context}: no plaintext `key` in {body}"))
            .to_owned();
        let id = body["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("{context}: no integer `id` in {body}"));
        let masked = body["masked"]
            .as_str()
            .unwrap_or_else(|| panic!("{context}: no `masked` in {body}"))
            .to_owned();
        IssuedKey {
            id,
            key,
            masked,
            body,
        }
    }

    /// The key with the last character (part of its checksum) changed: a mistyped key.
    pub fn mistyped(&self) -> String {
        let mut chars: Vec<char> = self.key.chars().collect();
        if let Some(last) = chars.last_mut() {
            *last = if *last == 'a' { 'b' } else { 'a' };
        }
        chars.into_iter().collect()
    }

    /// The key without its `sy-` prefix: what must not show up anywhere either.
    pub fn secret_part(&self) -> &str {
        self.key.strip_prefix("sy-").unwrap_or(&self.key)
    }
}

impl Gateway {
    /// Creates a consumer, asserting 201.
    pub async fn add_consumer(&self, spec: &Value) -> ApiResponse {
        let response = self.admin_post("/api/consumers", spec).await;
        response.expect_status(201, &format!("creating consumer {}", spec["name"]));
        response
    }

    /// Issues a key for `consumer`, asserting 201.
    pub async fn issue_key(&self, consumer: &str, body: &Value) -> IssuedKey {
        let path = format!("/api/consumers/{consumer}/keys");
        let response = self.admin_post(&path, body).await;
        IssuedKey::from_response(&response, &format!("issuing a key for {consumer}"))
    }

    /// Sets `client_auth` (`"off"` or `"required"`), asserting 200.
    pub async fn set_client_auth(&self, value: &str) -> Value {
        let body = serde_json::json!({ "client_auth": value });
        let response = self.admin_put("/api/settings", &body).await;
        response.expect_status(200, &format!("PUT /api/settings client_auth {value}"));
        response.json()
    }

    /// `POST /v1/chat/completions` with `key` (if any) in `header`.
    pub async fn chat_with(
        &self,
        header: KeyHeader,
        key: Option<&str>,
        body: &Value,
    ) -> ApiResponse {
        let mut request = self.chat_request(body);
        if let Some(key) = key {
            request = header.apply(request, key);
        }
        ApiResponse::send(request).await
    }

    /// `POST /v1/chat/completions` with `Authorization: Bearer <key>`, or no key for `None`.
    pub async fn chat_as(&self, key: Option<&str>, body: &Value) -> ApiResponse {
        self.chat_with(KeyHeader::Bearer, key, body).await
    }

    /// A streaming chat with `Authorization: Bearer <key>`; returns once the headers arrive.
    pub async fn chat_stream_as(&self, key: &str, body: &Value) -> reqwest::Response {
        KeyHeader::Bearer
            .apply(self.chat_request(body), key)
            .send()
            .await
            .expect("the streaming request gets response headers")
    }

    /// `POST /v1/messages` as an Anthropic SDK sends it, with `key` (if any) in `header`.
    pub async fn messages_with(
        &self,
        header: KeyHeader,
        key: Option<&str>,
        body: &Value,
    ) -> ApiResponse {
        let mut request = self
            .proxy_request(Method::POST, "/v1/messages")
            .header("content-type", "application/json")
            .header("anthropic-version", "2023-06-01")
            .body(body.to_string());
        if let Some(key) = key {
            request = header.apply(request, key);
        }
        ApiResponse::send(request).await
    }
}

/// `at` as RFC 3339 in UTC with whole seconds (`2026-01-31T12:00:00Z`), the fraction dropped.
pub fn rfc3339(at: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // `Sun, 06 Nov 1994 08:49:37 GMT`: the same calendar arithmetic, rearranged.
    let date = http_date(at);
    let parts: Vec<&str> = date.split_whitespace().collect();
    let [_, day, month, year, time, _] = parts[..] else {
        panic!("unexpected HTTP date {date}");
    };
    let month = MONTHS
        .iter()
        .position(|m| *m == month)
        .unwrap_or_else(|| panic!("unexpected month in {date}"))
        + 1;
    format!("{year}-{month:02}-{day}T{time}Z")
}

/// `rfc3339` of now plus `ahead`.
pub fn rfc3339_in(ahead: Duration) -> String {
    rfc3339(SystemTime::now() + ahead)
}

/// How `switchyard serve --listen <addr>` went: it exited, or it is listening.
pub enum Served {
    Exited {
        status: ExitStatus,
        stdout: String,
        stderr: String,
    },
    Listening(Box<OpenServer>),
}

impl Served {
    /// Panics unless the server exited with a failure; returns what it printed.
    pub fn expect_refusal(self, context: &str) -> String {
        match self {
            Served::Exited {
                status,
                stdout,
                stderr,
            } => {
                assert!(
                    !status.success(),
                    "{context}: exited successfully instead of refusing\n{stdout}\n{stderr}"
                );
                format!("{stdout}\n{stderr}")
            }
            Served::Listening(server) => panic!(
                "{context}: the server started (proxy {}) instead of refusing to",
                server.proxy_url
            ),
        }
    }

    /// Panics unless the server is listening.
    pub fn expect_listening(self, context: &str) -> OpenServer {
        match self {
            Served::Listening(server) => *server,
            Served::Exited {
                status,
                stdout,
                stderr,
            } => panic!(
                "{context}: switchyard exited ({status}) instead of starting\n{stdout}\n{stderr}"
            ),
        }
    }
}

/// A `switchyard serve` started by [`serve_on`], killed when dropped.
pub struct OpenServer {
    child: Child,
    /// The proxy, reached through `127.0.0.1` whatever address it listens on.
    pub proxy_url: String,
    pub admin_url: String,
    /// The proxy's address as the server announced it (`http://0.0.0.0:P`).
    pub announced_proxy_url: String,
    stderr: Arc<Mutex<String>>,
    client: reqwest::Client,
}

impl OpenServer {
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// An admin API request with the default admin token.
    pub async fn admin(&self, method: Method, path: &str, body: Option<&Value>) -> ApiResponse {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.admin_url))
            .bearer_auth(DEFAULT_ADMIN_TOKEN);
        if let Some(body) = body {
            request = request.json(body);
        }
        ApiResponse::send(request).await
    }

    /// `POST /v1/chat/completions` on the proxy, with `key` as a bearer token if given.
    pub async fn chat_as(&self, key: Option<&str>, body: &Value) -> ApiResponse {
        let mut request = self
            .client
            .post(format!("{}/v1/chat/completions", self.proxy_url))
            .json(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        ApiResponse::send(request).await
    }

    pub fn stderr_text(&self) -> String {
        self.stderr
            .lock()
            .expect("stderr buffer lock is not poisoned")
            .clone()
    }

    /// Kills the server and waits for it to be gone, so another can use its data directory.
    pub async fn stop(mut self) {
        self.child.kill().await.expect("the server can be killed");
    }
}

/// Starts `switchyard serve --listen <listen> --admin-listen 127.0.0.1:0` with the default admin
/// token on `data_dir`, plus `args`; waits for it to print its listening line or to exit.
pub async fn serve_on(listen: &str, data_dir: &Path, args: &[&str]) -> Served {
    serve_on_with_env(listen, data_dir, args, &[]).await
}

/// [`serve_on`] with environment variables set for the child.
pub async fn serve_on_with_env(
    listen: &str,
    data_dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Served {
    let bin = tokio::task::spawn_blocking(switchyard_bin)
        .await
        .expect("building the switchyard binary did not panic");
    let mut command = Command::new(&bin);
    command
        .arg("serve")
        .args(["--listen", listen, "--admin-listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--admin-token", DEFAULT_ADMIN_TOKEN])
        .args(args);
    for key in crate::server::GATEWAY_ENV {
        command.env_remove(key);
    }
    // The data dir's store on PostgreSQL when the suite runs there (see `store_engine`).
    if let Some(url) = crate::store_engine::database_url_for(data_dir) {
        command.env("SWITCHYARD_DATABASE_URL", url);
    }
    command.envs(env.iter().copied());
    command
        .env("RUST_LOG", "info,switchyard=debug")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {}: {e}", bin.display()));
    let stderr = Arc::new(Mutex::new(String::new()));
    let stderr_pipe = child.stderr.take().expect("stderr is piped");
    let buffer = Arc::clone(&stderr);
    let drain = tokio::spawn(async move {
        let mut lines = BufReader::new(stderr_pipe).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("[switchyard] {line}");
            let mut text = buffer.lock().expect("stderr buffer lock is not poisoned");
            text.push_str(&line);
            text.push('\n');
        }
    });
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut printed = String::new();
    let announced = tokio::time::timeout(Duration::from_secs(20), async {
        let mut line = String::new();
        loop {
            line.clear();
            match stdout.read_line(&mut line).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
            if let Some(urls) = parse_listening_line(&line) {
                return Some(urls);
            }
            printed.push_str(&line);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("switchyard neither listened nor exited within 20 s"));
    match announced {
        Some((announced_proxy_url, admin_url)) => {
            tokio::spawn(async move {
                let mut rest = String::new();
                let _ = stdout.read_to_string(&mut rest).await;
            });
            let port = announced_proxy_url
                .rsplit(':')
                .next()
                .expect("the proxy URL has a port");
            Served::Listening(Box::new(OpenServer {
                child,
                proxy_url: format!("http://127.0.0.1:{port}"),
                admin_url,
                announced_proxy_url,
                stderr,
                client: new_client(),
            }))
        }
        None => {
            let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .expect("switchyard exits after closing its stdout")
                .expect("waiting for the child works");
            let _ = tokio::time::timeout(Duration::from_secs(5), drain).await;
            let stderr = stderr
                .lock()
                .expect("stderr buffer lock is not poisoned")
                .clone();
            Served::Exited {
                status,
                stdout: printed,
                stderr,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn formats_rfc3339() {
        let at = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(rfc3339(at), "1994-11-06T08:49:37Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn a_mistyped_key_differs_in_its_last_character_only() {
        let issued = IssuedKey {
            id: 1,
            key: "sy-abc".into(),
            masked: "sy-…abc".into(),
            body: Value::Null,
        };
        assert_eq!(issued.mistyped(), "sy-aba");
        assert_eq!(issued.secret_part(), "abc");
        let ends_in_a = IssuedKey {
            key: "sy-xya".into(),
            ..issued
        };
        assert_eq!(ends_in_a.mistyped(), "sy-xyb");
    }
}
