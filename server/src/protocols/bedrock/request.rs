//! OpenAI chat requests as Converse requests: `system` blocks, alternating `messages` of content
//! blocks (text, inline images, `toolUse`, `toolResult`), `inferenceConfig`, `toolConfig`,
//! `outputConfig` for JSON schemas, and Claude's extended thinking through
//! `additionalModelRequestFields`. The model is not in the body: it is the path's segment.

use serde_json::{Map, Value, json};

use super::tools::{tool_config, tool_use_blocks};
use crate::protocols::{ImageSource, content_text, image_source, push_turn};

/// `reasoning_effort` as Claude's thinking budget, in tokens (Anthropic's minimum is 1024).
fn thinking_budget(effort: &str) -> Result<Option<u64>, String> {
    Ok(match effort {
        "none" => None,
        "minimal" | "low" => Some(1024),
        "medium" => Some(2048),
        "high" => Some(4096),
        other => {
            return Err(format!(
                "reasoning_effort '{other}' is not one of none, minimal, low, medium, high"
            ));
        }
    })
}

/// Translates an OpenAI chat completion request into a Converse request for `model`.
pub fn request(chat: &Value, model: &str) -> Result<Value, String> {
    let messages_in = chat
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("messages must be an array")?;
    if chat.get("n").and_then(Value::as_u64).is_some_and(|n| n > 1) {
        return Err("n: Bedrock's Converse API returns one choice; n must be 1".into());
    }
    let mut system = Vec::new();
    let mut turns: Vec<(String, Vec<Value>)> = Vec::new();
    // The tools the conversation already called: Bedrock refuses toolUse and toolResult blocks
    // in a request without a toolConfig.
    let mut called: Vec<String> = Vec::new();
    for (index, message) in messages_in.iter().enumerate() {
        let content = message.get("content");
        match message.get("role").and_then(Value::as_str) {
            Some("system" | "developer") => {
                let text = content_text(content);
                if !text.trim().is_empty() {
                    system.push(json!({"text": text}));
                }
            }
            Some("user") => push_turn(&mut turns, "user", content_blocks(content, index)?),
            Some("assistant") => {
                // An earlier answer's `reasoning_content` is not sent back: Claude checks
                // reasoning against a signature that the common form does not keep.
                let mut blocks = content_blocks(content, index)?;
                blocks.extend(tool_use_blocks(message, index, &mut called)?);
                push_turn(&mut turns, "assistant", blocks);
            }
            Some("tool") => {
                let id = message
                    .get("tool_call_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("messages[{index}].tool_call_id is required"))?;
                let block = json!({"toolResult": {
                    "toolUseId": id,
                    "content": [{"text": content_text(content)}],
                }});
                push_turn(&mut turns, "user", vec![block]);
            }
            Some(other) => {
                return Err(format!(
                    "messages[{index}]: role '{other}' cannot be sent to Bedrock"
                ));
            }
            None => return Err(format!("messages[{index}] needs a role")),
        }
    }

    let mut out = Map::new();
    out.insert(
        "messages".into(),
        turns
            .into_iter()
            .map(|(role, content)| json!({"role": role, "content": content}))
            .collect(),
    );
    if !system.is_empty() {
        out.insert("system".into(), Value::Array(system));
    }
    let mut inference = inference_config(chat)?;
    if let Some(tool_config) = tool_config(chat, &called)? {
        out.insert("toolConfig".into(), tool_config);
    }
    if let Some(output) = output_config(chat)? {
        out.insert("outputConfig".into(), output);
    }
    if let Some(fields) = model_fields(chat, model, &mut inference)? {
        out.insert("additionalModelRequestFields".into(), fields);
    }
    if !inference.is_empty() {
        out.insert("inferenceConfig".into(), Value::Object(inference));
    }
    Ok(Value::Object(out))
}

/// An OpenAI message `content` as Converse content blocks. Blank text is left out: Bedrock
/// refuses blank text blocks.
fn content_blocks(content: Option<&Value>, index: usize) -> Result<Vec<Value>, String> {
    match content {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![json!({"text": text})]),
        Some(Value::Array(parts)) => {
            let mut blocks = Vec::with_capacity(parts.len());
            for (part_index, part) in parts.iter().enumerate() {
                let at = || format!("messages[{index}].content[{part_index}]");
                match part.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        let text = part
                            .get("text")
                            .and_then(Value::as_str)
                            .ok_or_else(|| format!("{}.text must be a string", at()))?;
                        if !text.trim().is_empty() {
                            blocks.push(json!({"text": text}));
                        }
                    }
                    Some("image_url") => {
                        let url = part
                            .pointer("/image_url/url")
                            .or_else(|| part.get("image_url"))
                            .and_then(Value::as_str)
                            .ok_or_else(|| format!("{}.image_url.url is required", at()))?;
                        blocks.push(image_block(url).map_err(|e| format!("{}: {e}", at()))?);
                    }
                    Some(other) => {
                        return Err(format!(
                            "{}: content parts of type '{other}' cannot be sent to Bedrock",
                            at()
                        ));
                    }
                    None => return Err(format!("{} needs a type", at())),
                }
            }
            Ok(blocks)
        }
        Some(_) => Err(format!(
            "messages[{index}].content must be a string or an array of parts"
        )),
    }
}

/// An image URL as a Converse image block. Bedrock takes image bytes only (or S3 objects), so an
/// http(s) URL cannot be sent: the gateway does not fetch images on a client's behalf.
fn image_block(url: &str) -> Result<Value, String> {
    match image_source(url)? {
        ImageSource::Inline { media_type, data } => {
            let format = match media_type.to_ascii_lowercase().as_str() {
                "image/png" => "png",
                "image/jpeg" | "image/jpg" => "jpeg",
                "image/gif" => "gif",
                "image/webp" => "webp",
                other => {
                    return Err(format!(
                        "images of type '{other}' cannot be sent to Bedrock (png, jpeg, gif, webp)"
                    ));
                }
            };
            Ok(json!({"image": {"format": format, "source": {"bytes": data}}}))
        }
        ImageSource::Url(_) => {
            Err("Bedrock takes images inline only: send a data: URL, not an http(s) URL".to_owned())
        }
    }
}

fn inference_config(chat: &Value) -> Result<Map<String, Value>, String> {
    let mut config = Map::new();
    let present = |key: &str| chat.get(key).filter(|v| !v.is_null());
    if let Some(max) = present("max_completion_tokens").or_else(|| present("max_tokens")) {
        let max = max
            .as_u64()
            .filter(|&max| max >= 1)
            .ok_or("max_tokens (max_completion_tokens) must be a positive integer")?;
        config.insert("maxTokens".into(), Value::from(max));
    }
    for (from, to) in [("temperature", "temperature"), ("top_p", "topP")] {
        if let Some(value) = present(from) {
            if !value.is_number() {
                return Err(format!("{from} must be a number"));
            }
            config.insert(to.into(), value.clone());
        }
    }
    match present("stop") {
        None => {}
        Some(Value::String(stop)) => {
            config.insert("stopSequences".into(), json!([stop]));
        }
        Some(Value::Array(stops)) => {
            if stops.iter().any(|stop| !stop.is_string()) {
                return Err("stop must be a string or an array of strings".into());
            }
            if !stops.is_empty() {
                config.insert("stopSequences".into(), Value::Array(stops.clone()));
            }
        }
        Some(_) => return Err("stop must be a string or an array of strings".into()),
    }
    Ok(config)
}

/// `response_format: json_schema` as `outputConfig.textFormat`, where Bedrock takes the schema as
/// JSON text. `json_object` has no Converse equivalent (no JSON mode without a schema) and, like
/// `text`, is left to the prompt, as the Anthropic translation does.
fn output_config(chat: &Value) -> Result<Option<Value>, String> {
    let Some(format) = chat.get("response_format").filter(|f| !f.is_null()) else {
        return Ok(None);
    };
    match format.get("type").and_then(Value::as_str) {
        Some("json_schema") => {
            let definition = format
                .get("json_schema")
                .ok_or("response_format.json_schema is required")?;
            let schema = definition
                .get("schema")
                .ok_or("response_format.json_schema.schema is required")?;
            let mut json_schema = Map::new();
            json_schema.insert("schema".into(), Value::from(schema.to_string()));
            if let Some(name) = definition.get("name").and_then(Value::as_str) {
                json_schema.insert("name".into(), Value::from(name));
            }
            if let Some(description) = definition.get("description").and_then(Value::as_str) {
                json_schema.insert("description".into(), Value::from(description));
            }
            Ok(Some(json!({"textFormat": {
                "type": "json_schema",
                "structure": {"jsonSchema": json_schema},
            }})))
        }
        Some("json_object" | "text") => Ok(None),
        _ => Err("response_format.type must be text, json_object or json_schema".into()),
    }
}

/// Fields for the model behind Converse: Claude's extended thinking, from `reasoning_effort` or an
/// Anthropic `thinking` object. Other model families name reasoning differently (or not at all)
/// and refuse fields they do not know, so they get none. Claude needs `maxTokens` above the
/// budget: a smaller one is raised by the budget, so the answer keeps the room it was given.
fn model_fields(
    chat: &Value,
    model: &str,
    inference: &mut Map<String, Value>,
) -> Result<Option<Value>, String> {
    if !model.contains("anthropic.claude") {
        return Ok(None);
    }
    let thinking = match (chat.get("thinking"), chat.get("reasoning_effort")) {
        (Some(thinking), _) if thinking.is_object() => thinking.clone(),
        (_, Some(Value::String(effort))) => match thinking_budget(effort)? {
            Some(budget) => json!({"type": "enabled", "budget_tokens": budget}),
            None => return Ok(None),
        },
        (_, Some(Value::Null) | None) => return Ok(None),
        (_, Some(_)) => return Err("reasoning_effort must be a string".into()),
    };
    if let Some(budget) = thinking.get("budget_tokens").and_then(Value::as_u64)
        && let Some(max) = inference.get("maxTokens").and_then(Value::as_u64)
        && max <= budget
    {
        inference.insert("maxTokens".into(), Value::from(max.saturating_add(budget)));
    }
    Ok(Some(json!({"thinking": thinking})))
}
