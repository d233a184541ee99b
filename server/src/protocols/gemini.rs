//! Google's Gemini API, both ways. To Gemini providers: OpenAI chat requests translated here
//! (generateContent, streamGenerateContent, batchEmbedContents), answers and errors read back,
//! the stream decoded in `gemini/decode.rs`. From Gemini clients (the google-genai SDKs):
//! `gemini/inbound.rs` (requests to the common form, answers back), `gemini/encode.rs` (stream
//! items as Gemini chunks) and `gemini/passthrough.rs` (Gemini to Gemini). `gemini/protocol.rs`
//! is what the exchange sees of all this.

mod client;
mod decode;
mod encode;
pub mod inbound;
mod passthrough;
mod protocol;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use serde_json::{Map, Value, json};

pub use client::GeminiClient;
pub use decode::GeminiDecoder;
pub use encode::GeminiEncoder;
pub use passthrough::GeminiPassthrough;
pub use protocol::GeminiProvider;

use super::{Cause, UpstreamErrorBody};
use super::{ImageSource, content_text, image_source, push_turn};
use crate::stream::now_secs;
use crate::usage::Usage;

/// `finish_reason` for a Gemini `finishReason`.
pub fn finish_reason(reason: &str, has_tool_calls: bool) -> &'static str {
    match reason {
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            "content_filter"
        }
        _ if has_tool_calls => "tool_calls",
        _ => "stop",
    }
}

fn image_part(url: &str) -> Result<Value, String> {
    Ok(match image_source(url)? {
        ImageSource::Inline { media_type, data } => {
            json!({"inlineData": {"mimeType": media_type, "data": data}})
        }
        ImageSource::Url(url) => {
            // Gemini wants a MIME type for a file it fetches; the extension is the only hint.
            let lower = url.to_ascii_lowercase();
            let mime = if lower.ends_with(".png") {
                "image/png"
            } else if lower.ends_with(".webp") {
                "image/webp"
            } else if lower.ends_with(".gif") {
                "image/gif"
            } else {
                "image/jpeg"
            };
            json!({"fileData": {"mimeType": mime, "fileUri": url}})
        }
    })
}

fn content_parts(content: Option<&Value>) -> Result<Vec<Value>, String> {
    match content {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) if text.is_empty() => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![json!({"text": text})]),
        Some(Value::Array(parts)) => parts
            .iter()
            .map(|part| match part.get("type").and_then(Value::as_str) {
                Some("text") => {
                    Ok(json!({"text": part.get("text").cloned().unwrap_or(Value::from(""))}))
                }
                Some("image_url") => part
                    .pointer("/image_url/url")
                    .or_else(|| part.get("image_url"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| "image_url parts need image_url.url".to_owned())
                    .and_then(image_part),
                Some(other) => Err(format!(
                    "content parts of type '{other}' cannot be sent to Gemini"
                )),
                None => Err("content parts need a type".into()),
            })
            .collect(),
        Some(_) => Err("message content must be a string or an array of parts".into()),
    }
}

/// Gemini takes an OpenAPI subset of JSON Schema and rejects keys outside it, which JSON Schema
/// generators emit routinely; they are dropped.
fn sanitize_schema(schema: &Value) -> Value {
    const DROPPED: [&str; 6] = [
        "additionalProperties",
        "$schema",
        "$id",
        "strict",
        "default",
        "examples",
    ];
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(key, _)| !DROPPED.contains(&key.as_str()))
                .map(|(key, value)| (key.clone(), sanitize_schema(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(sanitize_schema).collect()),
        other => other.clone(),
    }
}

/// Translates an OpenAI chat completion request into a generateContent body.
pub fn request(openai: &Value) -> Result<Value, String> {
    let messages = openai
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("messages must be an array")?;
    let mut system = Vec::new();
    let mut contents: Vec<(String, Vec<Value>)> = Vec::new();
    // Gemini names a function response by the function's name; OpenAI by the call's id.
    let mut call_names: HashMap<String, String> = HashMap::new();
    for message in messages {
        let content = message.get("content");
        match message.get("role").and_then(Value::as_str) {
            Some("system" | "developer") => {
                let text = content_text(content);
                if !text.is_empty() {
                    system.push(json!({"text": text}));
                }
            }
            Some("user") => push_turn(&mut contents, "user", content_parts(content)?),
            Some("assistant") => {
                let mut parts = content_parts(content)?;
                for call in message
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let name = call
                        .pointer("/function/name")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    if let Some(id) = call.get("id").and_then(Value::as_str) {
                        call_names.insert(id.to_owned(), name.to_owned());
                    }
                    let arguments = call
                        .pointer("/function/arguments")
                        .and_then(Value::as_str)
                        .unwrap_or("{}");
                    let args: Value = serde_json::from_str(arguments).unwrap_or_else(|_| json!({}));
                    parts.push(json!({"functionCall": {"name": name, "args": args}}));
                }
                push_turn(&mut contents, "model", parts);
            }
            Some("tool") => {
                let id = message
                    .get("tool_call_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let name = call_names.get(id).cloned().unwrap_or_else(|| id.to_owned());
                let text = content_text(content);
                let response = match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Object(object)) => Value::Object(object),
                    _ => json!({"content": text}),
                };
                push_turn(
                    &mut contents,
                    "user",
                    vec![json!({"functionResponse": {"name": name, "response": response}})],
                );
            }
            Some(other) => {
                return Err(format!(
                    "messages with role '{other}' cannot be sent to Gemini"
                ));
            }
            None => return Err("every message needs a role".into()),
        }
    }

    let mut out = Map::new();
    out.insert(
        "contents".into(),
        Value::Array(
            contents
                .into_iter()
                .map(|(role, parts)| json!({"role": role, "parts": parts}))
                .collect(),
        ),
    );
    if !system.is_empty() {
        out.insert("systemInstruction".into(), json!({"parts": system}));
    }
    let mut config = Map::new();
    let mut copy = |from: &str, to: &str| {
        if let Some(value) = openai.get(from).filter(|v| !v.is_null()) {
            config.insert(to.into(), value.clone());
        }
    };
    copy("temperature", "temperature");
    copy("top_p", "topP");
    copy("top_k", "topK");
    copy("max_tokens", "maxOutputTokens");
    copy("max_completion_tokens", "maxOutputTokens");
    copy("n", "candidateCount");
    copy("seed", "seed");
    copy("presence_penalty", "presencePenalty");
    copy("frequency_penalty", "frequencyPenalty");
    match openai.get("stop") {
        Some(Value::String(stop)) => {
            config.insert("stopSequences".into(), json!([stop]));
        }
        Some(Value::Array(stops)) if !stops.is_empty() => {
            config.insert("stopSequences".into(), Value::Array(stops.clone()));
        }
        _ => {}
    }
    match openai
        .pointer("/response_format/type")
        .and_then(Value::as_str)
    {
        Some("json_object") => {
            config.insert("responseMimeType".into(), Value::from("application/json"));
        }
        Some("json_schema") => {
            config.insert("responseMimeType".into(), Value::from("application/json"));
            if let Some(schema) = openai.pointer("/response_format/json_schema/schema") {
                config.insert("responseSchema".into(), sanitize_schema(schema));
            }
        }
        _ => {}
    }
    if !config.is_empty() {
        out.insert("generationConfig".into(), Value::Object(config));
    }
    if let Some(tools) = openai.get("tools").and_then(Value::as_array) {
        let declarations: Vec<Value> = tools
            .iter()
            .filter_map(|tool| tool.get("function"))
            .map(|function| {
                let mut declaration = Map::new();
                declaration.insert(
                    "name".into(),
                    function.get("name").cloned().unwrap_or(Value::from("")),
                );
                if let Some(description) = function.get("description") {
                    declaration.insert("description".into(), description.clone());
                }
                if let Some(parameters) = function.get("parameters") {
                    declaration.insert("parameters".into(), sanitize_schema(parameters));
                }
                Value::Object(declaration)
            })
            .collect();
        if !declarations.is_empty() {
            out.insert(
                "tools".into(),
                json!([{"functionDeclarations": declarations}]),
            );
        }
    }
    let calling = match openai.get("tool_choice") {
        Some(Value::String(mode)) => match mode.as_str() {
            "none" => Some(json!({"mode": "NONE"})),
            "required" => Some(json!({"mode": "ANY"})),
            _ => Some(json!({"mode": "AUTO"})),
        },
        Some(Value::Object(choice)) => choice
            .get("function")
            .and_then(|f| f.get("name"))
            .map(|name| json!({"mode": "ANY", "allowedFunctionNames": [name]})),
        _ => None,
    };
    if let Some(calling) = calling.filter(|_| out.contains_key("tools")) {
        out.insert(
            "toolConfig".into(),
            json!({"functionCallingConfig": calling}),
        );
    }
    Ok(Value::Object(out))
}

/// One candidate's parts as an OpenAI message: text, reasoning (thought parts) and tool calls.
/// `next_call` numbers the calls, because Gemini gives them no ids.
pub fn candidate_message(candidate: &Value, next_call: &mut usize) -> (String, String, Vec<Value>) {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for part in candidate
        .pointer("/content/parts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(call) = part.get("functionCall") {
            calls.push(json!({
                "id": format!("call_{}", *next_call),
                "type": "function",
                "function": {
                    "name": call.get("name").cloned().unwrap_or(Value::from("")),
                    "arguments": call.get("args").map(Value::to_string).unwrap_or_else(|| "{}".into()),
                },
            }));
            *next_call += 1;
        } else if let Some(part_text) = part.get("text").and_then(Value::as_str) {
            if part.get("thought").and_then(Value::as_bool) == Some(true) {
                reasoning.push_str(part_text);
            } else {
                text.push_str(part_text);
            }
        }
    }
    (text, reasoning, calls)
}

/// Translates a generateContent response into a chat completion, and reads its usage.
pub fn response(gemini: &Value, model: &str) -> (Value, Usage) {
    let mut next_call = 0;
    let choices: Vec<Value> = gemini
        .get("candidates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, candidate)| {
            let (text, reasoning, calls) = candidate_message(candidate, &mut next_call);
            let finish = candidate
                .get("finishReason")
                .and_then(Value::as_str)
                .map(|r| finish_reason(r, !calls.is_empty()))
                .unwrap_or("stop");
            let message = super::assistant_message(text, reasoning, calls);
            let index = candidate
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(i as u64);
            json!({"index": index, "message": message, "finish_reason": finish})
        })
        .collect();
    let usage = gemini
        .get("usageMetadata")
        .map(Usage::from_gemini)
        .unwrap_or_default();
    let completion = json!({
        "id": gemini.get("responseId").cloned().unwrap_or(Value::from("")),
        "object": "chat.completion",
        "created": now_secs(),
        "model": gemini.get("modelVersion").and_then(Value::as_str).unwrap_or(model),
        "choices": choices,
        "usage": usage.to_openai(),
    });
    (completion, usage)
}

/// Translates an OpenAI embeddings request into a batchEmbedContents body.
pub fn embeddings_request(openai: &Value, model: &str) -> Result<Value, String> {
    let inputs: Vec<&str> = match openai.get("input") {
        Some(Value::String(text)) => vec![text],
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .ok_or("Gemini embeddings take text inputs only")
            })
            .collect::<Result<_, _>>()?,
        _ => return Err("input must be a string or an array of strings".into()),
    };
    let dimensions = openai.get("dimensions").and_then(Value::as_u64);
    let requests: Vec<Value> = inputs
        .into_iter()
        .map(|text| {
            let mut request =
                json!({"model": format!("models/{model}"), "content": {"parts": [{"text": text}]}});
            if let Some(dimensions) = dimensions {
                request["outputDimensionality"] = Value::from(dimensions);
            }
            request
        })
        .collect();
    Ok(json!({"requests": requests}))
}

/// Translates a batchEmbedContents response into OpenAI's embeddings list.
pub fn embeddings_response(gemini: &Value, model: &str) -> Value {
    let data: Vec<Value> = gemini
        .get("embeddings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(index, embedding)| {
            json!({"object": "embedding", "index": index, "embedding": embedding.get("values").cloned().unwrap_or(json!([]))})
        })
        .collect();
    json!({"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": 0, "total_tokens": 0}})
}

/// Reads `{"error":{"code","message","status"}}`, mapping the gRPC status to OpenAI's error type.
pub fn parse_error_body(body: &[u8]) -> UpstreamErrorBody {
    let parsed = serde_json::from_slice::<Value>(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let Some(message) = error.and_then(|e| e.get("message")).and_then(Value::as_str) else {
        return super::openai::parse_error_body(body);
    };
    let status = error
        .and_then(|e| e.get("status"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = match status {
        "RESOURCE_EXHAUSTED" => "rate_limit_exceeded",
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => "invalid_request_error",
        "UNAUTHENTICATED" => "authentication_error",
        "PERMISSION_DENIED" => "permission_error",
        "NOT_FOUND" => "not_found_error",
        _ => "api_error",
    };
    let code = if status == "RESOURCE_EXHAUSTED" {
        Value::from("rate_limit_exceeded")
    } else if status.is_empty() {
        Value::Null
    } else {
        Value::from(status.to_ascii_lowercase())
    };
    let lower = message.to_ascii_lowercase();
    let cause = if lower.contains("exceeds the maximum number of tokens") {
        Cause::ContextLength
    } else if lower.contains("quota") {
        Cause::Quota
    } else {
        Cause::Unspecified
    };
    UpstreamErrorBody {
        message: message.to_owned(),
        kind: Some(kind.to_owned()),
        code: Some(code),
        param: None,
        cause,
        status: error
            .and_then(|e| e.get("code"))
            .and_then(Value::as_u64)
            .filter(|code| (400..600).contains(code))
            .map(|code| code as u16),
    }
}
