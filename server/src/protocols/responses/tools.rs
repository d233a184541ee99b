//! A Responses API request's function tools, `tool_choice` and `parallel_tool_calls` as chat's.
//! Only function tools translate: the built-in ones (web search, file search, computer use, code
//! interpreter, image generation, MCP, shell, custom grammars) run inside OpenAI's service.

use serde_json::{Map, Value, json};

/// `tools`, `tool_choice` and `parallel_tool_calls`. Chat refuses the latter two without tools,
/// so they are only sent along with some.
pub(super) fn tools(
    request: &Map<String, Value>,
    out: &mut Map<String, Value>,
) -> Result<(), String> {
    let mut tools = match request.get("tools") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(tools)) => tools
            .iter()
            .enumerate()
            .map(|(index, tool)| function_tool(&format!("tools[{index}]"), tool))
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err("`tools` must be an array".into()),
    };
    let choice = match request.get("tool_choice") {
        None | Some(Value::Null) => None,
        Some(choice) => Some(tool_choice(choice, &mut tools)?),
    };
    if tools.is_empty() {
        return Ok(());
    }
    out.insert("tools".into(), Value::Array(tools));
    if let Some(choice) = choice {
        out.insert("tool_choice".into(), choice);
    }
    if let Some(parallel) = request.get("parallel_tool_calls").filter(|v| !v.is_null()) {
        out.insert("parallel_tool_calls".into(), parallel.clone());
    }
    Ok(())
}

fn function_tool(at: &str, tool: &Value) -> Result<Value, String> {
    match tool.get("type").and_then(Value::as_str) {
        Some("function") => {}
        Some(other) => {
            return Err(format!(
                "{at}: tools of type '{other}' are run by OpenAI inside the Responses API and \
                 cannot be used with this provider; only `function` tools can be translated"
            ));
        }
        None => return Err(format!("{at}.type must be a string")),
    }
    let name = tool
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{at}.name must be a string"))?;
    let mut function = Map::new();
    function.insert("name".into(), Value::from(name));
    for key in ["description", "parameters", "strict"] {
        if let Some(value) = tool.get(key).filter(|v| !v.is_null()) {
            function.insert(key.into(), value.clone());
        }
    }
    Ok(json!({"type": "function", "function": function}))
}

/// Chat's `tool_choice`; `allowed_tools` narrows `tools` to the allowed functions instead, which
/// every provider understands.
fn tool_choice(choice: &Value, tools: &mut Vec<Value>) -> Result<Value, String> {
    if let Some(mode) = choice.as_str() {
        return match mode {
            "auto" | "none" | "required" => Ok(Value::from(mode)),
            other => Err(format!(
                "`tool_choice` '{other}' must be one of auto, none, required"
            )),
        };
    }
    let name_of = |value: &Value, at: &str| {
        value
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("{at}.name must be a string"))
    };
    match choice.get("type").and_then(Value::as_str) {
        Some("function") => {
            let name = name_of(choice, "tool_choice")?;
            Ok(json!({"type": "function", "function": {"name": name}}))
        }
        Some("allowed_tools") => {
            let mode = match choice.get("mode").and_then(Value::as_str) {
                Some(mode @ ("auto" | "required")) => mode,
                _ => return Err("`tool_choice.mode` must be auto or required".into()),
            };
            let mut allowed = Vec::new();
            for (index, tool) in choice
                .get("tools")
                .and_then(Value::as_array)
                .ok_or("`tool_choice.tools` must be an array")?
                .iter()
                .enumerate()
            {
                let at = format!("tool_choice.tools[{index}]");
                match tool.get("type").and_then(Value::as_str) {
                    Some("function") => allowed.push(name_of(tool, &at)?),
                    other => {
                        return Err(format!(
                            "{at}: only function tools can be allowed with this provider, not '{}'",
                            other.unwrap_or("(no type)")
                        ));
                    }
                }
            }
            tools.retain(|tool| {
                tool.pointer("/function/name")
                    .and_then(Value::as_str)
                    .is_some_and(|name| allowed.iter().any(|a| a == name))
            });
            Ok(Value::from(mode))
        }
        Some(other) => Err(format!(
            "`tool_choice` of type '{other}' names a tool run by OpenAI inside the Responses API; \
             only function tools can be chosen with this provider"
        )),
        None => Err("`tool_choice` must be a string or an object with a type".into()),
    }
}
