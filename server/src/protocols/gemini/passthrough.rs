//! Gemini's stream events to a Gemini client, untouched, with usage and the end read on the way.

use bytes::BytesMut;
use serde::Deserialize;
use serde_json::Value;

use super::encode::error_body;
use crate::proxy::ProxyError;
use crate::sse::SseEvent;
use crate::stream::{SseStage, Verdict, malformed, truncated, write_data};
use crate::usage::Usage;

/// The status of a stream error the upstream caused (a broken or cut-off stream), as the gateway
/// answers a bad upstream response.
const BAD_UPSTREAM: u16 = 502;

/// The parts of a stream event this stage reads; the candidates' content is skipped unparsed.
#[derive(Deserialize)]
struct EventView {
    error: Option<Value>,
    #[serde(rename = "usageMetadata")]
    usage_metadata: Option<Value>,
    candidates: Option<Vec<CandidateView>>,
    #[serde(rename = "promptFeedback")]
    prompt_feedback: Option<PromptFeedbackView>,
}

#[derive(Deserialize)]
struct CandidateView {
    #[serde(rename = "finishReason")]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct PromptFeedbackView {
    #[serde(rename = "blockReason")]
    block_reason: Option<String>,
}

/// Gemini events to a Gemini client, untouched. Gemini repeats its cumulative usage on every
/// event, so the last `usageMetadata` is the answer's. The stream has no end marker: the answer
/// is complete once a candidate has a `finishReason` (or the prompt was blocked, which Gemini
/// answers with `promptFeedback.blockReason` and no candidates).
#[derive(Default)]
pub struct GeminiPassthrough {
    finished: bool,
    /// An error reached the client; nothing more is forwarded.
    ended: bool,
    errored: bool,
    usage: Option<Usage>,
}

impl GeminiPassthrough {
    fn fail(&mut self, status: u16, message: &str, out: &mut BytesMut) {
        self.ended = true;
        self.errored = true;
        write_data(out, &error_body(status, message));
    }
}

fn message_of(error: &Value) -> &str {
    error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

impl SseStage for GeminiPassthrough {
    fn event(&mut self, event: &SseEvent, out: &mut BytesMut) -> Verdict {
        if self.ended {
            return Verdict::Replace;
        }
        let data = event.data();
        let data = data.trim();
        if data.is_empty() {
            return Verdict::Forward;
        }
        // Only an object is an event; a derived struct would also take a JSON array.
        let view = Some(data)
            .filter(|data| data.starts_with('{'))
            .and_then(|data| serde_json::from_str::<EventView>(data).ok());
        let Some(view) = view else {
            // Forwarding garbage would leave the client a stream that merely looks cut off.
            self.fail(BAD_UPSTREAM, message_of(&malformed()), out);
            return Verdict::Replace;
        };
        if view.error.is_some() {
            self.ended = true;
            self.errored = true;
            return Verdict::Forward;
        }
        if let Some(meta) = &view.usage_metadata {
            self.usage = Some(Usage::from_gemini(meta));
        }
        let finish = view
            .candidates
            .iter()
            .flatten()
            .any(|candidate| candidate.finish_reason.is_some());
        let blocked = view
            .prompt_feedback
            .is_some_and(|feedback| feedback.block_reason.is_some());
        if finish || blocked {
            self.finished = true;
        }
        Verdict::Forward
    }

    fn end(&mut self, error: Option<ProxyError>, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        match error {
            Some(error) => self.fail(error.status().as_u16(), &error.to_string(), out),
            None if !self.finished => self.fail(BAD_UPSTREAM, message_of(&truncated()), out),
            None => {}
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn completed(&self) -> bool {
        self.finished && !self.errored
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::sse::SseParser;

    /// Realistic `alt=sse` events, with Gemini's CRLF line ends.
    const FIRST: &str = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hello\"}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 7,\"totalTokenCount\": 7,\"promptTokensDetails\": [{\"modality\": \"TEXT\",\"tokenCount\": 7}]},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"p3h5aM3tA\"}\r\n\r\n";
    const LAST: &str = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \" there!\"}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 7,\"candidatesTokenCount\": 3,\"totalTokenCount\": 40,\"thoughtsTokenCount\": 30},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"p3h5aM3tA\"}\r\n\r\n";

    /// Runs `chunks` through the stage; returns each event's verdict and what the client reads.
    fn run(
        stage: &mut GeminiPassthrough,
        chunks: &[&str],
        error: Option<ProxyError>,
    ) -> (Vec<Verdict>, String) {
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        for chunk in chunks {
            parser
                .push(Bytes::copy_from_slice(chunk.as_bytes()), &mut events)
                .expect("within the limit");
        }
        events.extend(parser.finish());
        let mut client = BytesMut::new();
        let mut verdicts = Vec::new();
        for event in &events {
            let mut out = BytesMut::new();
            let verdict = stage.event(event, &mut out);
            match verdict {
                Verdict::Forward => client.extend_from_slice(&event.raw),
                Verdict::Replace => client.extend_from_slice(&out),
            }
            verdicts.push(verdict);
        }
        stage.end(error, &mut client);
        let client = String::from_utf8(client.to_vec()).expect("text");
        (verdicts, client)
    }

    fn error_in(text: &str) -> Value {
        let data = text.rsplit("data: ").next().expect("an event").trim_end();
        serde_json::from_str::<Value>(data).expect("JSON")["error"].clone()
    }

    #[test]
    fn forwards_untouched_and_keeps_the_last_usage() {
        let mut stage = GeminiPassthrough::default();
        let (verdicts, client) = run(&mut stage, &[FIRST, LAST], None);
        assert_eq!(verdicts, [Verdict::Forward, Verdict::Forward]);
        assert_eq!(client, format!("{FIRST}{LAST}"));
        assert!(stage.completed());
        let usage = stage.usage().expect("usage");
        assert_eq!(usage.prompt_tokens, 7, "repeated counts are not added");
        assert_eq!(usage.completion_tokens, 33);
        assert_eq!(usage.reasoning_tokens, 30);
    }

    #[test]
    fn a_stream_cut_before_its_finish_reason_ends_with_an_error() {
        let mut stage = GeminiPassthrough::default();
        // Split mid-event, as the network may.
        let (_, client) = run(&mut stage, &[&FIRST[..40], &FIRST[40..]], None);
        assert!(client.starts_with(FIRST));
        assert!(!stage.completed());
        let error = error_in(&client);
        assert_eq!(error["code"], 502);
        assert_eq!(error["status"], "UNAVAILABLE");
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.contains("incomplete")),
            "{error}"
        );
        assert_eq!(stage.usage().map(|u| u.prompt_tokens), Some(7));
    }

    #[test]
    fn an_upstream_failure_is_told_in_googles_shape() {
        let mut stage = GeminiPassthrough::default();
        let (_, client) = run(
            &mut stage,
            &[FIRST],
            Some(ProxyError::UpstreamTimeout("idle")),
        );
        let error = error_in(&client);
        assert_eq!(error["code"], 504);
        assert_eq!(error["status"], "DEADLINE_EXCEEDED");
        assert!(!stage.completed());
    }

    #[test]
    fn a_malformed_event_is_replaced_and_ends_the_stream() {
        for bad in ["data: {\"candidates\": [\r\n\r\n", "data: [1, 2]\r\n\r\n"] {
            let mut stage = GeminiPassthrough::default();
            let (verdicts, client) = run(&mut stage, &[FIRST, bad, LAST], None);
            assert_eq!(
                verdicts,
                [Verdict::Forward, Verdict::Replace, Verdict::Replace]
            );
            let (first, rest) = client.split_at(FIRST.len());
            assert_eq!(first, FIRST);
            assert!(rest.starts_with("data: {\"error\":"), "{rest}");
            assert_eq!(
                rest.matches("data: ").count(),
                1,
                "one error, nothing after"
            );
            assert_eq!(error_in(rest)["code"], 502);
            assert!(!stage.completed());
        }
    }

    #[test]
    fn an_upstream_error_event_is_forwarded_and_ends_the_stream() {
        let error = "data: {\"error\": {\"code\": 503, \"message\": \"The model is overloaded. Please try again later.\", \"status\": \"UNAVAILABLE\"}}\r\n\r\n";
        let mut stage = GeminiPassthrough::default();
        let (verdicts, client) = run(&mut stage, &[FIRST, error], None);
        assert_eq!(verdicts, [Verdict::Forward, Verdict::Forward]);
        assert_eq!(
            client,
            format!("{FIRST}{error}"),
            "no second error is added"
        );
        assert!(!stage.completed());
    }

    #[test]
    fn keepalives_pass_and_a_blocked_prompt_is_a_complete_answer() {
        let blocked = "data: {\"promptFeedback\": {\"blockReason\": \"PROHIBITED_CONTENT\"},\"usageMetadata\": {\"promptTokenCount\": 9,\"totalTokenCount\": 9},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"x\"}\r\n\r\n";
        let mut stage = GeminiPassthrough::default();
        let (verdicts, client) = run(&mut stage, &[": keepalive\r\n\r\n", blocked], None);
        assert_eq!(verdicts, [Verdict::Forward, Verdict::Forward]);
        assert!(!client.contains("\"error\""));
        assert!(stage.completed());
        assert_eq!(stage.usage().map(|u| u.prompt_tokens), Some(9));
    }
}
