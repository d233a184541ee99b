//! OpenAI embeddings requests as Cohere v2 `/embed` requests, and the answers back.

use serde_json::{Map, Value, json};

use super::read_usage;

/// What the texts are for, unless the client says (Cohere requires it). OpenAI's embeddings
/// have no such distinction; most are stored to be searched, so they are documents.
const DEFAULT_INPUT_TYPE: &str = "search_document";

/// Translates an OpenAI embeddings request into a Cohere v2 embed request. Floats are always
/// asked for: OpenAI's SDKs ask for base64 by default but read floats as well, and Cohere's
/// base64 is not documented to be OpenAI's byte layout. Cohere's own `input_type` and
/// `truncate`, which some OpenAI clients send for Cohere models, pass through.
pub fn embeddings_request(openai: &Value, model: &str) -> Result<Value, String> {
    let texts: Vec<&str> = match openai.get("input") {
        Some(Value::String(text)) => vec![text],
        Some(Value::Array(items)) if items.is_empty() => {
            return Err("input must not be empty".into());
        }
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .ok_or("Cohere embeddings take text inputs only (strings, not token arrays)")
            })
            .collect::<Result<_, _>>()?,
        _ => return Err("input must be a string or an array of strings".into()),
    };
    let mut out = Map::new();
    out.insert("model".into(), Value::from(model));
    out.insert("texts".into(), json!(texts));
    let input_type = match openai.get("input_type") {
        None | Some(Value::Null) => DEFAULT_INPUT_TYPE,
        Some(Value::String(input_type)) => input_type,
        Some(_) => return Err("input_type must be a string".into()),
    };
    out.insert("input_type".into(), Value::from(input_type));
    out.insert("embedding_types".into(), json!(["float"]));
    match openai.get("dimensions") {
        None | Some(Value::Null) => {}
        Some(dimensions) if dimensions.as_u64().is_some_and(|d| d > 0) => {
            out.insert("output_dimension".into(), dimensions.clone());
        }
        Some(_) => return Err("dimensions must be a positive integer".into()),
    }
    if let Some(truncate) = openai.get("truncate").filter(|t| t.is_string()) {
        out.insert("truncate".into(), truncate.clone());
    }
    Ok(Value::Object(out))
}

/// Translates a Cohere embed response (`embeddings.float`, or the bare list of an answer by
/// floats) into OpenAI's embeddings list, its usage from `meta`.
pub fn embeddings_response(cohere: &Value, model: &str) -> Value {
    let vectors = match cohere.get("embeddings") {
        Some(Value::Object(by_type)) => by_type.get("float"),
        other => other,
    };
    let data: Vec<Value> = vectors
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(index, embedding)| {
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let prompt_tokens = cohere
        .get("meta")
        .map(read_usage)
        .unwrap_or_default()
        .prompt_tokens;
    json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    })
}
