//! A Gemini `generationConfig` as OpenAI chat parameters, and Gemini's OpenAPI-style `Schema`
//! (function parameters, `responseSchema`) as the JSON Schema chat tools and response formats take.

use serde_json::{Map, Value, json};

use super::{camel_case, field};

/// Thinking budgets at or under these take `low` and `medium` effort, above them `high`: the
/// budgets Google's own OpenAI-compatible endpoint gives those efforts (1K, 8K, 24K).
const LOW_EFFORT_BUDGET: i64 = 1024;
const MEDIUM_EFFORT_BUDGET: i64 = 8192;

/// Adds the chat parameters for `generationConfig` to `out`. `topK` has no chat equivalent and is
/// dropped; so are settings that only tune Google's own output (`mediaResolution`,
/// `enableEnhancedCivicAnswers`, `includeThoughts`). Asking for audio, images or logprobs is
/// refused, because the answer could not carry them.
pub fn translate(config: &Value, out: &mut Map<String, Value>) -> Result<(), String> {
    if !config.is_object() {
        return Err("generationConfig must be an object".into());
    }
    for (from, to) in [
        ("temperature", "temperature"),
        ("topP", "top_p"),
        ("maxOutputTokens", "max_tokens"),
        ("presencePenalty", "presence_penalty"),
        ("frequencyPenalty", "frequency_penalty"),
        ("seed", "seed"),
    ] {
        if let Some(value) = field(config, from) {
            out.insert(to.into(), value.clone());
        }
    }
    if let Some(count) = field(config, "candidateCount").and_then(Value::as_u64)
        && count > 1
    {
        out.insert("n".into(), Value::from(count));
    }
    match field(config, "stopSequences") {
        None => {}
        Some(Value::Array(stops)) if stops.is_empty() => {}
        Some(stops @ Value::Array(_)) => {
            out.insert("stop".into(), stops.clone());
        }
        Some(_) => return Err("generationConfig.stopSequences must be an array".into()),
    }
    if let Some(format) = response_format(config)? {
        out.insert("response_format".into(), format);
    }
    if let Some(effort) = field(config, "thinkingConfig")
        .map(reasoning_effort)
        .transpose()?
        .flatten()
    {
        out.insert("reasoning_effort".into(), Value::from(effort));
        // OpenAI's reasoning models take only `max_completion_tokens`; other servers (and every
        // translator of the gateway) read it too, but some OpenAI-style servers know only
        // `max_tokens`, which stays for requests without reasoning.
        if let Some(budget) = out.remove("max_tokens") {
            out.insert("max_completion_tokens".into(), budget);
        }
    }
    refuse_other_output(config)
}

fn refuse_other_output(config: &Value) -> Result<(), String> {
    for (i, modality) in field(config, "responseModalities")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let modality = modality.as_str().unwrap_or_default();
        if !modality.eq_ignore_ascii_case("TEXT") {
            return Err(format!(
                "generationConfig.responseModalities[{i}]: '{modality}' output cannot be asked \
                 of this provider (text only)"
            ));
        }
    }
    if field(config, "speechConfig").is_some() {
        return Err("generationConfig.speechConfig: speech output needs a Gemini provider".into());
    }
    if field(config, "responseLogprobs").and_then(Value::as_bool) == Some(true) {
        return Err(
            "generationConfig.responseLogprobs: log probabilities cannot be returned in \
                    Gemini's form from this provider"
                .into(),
        );
    }
    Ok(())
}

/// `responseMimeType` with `responseJsonSchema` (JSON Schema, sent as it is) or `responseSchema`
/// (Gemini's schema, converted) as a `json_schema` response format; JSON without a schema as
/// `json_object`.
fn response_format(config: &Value) -> Result<Option<Value>, String> {
    let schema = field(config, "responseJsonSchema")
        .cloned()
        .or_else(|| field(config, "responseSchema").map(json_schema));
    let json = match field(config, "responseMimeType").and_then(Value::as_str) {
        None | Some("text/plain") => false,
        Some("application/json") => true,
        Some(other) => {
            return Err(format!(
                "generationConfig.responseMimeType '{other}' cannot be asked of this provider \
                 (text/plain or application/json)"
            ));
        }
    };
    Ok(match schema {
        Some(schema) => Some(json!({
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": schema},
        })),
        None if json => Some(json!({"type": "json_object"})),
        None => None,
    })
}

/// `thinkingLevel` or `thinkingBudget` as a `reasoning_effort`. A budget of 0 (thinking off) or
/// -1 (the model decides) gives none, so that a request to a model that does not reason does not
/// fail for a parameter it does not know.
fn reasoning_effort(thinking: &Value) -> Result<Option<&'static str>, String> {
    if let Some(level) = field(thinking, "thinkingLevel") {
        let level = level.as_str().unwrap_or_default();
        return match level.to_ascii_uppercase().as_str() {
            "MINIMAL" | "LOW" => Ok(Some("low")),
            "MEDIUM" => Ok(Some("medium")),
            "HIGH" => Ok(Some("high")),
            "THINKING_LEVEL_UNSPECIFIED" => Ok(None),
            _ => Err(format!(
                "generationConfig.thinkingConfig.thinkingLevel must be MINIMAL, LOW, MEDIUM or \
                 HIGH, not '{level}'"
            )),
        };
    }
    let Some(budget) = field(thinking, "thinkingBudget") else {
        return Ok(None);
    };
    let budget = budget
        .as_i64()
        .ok_or("generationConfig.thinkingConfig.thinkingBudget must be a whole number of tokens")?;
    Ok(if budget <= 0 {
        None
    } else if budget <= LOW_EFFORT_BUDGET {
        Some("low")
    } else if budget <= MEDIUM_EFFORT_BUDGET {
        Some("medium")
    } else {
        Some("high")
    })
}

/// Gemini's `Schema` (an OpenAPI 3.0 subset) as JSON Schema: `type` values lowercased
/// (`OBJECT` → `object`), `nullable` folded into the type (`["string", "null"]`), snake_case keys
/// (as google-genai sends them) in their JSON Schema spelling, `defs`/`ref` as `$defs`/`$ref`,
/// and Gemini's own `propertyOrdering` and `format: enum` dropped. Property names and literal
/// values (`enum`, `default`, `example`) are kept as they are.
pub fn json_schema(schema: &Value) -> Value {
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    let nullable = map.get("nullable").and_then(Value::as_bool) == Some(true);
    let mut out = Map::new();
    for (key, value) in map {
        let key = camel_case(key);
        match key.as_str() {
            "type" => {
                let Some(kind) = value.as_str().map(str::to_ascii_lowercase) else {
                    out.insert(key, value.clone());
                    continue;
                };
                if kind == "type_unspecified" {
                    continue;
                }
                let kind = if nullable && kind != "null" {
                    json!([kind, "null"])
                } else {
                    Value::from(kind)
                };
                out.insert(key, kind);
            }
            "nullable" | "propertyOrdering" => {}
            "format" if value == "enum" => {}
            "properties" | "defs" | "$defs" => {
                let schemas = value
                    .as_object()
                    .map(|named| {
                        named
                            .iter()
                            .map(|(name, schema)| (name.clone(), json_schema(schema)))
                            .collect()
                    })
                    .map(Value::Object)
                    .unwrap_or_else(|| value.clone());
                let key = if key == "properties" {
                    key
                } else {
                    "$defs".into()
                };
                out.insert(key, schemas);
            }
            "items" | "additionalProperties" => {
                out.insert(key, json_schema(value));
            }
            "anyOf" => {
                let schemas = value
                    .as_array()
                    .map(|items| Value::Array(items.iter().map(json_schema).collect()))
                    .unwrap_or_else(|| value.clone());
                out.insert(key, schemas);
            }
            "ref" | "$ref" => {
                let target = value
                    .as_str()
                    .map(|target| match target.strip_prefix("#/defs/") {
                        Some(name) => Value::from(format!("#/$defs/{name}")),
                        None => Value::from(target),
                    })
                    .unwrap_or_else(|| value.clone());
                out.insert("$ref".into(), target);
            }
            _ => {
                out.insert(key, value.clone());
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translated(config: Value) -> Map<String, Value> {
        let mut out = Map::new();
        translate(&config, &mut out).expect("translates");
        out
    }

    #[test]
    fn sampling_settings() {
        let out = translated(json!({
            "temperature": 0.7, "topP": 0.95, "topK": 40, "maxOutputTokens": 512,
            "stopSequences": ["\n\n"], "candidateCount": 2, "presencePenalty": 0.1,
            "frequencyPenalty": 0.2, "seed": 7, "responseMimeType": "text/plain",
            "mediaResolution": "MEDIA_RESOLUTION_LOW", "responseModalities": ["TEXT"],
        }));
        assert_eq!(
            Value::Object(out),
            json!({"temperature": 0.7, "top_p": 0.95, "max_tokens": 512, "stop": ["\n\n"],
                "n": 2, "presence_penalty": 0.1, "frequency_penalty": 0.2, "seed": 7})
        );
        assert!(!translated(json!({"candidateCount": 1})).contains_key("n"));
    }

    #[test]
    fn thinking_budgets_and_levels_as_efforts() {
        let effort = |thinking: Value| {
            translated(json!({"thinkingConfig": thinking}))
                .get("reasoning_effort")
                .cloned()
        };
        for (budget, expected) in [
            (0, None),
            (-1, None),
            (512, Some("low")),
            (1024, Some("low")),
            (1025, Some("medium")),
            (8192, Some("medium")),
            (24576, Some("high")),
        ] {
            assert_eq!(
                effort(json!({"thinkingBudget": budget, "includeThoughts": true})),
                expected.map(Value::from),
                "{budget}"
            );
        }
        assert_eq!(
            effort(json!({"thinking_level": "HIGH"})),
            Some(json!("high"))
        );
        assert_eq!(
            effort(json!({"thinkingLevel": "MINIMAL"})),
            Some(json!("low"))
        );
        let mut out = Map::new();
        let error = translate(
            &json!({"thinkingConfig": {"thinkingLevel": "MAX"}}),
            &mut out,
        )
        .expect_err("refused");
        assert!(error.contains("thinkingLevel"), "{error}");
    }

    #[test]
    fn response_formats() {
        let format = |config: Value| translated(config).get("response_format").cloned();
        assert_eq!(
            format(json!({"responseMimeType": "application/json"})),
            Some(json!({"type": "json_object"}))
        );
        let schema = json!({"type": "object", "properties": {"a": {"type": "integer"}}});
        assert_eq!(
            format(json!({"responseMimeType": "application/json", "responseJsonSchema": schema})),
            Some(
                json!({"type": "json_schema", "json_schema": {"name": "response", "schema": schema}})
            )
        );
        // A pydantic model as google-genai sends it in `response_schema`.
        assert_eq!(
            format(
                json!({"response_mime_type": "application/json", "response_schema": {
                "type": "OBJECT", "properties": {"a": {"type": "INTEGER"}}, "property_ordering": ["a"]}})
            ),
            Some(
                json!({"type": "json_schema", "json_schema": {"name": "response", "schema": schema}})
            )
        );
        assert_eq!(format(json!({})), None);
    }

    #[test]
    fn gemini_schemas_as_json_schema() {
        let gemini = json!({
            "type": "OBJECT",
            "properties": {
                "unit": {"type": "STRING", "format": "enum", "enum": ["C", "F"], "nullable": true},
                "days": {"type": "ARRAY", "items": {"type": "INTEGER"}, "max_items": 7},
                "place": {"any_of": [{"type": "STRING"}, {"ref": "#/defs/Point"}]},
                "type": {"type": "STRING", "description": "a property named like a keyword"},
            },
            "required": ["unit"],
            "propertyOrdering": ["unit", "days"],
            "defs": {"Point": {"type": "OBJECT", "properties": {"lat": {"type": "NUMBER"}}}},
        });
        assert_eq!(
            json_schema(&gemini),
            json!({
                "type": "object",
                "properties": {
                    "unit": {"type": ["string", "null"], "enum": ["C", "F"]},
                    "days": {"type": "array", "items": {"type": "integer"}, "maxItems": 7},
                    "place": {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/Point"}]},
                    "type": {"type": "string", "description": "a property named like a keyword"},
                },
                "required": ["unit"],
                "$defs": {"Point": {"type": "object", "properties": {"lat": {"type": "number"}}}},
            })
        );
    }
}
