//! A mock of OpenAI's own API (provider type `openai`) under `/v1`: chat completions, the
//! Responses API natively (JSON and its typed event stream), legacy completions, image
//! generation, text to speech, transcriptions (a multipart upload, parsed strictly), moderations
//! and rerank; and a chat-only variant for the OpenAI-compatible servers that serve nothing but
//! chat (DeepSeek, vLLM), which answers every other path with OpenAI's 404. Both check
//! `Authorization: Bearer <key>` and record every request.

use axum::body::Body;
use axum::response::Response;
use serde_json::Value;

use super::fake::{ProviderMock, json_body, json_reply, split_query, sse_reply};
use super::{Answer, Script, endpoints, openai, responses};
use crate::mock::RecordedRequest;

/// A mock OpenAI (or OpenAI-compatible) server; its key is the `test_key` of its name.
pub type OpenAiMock = ProviderMock;

/// Starts a mock of OpenAI's whole API named `name`, of provider type `openai`.
pub async fn mock(name: &str) -> OpenAiMock {
    ProviderMock::start(name, "openai", "/v1", respond_all).await
}

/// Starts a mock of a server that speaks only OpenAI's chat completions, of provider type `kind`
/// (`deepseek`, `openai-compatible`, …).
pub async fn chat_only(name: &str, kind: &'static str) -> OpenAiMock {
    ProviderMock::start(name, kind, "/v1", respond_chat_only).await
}

fn error(status: u16, kind: &str, code: Option<&str>, message: &str) -> Response {
    let body = serde_json::json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    json_reply(status, &body)
}

/// The answer to a request the mock refuses, boxed: a response is large for an `Err`.
type Refusal = Box<Response>;

fn refuse(status: u16, kind: &str, code: Option<&str>, message: &str) -> Refusal {
    Box::new(error(status, kind, code, message))
}

/// OpenAI's answer to a path it does not serve.
fn invalid_url(request: &RecordedRequest) -> Response {
    let (path, _) = split_query(&request.path);
    let message = format!("Invalid URL ({} {path})", request.method);
    error(404, "invalid_request_error", None, &message)
}

/// The checks every path shares; `Err` is the answer to a request that fails them.
fn admit(key: &str, request: &RecordedRequest) -> Result<(), Refusal> {
    if request.method != http::Method::POST {
        return Err(Box::new(invalid_url(request)));
    }
    if request.bearer() != Some(key) {
        return Err(Box::new(error(
            401,
            "invalid_request_error",
            Some("invalid_api_key"),
            "Incorrect API key provided.",
        )));
    }
    Ok(())
}

/// A JSON body with a string `model`, as every JSON endpoint requires.
fn json_request(request: &RecordedRequest) -> Result<(Value, String), Refusal> {
    let Some(body) = json_body(request).filter(Value::is_object) else {
        return Err(Box::new(error(
            400,
            "invalid_request_error",
            None,
            "We could not parse the JSON body of your request.",
        )));
    };
    let Some(model) = body["model"].as_str().map(str::to_owned) else {
        return Err(Box::new(error(
            400,
            "invalid_request_error",
            Some("missing_required_parameter"),
            "Missing required parameter: 'model'.",
        )));
    };
    Ok((body, model))
}

/// The scripted answer, or the default one naming the mock.
fn answer_of(name: &str, script: Option<Script>) -> Result<(Answer, bool), Refusal> {
    match script {
        None => Ok((Answer::text(&format!("hello from {name}")), false)),
        Some(Script::Answer(answer)) => Ok((answer, false)),
        Some(Script::Truncated(answer)) => Ok((answer, true)),
        Some(Script::Error {
            status,
            kind,
            message,
        }) => Err(Box::new(json_reply(
            status,
            &openai::error_body(&kind, &message),
        ))),
        Some(Script::StreamError {
            status,
            kind,
            message,
        }) => Err(Box::new(sse_reply(vec![openai::stream_error_event(
            status, &kind, &message,
        )]))),
    }
}

fn respond_chat_only(
    name: &str,
    key: &str,
    request: &RecordedRequest,
    script: Option<Script>,
) -> Response {
    if let Err(refusal) = admit(key, request) {
        return *refusal;
    }
    match split_query(&request.path).0 {
        "/v1/chat/completions" => chat(name, request, script).unwrap_or_else(|refusal| *refusal),
        _ => invalid_url(request),
    }
}

fn respond_all(
    name: &str,
    key: &str,
    request: &RecordedRequest,
    script: Option<Script>,
) -> Response {
    if let Err(refusal) = admit(key, request) {
        return *refusal;
    }
    let answered = match split_query(&request.path).0 {
        "/v1/chat/completions" => chat(name, request, script),
        "/v1/responses" => responses_api(name, request, script),
        "/v1/completions" => completions(name, request, script),
        "/v1/audio/transcriptions" => transcription(request, script),
        path @ ("/v1/images/generations"
        | "/v1/audio/speech"
        | "/v1/moderations"
        | "/v1/rerank") => other_endpoint(path, request, script),
        _ => return invalid_url(request),
    };
    answered.unwrap_or_else(|refusal| *refusal)
}

fn chat(
    name: &str,
    request: &RecordedRequest,
    script: Option<Script>,
) -> Result<Response, Refusal> {
    let (body, model) = json_request(request)?;
    let (answer, truncated) = answer_of(name, script)?;
    let include_usage = body["stream_options"]["include_usage"] == true;
    Ok(match (body["stream"] == true, truncated) {
        (_, true) => sse_reply(openai::truncated_events(&answer, &model)),
        (true, false) => sse_reply(openai::stream_events(&answer, &model, include_usage)),
        (false, false) => json_reply(200, &openai::completion(&answer, &model)),
    })
}

fn responses_api(
    name: &str,
    request: &RecordedRequest,
    script: Option<Script>,
) -> Result<Response, Refusal> {
    let (body, model) = json_request(request)?;
    if body.get("input").is_none_or(Value::is_null) && body.get("previous_response_id").is_none() {
        return Err(Box::new(error(
            400,
            "invalid_request_error",
            Some("missing_required_parameter"),
            "Missing required parameter: 'input'.",
        )));
    }
    let (answer, truncated) = answer_of(name, script)?;
    Ok(match (body["stream"] == true, truncated) {
        (_, true) => sse_reply(responses::truncated_events(&answer, &model, &body)),
        (true, false) => sse_reply(responses::stream_events(&answer, &model, &body)),
        (false, false) => json_reply(200, &responses::response(&answer, &model, &body)),
    })
}

fn completions(
    name: &str,
    request: &RecordedRequest,
    script: Option<Script>,
) -> Result<Response, Refusal> {
    let (body, model) = json_request(request)?;
    if body.get("prompt").is_none() {
        return Err(Box::new(error(
            400,
            "invalid_request_error",
            Some("missing_required_parameter"),
            "Missing required parameter: 'prompt'.",
        )));
    }
    let (answer, _) = answer_of(name, script)?;
    let include_usage = body["stream_options"]["include_usage"] == true;
    Ok(if body["stream"] == true {
        sse_reply(endpoints::completion_stream(&answer, &model, include_usage))
    } else {
        json_reply(200, &endpoints::completion(&answer, &model))
    })
}

/// Images, speech, moderations and rerank: a scripted error, or the endpoint's own answer.
fn other_endpoint(
    path: &str,
    request: &RecordedRequest,
    script: Option<Script>,
) -> Result<Response, Refusal> {
    let (body, model) = json_request(request)?;
    answer_of("", script)?;
    let text = |key: &str| body[key].as_str().map(str::to_owned);
    let missing = |key: &str| {
        refuse(
            400,
            "invalid_request_error",
            Some("missing_required_parameter"),
            &format!("Missing required parameter: '{key}'."),
        )
    };
    Ok(match path {
        "/v1/images/generations" => {
            let prompt = text("prompt").ok_or_else(|| missing("prompt"))?;
            json_reply(200, &endpoints::image(&model, &prompt))
        }
        "/v1/audio/speech" => {
            let input = text("input").ok_or_else(|| missing("input"))?;
            text("voice").ok_or_else(|| missing("voice"))?;
            Response::builder()
                .status(200)
                .header("content-type", "audio/mpeg")
                .body(Body::from(endpoints::speech(&input)))
                .expect("static audio headers are valid")
        }
        "/v1/moderations" => {
            body.get("input").ok_or_else(|| missing("input"))?;
            json_reply(200, &endpoints::moderation(&model))
        }
        _ => {
            let documents = body["documents"]
                .as_array()
                .ok_or_else(|| missing("documents"))?;
            json_reply(200, &endpoints::rerank(&model, documents.len()))
        }
    })
}

/// A transcription: the upload must be a well-formed form with a file and a model.
fn transcription(request: &RecordedRequest, script: Option<Script>) -> Result<Response, Refusal> {
    let content_type = request.header("content-type").unwrap_or_default();
    let parts = endpoints::parse_form(content_type, &request.body).map_err(|problem| {
        refuse(
            400,
            "invalid_request_error",
            None,
            &format!("Could not parse multipart form: {problem}"),
        )
    })?;
    let model = endpoints::form_field(&parts, "model").ok_or_else(|| {
        refuse(
            400,
            "invalid_request_error",
            Some("missing_required_parameter"),
            "Missing required parameter: 'model'.",
        )
    })?;
    let file = parts
        .iter()
        .find(|p| p.name == "file" && p.filename.is_some())
        .ok_or_else(|| {
            refuse(
                400,
                "invalid_request_error",
                Some("missing_required_parameter"),
                "Missing required parameter: 'file'.",
            )
        })?;
    answer_of("", script)?;
    Ok(json_reply(200, &endpoints::transcription(&model, file)))
}
