//! OpenAI chat requests as Cohere v2 chat requests. The message list keeps OpenAI's shape almost
//! as it is (Cohere v2 took it over); what differs: assistant text next to tool calls is the
//! `tool_plan`, tools cannot be forced by name, sampling parameters have other names, a JSON
//! schema is a `json_object` format, and reasoning effort is a `thinking` setting.

use serde_json::{Map, Value, json};

use crate::protocols::{content_text, image_source};

/// The thinking budget for the low reasoning efforts; the higher ones leave the model's own
/// budget in place, which is what Cohere's reasoning models use when thinking is enabled.
const MINIMAL_THINKING_BUDGET: u64 = 1024;
const LOW_THINKING_BUDGET: u64 = 4096;

/// Translates an OpenAI chat completion request into a Cohere v2 chat request.
pub fn request(openai: &Value, model: &str) -> Result<Value, String> {
    let messages = openai
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("messages must be an array")?
        .iter()
        .enumerate()
        .filter_map(|(index, message)| message_of(message, index).transpose())
        .collect::<Result<Vec<Value>, String>>()?;

    let mut out = Map::new();
    out.insert("model".into(), Value::from(model));
    out.insert("messages".into(), Value::Array(messages));
    if openai
        .get("n")
        .and_then(Value::as_u64)
        .is_some_and(|n| n > 1)
    {
        return Err("n above 1 cannot be sent to Cohere: it writes one answer".into());
    }
    let mut copy = |from: &str, to: &str| {
        if let Some(value) = openai.get(from).filter(|v| !v.is_null()) {
            out.insert(to.into(), value.clone());
        }
    };
    copy("temperature", "temperature");
    copy("top_p", "p");
    copy("top_k", "k");
    copy("seed", "seed");
    copy("frequency_penalty", "frequency_penalty");
    copy("presence_penalty", "presence_penalty");
    copy("max_tokens", "max_tokens");
    // The current name wins over the deprecated one when a client sends both.
    copy("max_completion_tokens", "max_tokens");
    match openai.get("stop") {
        Some(Value::String(stop)) => {
            out.insert("stop_sequences".into(), json!([stop]));
        }
        Some(Value::Array(stops)) if !stops.is_empty() => {
            out.insert("stop_sequences".into(), Value::Array(stops.clone()));
        }
        Some(Value::Null | Value::Array(_)) | None => {}
        Some(_) => return Err("stop must be a string or an array of strings".into()),
    }
    if openai.get("stream").and_then(Value::as_bool) == Some(true) {
        out.insert("stream".into(), Value::Bool(true));
    }
    if let Some(format) = response_format(openai.get("response_format"))? {
        out.insert("response_format".into(), format);
    }
    if let Some(thinking) = thinking(openai.get("reasoning_effort"))? {
        out.insert("thinking".into(), thinking);
    }
    tools(openai, &mut out)?;
    Ok(Value::Object(out))
}

/// One OpenAI message as a Cohere message; `None` for an assistant turn with nothing in it.
fn message_of(message: &Value, index: usize) -> Result<Option<Value>, String> {
    let content = message.get("content");
    let at = format!("messages[{index}]");
    match message.get("role").and_then(Value::as_str) {
        Some("system" | "developer") => Ok(Some(
            json!({"role": "system", "content": content_text(content)}),
        )),
        Some("user") => Ok(Some(
            json!({"role": "user", "content": user_content(content, &at)?}),
        )),
        Some("assistant") => assistant_message(message, &at),
        Some("tool") => {
            let id = message
                .get("tool_call_id")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{at}: tool messages need a tool_call_id"))?;
            Ok(Some(json!({
                "role": "tool",
                "tool_call_id": id,
                "content": content_text(content),
            })))
        }
        Some(other) => Err(format!(
            "{at}: messages with role '{other}' cannot be sent to Cohere"
        )),
        None => Err(format!("{at}: every message needs a role")),
    }
}

/// A user message's content: text stays a string, parts keep OpenAI's shape, which Cohere v2
/// takes as it is (`text` and `image_url`, with `detail`).
fn user_content(content: Option<&Value>, at: &str) -> Result<Value, String> {
    let parts = match content {
        None | Some(Value::Null) => return Err(format!("{at}: user messages need content")),
        Some(Value::String(text)) => return Ok(Value::from(text.as_str())),
        Some(Value::Array(parts)) => parts,
        Some(_) => {
            return Err(format!(
                "{at}.content must be a string or an array of parts"
            ));
        }
    };
    parts
        .iter()
        .enumerate()
        .map(|(index, part)| {
            let at = format!("{at}.content[{index}]");
            match part.get("type").and_then(Value::as_str) {
                Some("text") => {
                    let text = part
                        .get("text")
                        .and_then(Value::as_str)
                        .ok_or_else(|| format!("{at}: text parts need a text"))?;
                    Ok(json!({"type": "text", "text": text}))
                }
                Some("image_url") => image_part(part, &at),
                Some(other) => Err(format!(
                    "{at}: content parts of type '{other}' cannot be sent to Cohere"
                )),
                None => Err(format!("{at}: content parts need a type")),
            }
        })
        .collect::<Result<Vec<Value>, String>>()
        .map(Value::Array)
}

/// An `image_url` part, checked to be a base64 data URL or an http(s) URL (all Cohere fetches).
fn image_part(part: &Value, at: &str) -> Result<Value, String> {
    let url = part
        .pointer("/image_url/url")
        .or_else(|| part.get("image_url"))
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{at}: image_url parts need image_url.url"))?;
    image_source(url).map_err(|error| format!("{at}: {error}"))?;
    let mut image = Map::new();
    image.insert("url".into(), Value::from(url));
    if let Some(detail) = part.pointer("/image_url/detail").filter(|d| d.is_string()) {
        image.insert("detail".into(), detail.clone());
    }
    Ok(json!({"type": "image_url", "image_url": image}))
}

/// An assistant message. Cohere refuses text content next to tool calls ("text content is not
/// allowed when tool_calls are provided"): the text that comes before calls is their plan.
fn assistant_message(message: &Value, at: &str) -> Result<Option<Value>, String> {
    let text = match message.get("content") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .map(|part| match part.get("type").and_then(Value::as_str) {
                Some("text") => Ok(part.get("text").and_then(Value::as_str).unwrap_or("")),
                Some("refusal") => Ok(part.get("refusal").and_then(Value::as_str).unwrap_or("")),
                _ => Err(format!(
                    "{at}.content: assistant messages can carry only text to Cohere"
                )),
            })
            .collect::<Result<String, String>>()?,
        Some(_) => {
            return Err(format!(
                "{at}.content must be a string or an array of parts"
            ));
        }
    };
    let calls = tool_calls(message.get("tool_calls"), at)?;
    let mut out = Map::new();
    out.insert("role".into(), Value::from("assistant"));
    match (calls.is_empty(), text.is_empty()) {
        (true, true) => return Ok(None),
        (true, false) => {
            out.insert("content".into(), Value::from(text));
        }
        (false, plan_empty) => {
            if !plan_empty {
                out.insert("tool_plan".into(), Value::from(text));
            }
            out.insert("tool_calls".into(), Value::Array(calls));
        }
    }
    Ok(Some(Value::Object(out)))
}

fn tool_calls(calls: Option<&Value>, at: &str) -> Result<Vec<Value>, String> {
    let calls = match calls {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(calls)) => calls,
        Some(_) => return Err(format!("{at}.tool_calls must be an array")),
    };
    calls
        .iter()
        .enumerate()
        .map(|(index, call)| {
            let at = format!("{at}.tool_calls[{index}]");
            let id = call
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{at} needs an id"))?;
            let name = call
                .pointer("/function/name")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{at} needs function.name"))?;
            let arguments = match call.pointer("/function/arguments") {
                Some(Value::String(arguments)) if !arguments.trim().is_empty() => arguments.clone(),
                None | Some(Value::Null | Value::String(_)) => "{}".to_owned(),
                Some(object @ Value::Object(_)) => object.to_string(),
                Some(_) => return Err(format!("{at}.function.arguments must be a JSON string")),
            };
            Ok(json!({
                "id": id,
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            }))
        })
        .collect()
}

/// `tools`, `tool_choice` and strictness. Cohere's tool is OpenAI's function tool; its choice
/// has only `REQUIRED` and `NONE` (auto is the default), so a choice naming one function narrows
/// `tools` to that function and requires a call, which forces the same call.
fn tools(openai: &Value, out: &mut Map<String, Value>) -> Result<(), String> {
    let mut tools = Vec::new();
    let mut strict = true;
    for (index, tool) in openai
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("tools[{index}]");
        if tool.get("type").and_then(Value::as_str) != Some("function") {
            return Err(format!(
                "{at}: only function tools can be sent to Cohere, not '{}'",
                tool.get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("(no type)")
            ));
        }
        let function = tool
            .get("function")
            .ok_or_else(|| format!("{at} needs a function"))?;
        let name = function
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{at}.function needs a name"))?;
        strict &= function.get("strict").and_then(Value::as_bool) == Some(true);
        let mut converted = Map::new();
        converted.insert("name".into(), Value::from(name));
        if let Some(description) = function.get("description").filter(|d| d.is_string()) {
            converted.insert("description".into(), description.clone());
        }
        // Cohere requires `parameters`; a function without arguments takes an empty object.
        converted.insert(
            "parameters".into(),
            function
                .get("parameters")
                .filter(|p| p.is_object())
                .cloned()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
        );
        tools.push(json!({"type": "function", "function": converted}));
    }
    let choice = match openai.get("tool_choice") {
        None | Some(Value::Null) => None,
        Some(Value::String(mode)) => match mode.as_str() {
            "auto" => None,
            "none" => Some("NONE"),
            "required" => Some("REQUIRED"),
            other => {
                return Err(format!(
                    "tool_choice '{other}' must be one of auto, none, required"
                ));
            }
        },
        Some(choice) => {
            let name = choice
                .pointer("/function/name")
                .and_then(Value::as_str)
                .ok_or("tool_choice must be a mode or name a function (function.name)")?;
            tools.retain(|tool| {
                tool.pointer("/function/name").and_then(Value::as_str) == Some(name)
            });
            if tools.is_empty() {
                return Err(format!(
                    "tool_choice names the function '{name}', which is not in tools"
                ));
            }
            Some("REQUIRED")
        }
    };
    if tools.is_empty() {
        if choice == Some("REQUIRED") {
            return Err("tool_choice 'required' needs tools".into());
        }
        return Ok(());
    }
    if strict {
        out.insert("strict_tools".into(), Value::Bool(true));
    }
    out.insert("tools".into(), Value::Array(tools));
    if let Some(choice) = choice {
        out.insert("tool_choice".into(), Value::from(choice));
    }
    Ok(())
}

/// OpenAI's `response_format` as Cohere's: JSON mode is `json_object`, and a JSON schema is a
/// `json_object` that carries the schema.
fn response_format(format: Option<&Value>) -> Result<Option<Value>, String> {
    let Some(format) = format.filter(|f| !f.is_null()) else {
        return Ok(None);
    };
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(json!({"type": "json_object"}))),
        Some("json_schema") => {
            let schema = format
                .pointer("/json_schema/schema")
                .filter(|s| s.is_object())
                .ok_or("response_format.json_schema.schema must be an object")?;
            Ok(Some(json!({"type": "json_object", "json_schema": schema})))
        }
        Some(other) => Err(format!(
            "response_format of type '{other}' cannot be sent to Cohere"
        )),
        None => Err("response_format needs a type".into()),
    }
}

/// `reasoning_effort` as Cohere's `thinking`: `none` turns thinking off, the low efforts cap it,
/// the rest turn it on with the model's budget.
fn thinking(effort: Option<&Value>) -> Result<Option<Value>, String> {
    let Some(effort) = effort.filter(|e| !e.is_null()) else {
        return Ok(None);
    };
    Ok(Some(match effort.as_str() {
        Some("none") => json!({"type": "disabled"}),
        Some("minimal") => json!({"type": "enabled", "token_budget": MINIMAL_THINKING_BUDGET}),
        Some("low") => json!({"type": "enabled", "token_budget": LOW_THINKING_BUDGET}),
        Some("medium" | "high" | "xhigh") => json!({"type": "enabled"}),
        _ => {
            return Err(
                "reasoning_effort must be one of none, minimal, low, medium, high, xhigh".into(),
            );
        }
    }))
}
