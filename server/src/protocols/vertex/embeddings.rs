//! Vertex AI's text embeddings (`:predict` on a publisher model): OpenAI's embeddings request as
//! `{"instances":[{"content"}],"parameters"}`, and the `predictions` back as OpenAI's list.

use serde_json::{Map, Value, json};

/// An OpenAI embeddings request as a `:predict` body.
pub fn request(openai: &Value) -> Result<Value, String> {
    let inputs: Vec<&str> = match openai.get("input") {
        Some(Value::String(text)) => vec![text],
        Some(Value::Array(items)) if items.is_empty() => {
            return Err("input must not be an empty array".into());
        }
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .ok_or("Vertex AI embeddings take text inputs only, not token arrays")
            })
            .collect::<Result<_, _>>()?,
        _ => return Err("input must be a string or an array of strings".into()),
    };
    let instances: Vec<Value> = inputs
        .into_iter()
        .map(|text| json!({"content": text}))
        .collect();
    let mut parameters = Map::new();
    match openai.get("dimensions") {
        None | Some(Value::Null) => {}
        Some(value) => {
            let dimensions = value
                .as_u64()
                .filter(|&d| d > 0)
                .ok_or("dimensions must be a positive integer")?;
            parameters.insert("outputDimensionality".into(), Value::from(dimensions));
        }
    }
    let mut body = json!({"instances": instances});
    if !parameters.is_empty() {
        body["parameters"] = Value::Object(parameters);
    }
    Ok(body)
}

/// A `:predict` answer as OpenAI's embeddings list, its usage the sum of the predictions'
/// token counts.
pub fn answer(raw: &Value, model: &str) -> Value {
    let predictions = raw
        .get("predictions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut tokens: u64 = 0;
    let data: Vec<Value> = predictions
        .iter()
        .enumerate()
        .map(|(index, prediction)| {
            let embeddings = prediction.get("embeddings");
            // The count has been seen as a float (`6.0`) as well as an integer.
            let count = embeddings
                .and_then(|e| e.pointer("/statistics/token_count"))
                .and_then(|c| c.as_u64().or_else(|| c.as_f64().map(|f| f.max(0.0) as u64)))
                .unwrap_or(0);
            tokens = tokens.saturating_add(count);
            let values = embeddings
                .and_then(|e| e.get("values"))
                .cloned()
                .unwrap_or_else(|| json!([]));
            json!({"object": "embedding", "index": index, "embedding": values})
        })
        .collect();
    json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })
}
