//! A Responses API request translated into an OpenAI chat completions request, for providers that
//! do not speak the Responses API. What only the provider could supply (stored responses,
//! conversations, prompt templates, files, built-in tools) is refused with an error naming it.

use serde_json::{Map, Value, json};

use super::content::{assistant_content, input_content, input_part};
use super::tools::tools;

/// The error for a field that needs state kept by the provider.
fn needs_provider_state(what: &str) -> String {
    format!(
        "{what} is only supported by providers that speak the Responses API natively; send the \
         whole conversation in `input` and `store: false`"
    )
}

/// Translates a Responses API request into a chat completions request. Streams ask for usage, so
/// that `response.completed` can carry token counts.
pub fn to_chat(request: &Value) -> Result<Value, String> {
    let request = request
        .as_object()
        .ok_or("the request body must be a JSON object")?;
    refuse_provider_state(request)?;

    let mut messages = Messages::default();
    match request.get("instructions") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) if text.is_empty() => {}
        Some(Value::String(text)) => messages
            .out
            .push(json!({"role": "system", "content": text})),
        Some(_) => return Err("`instructions` must be a string".into()),
    }
    match request.get("input") {
        Some(Value::String(text)) => messages.out.push(json!({"role": "user", "content": text})),
        Some(Value::Array(items)) => {
            for (index, item) in items.iter().enumerate() {
                messages.item(&format!("input[{index}]"), item)?;
            }
            messages.flush_media();
        }
        None | Some(Value::Null) => {
            return Err("`input` is required: a string or an array of input items".into());
        }
        Some(_) => return Err("`input` must be a string or an array of input items".into()),
    }

    let mut out = Map::new();
    out.insert(
        "model".into(),
        request.get("model").cloned().unwrap_or(Value::Null),
    );
    out.insert("messages".into(), Value::Array(messages.out));
    tools(request, &mut out)?;
    // The current name: OpenAI's reasoning models refuse `max_tokens`, and the gateway's Anthropic
    // and Gemini translators read this one.
    copy(
        request,
        "max_output_tokens",
        &mut out,
        "max_completion_tokens",
    );
    for key in ["temperature", "top_p", "user"] {
        copy(request, key, &mut out, key);
    }
    if let Some(effort) = request
        .get("reasoning")
        .and_then(|r| r.get("effort"))
        .filter(|e| !e.is_null())
    {
        out.insert("reasoning_effort".into(), effort.clone());
    }
    if let Some(text) = request.get("text").filter(|t| !t.is_null()) {
        text_format(text, &mut out)?;
    }
    match request.get("stream") {
        Some(Value::Bool(true)) => {
            out.insert("stream".into(), Value::Bool(true));
            out.insert("stream_options".into(), json!({"include_usage": true}));
        }
        None | Some(Value::Null | Value::Bool(false)) => {}
        Some(_) => return Err("`stream` must be a boolean".into()),
    }
    Ok(Value::Object(out))
}

fn copy(from: &Map<String, Value>, key: &str, to: &mut Map<String, Value>, as_key: &str) {
    if let Some(value) = from.get(key).filter(|v| !v.is_null()) {
        to.insert(as_key.into(), value.clone());
    }
}

/// Refuses what refers to state the provider keeps: earlier responses, conversations, background
/// runs, storing the answer, and stored prompt templates.
fn refuse_provider_state(request: &Map<String, Value>) -> Result<(), String> {
    let given = |key: &str| request.get(key).is_some_and(|v| !v.is_null());
    for key in ["previous_response_id", "conversation"] {
        if given(key) {
            return Err(needs_provider_state(&format!("`{key}`")));
        }
    }
    for key in ["background", "store"] {
        if request.get(key) == Some(&Value::Bool(true)) {
            return Err(needs_provider_state(&format!("`{key}: true`")));
        }
    }
    if given("prompt") {
        return Err(needs_provider_state(
            "`prompt` (a prompt template stored with the provider)",
        ));
    }
    Ok(())
}

/// The chat messages built from the input items.
#[derive(Default)]
struct Messages {
    out: Vec<Value>,
    /// Images and files from function call outputs: chat tool messages carry only text, so they
    /// follow as one user message once the run of tool messages ends (a user message between
    /// tool messages would break the assistant's tool calls apart).
    media: Vec<Value>,
}

impl Messages {
    fn item(&mut self, at: &str, item: &Value) -> Result<(), String> {
        let item = item
            .as_object()
            .ok_or_else(|| format!("{at} must be an object"))?;
        let kind = match item.get("type") {
            None | Some(Value::Null) => None,
            Some(Value::String(kind)) => Some(kind.as_str()),
            Some(_) => return Err(format!("{at}.type must be a string")),
        };
        if kind != Some("function_call_output") {
            self.flush_media();
        }
        match kind {
            None | Some("message") => self.message(at, item),
            Some("function_call") => self.function_call(at, item),
            Some("function_call_output") => self.function_call_output(at, item),
            // Reasoning items carry the provider's own (often encrypted) reasoning, which other
            // models cannot read; chat has no place for it.
            Some("reasoning") => Ok(()),
            Some("item_reference") => Err(format!(
                "{at}: {}",
                needs_provider_state("an input item of type `item_reference`")
            )),
            Some(other) => Err(format!(
                "{at}: input items of type '{other}' cannot be translated to chat completions (only \
                 message, function_call, function_call_output and reasoning items can)"
            )),
        }
    }

    fn flush_media(&mut self) {
        if !self.media.is_empty() {
            let parts = std::mem::take(&mut self.media);
            self.out.push(json!({"role": "user", "content": parts}));
        }
    }

    fn message(&mut self, at: &str, item: &Map<String, Value>) -> Result<(), String> {
        let role = item
            .get("role")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{at} needs a `type` or a `role`"))?;
        let content = item.get("content");
        match role {
            "user" | "system" | "developer" => {
                let content = input_content(&format!("{at}.content"), content)?;
                self.out.push(json!({"role": role, "content": content}));
            }
            "assistant" => {
                let (text, refusal) = assistant_content(&format!("{at}.content"), content)?;
                let mut message = Map::new();
                message.insert("role".into(), Value::from("assistant"));
                message.insert("content".into(), Value::from(text));
                if let Some(refusal) = refusal {
                    message.insert("refusal".into(), Value::from(refusal));
                }
                self.out.push(Value::Object(message));
            }
            other => {
                return Err(format!(
                    "{at}.role '{other}' must be one of user, assistant, system, developer"
                ));
            }
        }
        Ok(())
    }

    /// A function call joins the assistant message right before it (the assistant's text, or the
    /// calls before it), as chat keeps one turn's calls in one message.
    fn function_call(&mut self, at: &str, item: &Map<String, Value>) -> Result<(), String> {
        let text = |key: &str| {
            item.get(key)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{at}.{key} must be a string"))
        };
        let arguments = match item.get("arguments") {
            None | Some(Value::Null) => "{}",
            Some(Value::String(arguments)) => arguments,
            Some(_) => return Err(format!("{at}.arguments must be a string")),
        };
        let call = json!({
            "id": text("call_id")?,
            "type": "function",
            "function": {"name": text("name")?, "arguments": arguments},
        });
        if let Some(last) = self.out.last_mut().and_then(Value::as_object_mut)
            && last.get("role").and_then(Value::as_str) == Some("assistant")
        {
            match last.get_mut("tool_calls").and_then(Value::as_array_mut) {
                Some(calls) => calls.push(call),
                None => {
                    last.insert("tool_calls".into(), json!([call]));
                }
            }
            return Ok(());
        }
        self.out
            .push(json!({"role": "assistant", "content": null, "tool_calls": [call]}));
        Ok(())
    }

    fn function_call_output(&mut self, at: &str, item: &Map<String, Value>) -> Result<(), String> {
        let call_id = item
            .get("call_id")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{at}.call_id must be a string"))?;
        let content = match item.get("output") {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Array(parts)) => {
                let mut texts = Vec::new();
                for (index, part) in parts.iter().enumerate() {
                    let part = input_part(&format!("{at}.output[{index}]"), part)?;
                    match part.get("type").and_then(Value::as_str) {
                        Some("text") => texts.push(
                            part.get("text")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned(),
                        ),
                        _ => self.media.push(part),
                    }
                }
                texts.join("\n")
            }
            _ => return Err(format!("{at}.output must be a string or an array of parts")),
        };
        self.out
            .push(json!({"role": "tool", "tool_call_id": call_id, "content": content}));
        Ok(())
    }
}

/// `text.format` as chat's `response_format`, and `text.verbosity` as chat's `verbosity`.
fn text_format(text: &Value, out: &mut Map<String, Value>) -> Result<(), String> {
    if let Some(verbosity) = text.get("verbosity").filter(|v| !v.is_null()) {
        out.insert("verbosity".into(), verbosity.clone());
    }
    let Some(format) = text.get("format").filter(|f| !f.is_null()) else {
        return Ok(());
    };
    match format.get("type").and_then(Value::as_str) {
        Some("text") => {}
        Some("json_object") => {
            out.insert("response_format".into(), json!({"type": "json_object"}));
        }
        Some("json_schema") => {
            let name = format
                .get("name")
                .and_then(Value::as_str)
                .ok_or("`text.format.name` must be a string")?;
            let schema = format
                .get("schema")
                .filter(|s| s.is_object())
                .ok_or("`text.format.schema` must be a JSON schema object")?;
            let mut json_schema = Map::new();
            json_schema.insert("name".into(), Value::from(name));
            json_schema.insert("schema".into(), schema.clone());
            for key in ["strict", "description"] {
                if let Some(value) = format.get(key).filter(|v| !v.is_null()) {
                    json_schema.insert(key.into(), value.clone());
                }
            }
            out.insert(
                "response_format".into(),
                json!({"type": "json_schema", "json_schema": json_schema}),
            );
        }
        Some(other) => {
            return Err(format!(
                "`text.format` of type '{other}' cannot be translated to chat completions"
            ));
        }
        None => return Err("`text.format.type` must be a string".into()),
    }
    Ok(())
}
