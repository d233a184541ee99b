//! The inbound Gemini API (`models/{model}:generateContent`, `:streamGenerateContent`,
//! `:countTokens`): requests from Gemini clients (google-genai, the REST API) translated into
//! OpenAI chat for providers that do not speak Gemini. The answers are written by
//! `gemini/encode.rs`. The turns are read by `inbound/turns.rs`, `generationConfig` and Gemini's
//! OpenAPI-style schemas by `inbound/config.rs`.

mod config;
mod turns;

use serde_json::{Map, Value, json};

pub use super::encode::{
    GeminiEncoder, count_tokens_answer, error_body, error_status, from_chat, usage_metadata,
};

/// A field of a Gemini object by its JSON name (camelCase) or its proto name (snake_case). The
/// REST API accepts both, and google-genai sends several nested objects (`thinkingConfig`,
/// function declarations and responses, schemas) with snake_case keys, as pydantic dumps them.
fn field<'a>(object: &'a Value, camel: &str) -> Option<&'a Value> {
    let present = |value: &&Value| !value.is_null();
    if let Some(value) = object.get(camel).filter(present) {
        return Some(value);
    }
    if !camel.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    object.get(snake_case(camel).as_str()).filter(present)
}

fn snake_case(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A proto field name as its JSON name (`function_declarations` → `functionDeclarations`), for
/// keys read by iterating and for naming fields in errors the way Google's documentation does.
fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' && !out.is_empty() {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Where a field is, for errors: `at.name`, or `name` at the top level (`at` empty).
fn path(at: &str, name: &str) -> String {
    if at.is_empty() {
        name.to_owned()
    } else {
        format!("{at}.{name}")
    }
}

fn text_of<'a>(value: &'a Value, name: &str, at: &str) -> Result<&'a str, String> {
    field(value, name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{} must be a string", path(at, name)))
}

fn array_of<'a>(value: &'a Value, name: &str, at: &str) -> Result<Option<&'a Vec<Value>>, String> {
    match field(value, name) {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(_) => Err(format!("{} must be an array", path(at, name))),
    }
}

/// Translates a GenerateContentRequest into an OpenAI chat completion request for `model`.
/// Streams ask for usage, because Gemini clients expect `usageMetadata` on the last chunk.
pub fn to_chat(request: &Value, model: &str, stream: bool) -> Result<Value, String> {
    if !request.is_object() {
        return Err("the request body must be a JSON object".into());
    }
    refuse_google_only_fields(request)?;
    let mut messages = Vec::new();
    if let Some(system) = field(request, "systemInstruction") {
        let text = system_text(system)?;
        if !text.is_empty() {
            messages.push(json!({"role": "system", "content": text}));
        }
    }
    let contents = array_of(request, "contents", "")?
        .filter(|contents| !contents.is_empty())
        .ok_or("contents must be a non-empty array of turns")?;
    turns::read(contents, &mut messages)?;

    let mut out = Map::new();
    out.insert("model".into(), Value::from(model));
    out.insert("messages".into(), Value::Array(messages));
    out.insert("stream".into(), Value::Bool(stream));
    if stream {
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    translate_tools(request, &mut out)?;
    if let Some(config) = field(request, "generationConfig") {
        config::translate(config, &mut out)?;
    }
    Ok(Value::Object(out))
}

/// Fields only Google can honour: a context cache stored there, and its safety filters.
fn refuse_google_only_fields(request: &Value) -> Result<(), String> {
    if field(request, "cachedContent").is_some() {
        let message =
            "cachedContent names a context cache stored at Google; it needs a Gemini provider";
        return Err(message.into());
    }
    // Settings that turn Google's filters off ask for nothing another provider must do; a
    // stricter threshold would be silently weakened, so it is refused.
    for (i, setting) in array_of(request, "safetySettings", "")?
        .into_iter()
        .flatten()
        .enumerate()
    {
        let threshold = field(setting, "threshold")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !matches!(threshold, "BLOCK_NONE" | "OFF") {
            return Err(format!(
                "safetySettings[{i}] asks Google's safety filters for threshold '{threshold}'; \
                 it needs a Gemini provider (only BLOCK_NONE and OFF can be sent elsewhere)"
            ));
        }
    }
    Ok(())
}

fn system_text(system: &Value) -> Result<String, String> {
    // Google's REST API takes a Content here; a bare string is accepted too, as some clients send.
    if let Some(text) = system.as_str() {
        return Ok(text.to_owned());
    }
    let mut texts = Vec::new();
    for (i, part) in array_of(system, "parts", "systemInstruction")?
        .into_iter()
        .flatten()
        .enumerate()
    {
        match field(part, "text").map(Value::as_str) {
            Some(Some(text)) => texts.push(text),
            _ => {
                return Err(format!("systemInstruction.parts[{i}] must be a text part"));
            }
        }
    }
    Ok(texts.join("\n"))
}

/// `tools[].functionDeclarations[]` as chat tools, and `toolConfig` as `tool_choice`. Google's
/// built-in tools run at Google and are refused.
fn translate_tools(request: &Value, out: &mut Map<String, Value>) -> Result<(), String> {
    let mut tools = Vec::new();
    for (i, tool) in array_of(request, "tools", "")?
        .into_iter()
        .flatten()
        .enumerate()
    {
        let Some(entries) = tool.as_object() else {
            return Err(format!("tools[{i}] must be an object"));
        };
        for (key, value) in entries {
            let key = camel_case(key);
            if key != "functionDeclarations" {
                return Err(format!(
                    "tools[{i}].{key}: Google's built-in tool '{key}' runs at Google and cannot \
                     be sent to this provider"
                ));
            }
            let Some(declarations) = value.as_array() else {
                return Err(format!("tools[{i}].functionDeclarations must be an array"));
            };
            for (j, declaration) in declarations.iter().enumerate() {
                let at = format!("tools[{i}].functionDeclarations[{j}]");
                tools.push(chat_tool(declaration, &at)?);
            }
        }
    }
    if tools.is_empty() {
        return Ok(());
    }
    let choice = field(request, "toolConfig").and_then(|c| field(c, "functionCallingConfig"));
    if let Some(config) = choice {
        let choice = tool_choice(config, &mut tools)?;
        out.insert("tool_choice".into(), choice);
    }
    out.insert("tools".into(), Value::Array(tools));
    Ok(())
}

fn chat_tool(declaration: &Value, at: &str) -> Result<Value, String> {
    let name = text_of(declaration, "name", at)?;
    let parameters = if let Some(schema) = field(declaration, "parametersJsonSchema") {
        schema.clone()
    } else if let Some(schema) = field(declaration, "parameters") {
        config::json_schema(schema)
    } else {
        json!({"type": "object", "properties": {}})
    };
    let mut function = Map::new();
    function.insert("name".into(), Value::from(name));
    if let Some(description) = field(declaration, "description") {
        function.insert("description".into(), description.clone());
    }
    function.insert("parameters".into(), parameters);
    Ok(json!({"type": "function", "function": function}))
}

/// `functionCallingConfig` as `tool_choice`. `ANY` with several allowed names has no chat
/// equivalent but the tools themselves: the list is narrowed to those names.
fn tool_choice(config: &Value, tools: &mut Vec<Value>) -> Result<Value, String> {
    let at = "toolConfig.functionCallingConfig";
    let allowed: Vec<&str> = array_of(config, "allowedFunctionNames", at)?
        .into_iter()
        .flatten()
        .map(|name| {
            name.as_str()
                .ok_or_else(|| format!("{at}.allowedFunctionNames must hold strings"))
        })
        .collect::<Result<_, _>>()?;
    let mode = field(config, "mode")
        .and_then(Value::as_str)
        .unwrap_or("AUTO")
        .to_ascii_uppercase();
    Ok(match mode.as_str() {
        "AUTO" | "MODE_UNSPECIFIED" | "VALIDATED" => Value::from("auto"),
        "NONE" => Value::from("none"),
        "ANY" => match allowed.as_slice() {
            [] => Value::from("required"),
            [name] => json!({"type": "function", "function": {"name": name}}),
            names => {
                tools.retain(|tool| {
                    tool.pointer("/function/name")
                        .and_then(Value::as_str)
                        .is_some_and(|name| names.contains(&name))
                });
                if tools.is_empty() {
                    return Err(format!(
                        "{at}.allowedFunctionNames names no declared function"
                    ));
                }
                Value::from("required")
            }
        },
        other => {
            return Err(format!(
                "{at}.mode must be AUTO, ANY, NONE or VALIDATED, not '{other}'"
            ));
        }
    })
}

/// Tokens Gemini counts for an image of up to 384 pixels a side (larger ones are tiled and count
/// more); the estimate takes every image and file at that size.
const MEDIA_TOKENS: u64 = 258;

/// A rough token count for `:countTokens` when the provider cannot count: about four characters
/// per token over every text the request carries (the usual rule of thumb for English), plus a
/// fixed count per image or file. The body is `{contents, …}` or `{generateContentRequest: …}`.
pub fn estimate_tokens(request: &Value) -> u64 {
    fn measure(value: &Value, chars: &mut usize, media: &mut u64) {
        match value {
            Value::String(text) => *chars += text.chars().count(),
            Value::Array(items) => items.iter().for_each(|item| measure(item, chars, media)),
            Value::Object(map) => {
                for (key, value) in map {
                    match key.as_str() {
                        "inlineData" | "inline_data" | "fileData" | "file_data" => *media += 1,
                        "role" | "type" | "id" | "thought" | "thoughtSignature"
                        | "thought_signature" => {}
                        _ => measure(value, chars, media),
                    }
                }
            }
            _ => {}
        }
    }
    let request = field(request, "generateContentRequest").unwrap_or(request);
    let (mut chars, mut media) = (0, 0);
    for key in ["systemInstruction", "contents", "tools"] {
        if let Some(value) = field(request, key) {
            measure(value, &mut chars, &mut media);
        }
    }
    (chars as u64)
        .div_ceil(4)
        .saturating_add(media.saturating_mul(MEDIA_TOKENS))
        .max(1)
}
