//! OpenAI tools as Converse's: an assistant's `tool_calls` as `toolUse` blocks, and `tools` with
//! `tool_choice` as `toolConfig`.

use serde_json::{Map, Value, json};

/// An assistant message's `tool_calls` as `toolUse` blocks; their names are noted in `called`.
pub(super) fn tool_use_blocks(
    message: &Value,
    index: usize,
    called: &mut Vec<String>,
) -> Result<Vec<Value>, String> {
    let Some(calls) = message.get("tool_calls").and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    let mut blocks = Vec::with_capacity(calls.len());
    for (call_index, call) in calls.iter().enumerate() {
        let at = format!("messages[{index}].tool_calls[{call_index}]");
        let id = call
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{at}.id is required"))?;
        let name = call
            .pointer("/function/name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{at}.function.name is required"))?;
        let arguments = call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or("{}");
        let input = if arguments.trim().is_empty() {
            json!({})
        } else {
            match serde_json::from_str::<Value>(arguments) {
                Ok(Value::Null) => json!({}),
                Ok(object @ Value::Object(_)) => object,
                _ => return Err(format!("{at}.function.arguments must be a JSON object")),
            }
        };
        if !called.iter().any(|known| known == name) {
            called.push(name.to_owned());
        }
        blocks.push(json!({"toolUse": {"toolUseId": id, "name": name, "input": input}}));
    }
    Ok(blocks)
}

/// `toolConfig` from `tools` and `tool_choice`. Converse has no "none" choice: with
/// `tool_choice: "none"` the tools are left out, unless the conversation already holds tool
/// blocks, which Bedrock refuses without a toolConfig; then the tools stay and the model may call
/// them. A conversation with tool blocks but no `tools` gets a permissive spec for each tool it
/// called, for the same reason.
pub(super) fn tool_config(chat: &Value, called: &[String]) -> Result<Option<Value>, String> {
    let mut specs = Vec::new();
    if let Some(tools) = chat.get("tools").filter(|t| !t.is_null()) {
        let tools = tools.as_array().ok_or("tools must be an array")?;
        for (index, tool) in tools.iter().enumerate() {
            match tool.get("type").and_then(Value::as_str) {
                Some("function") | None => {}
                Some(other) => {
                    return Err(format!(
                        "tools[{index}]: tools of type '{other}' cannot be sent to Bedrock"
                    ));
                }
            }
            let function = tool
                .get("function")
                .ok_or_else(|| format!("tools[{index}].function is required"))?;
            let name = function
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("tools[{index}].function.name is required"))?;
            let schema = function
                .get("parameters")
                .filter(|p| !p.is_null())
                .cloned()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
            let mut spec = Map::new();
            spec.insert("name".into(), Value::from(name));
            if let Some(description) = function
                .get("description")
                .and_then(Value::as_str)
                .filter(|d| !d.is_empty())
            {
                spec.insert("description".into(), Value::from(description));
            }
            spec.insert("inputSchema".into(), json!({"json": schema}));
            specs.push(json!({"toolSpec": spec}));
        }
    }
    let choice = match chat.get("tool_choice") {
        None | Some(Value::Null) => None,
        Some(Value::String(mode)) => match mode.as_str() {
            "auto" => Some(json!({"auto": {}})),
            "required" => Some(json!({"any": {}})),
            "none" => {
                if called.is_empty() {
                    return Ok(None);
                }
                None
            }
            other => {
                return Err(format!(
                    "tool_choice '{other}' is not one of auto, required, none"
                ));
            }
        },
        Some(Value::Object(choice)) => {
            let name = choice
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .ok_or("tool_choice must name a function (tool_choice.function.name)")?;
            Some(json!({"tool": {"name": name}}))
        }
        Some(_) => return Err("tool_choice must be a string or an object".into()),
    };
    if specs.is_empty() {
        if called.is_empty() {
            return Ok(None);
        }
        specs = called
            .iter()
            .map(|name| {
                json!({"toolSpec": {"name": name,
                    "inputSchema": {"json": {"type": "object", "properties": {}}}}})
            })
            .collect();
    }
    let mut config = Map::new();
    config.insert("tools".into(), Value::Array(specs));
    if let Some(choice) = choice {
        config.insert("toolChoice".into(), choice);
    }
    Ok(Some(Value::Object(config)))
}
