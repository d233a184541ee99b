//! A mock of Vertex AI's Gemini models under a project and location
//! (`/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:generateContent`,
//! `:streamGenerateContent?alt=sse`, `:countTokens`, `:predict` for embeddings), with its own
//! OAuth2 token endpoint (`vertex/token.rs`). Model requests need `Authorization: Bearer` with a
//! token that endpoint issued, as Vertex needs a Google access token; answers are the Gemini
//! mock's (`super::gemini`), which Vertex shares.

mod keys;
mod token;

use std::ops::Deref;
use std::sync::Arc;

use axum::response::Response;
use serde_json::{Value, json};

pub use keys::{OTHER_PRIVATE_KEY, PRIVATE_KEY};
use token::Account;
pub use token::{CLOUD_PLATFORM, EXPIRES_IN, GRANT_TYPE};

use super::Script;
use super::fake::{MockServer, json_body, json_reply, split_query};
use super::gemini::{embedding_for, error_body};
use crate::mock::RecordedRequest;

/// The project and location the mock serves.
pub const PROJECT: &str = "conf-project";
pub const LOCATION: &str = "us-central1";
/// The key id the account's key file names (and assertions must carry as `kid`).
pub const PRIVATE_KEY_ID: &str = "5f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6";
/// What `countTokens` answers.
pub const COUNTED_TOKENS: u64 = 1913;

/// A mock Vertex AI endpoint and the token endpoint of its service account.
pub struct VertexMock {
    models: MockServer,
    tokens: MockServer,
    account: Arc<Account>,
    name: String,
}

impl VertexMock {
    pub async fn start(name: &str) -> VertexMock {
        let email = format!("{name}@{PROJECT}.iam.gserviceaccount.com");
        let account = Arc::new(Account::new(&email, PRIVATE_KEY_ID));
        let issuer = Arc::clone(&account);
        let tokens =
            MockServer::start(Arc::new(move |request, _| token::respond(&issuer, request))).await;
        let uri = format!("http://127.0.0.1:{}/token", tokens.port());
        account
            .token_uri
            .set(uri)
            .expect("the token URI is set once");
        let checker = Arc::clone(&account);
        let owner = name.to_owned();
        let models = MockServer::start(Arc::new(move |request, script| {
            respond(&owner, &checker, request, script)
        }))
        .await;
        VertexMock {
            models,
            tokens,
            account,
            name: name.to_owned(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The project's models in the location, as the provider's `base_url`.
    pub fn base_url(&self) -> String {
        let port = self.models.port();
        format!("http://127.0.0.1:{port}/v1/projects/{PROJECT}/locations/{LOCATION}")
    }

    /// The token endpoint, as the key file's `token_uri`.
    pub fn token_uri(&self) -> &str {
        self.account.token_uri.get().map_or("", String::as_str)
    }

    /// A service account key file, as the Cloud console downloads it, with `private_key`.
    pub fn key_file(&self, private_key: &str) -> Value {
        json!({
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": PRIVATE_KEY_ID,
            "private_key": private_key,
            "client_email": self.account.client_email,
            "client_id": "103958472619384756102",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri(),
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "universe_domain": "googleapis.com",
        })
    }

    /// The provider to register: the key file (signed with the account's key) as its key.
    pub fn spec(&self) -> Value {
        self.spec_with_key(PRIVATE_KEY)
    }

    /// The provider with a key file holding `private_key` instead.
    pub fn spec_with_key(&self, private_key: &str) -> Value {
        json!({
            "name": self.name, "type": "vertex", "base_url": self.base_url(),
            "api_keys": [self.key_file(private_key).to_string()],
        })
    }

    /// Every request to the token endpoint, oldest first.
    pub fn token_requests(&self) -> Vec<RecordedRequest> {
        self.tokens.requests()
    }

    /// The access tokens the token endpoint issued, oldest first.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.account.issued()
    }
}

impl Deref for VertexMock {
    type Target = MockServer;

    /// The model endpoint's server: its requests and scripts.
    fn deref(&self) -> &MockServer {
        &self.models
    }
}

fn error(status: u16, kind: &str, message: &str) -> Response {
    json_reply(status, &error_body(status, kind, message))
}

const MISSING: &str = "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";
const INVALID: &str = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";

/// The model (percent-decoded) and method of a path under the mock's project and location.
pub fn model_and_method(path: &str) -> Option<(String, String)> {
    let (path, _) = split_query(path);
    let prefix = format!("/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/");
    let (model, method) = path.strip_prefix(&prefix)?.rsplit_once(':')?;
    Some((super::bedrock::percent_decode(model)?, method.to_owned()))
}

fn respond(
    name: &str,
    account: &Account,
    request: &RecordedRequest,
    script: Option<Script>,
) -> Response {
    if request.method != http::Method::POST {
        return error(405, "INVALID_ARGUMENT", "Method not allowed");
    }
    if request.header("x-goog-api-key").is_some() {
        return error(
            401,
            "UNAUTHENTICATED",
            "API keys are not supported by this API. Expected OAuth2 access token or other authentication credentials that assert a principal. See https://cloud.google.com/docs/authentication",
        );
    }
    match request.bearer() {
        None => return error(401, "UNAUTHENTICATED", MISSING),
        Some(token) if !account.is_issued(token) => {
            return error(401, "UNAUTHENTICATED", INVALID);
        }
        Some(_) => {}
    }
    let Some((model, method)) = model_and_method(&request.path) else {
        return error(
            404,
            "NOT_FOUND",
            "The requested URL was not found on this server.",
        );
    };
    let Some(body) = json_body(request) else {
        return error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
    };
    let (_, query) = split_query(&request.path);
    match method.as_str() {
        "predict" => predict(&body),
        "countTokens" => json_reply(200, &json!({"totalTokens": COUNTED_TOKENS})),
        "generateContent" | "streamGenerateContent" => {
            if let Some(problem) = check_contents(&body) {
                return error(400, "INVALID_ARGUMENT", &problem);
            }
            let stream = method == "streamGenerateContent";
            if stream != (query == "alt=sse") {
                return error(400, "INVALID_ARGUMENT", "Streams must ask for alt=sse.");
            }
            super::gemini::generate_reply(name, &model, stream, script)
        }
        other => error(404, "NOT_FOUND", &format!("Unknown method {other}.")),
    }
}

/// Vertex's requirements on `contents`: roles `user` or `model`, parts in every turn, and no
/// fields of other APIs.
fn check_contents(body: &Value) -> Option<String> {
    if let Some(object) = body.as_object()
        && let Some(extra) = object.keys().find(|k| {
            ![
                "contents",
                "systemInstruction",
                "tools",
                "toolConfig",
                "generationConfig",
                "safetySettings",
                "cachedContent",
                "labels",
            ]
            .contains(&k.as_str())
        })
    {
        return Some(format!(
            "Invalid JSON payload received. Unknown name \"{extra}\": Cannot find field."
        ));
    }
    let contents = body["contents"].as_array().filter(|c| !c.is_empty());
    let Some(contents) = contents else {
        return Some("Unable to submit request because it must include at least one parts field, which describes the prompt input.".into());
    };
    for content in contents {
        if !matches!(content["role"].as_str(), Some("user" | "model")) {
            return Some(format!("Please use a valid role: user, model. ({content})"));
        }
        if content["parts"].as_array().is_none_or(Vec::is_empty) {
            return Some("Unable to submit request because it has an empty contents field.".into());
        }
    }
    None
}

/// Text embeddings: `{"instances": [{"content"}]}` answered with a prediction per instance,
/// each with [`embedding_for`]'s values and its token count.
fn predict(body: &Value) -> Response {
    let Some(instances) = body["instances"].as_array().filter(|i| !i.is_empty()) else {
        return error(400, "INVALID_ARGUMENT", "instances must not be empty");
    };
    let mut predictions = Vec::new();
    let mut characters = 0;
    for (i, instance) in instances.iter().enumerate() {
        let Some(text) = instance["content"].as_str() else {
            return error(
                400,
                "INVALID_ARGUMENT",
                "Each instance needs a content string.",
            );
        };
        characters += text.len();
        let tokens = text.split_whitespace().count();
        predictions.push(json!({"embeddings": {
            "statistics": {"truncated": false, "token_count": tokens},
            "values": embedding_for(i, text),
        }}));
    }
    json_reply(
        200,
        &json!({"predictions": predictions, "metadata": {"billableCharacterCount": characters}}),
    )
}
