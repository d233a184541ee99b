//! The gateway's HTTP helpers: admin API calls with the bearer token, and proxy requests.

use reqwest::Method;
use serde_json::Value;

use super::Gateway;
use crate::http_client::ApiResponse;

impl Gateway {
    /// Sends a request to the admin API with an explicit token (or none) and raw JSON bytes.
    pub async fn admin_request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> ApiResponse {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.admin_url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        ApiResponse::send(request).await
    }

    fn token(&self) -> Option<&str> {
        self.options.admin_token.as_deref()
    }

    /// `GET` on the admin API with the configured token; `path` starts with `/api/`.
    pub async fn admin_get(&self, path: &str) -> ApiResponse {
        self.admin_request(Method::GET, path, self.token(), None)
            .await
    }

    /// `POST` of a JSON body on the admin API with the configured token.
    pub async fn admin_post(&self, path: &str, body: &Value) -> ApiResponse {
        let bytes = serde_json::to_vec(body).expect("JSON values serialize");
        self.admin_request(Method::POST, path, self.token(), Some(bytes))
            .await
    }

    /// `PUT` of a JSON body on the admin API with the configured token.
    pub async fn admin_put(&self, path: &str, body: &Value) -> ApiResponse {
        let bytes = serde_json::to_vec(body).expect("JSON values serialize");
        self.admin_request(Method::PUT, path, self.token(), Some(bytes))
            .await
    }

    /// `DELETE` on the admin API with the configured token.
    pub async fn admin_delete(&self, path: &str) -> ApiResponse {
        self.admin_request(Method::DELETE, path, self.token(), None)
            .await
    }

    /// Creates a provider through the admin API, asserting 201.
    pub async fn add_provider(&self, spec: &Value) -> ApiResponse {
        let response = self.admin_post("/api/providers", spec).await;
        response.expect_status(201, &format!("creating provider {}", spec["name"]));
        response
    }

    /// Creates a route through the admin API, asserting 201.
    pub async fn add_route(&self, spec: &Value) -> ApiResponse {
        let response = self.admin_post("/api/routes", spec).await;
        response.expect_status(201, &format!("creating route {}", spec["name"]));
        response
    }

    /// A request builder for any method and path on the proxy, to add headers or a body to.
    pub fn proxy_request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.proxy_url))
    }

    /// `POST /v1/chat/completions` with a JSON body, read completely.
    pub async fn chat(&self, body: &Value) -> ApiResponse {
        ApiResponse::send(self.chat_request(body)).await
    }

    /// `POST /v1/chat/completions` with raw bytes as the body.
    pub async fn chat_raw(&self, body: impl Into<reqwest::Body>) -> ApiResponse {
        let request = self
            .proxy_request(Method::POST, "/v1/chat/completions")
            .header("content-type", "application/json")
            .body(body);
        ApiResponse::send(request).await
    }

    /// The request builder behind [`Gateway::chat`], for adding headers or sending it elsewhere.
    pub fn chat_request(&self, body: &Value) -> reqwest::RequestBuilder {
        self.proxy_request(Method::POST, "/v1/chat/completions")
            .json(body)
    }

    /// `POST /v1/embeddings` with a JSON body.
    pub async fn embeddings(&self, body: &Value) -> ApiResponse {
        ApiResponse::send(
            self.proxy_request(Method::POST, "/v1/embeddings")
                .json(body),
        )
        .await
    }

    /// `GET /v1/models`.
    pub async fn models(&self) -> ApiResponse {
        ApiResponse::send(self.proxy_request(Method::GET, "/v1/models")).await
    }

    /// `POST /v1/chat/completions` for a stream: returns as soon as the headers arrive.
    pub async fn chat_stream(&self, body: &Value) -> reqwest::Response {
        self.chat_request(body)
            .send()
            .await
            .expect("the streaming request gets response headers")
    }
}
