//! The one internal usage record (prompt, completion, cached prompt, reasoning tokens), filled from
//! every protocol, streaming included, and where finished requests report it. Counts come from the
//! upstream and may be anything up to `u64::MAX`: they are only ever added with saturation.

use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Prompt tokens served from the provider's cache (included in `prompt_tokens`).
    pub cached_prompt_tokens: u64,
    /// Reasoning tokens (included in `completion_tokens`).
    pub reasoning_tokens: u64,
    /// Prompt tokens written to the provider's cache (included in `prompt_tokens`; Anthropic).
    pub cache_write_tokens: u64,
}

/// A count at a path of object keys (`Value::pointer` would allocate to unescape the path).
fn count(value: &Value, path: &[&str]) -> u64 {
    path.iter()
        .try_fold(value, |value, key| value.get(key))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// OpenAI's `usage` object, read without building a JSON tree (non-streaming bodies).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OpenAiUsageJson {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    prompt_tokens_details: Option<CachedTokensJson>,
    completion_tokens_details: Option<ReasoningTokensJson>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CachedTokensJson {
    cached_tokens: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ReasoningTokensJson {
    reasoning_tokens: Option<u64>,
}

impl From<OpenAiUsageJson> for Usage {
    fn from(json: OpenAiUsageJson) -> Usage {
        Usage {
            prompt_tokens: json.prompt_tokens.unwrap_or(0),
            completion_tokens: json.completion_tokens.unwrap_or(0),
            cached_prompt_tokens: json
                .prompt_tokens_details
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
            reasoning_tokens: json
                .completion_tokens_details
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0),
            cache_write_tokens: 0,
        }
    }
}

/// Anthropic's `usage` object, read without building a JSON tree.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AnthropicUsageJson {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
}

impl From<AnthropicUsageJson> for Usage {
    fn from(json: AnthropicUsageJson) -> Usage {
        let cache_read = json.cache_read_input_tokens.unwrap_or(0);
        Usage {
            prompt_tokens: json
                .input_tokens
                .unwrap_or(0)
                .saturating_add(cache_read)
                .saturating_add(json.cache_creation_input_tokens.unwrap_or(0)),
            completion_tokens: json.output_tokens.unwrap_or(0),
            cached_prompt_tokens: cache_read,
            reasoning_tokens: 0,
            cache_write_tokens: json.cache_creation_input_tokens.unwrap_or(0),
        }
    }
}

impl Usage {
    /// Reads OpenAI's `usage` object.
    pub fn from_openai(usage: &Value) -> Option<Usage> {
        if !usage.is_object() {
            return None;
        }
        Some(Usage {
            prompt_tokens: count(usage, &["prompt_tokens"]),
            completion_tokens: count(usage, &["completion_tokens"]),
            cached_prompt_tokens: count(usage, &["prompt_tokens_details", "cached_tokens"]),
            reasoning_tokens: count(usage, &["completion_tokens_details", "reasoning_tokens"]),
            cache_write_tokens: 0,
        })
    }

    /// OpenAI's `usage` object.
    pub fn to_openai(self) -> Value {
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens.saturating_add(self.completion_tokens),
            "prompt_tokens_details": {"cached_tokens": self.cached_prompt_tokens},
            "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
        })
    }

    /// Reads Anthropic's `usage` object, where cache reads and writes are counted apart from
    /// `input_tokens`; OpenAI counts them in the prompt.
    pub fn from_anthropic(usage: &Value) -> Usage {
        let cache_read = count(usage, &["cache_read_input_tokens"]);
        let cache_write = count(usage, &["cache_creation_input_tokens"]);
        Usage {
            prompt_tokens: count(usage, &["input_tokens"])
                .saturating_add(cache_read)
                .saturating_add(cache_write),
            completion_tokens: count(usage, &["output_tokens"]),
            cached_prompt_tokens: cache_read,
            reasoning_tokens: 0,
            cache_write_tokens: cache_write,
        }
    }

    /// Anthropic's `usage` object.
    pub fn to_anthropic(self) -> Value {
        json!({
            "input_tokens": self
                .prompt_tokens
                .saturating_sub(self.cached_prompt_tokens)
                .saturating_sub(self.cache_write_tokens),
            "output_tokens": self.completion_tokens,
            "cache_read_input_tokens": self.cached_prompt_tokens,
            "cache_creation_input_tokens": self.cache_write_tokens,
        })
    }

    /// Reads Gemini's `usageMetadata`; thoughts are billed as output, so they join completion.
    pub fn from_gemini(meta: &Value) -> Usage {
        let thoughts = count(meta, &["thoughtsTokenCount"]);
        Usage {
            prompt_tokens: count(meta, &["promptTokenCount"]),
            completion_tokens: count(meta, &["candidatesTokenCount"]).saturating_add(thoughts),
            cached_prompt_tokens: count(meta, &["cachedContentTokenCount"]),
            reasoning_tokens: thoughts,
            cache_write_tokens: 0,
        }
    }

    /// Keeps the larger of each count: streams report usage cumulatively, sometimes in pieces
    /// (Anthropic sends input tokens first and output tokens last).
    pub fn merge(&mut self, other: Usage) {
        self.prompt_tokens = self.prompt_tokens.max(other.prompt_tokens);
        self.completion_tokens = self.completion_tokens.max(other.completion_tokens);
        self.cached_prompt_tokens = self.cached_prompt_tokens.max(other.cached_prompt_tokens);
        self.reasoning_tokens = self.reasoning_tokens.max(other.reasoning_tokens);
        self.cache_write_tokens = self.cache_write_tokens.max(other.cache_write_tokens);
    }
}

/// Who a usage record belongs to, and where it is counted.
#[derive(Clone)]
pub struct UsageContext {
    pub route: std::sync::Arc<str>,
    pub provider: std::sync::Arc<str>,
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    /// The request's tally, which the finish phase reads.
    pub tally: std::sync::Arc<crate::pipeline::Tally>,
}

/// Reports the usage of a finished request: into the live metrics and to the request's finish
/// phase, which settles limits and budgets with it and records it.
pub fn report(context: &UsageContext, usage: Usage) {
    context.tally.record_usage(usage);
    context
        .metrics
        .record_usage(&context.route, &context.provider, usage);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_reads_match_the_value_reads() {
        let body = br#"{"id":"x","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"prompt_tokens_details":null,"completion_tokens_details":{"reasoning_tokens":2}}}"#;
        #[derive(Deserialize)]
        struct With {
            usage: Option<OpenAiUsageJson>,
        }
        let typed: Usage = serde_json::from_slice::<With>(body)
            .expect("parses")
            .usage
            .expect("usage")
            .into();
        let value: Value = serde_json::from_slice(body).expect("parses");
        assert_eq!(Some(typed), Usage::from_openai(&value["usage"]));
        assert_eq!(typed.reasoning_tokens, 2);
    }

    #[test]
    fn normalises_every_protocol() {
        let openai = json!({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 4}, "completion_tokens_details": {"reasoning_tokens": 2}});
        let usage = Usage::from_openai(&openai).expect("object");
        assert_eq!(
            usage,
            Usage {
                prompt_tokens: 10,
                completion_tokens: 5,
                cached_prompt_tokens: 4,
                reasoning_tokens: 2,
                cache_write_tokens: 0,
            }
        );
        assert_eq!(Usage::from_openai(&usage.to_openai()), Some(usage));

        let anthropic =
            json!({"input_tokens": 6, "output_tokens": 5, "cache_read_input_tokens": 4});
        assert_eq!(Usage::from_anthropic(&anthropic).prompt_tokens, 10);
        assert_eq!(
            Usage::from_anthropic(&Usage::from_anthropic(&anthropic).to_anthropic()).prompt_tokens,
            10
        );

        let gemini = json!({"promptTokenCount": 10, "candidatesTokenCount": 3, "thoughtsTokenCount": 2, "cachedContentTokenCount": 4});
        assert_eq!(Usage::from_gemini(&gemini), usage);
    }

    #[test]
    fn huge_counts_from_an_upstream_saturate() {
        let max = u64::MAX;
        let anthropic = json!({"input_tokens": max, "output_tokens": max,
            "cache_read_input_tokens": max, "cache_creation_input_tokens": max});
        let usage = Usage::from_anthropic(&anthropic);
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (max, max));
        assert_eq!(usage.to_anthropic()["input_tokens"], 0);
        assert_eq!(usage.to_openai()["total_tokens"], max);

        #[derive(Deserialize)]
        struct With {
            usage: Option<AnthropicUsageJson>,
        }
        let body = format!(
            r#"{{"usage":{{"input_tokens":{max},"cache_read_input_tokens":{max},"cache_creation_input_tokens":1}}}}"#
        );
        let typed: Usage = serde_json::from_str::<With>(&body)
            .expect("parses")
            .usage
            .expect("usage")
            .into();
        assert_eq!(typed.prompt_tokens, max);

        let gemini = json!({"promptTokenCount": max, "candidatesTokenCount": max,
            "thoughtsTokenCount": max});
        let usage = Usage::from_gemini(&gemini);
        assert_eq!(
            (usage.completion_tokens, usage.reasoning_tokens),
            (max, max)
        );

        let openai = json!({"prompt_tokens": max, "completion_tokens": max});
        let usage = Usage::from_openai(&openai).expect("object");
        assert_eq!(usage.to_openai()["total_tokens"], max);
    }
}
