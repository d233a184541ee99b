//! Where the text a model reads (requests) or writes (answers) sits in each API's JSON, visited
//! once per body: message contents, content parts and blocks, system prompts, tool results and
//! tool-call arguments. Model names, ids, roles and images are never visited. OpenAI chat,
//! embeddings and Anthropic messages are here; the Responses API, Gemini and OpenAI's other
//! endpoints have a module each (`walk_responses.rs`, `walk_gemini.rs`, `walk_endpoints.rs`).

use serde_json::Value;

use super::{Api, walk_endpoints, walk_gemini, walk_responses};

/// How a visited string holds its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// The string is the text.
    Text,
    /// The string is JSON text (a tool call's `arguments`): its own strings are the text.
    Json,
}

/// Calls `f` on every string of a request body the model reads.
pub(super) fn request<E>(
    body: &mut Value,
    api: Api,
    f: &mut impl FnMut(&mut String, Kind) -> Result<(), E>,
) -> Result<(), E> {
    match api {
        Api::Chat => {
            for message in array(body.get_mut("messages")) {
                content(message.get_mut("content"), f)?;
                tool_calls(message, f)?;
                if let Some(call) = message.get_mut("function_call") {
                    json_string(call.get_mut("arguments"), f)?;
                }
            }
        }
        Api::Embeddings => string_or_strings(body.get_mut("input"), f)?,
        Api::Messages => {
            content(body.get_mut("system"), f)?;
            for message in array(body.get_mut("messages")) {
                content(message.get_mut("content"), f)?;
            }
        }
        Api::Responses => walk_responses::request(body, f)?,
        Api::Gemini => walk_gemini::request(body, f)?,
        Api::Endpoint(endpoint) => walk_endpoints::request(body, endpoint, f)?,
    }
    Ok(())
}

/// Calls `f` on every string of an answer the model wrote: an OpenAI chat completion's
/// `choices[].message` (content and tool-call arguments), an Anthropic message's `content`
/// blocks (text, and tool-use inputs), a `response` object's output items, a Gemini answer's
/// candidates, or an endpoint's text. Embeddings answers hold no text.
pub(super) fn answer<E>(
    answer: &mut Value,
    api: Api,
    f: &mut impl FnMut(&mut String, Kind) -> Result<(), E>,
) -> Result<(), E> {
    match api {
        Api::Chat => {
            for choice in array(answer.get_mut("choices")) {
                if let Some(message) = choice.get_mut("message") {
                    content(message.get_mut("content"), f)?;
                    tool_calls(message, f)?;
                }
            }
        }
        Api::Messages => content(answer.get_mut("content"), f)?,
        Api::Responses => walk_responses::answer(answer, f)?,
        Api::Gemini => walk_gemini::answer(answer, f)?,
        Api::Endpoint(endpoint) => walk_endpoints::answer(answer, endpoint, f)?,
        Api::Embeddings => {}
    }
    Ok(())
}

/// Every string inside `value`, at any depth (object keys are field names, not text).
pub(super) fn strings<E>(
    value: &mut Value,
    f: &mut impl FnMut(&mut String, Kind) -> Result<(), E>,
) -> Result<(), E> {
    match value {
        Value::String(text) => f(text, Kind::Text),
        Value::Array(items) => items.iter_mut().try_for_each(|item| strings(item, f)),
        Value::Object(map) => map.values_mut().try_for_each(|item| strings(item, f)),
        _ => Ok(()),
    }
}

/// The elements of an array (none when `value` is not one).
pub(super) fn array(value: Option<&mut Value>) -> impl Iterator<Item = &mut Value> {
    value
        .and_then(Value::as_array_mut)
        .into_iter()
        .flat_map(|items| items.iter_mut())
}

/// A content: a string, or parts and blocks. A part or block with a `text` string is text
/// (OpenAI's `text` parts, Anthropic's `text` blocks); an Anthropic `tool_result` holds a
/// content of its own; a `tool_use` block's `input` is the arguments the model chose, which the
/// conversation sends back to it. Thinking blocks are signed by the provider and left alone.
fn content<E>(
    value: Option<&mut Value>,
    f: &mut impl FnMut(&mut String, Kind) -> Result<(), E>,
) -> Result<(), E> {
    match value {
        Some(Value::String(text)) => f(text, Kind::Text),
        Some(Value::Array(blocks)) => {
            for block in blocks {
                let Some(object) = block.as_object_mut() else {
                    continue;
                };
                let kind = object.get("type").and_then(Value::as_str);
                match kind {
                    Some("thinking" | "redacted_thinking") => continue,
                    Some("tool_result") => content(object.get_mut("content"), f)?,
                    Some("tool_use") => {
                        if let Some(input) = object.get_mut("input") {
                            strings(input, f)?;
                        }
                    }
                    _ => {}
                }
                if let Some(Value::String(text)) = object.get_mut("text") {
                    f(text, Kind::Text)?;
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// OpenAI's `tool_calls[].function.arguments` (JSON text).
fn tool_calls<E>(
    message: &mut Value,
    f: &mut impl FnMut(&mut String, Kind) -> Result<(), E>,
) -> Result<(), E> {
    for call in array(message.get_mut("tool_calls")) {
        if let Some(function) = call.get_mut("function") {
            json_string(function.get_mut("arguments"), f)?;
        }
    }
    Ok(())
}

/// A string of JSON text (a call's arguments), if `value` is one.
pub(super) fn json_string<E>(
    value: Option<&mut Value>,
    f: &mut impl FnMut(&mut String, Kind) -> Result<(), E>,
) -> Result<(), E> {
    match value {
        Some(Value::String(text)) => f(text, Kind::Json),
        _ => Ok(()),
    }
}

/// A string of text, if `value` is one.
pub(super) fn string<E>(
    value: Option<&mut Value>,
    f: &mut impl FnMut(&mut String, Kind) -> Result<(), E>,
) -> Result<(), E> {
    match value {
        Some(Value::String(text)) => f(text, Kind::Text),
        _ => Ok(()),
    }
}

/// A string, or the strings of an array (other elements, such as token arrays, are skipped).
pub(super) fn string_or_strings<E>(
    value: Option<&mut Value>,
    f: &mut impl FnMut(&mut String, Kind) -> Result<(), E>,
) -> Result<(), E> {
    match value {
        Some(Value::String(text)) => f(text, Kind::Text),
        Some(Value::Array(items)) => items.iter_mut().try_for_each(|item| string(Some(item), f)),
        _ => Ok(()),
    }
}
