//! A mock of Azure OpenAI: OpenAI bodies at `/openai/deployments/{deployment}/{operation}` with an
//! `api-version` query and an `api-key` header, and the v1 API's Responses API at
//! `/openai/v1/responses`, whose body's `model` names the deployment. Unknown deployments and
//! versions get Azure's 404.

use std::ops::Deref;
use std::sync::Arc;

use axum::response::Response;
use serde_json::{Value, json};

use super::fake::{MockServer, json_body, json_reply, split_query, sse_reply};
use super::{Answer, Script, openai, responses};
use crate::fixtures::test_key;
use crate::mock::RecordedRequest;

/// The `api-version` the gateway sends unless the provider sets another.
pub const DEFAULT_API_VERSION: &str = "2024-10-21";

/// A mock Azure OpenAI resource with a fixed set of deployments; its key is [`test_key`] of its
/// name.
pub struct AzureMock {
    server: MockServer,
    name: String,
    key: String,
}

impl AzureMock {
    pub async fn start(name: &str, deployments: &[&str]) -> AzureMock {
        let key = test_key(name);
        let expected = key.clone();
        let owner = name.to_owned();
        let known: Vec<String> = deployments.iter().map(|d| (*d).to_owned()).collect();
        let server = MockServer::start(Arc::new(move |request, script| {
            respond(&owner, &expected, &known, request, script)
        }))
        .await;
        AzureMock {
            server,
            name: name.to_owned(),
            key,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// `http://127.0.0.1:<port>`, the resource's endpoint, as the provider's `base_url`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port())
    }

    /// The provider to register for this mock, mapping model names to deployments.
    pub fn spec(&self, deployments: Value) -> Value {
        json!({
            "name": self.name, "type": "azure", "base_url": self.base_url(),
            "api_keys": [self.key], "deployments": deployments,
        })
    }
}

impl Deref for AzureMock {
    type Target = MockServer;

    fn deref(&self) -> &MockServer {
        &self.server
    }
}

/// Azure's error body, whose `code` is a string such as `"429"` or `"DeploymentNotFound"`.
pub fn error_body(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message}})
}

fn error(status: u16, code: &str, message: &str) -> Response {
    json_reply(status, &error_body(code, message))
}

/// The deployment and operation of a `/openai/deployments/{d}/{operation}` path.
pub fn deployment_and_operation(path: &str) -> Option<(&str, &str)> {
    let (path, _) = split_query(path);
    path.strip_prefix("/openai/deployments/")?.split_once('/')
}

fn respond(
    name: &str,
    key: &str,
    known: &[String],
    request: &RecordedRequest,
    script: Option<Script>,
) -> Response {
    if request.header("api-key") != Some(key) || request.header("authorization").is_some() {
        return error(
            401,
            "401",
            "Access denied due to invalid subscription key or wrong API endpoint.",
        );
    }
    let (path, query) = split_query(&request.path);
    if path == "/openai/v1/responses" {
        return responses_v1(name, known, request, script);
    }
    if query != format!("api-version={DEFAULT_API_VERSION}") {
        return error(404, "404", "Resource not found");
    }
    let Some((deployment, operation)) = deployment_and_operation(&request.path) else {
        return error(404, "404", "Resource not found");
    };
    if !known.iter().any(|d| d == deployment) {
        return error(
            404,
            "DeploymentNotFound",
            "The API deployment for this resource does not exist.",
        );
    }
    let Some(body) = json_body(request) else {
        return error(400, "BadRequest", "The request body is not JSON.");
    };
    let model = body["model"].as_str().unwrap_or(deployment).to_owned();
    match operation {
        "embeddings" => {
            let inputs: Vec<&str> = match &body["input"] {
                Value::String(text) => vec![text.as_str()],
                Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                _ => return error(400, "BadRequest", "input is required"),
            };
            json_reply(200, &openai::embeddings(&inputs, &model))
        }
        "chat/completions" => {
            let stream = body["stream"] == true;
            let include_usage = body["stream_options"]["include_usage"] == true;
            let script = script
                .unwrap_or_else(|| Script::Answer(Answer::text(&format!("hello from {name}"))));
            match script {
                Script::Answer(answer) if stream => {
                    sse_reply(openai::stream_events(&answer, &model, include_usage))
                }
                Script::Answer(answer) => json_reply(200, &openai::completion(&answer, &model)),
                Script::Truncated(answer) => sse_reply(openai::truncated_events(&answer, &model)),
                Script::Error {
                    status,
                    kind,
                    message,
                } => error(status, &kind, &message),
                Script::StreamError {
                    status,
                    kind,
                    message,
                } => sse_reply(vec![openai::stream_error_event(status, &kind, &message)]),
            }
        }
        _ => error(404, "404", "Resource not found"),
    }
}

/// The v1 API's Responses API: one path for every deployment, which the body's `model` names.
fn responses_v1(
    name: &str,
    known: &[String],
    request: &RecordedRequest,
    script: Option<Script>,
) -> Response {
    let Some(body) = json_body(request) else {
        return error(400, "BadRequest", "The request body is not JSON.");
    };
    let deployment = body["model"].as_str().unwrap_or_default();
    if !known.iter().any(|d| d == deployment) {
        return error(
            404,
            "DeploymentNotFound",
            "The API deployment for this resource does not exist.",
        );
    }
    let script =
        script.unwrap_or_else(|| Script::Answer(Answer::text(&format!("hello from {name}"))));
    match script {
        Script::Answer(answer) if body["stream"] == true => {
            sse_reply(responses::stream_events(&answer, deployment, &body))
        }
        Script::Answer(answer) => json_reply(200, &responses::response(&answer, deployment, &body)),
        Script::Truncated(answer) => {
            sse_reply(responses::truncated_events(&answer, deployment, &body))
        }
        Script::Error {
            status,
            kind,
            message,
        }
        | Script::StreamError {
            status,
            kind,
            message,
        } => error(status, &kind, &message),
    }
}
