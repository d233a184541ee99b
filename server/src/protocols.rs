//! The wire protocols, one module per protocol, each owning both directions: what a provider that
//! speaks it is sent and answers, and (for the protocols clients call the gateway in) what a
//! client sends and is answered. OpenAI chat completions is the common form every translation
//! goes through.

pub mod anthropic;
pub mod azure;
pub mod gemini;
pub mod openai;
pub mod responses;

/// Where an OpenAI `image_url` points: inline base64 data, or an http(s) URL.
pub enum ImageSource<'a> {
    Inline { media_type: &'a str, data: &'a str },
    Url(&'a str),
}

/// Reads an image URL the way every protocol that takes images needs it.
pub fn image_source(url: &str) -> Result<ImageSource<'_>, String> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest.split_once(',').ok_or("a data URL needs a comma")?;
        let media_type = meta
            .strip_suffix(";base64")
            .ok_or("image data URLs must be base64")?;
        return Ok(ImageSource::Inline { media_type, data });
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(ImageSource::Url(url));
    }
    Err("image URLs must be data: or http(s): URLs".into())
}

/// Text of an OpenAI content value, for places that take only text (system prompts, tool results).
pub fn content_text(content: Option<&serde_json::Value>) -> String {
    match content {
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(serde_json::Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(serde_json::Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// Appends items to a conversation of `(role, items)` turns, merging into the previous turn when
/// the role repeats: Anthropic and Gemini both require alternating roles.
pub fn push_turn(
    turns: &mut Vec<(String, Vec<serde_json::Value>)>,
    role: &str,
    items: Vec<serde_json::Value>,
) {
    if items.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some((last, existing)) if last == role => existing.extend(items),
        _ => turns.push((role.to_owned(), items)),
    }
}
