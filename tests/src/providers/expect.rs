//! What each provider protocol must receive for the OpenAI requests of the conformance table, and
//! each protocol's error scripts with what an OpenAI client must see of them. OpenAI-compatible and
//! Azure providers receive the client's body untouched, so their expectations are OpenAI's.

use serde_json::{Value, json};

use super::{Kind, Script};

/// The message of every rate-limit and overload error the mocks send.
const BUSY: &str = "Too many requests; slow down.";

/// How a provider error must reach an OpenAI client: status, `error.type` and `error.code`.
#[derive(Clone, Debug)]
pub struct ClientError {
    pub status: u16,
    pub kind: &'static str,
    pub code: Value,
    /// The provider's message, which the client must see unchanged.
    pub message: &'static str,
}

impl Kind {
    /// The conversation of a provider request: `messages`, or Gemini's `contents`.
    pub fn conversation(self, body: &Value) -> Value {
        match self {
            Kind::Gemini => body["contents"].clone(),
            _ => body["messages"].clone(),
        }
    }

    /// A user turn of texts. Only Anthropic and Gemini merge texts into one turn, so OpenAI's
    /// shape takes the first text.
    pub fn user_turn(self, texts: &[&str]) -> Value {
        match self {
            Kind::OpenAi | Kind::Azure => json!({"role": "user", "content": texts[0]}),
            Kind::Anthropic => {
                let blocks: Vec<Value> = texts
                    .iter()
                    .map(|t| json!({"type": "text", "text": t}))
                    .collect();
                json!({"role": "user", "content": blocks})
            }
            Kind::Gemini => {
                let parts: Vec<Value> = texts.iter().map(|t| json!({"text": t})).collect();
                json!({"role": "user", "parts": parts})
            }
        }
    }

    pub fn assistant_turn(self, text: &str) -> Value {
        match self {
            Kind::OpenAi | Kind::Azure => json!({"role": "assistant", "content": text}),
            Kind::Anthropic => {
                json!({"role": "assistant", "content": [{"type": "text", "text": text}]})
            }
            Kind::Gemini => json!({"role": "model", "parts": [{"text": text}]}),
        }
    }

    /// The system instructions of a translated request (`Null` for OpenAI's protocol, which keeps
    /// them as messages), and what they must be for `texts`.
    pub fn system_of(self, body: &Value) -> Value {
        match self {
            Kind::Anthropic => body["system"].clone(),
            Kind::Gemini => body["systemInstruction"].clone(),
            Kind::OpenAi | Kind::Azure => Value::Null,
        }
    }

    pub fn system(self, texts: &[&str]) -> Value {
        match self {
            Kind::Anthropic => texts
                .iter()
                .map(|t| json!({"type": "text", "text": t}))
                .collect(),
            Kind::Gemini => {
                let parts: Vec<Value> = texts.iter().map(|t| json!({"text": t})).collect();
                json!({"parts": parts})
            }
            Kind::OpenAi | Kind::Azure => Value::Null,
        }
    }

    /// The tool declarations and tool choice of a provider request, as a pair.
    pub fn tools_of(self, body: &Value) -> Value {
        match self {
            Kind::OpenAi | Kind::Azure => json!([body["tools"], body["tool_choice"]]),
            Kind::Anthropic => json!([body["tools"], body["tool_choice"]]),
            Kind::Gemini => json!([body["tools"], body["toolConfig"]]),
        }
    }

    /// What [`Kind::tools_of`] must give for OpenAI function `tools` with the call of `forced`
    /// required. Gemini takes no `additionalProperties` in a schema.
    pub fn tools(self, tools: &Value, forced: &str) -> Value {
        let functions = tools
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| &t["function"]);
        match self {
            Kind::OpenAi | Kind::Azure => {
                json!([tools, {"type": "function", "function": {"name": forced}}])
            }
            Kind::Anthropic => {
                let tools: Vec<Value> = functions
                    .map(|f| json!({"name": f["name"], "description": f["description"], "input_schema": f["parameters"]}))
                    .collect();
                json!([tools, {"type": "tool", "name": forced}])
            }
            Kind::Gemini => {
                let declarations: Vec<Value> = functions
                    .map(|f| {
                        let mut parameters = f["parameters"].clone();
                        if let Some(object) = parameters.as_object_mut() {
                            object.remove("additionalProperties");
                        }
                        json!({"name": f["name"], "description": f["description"], "parameters": parameters})
                    })
                    .collect();
                let config = json!({"mode": "ANY", "allowedFunctionNames": [forced]});
                json!([[{"functionDeclarations": declarations}], {"functionCallingConfig": config}])
            }
        }
    }

    /// The id a client sees for a provider's tool call: Gemini's calls have none, so the gateway
    /// numbers them.
    pub fn call_id(self, index: usize, original: &str) -> String {
        match self {
            Kind::Gemini => format!("call_{index}"),
            _ => original.to_owned(),
        }
    }

    /// An assistant turn that only calls one tool.
    pub fn tool_call_turn(self, id: &str, name: &str, arguments: &Value) -> Value {
        match self {
            Kind::OpenAi | Kind::Azure => {
                json!({"role": "assistant", "content": null, "tool_calls": [
                    {"id": id, "type": "function", "function": {"name": name, "arguments": arguments.to_string()}},
                ]})
            }
            Kind::Anthropic => json!({"role": "assistant", "content": [
                {"type": "tool_use", "id": id, "name": name, "input": arguments},
            ]}),
            Kind::Gemini => json!({"role": "model", "parts": [
                {"functionCall": {"name": name, "args": arguments}},
            ]}),
        }
    }

    /// The turn carrying a tool's result; Gemini names the function instead of the call and takes
    /// a JSON object as the response.
    pub fn tool_result_turn(self, id: &str, name: &str, content: &str) -> Value {
        match self {
            Kind::OpenAi | Kind::Azure => {
                json!({"role": "tool", "tool_call_id": id, "content": content})
            }
            Kind::Anthropic => json!({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": id, "content": content},
            ]}),
            Kind::Gemini => {
                let response: Value = serde_json::from_str(content).expect("a JSON tool result");
                json!({"role": "user", "parts": [
                    {"functionResponse": {"name": name, "response": response}},
                ]})
            }
        }
    }

    /// A user turn with a text, an inline PNG (base64 `data`) and an image by `url` (a JPEG).
    pub fn image_turn(self, text: &str, data: &str, url: &str) -> Value {
        match self {
            Kind::OpenAi | Kind::Azure => json!({"role": "user", "content": [
                {"type": "text", "text": text},
                {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{data}")}},
                {"type": "image_url", "image_url": {"url": url}},
            ]}),
            Kind::Anthropic => json!({"role": "user", "content": [
                {"type": "text", "text": text},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}},
                {"type": "image", "source": {"type": "url", "url": url}},
            ]}),
            Kind::Gemini => json!({"role": "user", "parts": [
                {"text": text},
                {"inlineData": {"mimeType": "image/png", "data": data}},
                {"fileData": {"mimeType": "image/jpeg", "fileUri": url}},
            ]}),
        }
    }

    /// Stop sequences, maximum tokens, temperature and top_p of a provider request, in order.
    pub fn sampling_of(self, body: &Value) -> Value {
        let keys = match self {
            Kind::OpenAi | Kind::Azure => ["stop", "max_tokens", "temperature", "top_p"],
            Kind::Anthropic => ["stop_sequences", "max_tokens", "temperature", "top_p"],
            Kind::Gemini => {
                let config = &body["generationConfig"];
                return ["stopSequences", "maxOutputTokens", "temperature", "topP"]
                    .iter()
                    .map(|k| config[*k].clone())
                    .collect();
            }
        };
        keys.iter().map(|k| body[*k].clone()).collect()
    }

    /// A rate-limit or overload error in the protocol's shape, and how the client must see it.
    pub fn busy_error(self) -> (Script, ClientError) {
        let client = |status, kind, code: &str| ClientError {
            status,
            kind,
            code: json!(code),
            message: BUSY,
        };
        match self {
            Kind::OpenAi => (
                Script::error(429, "rate_limit_exceeded", BUSY),
                client(429, "rate_limit_exceeded", "rate_limit_exceeded"),
            ),
            Kind::Anthropic => (
                Script::error(529, "overloaded_error", BUSY),
                client(529, "overloaded_error", "overloaded_error"),
            ),
            Kind::Gemini => (
                Script::error(429, "RESOURCE_EXHAUSTED", BUSY),
                client(429, "rate_limit_exceeded", "rate_limit_exceeded"),
            ),
            // Azure names no type; the gateway derives it from the status.
            Kind::Azure => (
                Script::error(429, "429", BUSY),
                client(429, "rate_limit_exceeded", "429"),
            ),
        }
    }

    /// A rate-limit or overload error as the first event of a `200` stream, and how the client
    /// must see it: like the same error sent as a status.
    pub fn busy_stream_error(self) -> (Script, ClientError) {
        let (script, client) = match self {
            // OpenAI-style servers (vLLM, for one) give the status as a numeric code in the event.
            Kind::OpenAi | Kind::Azure => (
                Script::stream_error(429, "rate_limit_exceeded", BUSY),
                (429, "rate_limit_exceeded", json!(429)),
            ),
            Kind::Anthropic => (
                Script::stream_error(529, "overloaded_error", BUSY),
                (529, "overloaded_error", json!("overloaded_error")),
            ),
            Kind::Gemini => (
                Script::stream_error(429, "RESOURCE_EXHAUSTED", BUSY),
                (429, "rate_limit_exceeded", json!("rate_limit_exceeded")),
            ),
        };
        let (status, kind, code) = client;
        let message = BUSY;
        let error = ClientError {
            status,
            kind,
            code,
            message,
        };
        (script, error)
    }

    /// A 400 rejection in the protocol's shape, and the `error.code` the client must see.
    pub fn client_error(self) -> (Script, Value) {
        let (kind, code) = match self {
            Kind::OpenAi | Kind::Anthropic => ("invalid_request_error", "invalid_request_error"),
            Kind::Gemini => ("INVALID_ARGUMENT", "invalid_argument"),
            Kind::Azure => ("BadRequest", "BadRequest"),
        };
        (Script::error(400, kind, "Bad messages"), json!(code))
    }
}
