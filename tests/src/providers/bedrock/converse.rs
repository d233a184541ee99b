//! What Bedrock's Converse API requires of a request body before it reaches a model, with the
//! messages of its `ValidationException`s: known members only, a conversation that starts with a
//! user turn and alternates, no blank text, tool blocks only with a `toolConfig`.

use serde_json::{Map, Value};

/// The members of a Converse request (the model is the path's, never the body's).
const MEMBERS: [&str; 11] = [
    "messages",
    "system",
    "inferenceConfig",
    "toolConfig",
    "guardrailConfig",
    "additionalModelRequestFields",
    "additionalModelResponseFieldPaths",
    "promptVariables",
    "requestMetadata",
    "performanceConfig",
    "outputConfig",
];

const INFERENCE: [&str; 4] = ["maxTokens", "temperature", "topP", "stopSequences"];

/// Checks a Converse body; the error is the message Bedrock's `ValidationException` carries.
pub fn check(body: &Value) -> Result<(), String> {
    let object = body
        .as_object()
        .ok_or("The request body must be an object")?;
    if let Some(extra) = object.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
        return Err(format!(
            "Malformed input request: extraneous key [{extra}] is not permitted, please reformat your input and try again."
        ));
    }
    let messages = object
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("1 validation error detected: Value null at 'messages' failed to satisfy constraint: Member must not be null")?;
    let mut tool_blocks = false;
    for (i, message) in messages.iter().enumerate() {
        let role = message["role"].as_str().unwrap_or_default();
        let expected = if i % 2 == 0 { "user" } else { "assistant" };
        if i == 0 && role != "user" {
            return Err("A conversation must start with a user message. Try again with a conversation that starts with a user message.".into());
        }
        if role != expected {
            return Err("A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.".into());
        }
        let blocks = message["content"].as_array().filter(|c| !c.is_empty());
        let Some(blocks) = blocks else {
            return Err(format!(
                "The content field in the Message object at messages.{i} is empty. Add a ContentBlock object to the content field and try again."
            ));
        };
        for (j, block) in blocks.iter().enumerate() {
            tool_blocks |= block.get("toolUse").is_some() || block.get("toolResult").is_some();
            check_block(block, &format!("messages.{i}.content.{j}"))?;
        }
    }
    if messages.is_empty() {
        return Err("A conversation must start with a user message. Try again with a conversation that starts with a user message.".into());
    }
    for (i, block) in object
        .get("system")
        .map(|s| s.as_array().ok_or("system must be a list"))
        .transpose()?
        .into_iter()
        .flatten()
        .enumerate()
    {
        if block["text"].as_str().is_none_or(|t| t.trim().is_empty()) {
            return Err(format!(
                "The text field in the SystemContentBlock object at system.{i} is blank. Add text to the text field, and try again."
            ));
        }
    }
    if let Some(config) = object.get("inferenceConfig") {
        let config = config
            .as_object()
            .ok_or("inferenceConfig must be an object")?;
        if let Some(extra) = config.keys().find(|k| !INFERENCE.contains(&k.as_str())) {
            return Err(format!(
                "Unknown member inferenceConfig.{extra}: the model's own parameters go in additionalModelRequestFields"
            ));
        }
        if config
            .get("maxTokens")
            .is_some_and(|m| m.as_u64().is_none_or(|m| m < 1))
        {
            return Err("1 validation error detected: Value at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1".into());
        }
    }
    match object.get("toolConfig") {
        Some(config) => check_tool_config(config),
        None if tool_blocks => Err("The toolConfig field must be defined when using toolUse and toolResult content blocks.".into()),
        None => Ok(()),
    }
}

/// A content block has exactly one member, of a known kind, with what that kind needs.
fn check_block(block: &Value, at: &str) -> Result<(), String> {
    let members = block.as_object().map(Map::len).unwrap_or_default();
    if members != 1 {
        return Err(format!(
            "The ContentBlock object at {at} must have exactly one member"
        ));
    }
    if let Some(text) = block.get("text") {
        if text.as_str().is_none_or(|t| t.trim().is_empty()) {
            return Err(format!(
                "The text field in the ContentBlock object at {at} is blank. Add text to the text field, and try again."
            ));
        }
    } else if let Some(image) = block.get("image") {
        let format = image["format"].as_str().unwrap_or_default();
        if !["png", "jpeg", "gif", "webp"].contains(&format)
            || !image["source"]["bytes"].is_string()
        {
            return Err(format!(
                "The image at {at} needs a format (png, jpeg, gif, webp) and source.bytes"
            ));
        }
    } else if let Some(tool_use) = block.get("toolUse") {
        if !tool_use["toolUseId"].is_string()
            || !tool_use["name"].is_string()
            || !tool_use["input"].is_object()
        {
            return Err(format!(
                "The toolUse at {at} needs toolUseId, name and an input object"
            ));
        }
    } else if let Some(result) = block.get("toolResult") {
        let content = result["content"].as_array();
        if !result["toolUseId"].is_string() || content.is_none_or(Vec::is_empty) {
            return Err(format!(
                "The toolResult at {at} needs a toolUseId and content"
            ));
        }
    } else if block.get("reasoningContent").is_none() && block.get("document").is_none() {
        return Err(format!(
            "The ContentBlock object at {at} has an unknown member"
        ));
    }
    Ok(())
}

fn check_tool_config(config: &Value) -> Result<(), String> {
    let tools = config["tools"].as_array().filter(|t| !t.is_empty());
    let Some(tools) = tools else {
        return Err("The toolConfig.tools field must contain at least one tool".into());
    };
    let mut names = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        let spec = &tool["toolSpec"];
        let Some(name) = spec["name"].as_str() else {
            return Err(format!("toolConfig.tools.{i}.toolSpec.name is required"));
        };
        if !spec["inputSchema"]["json"].is_object() {
            return Err(format!(
                "toolConfig.tools.{i}.toolSpec.inputSchema.json must be a JSON schema object"
            ));
        }
        names.push(name);
    }
    match config.get("toolChoice") {
        None => Ok(()),
        Some(choice) if choice.get("auto").is_some() || choice.get("any").is_some() => Ok(()),
        Some(choice) => match choice["tool"]["name"].as_str() {
            Some(name) if names.contains(&name) => Ok(()),
            _ => Err(format!(
                "toolConfig.toolChoice {choice} must be auto, any, or a tool of toolConfig.tools"
            )),
        },
    }
}
