//! The turns of a Gemini request (`contents[]`) as OpenAI chat messages: text and images as user
//! content, function calls as the assistant's tool calls (with ids where Gemini gives none) and
//! function responses as `tool` messages answering them.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::{array_of, camel_case, field, text_of};

/// Appends the chat messages for a request's `contents` to `messages`.
pub(super) fn read(contents: &[Value], messages: &mut Vec<Value>) -> Result<(), String> {
    Conversation::new(contents).read(contents, messages)
}

/// The conversation's state while its turns are read: the function calls still waiting for a
/// response, so that a `functionResponse` (which google-genai sends without an id) answers the
/// earliest call of its name, and the ids given to calls that came without one.
struct Conversation {
    pending: Vec<(String, String)>,
    taken_ids: HashSet<String>,
    next_id: usize,
}

impl Conversation {
    fn new(contents: &[Value]) -> Conversation {
        // Ids the client gave are collected first, so that a generated one never repeats them.
        let taken_ids = contents
            .iter()
            .filter_map(|content| field(content, "parts").and_then(Value::as_array))
            .flatten()
            .filter_map(|part| field(part, "functionCall"))
            .filter_map(|call| field(call, "id").and_then(Value::as_str))
            .map(str::to_owned)
            .collect();
        Conversation {
            pending: Vec::new(),
            taken_ids,
            next_id: 0,
        }
    }

    /// A stable id (`call_<n>`, numbered through the conversation) for a call that has none.
    fn generated_id(&mut self) -> String {
        loop {
            let id = format!("call_{}", self.next_id);
            self.next_id += 1;
            if !self.taken_ids.contains(&id) {
                return id;
            }
        }
    }

    fn read(&mut self, contents: &[Value], messages: &mut Vec<Value>) -> Result<(), String> {
        for (i, content) in contents.iter().enumerate() {
            let at = format!("contents[{i}]");
            if !content.is_object() {
                return Err(format!("{at} must be an object with role and parts"));
            }
            let parts = array_of(content, "parts", &at)?.map_or(&[][..], Vec::as_slice);
            // The role may be left out in a single-turn request; Google reads it as the user's.
            // `function` is the role older clients gave turns of function responses.
            match field(content, "role").map(Value::as_str) {
                None | Some(Some("user" | "function")) => self.user_turn(parts, &at, messages)?,
                Some(Some("model")) => self.model_turn(parts, &at, messages)?,
                Some(Some(other)) => {
                    return Err(format!(
                        "{at}.role must be 'user' or 'model', not '{other}'"
                    ));
                }
                Some(None) => return Err(format!("{at}.role must be a string")),
            }
        }
        Ok(())
    }

    /// A user turn: function responses become `tool` messages, placed first because OpenAI wants
    /// them right after the assistant's calls, and the rest one user message.
    fn user_turn(
        &mut self,
        parts: &[Value],
        at: &str,
        messages: &mut Vec<Value>,
    ) -> Result<(), String> {
        let mut content = Vec::new();
        for (j, part) in parts.iter().enumerate() {
            let at = format!("{at}.parts[{j}]");
            match Part::read(part, &at)? {
                Part::Text(text) => content.push(json!({"type": "text", "text": text})),
                Part::Image(url) => {
                    content.push(json!({"type": "image_url", "image_url": {"url": url}}));
                }
                Part::FunctionResponse(response) => {
                    messages.push(self.tool_message(response, &at)?);
                }
                Part::FunctionCall(_) => {
                    return Err(format!(
                        "{at}: functionCall parts belong in turns with role 'model'"
                    ));
                }
                Part::Skipped => {}
            }
        }
        let content = match content.as_slice() {
            [] => return Ok(()),
            [only] if only["type"] == "text" => only["text"].clone(),
            _ => Value::Array(content),
        };
        messages.push(json!({"role": "user", "content": content}));
        Ok(())
    }

    /// A model turn: its text and function calls as one assistant message.
    fn model_turn(
        &mut self,
        parts: &[Value],
        at: &str,
        messages: &mut Vec<Value>,
    ) -> Result<(), String> {
        let mut text = String::new();
        let mut calls = Vec::new();
        for (j, part) in parts.iter().enumerate() {
            let at = format!("{at}.parts[{j}]");
            match Part::read(part, &at)? {
                Part::Text(part_text) => text.push_str(part_text),
                Part::FunctionCall(call) => calls.push(self.tool_call(call, &at)?),
                Part::Image(_) => {
                    return Err(format!(
                        "{at}: images in a model turn cannot be sent to this provider"
                    ));
                }
                Part::FunctionResponse(_) => {
                    return Err(format!(
                        "{at}: functionResponse parts belong in turns with role 'user'"
                    ));
                }
                Part::Skipped => {}
            }
        }
        if text.is_empty() && calls.is_empty() {
            return Ok(());
        }
        let mut message = Map::new();
        message.insert("role".into(), Value::from("assistant"));
        message.insert(
            "content".into(),
            if text.is_empty() {
                Value::Null
            } else {
                Value::from(text)
            },
        );
        if !calls.is_empty() {
            message.insert("tool_calls".into(), Value::Array(calls));
        }
        messages.push(Value::Object(message));
        Ok(())
    }

    fn tool_call(&mut self, call: &Value, at: &str) -> Result<Value, String> {
        let name = text_of(call, "name", &format!("{at}.functionCall"))?;
        let id = match field(call, "id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => id.to_owned(),
            _ => self.generated_id(),
        };
        let arguments = match field(call, "args") {
            None => "{}".to_owned(),
            Some(args @ Value::Object(_)) => args.to_string(),
            Some(_) => return Err(format!("{at}.functionCall.args must be an object")),
        };
        self.pending.push((name.to_owned(), id.clone()));
        Ok(
            json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}),
        )
    }

    fn tool_message(&mut self, response: &Value, at: &str) -> Result<Value, String> {
        let at = format!("{at}.functionResponse");
        let name = text_of(response, "name", &at)?;
        if array_of(response, "parts", &at)?.is_some_and(|parts| !parts.is_empty()) {
            return Err(format!(
                "{at}.parts: multimodal function responses cannot be sent to this provider"
            ));
        }
        let id = match field(response, "id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => {
                self.pending.retain(|(_, pending)| pending != id);
                id.to_owned()
            }
            _ => {
                let earliest = self
                    .pending
                    .iter()
                    .position(|(pending, _)| pending == name)
                    .ok_or_else(|| {
                        format!("{at} answers '{name}', but no earlier functionCall of that name is waiting for one")
                    })?;
                self.pending.remove(earliest).1
            }
        };
        Ok(json!({"role": "tool", "tool_call_id": id, "content": tool_result_text(response)}))
    }
}

/// The text of a function's result. `{"content": "…"}` is how the outbound translation wraps a
/// plain-text tool result, so it is unwrapped again; any other result is sent as its JSON.
fn tool_result_text(response: &Value) -> String {
    match field(response, "response") {
        None => "{}".to_owned(),
        Some(Value::Object(map)) if map.len() == 1 => match map.get("content") {
            Some(Value::String(text)) => text.clone(),
            _ => Value::Object(map.clone()).to_string(),
        },
        Some(result) => result.to_string(),
    }
}

/// One part of a turn, as far as OpenAI chat can carry it.
enum Part<'a> {
    Text(&'a str),
    /// An image's URL: a data URL for inline bytes, or the web address of a file.
    Image(String),
    FunctionCall(&'a Value),
    FunctionResponse(&'a Value),
    /// Thoughts (the model's own, which other providers cannot use), empty text, empty parts.
    Skipped,
}

/// Keys of a part that describe it rather than carry content.
const PART_METADATA: [&str; 8] = [
    "thought",
    "thoughtSignature",
    "thought_signature",
    "videoMetadata",
    "video_metadata",
    "mediaResolution",
    "media_resolution",
    "partMetadata",
];

impl<'a> Part<'a> {
    fn read(part: &'a Value, at: &str) -> Result<Part<'a>, String> {
        if !part.is_object() {
            return Err(format!("{at} must be an object"));
        }
        if field(part, "thought").and_then(Value::as_bool) == Some(true) {
            return Ok(Part::Skipped);
        }
        if let Some(text) = field(part, "text") {
            let text = text
                .as_str()
                .ok_or_else(|| format!("{at}.text must be a string"))?;
            return Ok(if text.is_empty() {
                Part::Skipped
            } else {
                Part::Text(text)
            });
        }
        if let Some(blob) = field(part, "inlineData") {
            return inline_image(blob, &format!("{at}.inlineData")).map(Part::Image);
        }
        if let Some(file) = field(part, "fileData") {
            return file_image(file, &format!("{at}.fileData")).map(Part::Image);
        }
        if let Some(call) = field(part, "functionCall") {
            return Ok(Part::FunctionCall(call));
        }
        if let Some(response) = field(part, "functionResponse") {
            return Ok(Part::FunctionResponse(response));
        }
        let kind = part
            .as_object()
            .into_iter()
            .flatten()
            .map(|(key, _)| key.as_str())
            .find(|key| !PART_METADATA.contains(key) && *key != "part_metadata");
        match kind {
            None => Ok(Part::Skipped),
            Some(kind) => Err(format!(
                "{at}: {} parts come from Google's own tools and cannot be sent to this provider",
                camel_case(kind)
            )),
        }
    }
}

fn inline_image(blob: &Value, at: &str) -> Result<String, String> {
    let mime = text_of(blob, "mimeType", at)?;
    let data = text_of(blob, "data", at)?;
    if !mime.starts_with("image/") {
        return Err(format!(
            "{at}: inline data of type '{mime}' cannot be sent to this provider (images only)"
        ));
    }
    Ok(format!("data:{mime};base64,{data}"))
}

fn file_image(file: &Value, at: &str) -> Result<String, String> {
    let uri = text_of(file, "fileUri", at)?;
    let mime = match field(file, "mimeType").and_then(Value::as_str) {
        Some(mime) => mime.to_owned(),
        None => image_type_of(uri).ok_or_else(|| {
            format!("{at}.mimeType is needed: the type of '{uri}' cannot be told from its name")
        })?,
    };
    if !mime.starts_with("image/") {
        return Err(format!(
            "{at}: files of type '{mime}' cannot be sent to this provider (images only)"
        ));
    }
    // Files uploaded to Google (the Files API, Cloud Storage) are readable with Google's
    // credentials only.
    let web = uri.starts_with("https://") || uri.starts_with("http://");
    if !web || uri.contains("generativelanguage.googleapis.com") {
        return Err(format!(
            "{at}: '{uri}' is a file stored at Google; it needs a Gemini provider"
        ));
    }
    Ok(uri.to_owned())
}

fn image_type_of(uri: &str) -> Option<String> {
    let path = uri
        .split(['?', '#'])
        .next()
        .unwrap_or(uri)
        .to_ascii_lowercase();
    let extension = path.rsplit_once('.')?.1;
    let mime = match extension {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "heic" => "image/heic",
        "heif" => "image/heif",
        _ => return None,
    };
    Some(mime.to_owned())
}
