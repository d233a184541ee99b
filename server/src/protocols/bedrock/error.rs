//! Bedrock's errors: a JSON body `{"message": …}` whose class travels in the `x-amzn-ErrorType`
//! header, sometimes also in the body as `__type`, and the exceptions of a ConverseStream (which
//! the event-stream transcoder writes as `{"__type", "message"}`). Each class stands for one
//! HTTP status, as Bedrock's service model declares it.

use serde_json::Value;

use crate::protocols::{Cause, UpstreamErrorBody};

/// An error class as its bare name: `__type` may carry a namespace (`…#ThrottlingException`) or
/// a trailing URI (`ThrottlingException:http://…`), and stream exceptions start in lower case
/// (`throttlingException`).
pub fn exception_name(raw: &str) -> String {
    let name = raw.rsplit('#').next().unwrap_or(raw);
    let name = name.split(':').next().unwrap_or(name).trim();
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// The status and the OpenAI error `type` of an error class.
fn class(name: &str) -> Option<(u16, &'static str)> {
    Some(match name {
        "ValidationException" | "IncompleteSignatureException" | "SerializationException" => {
            (400, "invalid_request_error")
        }
        // Bedrock declares its quota error a client error (400); the cause says what it means.
        "ServiceQuotaExceededException" => (400, "insufficient_quota"),
        "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "ExpiredTokenException"
        | "MissingAuthenticationTokenException" => (403, "authentication_error"),
        "AccessDeniedException" => (403, "permission_error"),
        "ResourceNotFoundException" => (404, "not_found_error"),
        "ModelTimeoutException" => (408, "timeout_error"),
        "ModelErrorException" | "ModelStreamErrorException" => (424, "api_error"),
        "ThrottlingException" => (429, "rate_limit_exceeded"),
        // A model that is not ready yet asks to be retried, as a throttle does.
        "ModelNotReadyException" => (429, "api_error"),
        "InternalServerException" | "InternalFailure" => (500, "api_error"),
        "ServiceUnavailableException" => (503, "api_error"),
        _ => return None,
    })
}

/// Bedrock names no code for an over-long prompt: its messages are the only sign, and they vary
/// with the model behind it.
fn cause(name: &str, message: &str) -> Cause {
    let lower = message.to_ascii_lowercase();
    let context = [
        "input is too long",
        "too many input tokens",
        "prompt is too long",
        "context length",
        "context window",
        "maximum context",
    ];
    if context.iter().any(|needle| lower.contains(needle)) {
        Cause::ContextLength
    } else if name == "ServiceQuotaExceededException"
        || lower.contains("per day")
        || lower.contains("quota")
    {
        Cause::Quota
    } else {
        Cause::Unspecified
    }
}

/// Reads `{"message": …}` (or `"Message"`), with the class from `__type` when the body has it.
/// Anything else is read as OpenAI's loose shapes are.
pub fn parse_error_body(body: &[u8]) -> UpstreamErrorBody {
    let parsed = serde_json::from_slice::<Value>(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|v| v.get("message").or_else(|| v.get("Message")))
        .and_then(Value::as_str);
    let Some(message) = message else {
        return crate::protocols::openai::parse_error_body(body);
    };
    let name = parsed
        .as_ref()
        .and_then(|v| v.get("__type"))
        .and_then(Value::as_str)
        .map(exception_name)
        .filter(|name| !name.is_empty());
    let known = name.as_deref().and_then(class);
    UpstreamErrorBody {
        message: message.to_owned(),
        kind: known.map(|(_, kind)| kind.to_owned()),
        code: name.clone().map(Value::from),
        param: None,
        cause: cause(name.as_deref().unwrap_or_default(), message),
        status: known.map(|(status, _)| status),
    }
}

/// The OpenAI error object for a stream's exception event (`{"__type", "message"}`).
pub fn stream_error(data: &[u8]) -> Value {
    let parsed = parse_error_body(data);
    let kind = parsed.kind.as_deref().unwrap_or("api_error");
    let code = parsed
        .code
        .as_ref()
        .and_then(Value::as_str)
        .unwrap_or("upstream_error");
    crate::stream::stream_error(&parsed.message, kind, code)
}
