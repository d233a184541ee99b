//! The output items the stream encoder builds up as deltas arrive, and their JSON in
//! `response.output_item.*` events and the final `response` object.

use serde_json::{Value, json};

use super::response::{function_call_item, message_item, output_text, reasoning_item};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum PartKind {
    Text,
    Refusal,
}

pub(super) struct Part {
    pub kind: PartKind,
    pub text: String,
}

impl Part {
    pub(super) fn json(&self) -> Value {
        match self.kind {
            PartKind::Text => output_text(&self.text, None),
            PartKind::Refusal => json!({"type": "refusal", "refusal": self.text}),
        }
    }
}

pub(super) enum Kind {
    Reasoning {
        text: String,
    },
    Message {
        parts: Vec<Part>,
    },
    Call {
        call_id: String,
        name: String,
        arguments: String,
    },
}

/// One output item; its output index is its position in the encoder's list.
pub(super) struct Item {
    pub id: String,
    /// `in_progress` until the item is done.
    pub status: &'static str,
    pub kind: Kind,
}

impl Item {
    pub(super) fn json(&self) -> Value {
        match &self.kind {
            Kind::Reasoning { text } => reasoning_item(&self.id, text),
            Kind::Message { parts } => message_item(
                &self.id,
                self.status,
                parts.iter().map(Part::json).collect(),
            ),
            Kind::Call {
                call_id,
                name,
                arguments,
            } => function_call_item(&self.id, self.status, call_id, name, arguments),
        }
    }
}
