//! Input message content (text, images, files) as chat content parts. Files and images are
//! translated only when the request carries them: a `file_id` names a file uploaded to the
//! provider, which another provider cannot read.

use serde_json::{Map, Value, json};

/// A user, system or developer message's content: a string as it is, parts as chat parts, and
/// parts that are all text as one string (several OpenAI-compatible servers take only strings).
pub(super) fn input_content(at: &str, content: Option<&Value>) -> Result<Value, String> {
    let parts = match content {
        Some(Value::String(text)) => return Ok(Value::from(text.as_str())),
        Some(Value::Array(parts)) => parts,
        _ => {
            return Err(format!(
                "{at} must be a string or an array of content parts"
            ));
        }
    };
    let parts = parts
        .iter()
        .enumerate()
        .map(|(index, part)| input_part(&format!("{at}[{index}]"), part))
        .collect::<Result<Vec<_>, _>>()?;
    let texts: Option<Vec<&str>> = parts
        .iter()
        .map(|part| match part.get("type").and_then(Value::as_str) {
            Some("text") => part.get("text").and_then(Value::as_str),
            _ => None,
        })
        .collect();
    Ok(match texts {
        Some(texts) => Value::from(texts.join("\n")),
        None => Value::Array(parts),
    })
}

/// One input content part as a chat content part.
pub(super) fn input_part(at: &str, part: &Value) -> Result<Value, String> {
    let kind = part
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{at}.type must be a string"))?;
    let field = |key: &str| part.get(key).and_then(Value::as_str);
    match kind {
        "input_text" | "output_text" | "text" => {
            let text = field("text").ok_or_else(|| format!("{at}.text must be a string"))?;
            Ok(json!({"type": "text", "text": text}))
        }
        "input_image" => {
            if let Some(url) = field("image_url") {
                let mut image = Map::new();
                image.insert("url".into(), Value::from(url));
                // Chat knows these three; `original` has no equivalent and is left to the default.
                if let Some(detail) =
                    field("detail").filter(|d| matches!(*d, "auto" | "low" | "high"))
                {
                    image.insert("detail".into(), Value::from(detail));
                }
                return Ok(json!({"type": "image_url", "image_url": image}));
            }
            if field("file_id").is_some() {
                return Err(format!(
                    "{at}: an input_image with a file_id refers to a file uploaded to the provider; \
                     send the image as image_url (a data: or https: URL) instead"
                ));
            }
            Err(format!("{at}: an input_image needs image_url"))
        }
        "input_file" => {
            if let Some(data) = field("file_data") {
                let mut file = Map::new();
                file.insert("file_data".into(), Value::from(data));
                if let Some(name) = field("filename") {
                    file.insert("filename".into(), Value::from(name));
                }
                return Ok(json!({"type": "file", "file": file}));
            }
            Err(format!(
                "{at}: an input_file must carry its content in file_data (a file_id or file_url \
                 refers to a file only the provider can fetch)"
            ))
        }
        other => Err(format!(
            "{at}: content parts of type '{other}' cannot be translated to chat completions"
        )),
    }
}

/// An assistant message's content as chat's text and refusal.
pub(super) fn assistant_content(
    at: &str,
    content: Option<&Value>,
) -> Result<(String, Option<String>), String> {
    let parts = match content {
        Some(Value::String(text)) => return Ok((text.clone(), None)),
        Some(Value::Array(parts)) => parts,
        _ => {
            return Err(format!(
                "{at} must be a string or an array of content parts"
            ));
        }
    };
    let mut texts = Vec::new();
    let mut refusals = Vec::new();
    for (index, part) in parts.iter().enumerate() {
        let field = |key: &str| {
            part.get(key)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{at}[{index}].{key} must be a string"))
        };
        match part.get("type").and_then(Value::as_str) {
            Some("output_text" | "input_text" | "text") => texts.push(field("text")?),
            Some("refusal") => refusals.push(field("refusal")?),
            Some(other) => {
                return Err(format!(
                    "{at}[{index}]: assistant content parts of type '{other}' cannot be translated \
                     to chat completions"
                ));
            }
            None => return Err(format!("{at}[{index}].type must be a string")),
        }
    }
    let refusal = (!refusals.is_empty()).then(|| refusals.join("\n"));
    Ok((texts.join("\n"), refusal))
}
