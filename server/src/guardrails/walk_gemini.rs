//! Where the text sits in Gemini's API: a request's `systemInstruction` and `contents[].parts[]`
//! (text, function calls' `args`, function responses' `response`, code and its results), and an
//! answer's `candidates[].content.parts[]`. Gemini reads both camelCase and snake_case field
//! names, so both are looked up. Inline data, file references, names and ids are never visited.

use serde_json::Value;

use super::walk::{Kind, array, string, strings};

/// Every string of a `generateContent` or `countTokens` request the model reads.
pub(super) fn request<E>(
    body: &mut Value,
    f: &mut impl FnMut(&mut String, Kind) -> Result<(), E>,
) -> Result<(), E> {
    // `countTokens` may wrap a whole generateContent request.
    if let Some(inner) = body.get_mut("generateContentRequest") {
        request_fields(inner, f)?;
    }
    request_fields(body, f)
}

fn request_fields<E>(
    body: &mut Value,
    f: &mut impl FnMut(&mut String, Kind) -> Result<(), E>,
) -> Result<(), E> {
    for key in ["systemInstruction", "system_instruction"] {
        if let Some(system) = body.get_mut(key) {
            content(system, f)?;
        }
    }
    array(body.get_mut("contents")).try_for_each(|c| content(c, f))
}

/// Every string of a `GenerateContentResponse` the model wrote; a stream read whole is a JSON
/// array of them.
pub(super) fn answer<E>(
    answer: &mut Value,
    f: &mut impl FnMut(&mut String, Kind) -> Result<(), E>,
) -> Result<(), E> {
    match answer {
        Value::Array(chunks) => chunks.iter_mut().try_for_each(|c| candidates(c, f)),
        answer => candidates(answer, f),
    }
}

fn candidates<E>(
    answer: &mut Value,
    f: &mut impl FnMut(&mut String, Kind) -> Result<(), E>,
) -> Result<(), E> {
    for candidate in array(answer.get_mut("candidates")) {
        if let Some(content) = candidate.get_mut("content") {
            self::content(content, f)?;
        }
    }
    Ok(())
}

/// A `Content`: its parts.
fn content<E>(
    content: &mut Value,
    f: &mut impl FnMut(&mut String, Kind) -> Result<(), E>,
) -> Result<(), E> {
    array(content.get_mut("parts")).try_for_each(|p| part(p, f))
}

/// One part's text: `text`, a function call's `args` and a function response's `response` (JSON
/// objects: their strings), executable code and its result's output.
pub(super) fn part<E>(
    part: &mut Value,
    f: &mut impl FnMut(&mut String, Kind) -> Result<(), E>,
) -> Result<(), E> {
    string(part.get_mut("text"), f)?;
    let nested = [
        ("functionCall", "function_call", "args"),
        ("functionResponse", "function_response", "response"),
        ("executableCode", "executable_code", "code"),
        ("codeExecutionResult", "code_execution_result", "output"),
    ];
    for (camel, snake, field) in nested {
        for key in [camel, snake] {
            if let Some(value) = part.get_mut(key).and_then(|v| v.get_mut(field)) {
                strings(value, f)?;
            }
        }
    }
    Ok(())
}
