//! Stream items (OpenAI chat chunks) encoded as the Responses API's typed stream events:
//! `response.created` and `response.in_progress`; per output item (reasoning, message, function
//! call) `response.output_item.added`, its deltas and `.done` events, `response.output_item.done`;
//! finally `response.completed` or `response.incomplete` with every item and the usage. A failure
//! is an `error` event followed by `response.failed`, as OpenAI's own streams end.

use std::collections::HashMap;

use bytes::BytesMut;
use serde_json::{Value, json};

use super::items::{Item, Kind, Part, PartKind};
use super::response::{
    Ending, RequestEcho, ResponseState, incomplete_details, reasoning_text, response_id,
    response_object,
};
use super::{error_event, error_field, new_id, write_event};
use crate::stream::{Encoder, StreamItem, now_secs};
use crate::usage::Usage;

pub struct ResponsesEncoder {
    model: String,
    echo: RequestEcho,
    id: String,
    created_at: u64,
    started: bool,
    /// The final event has been written; later items are ignored.
    ended: bool,
    sequence_number: u64,
    items: Vec<Item>,
    /// The item still receiving deltas (its output index).
    open: Option<usize>,
    /// Chat tool call index → output index.
    calls: HashMap<u64, usize>,
    finish_reason: Option<String>,
    usage: Option<Usage>,
}

impl ResponsesEncoder {
    /// An encoder whose `response` objects are named `model` and echo the API's defaults.
    pub fn new(model: &str) -> ResponsesEncoder {
        ResponsesEncoder::with_echo(model, RequestEcho::default())
    }

    /// An encoder whose `response` objects echo the client's request settings.
    pub fn with_echo(model: &str, echo: RequestEcho) -> ResponsesEncoder {
        ResponsesEncoder {
            model: model.to_owned(),
            echo,
            id: String::new(),
            created_at: 0,
            started: false,
            ended: false,
            sequence_number: 0,
            items: Vec::new(),
            open: None,
            calls: HashMap::new(),
            finish_reason: None,
            usage: None,
        }
    }

    /// Writes an event, numbering it.
    fn emit(&mut self, out: &mut BytesMut, mut event: Value) {
        if let Some(object) = event.as_object_mut() {
            object.insert("sequence_number".into(), Value::from(self.sequence_number));
        }
        self.sequence_number += 1;
        write_event(out, &event);
    }

    fn response(&self, status: &str, error: Value, ending: Ending) -> Value {
        response_object(
            ResponseState {
                id: &self.id,
                created_at: self.created_at,
                model: &self.model,
                status,
                output: self.items.iter().map(Item::json).collect(),
                usage: self.usage.filter(|_| status != "in_progress"),
                error,
                incomplete_details: incomplete_details(ending),
            },
            &self.echo,
        )
    }

    fn start(&mut self, chunk: Option<&Value>, out: &mut BytesMut) {
        if self.started {
            return;
        }
        self.started = true;
        let field = |key: &str| chunk.and_then(|c| c.get(key));
        self.id = response_id(field("id").and_then(Value::as_str).unwrap_or_default());
        self.created_at = field("created")
            .and_then(Value::as_u64)
            .unwrap_or_else(now_secs);
        let response = self.response("in_progress", Value::Null, Ending::Completed);
        self.emit(
            out,
            json!({"type": "response.created", "response": response}),
        );
        self.emit(
            out,
            json!({"type": "response.in_progress", "response": response}),
        );
    }

    /// Starts a new output item (closing the open one) and announces it.
    fn open_item(&mut self, prefix: &str, kind: Kind, out: &mut BytesMut) -> usize {
        self.close(out);
        let index = self.items.len();
        self.items.push(Item {
            id: new_id(prefix),
            status: "in_progress",
            kind,
        });
        self.open = Some(index);
        let item = self.items[index].json();
        self.emit(
            out,
            json!({"type": "response.output_item.added", "output_index": index, "item": item}),
        );
        index
    }

    fn reasoning(&mut self, delta: &str, out: &mut BytesMut) {
        let index = match self.open {
            Some(index) if matches!(self.items[index].kind, Kind::Reasoning { .. }) => index,
            _ => {
                let kind = Kind::Reasoning {
                    text: String::new(),
                };
                let index = self.open_item("rs", kind, out);
                let id = self.items[index].id.clone();
                self.emit(
                    out,
                    json!({"type": "response.reasoning_summary_part.added", "item_id": id,
                        "output_index": index, "summary_index": 0,
                        "part": {"type": "summary_text", "text": ""}}),
                );
                index
            }
        };
        if let Kind::Reasoning { text } = &mut self.items[index].kind {
            text.push_str(delta);
        }
        let id = self.items[index].id.clone();
        self.emit(
            out,
            json!({"type": "response.reasoning_summary_text.delta", "item_id": id,
                "output_index": index, "summary_index": 0, "delta": delta}),
        );
    }

    /// Text or refusal for the open message (a new one if none is open); a change of kind closes
    /// the current content part and opens the next.
    fn text(&mut self, kind: PartKind, delta: &str, out: &mut BytesMut) {
        let index = match self.open {
            Some(index) if matches!(self.items[index].kind, Kind::Message { .. }) => index,
            _ => self.open_item("msg", Kind::Message { parts: Vec::new() }, out),
        };
        let Kind::Message { parts } = &mut self.items[index].kind else {
            return;
        };
        let same_part = parts.last().is_some_and(|part| part.kind == kind);
        if !same_part {
            self.close_part(index, out);
            if let Kind::Message { parts } = &mut self.items[index].kind {
                parts.push(Part {
                    kind,
                    text: String::new(),
                });
            }
        }
        let Kind::Message { parts } = &mut self.items[index].kind else {
            return;
        };
        let content_index = parts.len() - 1;
        if let Some(part) = parts.last_mut() {
            part.text.push_str(delta);
        }
        let id = self.items[index].id.clone();
        if !same_part {
            let empty = Part {
                kind,
                text: String::new(),
            };
            self.emit(
                out,
                json!({"type": "response.content_part.added", "item_id": id,
                    "output_index": index, "content_index": content_index, "part": empty.json()}),
            );
        }
        let event = match kind {
            PartKind::Text => json!({"type": "response.output_text.delta", "item_id": id,
                "output_index": index, "content_index": content_index, "delta": delta,
                "logprobs": []}),
            PartKind::Refusal => json!({"type": "response.refusal.delta", "item_id": id,
                "output_index": index, "content_index": content_index, "delta": delta}),
        };
        self.emit(out, event);
    }

    /// Writes the `.done` events of a message's last content part.
    fn close_part(&mut self, index: usize, out: &mut BytesMut) {
        let Kind::Message { parts } = &self.items[index].kind else {
            return;
        };
        let Some(part) = parts.last() else {
            return;
        };
        let content_index = parts.len() - 1;
        let id = self.items[index].id.clone();
        let done = match part.kind {
            PartKind::Text => json!({"type": "response.output_text.done", "item_id": id,
                "output_index": index, "content_index": content_index, "text": part.text,
                "logprobs": []}),
            PartKind::Refusal => json!({"type": "response.refusal.done", "item_id": id,
                "output_index": index, "content_index": content_index, "refusal": part.text}),
        };
        let part = part.json();
        self.emit(out, done);
        self.emit(
            out,
            json!({"type": "response.content_part.done", "item_id": id, "output_index": index,
                "content_index": content_index, "part": part}),
        );
    }

    fn tool_call(&mut self, call: &Value, out: &mut BytesMut) {
        let chat_index = call.get("index").and_then(Value::as_u64).unwrap_or(0);
        let name = call.pointer("/function/name").and_then(Value::as_str);
        let id = call
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty());
        // A new id at a known index is a new call: some servers send every call whole, without
        // an index.
        let known = self.calls.get(&chat_index).copied().filter(|&index| {
            let known_id = match &self.items[index].kind {
                Kind::Call { call_id, .. } => Some(call_id.as_str()),
                _ => None,
            };
            id.is_none() || id == known_id
        });
        let index = match known {
            Some(index) => index,
            None => {
                let call_id = id.map_or_else(|| new_id("call"), str::to_owned);
                let kind = Kind::Call {
                    call_id,
                    name: name.unwrap_or_default().to_owned(),
                    arguments: String::new(),
                };
                let index = self.open_item("fc", kind, out);
                self.calls.insert(chat_index, index);
                index
            }
        };
        // Chat streams send each call's pieces together; a piece for a call already closed (no
        // known provider does this) still reaches the final response's arguments.
        let Some(arguments) = call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
        else {
            return;
        };
        if let Kind::Call {
            arguments: all,
            name: known,
            ..
        } = &mut self.items[index].kind
        {
            all.push_str(arguments);
            if known.is_empty()
                && let Some(name) = name
            {
                name.clone_into(known);
            }
        }
        let id = self.items[index].id.clone();
        self.emit(
            out,
            json!({"type": "response.function_call_arguments.delta", "item_id": id,
                "output_index": index, "delta": arguments}),
        );
    }

    /// Closes the open item with its `.done` events; it ends `completed` unless the response ends
    /// incomplete while it is open.
    fn close_as(&mut self, status: &'static str, out: &mut BytesMut) {
        let Some(index) = self.open.take() else {
            return;
        };
        self.items[index].status = status;
        let id = self.items[index].id.clone();
        match &self.items[index].kind {
            Kind::Reasoning { text } => {
                let text = text.clone();
                self.emit(
                    out,
                    json!({"type": "response.reasoning_summary_text.done", "item_id": id,
                        "output_index": index, "summary_index": 0, "text": text}),
                );
                self.emit(
                    out,
                    json!({"type": "response.reasoning_summary_part.done", "item_id": id,
                        "output_index": index, "summary_index": 0,
                        "part": {"type": "summary_text", "text": text}}),
                );
            }
            Kind::Message { .. } => self.close_part(index, out),
            Kind::Call {
                name, arguments, ..
            } => {
                let event = json!({"type": "response.function_call_arguments.done",
                    "item_id": id, "output_index": index, "name": name, "arguments": arguments});
                self.emit(out, event);
            }
        }
        let item = self.items[index].json();
        self.emit(
            out,
            json!({"type": "response.output_item.done", "output_index": index, "item": item}),
        );
    }

    fn close(&mut self, out: &mut BytesMut) {
        self.close_as("completed", out);
    }

    fn chunk(&mut self, chunk: &Value, out: &mut BytesMut) {
        self.start(Some(chunk), out);
        let Some(choice) = chunk.pointer("/choices/0") else {
            return;
        };
        if let Some(delta) = choice.get("delta") {
            if let Some(reasoning) = reasoning_text(delta) {
                self.reasoning(reasoning, out);
            }
            for (key, kind) in [("content", PartKind::Text), ("refusal", PartKind::Refusal)] {
                if let Some(text) = delta
                    .get(key)
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                {
                    self.text(kind, text, out);
                }
            }
            for call in delta
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                self.tool_call(call, out);
            }
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(reason.to_owned());
        }
    }

    fn finish(&mut self, out: &mut BytesMut) {
        self.start(None, out);
        let ending = Ending::from_finish_reason(self.finish_reason.as_deref());
        self.close_as(ending.status(), out);
        let name = match ending {
            Ending::Completed => "response.completed",
            Ending::Incomplete(_) => "response.incomplete",
        };
        let response = self.response(ending.status(), Value::Null, ending);
        self.emit(out, json!({"type": name, "response": response}));
    }

    /// An `error` event, then `response.failed` carrying the error and the output so far: Codex
    /// reads the failure only from the latter.
    fn fail(&mut self, error: &Value, out: &mut BytesMut) {
        self.start(None, out);
        if let Some(index) = self.open.take() {
            self.items[index].status = "incomplete";
        }
        let event = error_event(error, self.sequence_number);
        self.emit(out, event);
        let failure = json!({
            "code": error_field(error, "code").or_else(|| error_field(error, "type")).unwrap_or("server_error"),
            "message": error_field(error, "message").unwrap_or("The upstream stream failed; the answer is incomplete."),
        });
        let response = self.response("failed", failure, Ending::Completed);
        self.emit(
            out,
            json!({"type": "response.failed", "response": response}),
        );
    }
}

impl Encoder for ResponsesEncoder {
    fn item(&mut self, item: StreamItem, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        match item {
            StreamItem::Chunk(chunk) => self.chunk(&chunk, out),
            StreamItem::Usage(usage) => self.usage.get_or_insert_default().merge(usage),
            StreamItem::Done => {
                self.ended = true;
                self.finish(out);
            }
            StreamItem::Error(error) => {
                self.ended = true;
                self.fail(&error, out);
            }
        }
    }
}
