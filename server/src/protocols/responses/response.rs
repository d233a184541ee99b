//! An OpenAI chat completion translated into a Responses API `response` object, with the
//! request's settings echoed as the SDKs require (`tools`, `tool_choice`, `parallel_tool_calls`
//! are required fields of their `Response` models).

use serde_json::{Map, Value, json};

use super::{new_id, usage_json};
use crate::stream::now_secs;
use crate::usage::Usage;

/// The request settings a `response` object repeats, with the API's defaults for those the
/// client left out.
#[derive(Clone, Debug)]
pub struct RequestEcho {
    fields: Map<String, Value>,
}

impl Default for RequestEcho {
    fn default() -> RequestEcho {
        RequestEcho::new(&Value::Null)
    }
}

impl RequestEcho {
    /// The echo of a Responses API request (a non-object gives the defaults).
    pub fn new(request: &Value) -> RequestEcho {
        let given = |key: &str| request.get(key).filter(|v| !v.is_null()).cloned();
        let or = |key: &str, default: Value| given(key).unwrap_or(default);
        let reasoning = |key: &str| {
            request
                .pointer(&format!("/reasoning/{key}"))
                .cloned()
                .unwrap_or(Value::Null)
        };
        let mut fields = Map::new();
        fields.insert("background".into(), Value::Bool(false));
        fields.insert("instructions".into(), or("instructions", Value::Null));
        fields.insert(
            "max_output_tokens".into(),
            or("max_output_tokens", Value::Null),
        );
        fields.insert("max_tool_calls".into(), or("max_tool_calls", Value::Null));
        fields.insert("metadata".into(), or("metadata", json!({})));
        fields.insert(
            "parallel_tool_calls".into(),
            or("parallel_tool_calls", Value::Bool(true)),
        );
        fields.insert("previous_response_id".into(), Value::Null);
        fields.insert(
            "reasoning".into(),
            json!({"effort": reasoning("effort"), "summary": reasoning("summary")}),
        );
        // Nothing is kept: a translated answer cannot be fetched or continued later.
        fields.insert("store".into(), Value::Bool(false));
        fields.insert("temperature".into(), or("temperature", Value::Null));
        fields.insert(
            "text".into(),
            or("text", json!({"format": {"type": "text"}})),
        );
        fields.insert("tool_choice".into(), or("tool_choice", Value::from("auto")));
        fields.insert("tools".into(), or("tools", json!([])));
        fields.insert("top_p".into(), or("top_p", Value::Null));
        fields.insert(
            "truncation".into(),
            or("truncation", Value::from("disabled")),
        );
        fields.insert("user".into(), or("user", Value::Null));
        RequestEcho { fields }
    }
}

/// How a response ended, from the chat completion's `finish_reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ending {
    Completed,
    /// `incomplete`, with the reason (`max_output_tokens` or `content_filter`).
    Incomplete(&'static str),
}

impl Ending {
    pub(super) fn from_finish_reason(finish_reason: Option<&str>) -> Ending {
        match finish_reason {
            Some("length") => Ending::Incomplete("max_output_tokens"),
            Some("content_filter") => Ending::Incomplete("content_filter"),
            _ => Ending::Completed,
        }
    }

    /// The status of the response, and of the output item that was open when it ended.
    pub(super) fn status(self) -> &'static str {
        match self {
            Ending::Completed => "completed",
            Ending::Incomplete(_) => "incomplete",
        }
    }
}

/// The parts of a `response` object that change as it is produced.
pub(super) struct ResponseState<'a> {
    pub id: &'a str,
    pub created_at: u64,
    pub model: &'a str,
    pub status: &'a str,
    pub output: Vec<Value>,
    pub usage: Option<Usage>,
    pub error: Value,
    pub incomplete_details: Value,
}

/// A whole `response` object: the echoed settings, then its own fields.
pub(super) fn response_object(state: ResponseState<'_>, echo: &RequestEcho) -> Value {
    let mut response = echo.fields.clone();
    response.insert("id".into(), Value::from(state.id));
    response.insert("object".into(), Value::from("response"));
    response.insert("created_at".into(), Value::from(state.created_at));
    response.insert("status".into(), Value::from(state.status));
    if state.status == "completed" {
        response.insert("completed_at".into(), Value::from(now_secs()));
    }
    response.insert("error".into(), state.error);
    response.insert("incomplete_details".into(), state.incomplete_details);
    response.insert("model".into(), Value::from(state.model));
    response.insert("output".into(), Value::Array(state.output));
    response.insert(
        "usage".into(),
        state.usage.map(usage_json).unwrap_or(Value::Null),
    );
    Value::Object(response)
}

/// `incomplete_details` for an ending.
pub(super) fn incomplete_details(ending: Ending) -> Value {
    match ending {
        Ending::Completed => Value::Null,
        Ending::Incomplete(reason) => json!({"reason": reason}),
    }
}

/// The response id for a chat completion id (`resp_` + the id, or a fresh one).
pub(super) fn response_id(completion_id: &str) -> String {
    match completion_id {
        "" => new_id("resp"),
        id if id.starts_with("resp_") => id.to_owned(),
        id => format!("resp_{id}"),
    }
}

/// Reasoning text in a chat message or delta: DeepSeek's `reasoning_content`, or the `reasoning`
/// string other OpenAI-compatible servers use.
pub(super) fn reasoning_text(message: &Value) -> Option<&str> {
    ["reasoning_content", "reasoning"]
        .iter()
        .find_map(|key| message.get(*key).and_then(Value::as_str))
        .filter(|text| !text.is_empty())
}

/// An `output_text` content part; chat's URL citations become its annotations.
pub(super) fn output_text(text: &str, annotations: Option<&Value>) -> Value {
    let annotations: Vec<Value> = annotations
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|annotation| {
            let citation = annotation.get("url_citation")?;
            Some(json!({
                "type": "url_citation",
                "start_index": citation.get("start_index").cloned().unwrap_or(Value::from(0)),
                "end_index": citation.get("end_index").cloned().unwrap_or(Value::from(0)),
                "title": citation.get("title").cloned().unwrap_or(Value::from("")),
                "url": citation.get("url").cloned().unwrap_or(Value::from("")),
            }))
        })
        .collect();
    json!({"type": "output_text", "text": text, "annotations": annotations, "logprobs": []})
}

/// A `reasoning` output item. The chat reasoning is the model's own thinking, which the Responses
/// API would put in `content`; it goes in `summary` because that is what clients show (Codex
/// hides raw reasoning unless asked to show it).
pub(super) fn reasoning_item(id: &str, text: &str) -> Value {
    let summary = if text.is_empty() {
        json!([])
    } else {
        json!([{"type": "summary_text", "text": text}])
    };
    json!({"id": id, "type": "reasoning", "summary": summary})
}

pub(super) fn function_call_item(
    id: &str,
    status: &str,
    call_id: &str,
    name: &str,
    arguments: &str,
) -> Value {
    json!({
        "id": id,
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    })
}

pub(super) fn message_item(id: &str, status: &str, content: Vec<Value>) -> Value {
    json!({"id": id, "type": "message", "status": status, "role": "assistant", "content": content})
}

/// Translates a chat completion into a `response` object named `model` (the name the client
/// sees), echoing the API's defaults for the request settings.
pub fn from_chat(completion: &Value, model: &str) -> Value {
    from_chat_with(completion, model, &RequestEcho::default())
}

/// [`from_chat`], echoing the client's request settings.
pub fn from_chat_with(completion: &Value, model: &str, echo: &RequestEcho) -> Value {
    let choice = completion.pointer("/choices/0").unwrap_or(&Value::Null);
    let message = choice.get("message").unwrap_or(&Value::Null);
    let ending = Ending::from_finish_reason(choice.get("finish_reason").and_then(Value::as_str));
    let mut output = Vec::new();
    if let Some(reasoning) = reasoning_text(message) {
        output.push(reasoning_item(&new_id("rs"), reasoning));
    }
    let mut content = Vec::new();
    if let Some(text) = message
        .get("content")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        content.push(output_text(text, message.get("annotations")));
    }
    if let Some(refusal) = message
        .get("refusal")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
    {
        content.push(json!({"type": "refusal", "refusal": refusal}));
    }
    if !content.is_empty() {
        output.push(message_item(&new_id("msg"), ending.status(), content));
    }
    for call in message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let text = |pointer: &str| call.pointer(pointer).and_then(Value::as_str);
        let call_id = text("/id").map_or_else(|| new_id("call"), str::to_owned);
        output.push(function_call_item(
            &new_id("fc"),
            "completed",
            &call_id,
            text("/function/name").unwrap_or_default(),
            text("/function/arguments").unwrap_or("{}"),
        ));
    }
    let id = response_id(
        completion
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    );
    response_object(
        ResponseState {
            id: &id,
            created_at: completion
                .get("created")
                .and_then(Value::as_u64)
                .unwrap_or_else(now_secs),
            model,
            status: ending.status(),
            output,
            usage: completion.get("usage").and_then(Usage::from_openai),
            error: Value::Null,
            incomplete_details: incomplete_details(ending),
        },
        echo,
    )
}
