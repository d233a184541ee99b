//! Where the text sits in OpenAI's Responses API: a request's `instructions`, its `input` (a
//! string, or items: messages, function, custom tool, MCP and shell calls and their outputs,
//! patches, reasoning) and a stored prompt's variables; a `response` object's `output` items.
//! Ids, `call_id`s, roles, names, images, files, environment variables and encrypted reasoning
//! are never visited, nor are built-in tools' items (searches the provider runs itself).

use serde_json::Value;

use super::walk::{Kind, array, json_string, string};

/// Every string of a Responses API request the model reads.
pub(super) fn request<E>(
    body: &mut Value,
    f: &mut impl FnMut(&mut String, Kind) -> Result<(), E>,
) -> Result<(), E> {
    string(body.get_mut("instructions"), f)?;
    match body.get_mut("input") {
        Some(Value::String(text)) => f(text, Kind::Text)?,
        Some(Value::Array(items)) => items.iter_mut().try_for_each(|i| item(i, f))?,
        _ => {}
    }
    // A stored prompt template's variables are filled into the prompt the model reads: each is
    // a string or an input part (only text parts hold text).
    if let Some(Value::Object(variables)) = body.pointer_mut("/prompt/variables") {
        for variable in variables.values_mut() {
            match variable {
                Value::String(text) => f(text, Kind::Text)?,
                other => part(other, f)?,
            }
        }
    }
    Ok(())
}

/// Every string of a `response` object's output items the model wrote.
pub(super) fn answer<E>(
    response: &mut Value,
    f: &mut impl FnMut(&mut String, Kind) -> Result<(), E>,
) -> Result<(), E> {
    array(response.get_mut("output")).try_for_each(|i| item(i, f))
}

/// The kinds of items that hold text (input items and output items share their shapes).
enum ItemKind {
    /// A message (an input message may leave its `type` out).
    Message,
    FunctionCall,
    CustomToolCall,
    /// A function's, custom tool's, local shell's or patch's output: a string or input parts.
    ToolOutput,
    McpCall,
    Reasoning,
    /// Shell commands the model ran (`local_shell_call`'s `command`, `shell_call`'s
    /// `commands`) and the patches it applied.
    ShellCall,
    /// A `shell_call_output`: `stdout` and `stderr` per command.
    ShellOutput,
    /// Built-in tool calls, item references: ids, queries the provider runs, images.
    Other,
}

fn item_kind(item: &Value) -> ItemKind {
    match item.get("type").and_then(Value::as_str) {
        None | Some("message") => ItemKind::Message,
        Some("function_call") => ItemKind::FunctionCall,
        Some("custom_tool_call") => ItemKind::CustomToolCall,
        Some(
            "function_call_output"
            | "custom_tool_call_output"
            | "local_shell_call_output"
            | "apply_patch_call_output",
        ) => ItemKind::ToolOutput,
        Some("mcp_call") => ItemKind::McpCall,
        Some("reasoning") => ItemKind::Reasoning,
        Some("local_shell_call" | "shell_call" | "apply_patch_call") => ItemKind::ShellCall,
        Some("shell_call_output") => ItemKind::ShellOutput,
        Some(_) => ItemKind::Other,
    }
}

/// One input or output item's text.
pub(super) fn item<E>(
    item: &mut Value,
    f: &mut impl FnMut(&mut String, Kind) -> Result<(), E>,
) -> Result<(), E> {
    match item_kind(item) {
        ItemKind::Message => match item.get_mut("content") {
            Some(Value::String(text)) => f(text, Kind::Text),
            content => parts(content, f),
        },
        ItemKind::FunctionCall => json_string(item.get_mut("arguments"), f),
        ItemKind::CustomToolCall => string(item.get_mut("input"), f),
        ItemKind::ToolOutput => match item.get_mut("output") {
            Some(Value::String(text)) => f(text, Kind::Text),
            output => parts(output, f),
        },
        ItemKind::McpCall => {
            json_string(item.get_mut("arguments"), f)?;
            string(item.get_mut("output"), f)
        }
        // The summary and the reasoning text are readable; `encrypted_content` is the
        // provider's own and opaque.
        ItemKind::Reasoning => {
            parts(item.get_mut("summary"), f)?;
            parts(item.get_mut("content"), f)
        }
        ItemKind::ShellCall => {
            for pointer in ["/action/command", "/action/commands"] {
                array(item.pointer_mut(pointer)).try_for_each(|c| string(Some(c), f))?;
            }
            string(item.pointer_mut("/operation/diff"), f)
        }
        ItemKind::ShellOutput => array(item.get_mut("output")).try_for_each(|output| {
            string(output.get_mut("stdout"), f)?;
            string(output.get_mut("stderr"), f)
        }),
        ItemKind::Other => Ok(()),
    }
}

/// Content parts: the text of each part that holds text.
fn parts<E>(
    value: Option<&mut Value>,
    f: &mut impl FnMut(&mut String, Kind) -> Result<(), E>,
) -> Result<(), E> {
    array(value).try_for_each(|p| part(p, f))
}

/// One content part's text: `input_text`, `output_text`, `summary_text` and `reasoning_text`
/// parts' `text`, a `refusal` part's `refusal`. Images, files and audio are skipped.
pub(super) fn part<E>(
    part: &mut Value,
    f: &mut impl FnMut(&mut String, Kind) -> Result<(), E>,
) -> Result<(), E> {
    let field = match part.get("type").and_then(Value::as_str) {
        Some("input_text" | "output_text" | "text" | "summary_text" | "reasoning_text") => "text",
        Some("refusal") => "refusal",
        _ => return Ok(()),
    };
    string(part.get_mut(field), f)
}
