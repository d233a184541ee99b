//! How a request must reach each provider type: method, path (with the model, deployment or
//! project where the protocol puts it), the model in the body or not, and the credentials in the
//! protocol's one auth header: a key, a SigV4 signature, or a service account's access token.
//! Also the typed mocks of the harnesses whose provider has tests of its own.

use std::time::SystemTime;

use http::Method;
use serde_json::json;

use super::{BEDROCK_REGION, Fake, Harness, Kind, Op};
use crate::fixtures::test_key;
use crate::mock::RecordedRequest;
use crate::providers::bedrock::{BedrockMock, SIGNING_SERVICE};
use crate::providers::cohere::CohereMock;
use crate::providers::sigv4::{self, parse_authorization};
use crate::providers::vertex::{LOCATION, PROJECT, VertexMock};
use crate::providers::{anthropic, azure};

/// The headers that carry a key in one protocol or another; a request carries only its own.
const AUTH_HEADERS: [&str; 4] = ["authorization", "x-api-key", "x-goog-api-key", "api-key"];

/// A model id as one path segment, percent-encoded as the AWS SDKs and Google's clients do.
fn segment(model: &str) -> String {
    model
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Harness {
    /// The Bedrock mock of a Bedrock harness.
    pub fn bedrock(&self) -> &BedrockMock {
        match &self.fake {
            Fake::Bedrock(mock) => mock,
            _ => panic!("{:?} is not a Bedrock harness", self.kind),
        }
    }

    /// The Vertex AI mock of a Vertex harness.
    pub fn vertex(&self) -> &VertexMock {
        match &self.fake {
            Fake::Vertex(mock) => mock,
            _ => panic!("{:?} is not a Vertex harness", self.kind),
        }
    }

    /// The Cohere mock of a Cohere harness.
    pub fn cohere(&self) -> &CohereMock {
        match &self.fake {
            Fake::Cohere(mock) => mock,
            _ => panic!("{:?} is not a Cohere harness", self.kind),
        }
    }

    /// Asserts how a request reached the provider: method, path (with the model or deployment
    /// where the protocol puts it), credentials in the protocol's one auth header, and the model.
    pub fn assert_addressed(&self, request: &RecordedRequest, op: Op) {
        let kind = self.kind;
        let model = match op {
            Op::Embeddings => kind.embedding_model(),
            Op::Chat | Op::Stream => kind.upstream_model(),
        };
        assert_eq!(request.method, Method::POST);
        assert_eq!(request.header("content-type"), Some("application/json"));
        if op == Op::Stream {
            assert_eq!(request.header("accept"), Some("text/event-stream"));
        }
        let body = request.json();
        let path = match kind {
            Kind::OpenAi if op == Op::Embeddings => "/v1/embeddings".to_owned(),
            Kind::OpenAi => "/v1/chat/completions".to_owned(),
            Kind::Anthropic => {
                let version = request.header("anthropic-version");
                assert_eq!(version, Some(anthropic::DEFAULT_VERSION));
                let stream = body.get("stream");
                assert_eq!(stream, (op == Op::Stream).then_some(&json!(true)));
                "/v1/messages".to_owned()
            }
            Kind::Gemini | Kind::Vertex => {
                let method = match op {
                    Op::Chat => "generateContent",
                    Op::Stream => "streamGenerateContent?alt=sse",
                    Op::Embeddings if kind == Kind::Gemini => "batchEmbedContents",
                    Op::Embeddings => "predict",
                };
                assert!(body.get("model").is_none(), "Gemini bodies carry no model");
                let model = segment(model);
                match kind {
                    Kind::Gemini => format!("/v1beta/models/{model}:{method}"),
                    _ => format!(
                        "/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/{model}:{method}"
                    ),
                }
            }
            Kind::Azure => {
                let (deployment, operation) = match op {
                    Op::Embeddings => ("embed-prod", "embeddings"),
                    Op::Chat | Op::Stream => ("prod-4o", "chat/completions"),
                };
                let version = azure::DEFAULT_API_VERSION;
                format!("/openai/deployments/{deployment}/{operation}?api-version={version}")
            }
            Kind::Bedrock => {
                assert!(
                    body.get("model").is_none(),
                    "Converse bodies carry no model"
                );
                let operation = match op {
                    Op::Chat => "converse",
                    Op::Stream => "converse-stream",
                    Op::Embeddings => panic!("Bedrock has no embeddings to address"),
                };
                format!("/model/{}/{operation}", segment(model))
            }
            Kind::Cohere => {
                let stream = body.get("stream").unwrap_or(&json!(false)).clone();
                assert_eq!(stream, json!(op == Op::Stream), "Cohere's stream flag");
                let operation = if op == Op::Embeddings {
                    "embed"
                } else {
                    "chat"
                };
                format!("/v2/{operation}")
            }
        };
        assert_eq!(request.path, path, "{kind:?} request path");
        if !matches!(kind, Kind::Gemini | Kind::Vertex | Kind::Bedrock) {
            assert_eq!(body["model"], model, "{kind:?} body model");
        }
        let auth_header = match kind {
            Kind::Anthropic => "x-api-key",
            Kind::Gemini => "x-goog-api-key",
            Kind::Azure => "api-key",
            Kind::OpenAi | Kind::Bedrock | Kind::Vertex | Kind::Cohere => "authorization",
        };
        self.assert_credentials(request, auth_header);
        for other in AUTH_HEADERS {
            if other != auth_header {
                assert!(
                    request.header(other).is_none(),
                    "{kind:?} request carries a stray {other} header"
                );
            }
        }
    }

    /// Asserts the credentials in `header`: the provider's key, a signature the mock's own
    /// SigV4 verifies, or an access token the mock's token endpoint issued.
    fn assert_credentials(&self, request: &RecordedRequest, header: &str) {
        let value = request
            .header(header)
            .unwrap_or_else(|| panic!("{:?} request without {header}", self.kind));
        let key = test_key(self.kind.provider_name());
        match &self.fake {
            Fake::Bedrock(mock) => {
                let auth = parse_authorization(value).expect("a SigV4 authorization");
                assert_eq!(auth.access_key_id, mock.key().access_key_id);
                let scope = [&auth.region, &auth.service];
                assert_eq!(scope, [BEDROCK_REGION, SIGNING_SERVICE]);
                let verified = sigv4::verify(
                    request,
                    mock.key(),
                    BEDROCK_REGION,
                    SIGNING_SERVICE,
                    SystemTime::now(),
                );
                assert_eq!(verified, Ok(()), "the Bedrock request's signature");
            }
            Fake::Vertex(mock) => {
                let token = value.strip_prefix("Bearer ").expect("a bearer token");
                let issued = mock.issued_tokens();
                assert!(
                    issued.iter().any(|t| t == token),
                    "{token} was never issued"
                );
            }
            Fake::OpenAi(_) | Fake::Cohere(_) => assert_eq!(value, format!("Bearer {key}")),
            Fake::Anthropic(_) | Fake::Gemini(_) | Fake::Azure(_) => assert_eq!(value, key),
        }
    }
}
