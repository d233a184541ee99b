//! Where the text sits in OpenAI's other endpoints: completions' prompt and answer text, image
//! prompts (and the prompts the model revised), speech input, moderation inputs, rerank queries
//! and documents, transcripts.

use serde_json::Value;

use super::walk::{Kind, array, string, string_or_strings};
use crate::protocols::Endpoint;

/// Every string of an endpoint's request the model reads.
pub(super) fn request<E>(
    body: &mut Value,
    endpoint: Endpoint,
    f: &mut impl FnMut(&mut String, Kind) -> Result<(), E>,
) -> Result<(), E> {
    match endpoint {
        // A prompt is a string or an array of them (token arrays hold no text); the suffix
        // follows the inserted completion.
        Endpoint::Completions => {
            string_or_strings(body.get_mut("prompt"), f)?;
            string(body.get_mut("suffix"), f)
        }
        Endpoint::Images => string(body.get_mut("prompt"), f),
        // `instructions` steer the voice of the newer speech models.
        Endpoint::AudioSpeech => {
            string(body.get_mut("input"), f)?;
            string(body.get_mut("instructions"), f)
        }
        // A string, strings, or multimodal parts, of which only `text` parts hold text.
        Endpoint::Moderations => match body.get_mut("input") {
            Some(Value::Array(inputs)) => inputs.iter_mut().try_for_each(|input| match input {
                Value::String(text) => f(text, Kind::Text),
                part if part.get("type").and_then(Value::as_str) == Some("text") => {
                    string(part.get_mut("text"), f)
                }
                _ => Ok(()),
            }),
            input => string(input, f),
        },
        Endpoint::Rerank => {
            string_or_text(body.get_mut("query"), f)?;
            array(body.get_mut("documents")).try_for_each(|d| string_or_text(Some(d), f))
        }
        // The body is a multipart form (the audio file); `apply_request` reads only JSON, so its
        // `prompt` field is not scanned.
        Endpoint::AudioTranscriptions => Ok(()),
    }
}

/// Every string of an endpoint's answer that the model wrote (or, for rerank, the documents it
/// gives back, so that restored values come back too).
pub(super) fn answer<E>(
    answer: &mut Value,
    endpoint: Endpoint,
    f: &mut impl FnMut(&mut String, Kind) -> Result<(), E>,
) -> Result<(), E> {
    match endpoint {
        Endpoint::Completions => {
            array(answer.get_mut("choices")).try_for_each(|c| string(c.get_mut("text"), f))
        }
        // A `json` or `verbose_json` transcript; `verbose_json` repeats it in segments and
        // words. A `text`, `srt` or `vtt` transcript is not JSON: `guard_plain` cannot read it
        // and passes it as it came, unchecked.
        Endpoint::AudioTranscriptions => {
            string(answer.get_mut("text"), f)?;
            array(answer.get_mut("segments")).try_for_each(|s| string(s.get_mut("text"), f))?;
            array(answer.get_mut("words")).try_for_each(|w| string(w.get_mut("word"), f))
        }
        Endpoint::Images => array(answer.get_mut("data"))
            .try_for_each(|image| string(image.get_mut("revised_prompt"), f)),
        // Rerank providers may give the documents back (`return_documents`).
        Endpoint::Rerank => array(answer.get_mut("results"))
            .try_for_each(|result| string_or_text(result.get_mut("document"), f)),
        // Scores and audio: nothing the model wrote as text.
        Endpoint::Moderations | Endpoint::AudioSpeech => Ok(()),
    }
}

/// A string, or an object's `text` (a rerank document or query given as an object).
fn string_or_text<E>(
    value: Option<&mut Value>,
    f: &mut impl FnMut(&mut String, Kind) -> Result<(), E>,
) -> Result<(), E> {
    match value {
        Some(Value::String(text)) => f(text, Kind::Text),
        Some(object) => string(object.get_mut("text"), f),
        None => Ok(()),
    }
}
