//! What each provider protocol must receive for the OpenAI requests of the conformance table, and
//! each protocol's error scripts with what an OpenAI client must see of them. OpenAI-compatible and
//! Azure providers receive the client's body untouched, so their expectations are OpenAI's; Vertex
//! AI takes Gemini's bodies, and Cohere's v2 messages keep OpenAI's shape for most turns.

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
            Kind::Gemini | Kind::Vertex => body["contents"].clone(),
            _ => body["messages"].clone(),
        }
    }

    /// A user turn of texts. Only Anthropic, Gemini and Bedrock merge texts into one turn, so
    /// OpenAI's shape (and Cohere's) takes the first text.
    pub fn user_turn(self, texts: &[&str]) -> Value {
        match self {
            Kind::OpenAi | Kind::Azure | Kind::Cohere => {
                json!({"role": "user", "content": texts[0]})
            }
            Kind::Bedrock => {
                let blocks: Vec<Value> = texts.iter().map(|t| json!({"text": t})).collect();
                json!({"role": "user", "content": blocks})
            }
            Kind::Anthropic => {
                let blocks: Vec<Value> = texts
                    .iter()
                    .map(|t| json!({"type": "text", "text": t}))
                    .collect();
                json!({"role": "user", "content": blocks})
            }
            Kind::Gemini | Kind::Vertex => {
                let parts: Vec<Value> = texts.iter().map(|t| json!({"text": t})).collect();
                json!({"role": "user", "parts": parts})
            }
        }
    }

    pub fn assistant_turn(self, text: &str) -> Value {
        match self {
            Kind::OpenAi | Kind::Azure | Kind::Cohere => {
                json!({"role": "assistant", "content": text})
            }
            Kind::Anthropic => {
                json!({"role": "assistant", "content": [{"type": "text", "text": text}]})
            }
            Kind::Gemini | Kind::Vertex => json!({"role": "model", "parts": [{"text": text}]}),
            Kind::Bedrock => json!({"role": "assistant", "content": [{"text": text}]}),
        }
    }

    /// The system instructions of a translated request (`Null` for OpenAI's protocol and
    /// Cohere's, which keep them as messages), and what they must be for `texts`.
    pub fn system_of(self, body: &Value) -> Value {
        match self {
            Kind::Anthropic | Kind::Bedrock => body["system"].clone(),
            Kind::Gemini | Kind::Vertex => body["systemInstruction"].clone(),
            Kind::OpenAi | Kind::Azure | Kind::Cohere => Value::Null,
        }
    }

    pub fn system(self, texts: &[&str]) -> Value {
        match self {
            Kind::Anthropic => texts
                .iter()
                .map(|t| json!({"type": "text", "text": t}))
                .collect(),
            Kind::Bedrock => texts.iter().map(|t| json!({"text": t})).collect(),
            Kind::Gemini | Kind::Vertex => {
                let parts: Vec<Value> = texts.iter().map(|t| json!({"text": t})).collect();
                json!({"parts": parts})
            }
            Kind::OpenAi | Kind::Azure | Kind::Cohere => Value::Null,
        }
    }

    /// The tool declarations and tool choice of a provider request, as a pair.
    pub fn tools_of(self, body: &Value) -> Value {
        match self {
            Kind::OpenAi | Kind::Azure | Kind::Anthropic | Kind::Cohere => {
                json!([body["tools"], body["tool_choice"]])
            }
            Kind::Gemini | Kind::Vertex => json!([body["tools"], body["toolConfig"]]),
            Kind::Bedrock => json!([
                body["toolConfig"]["tools"],
                body["toolConfig"]["toolChoice"]
            ]),
        }
    }

    /// What [`Kind::tools_of`] must give for OpenAI function `tools` with the call of `forced`
    /// required. Gemini takes no `additionalProperties` in a schema; Cohere cannot force a
    /// function by name, so the tools are narrowed to it and a call is required.
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
            Kind::Bedrock => {
                let specs: Vec<Value> = functions
                    .map(|f| {
                        json!({"toolSpec": {"name": f["name"], "description": f["description"],
                        "inputSchema": {"json": f["parameters"]}}})
                    })
                    .collect();
                json!([specs, {"tool": {"name": forced}}])
            }
            Kind::Cohere => {
                let tools: Vec<Value> = functions
                    .filter(|f| f["name"] == forced)
                    .map(|f| json!({"type": "function", "function": f}))
                    .collect();
                json!([tools, "REQUIRED"])
            }
            Kind::Gemini | Kind::Vertex => {
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
            Kind::Gemini | Kind::Vertex => format!("call_{index}"),
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
            Kind::Gemini | Kind::Vertex => json!({"role": "model", "parts": [
                {"functionCall": {"name": name, "args": arguments}},
            ]}),
            Kind::Bedrock => json!({"role": "assistant", "content": [
                {"toolUse": {"toolUseId": id, "name": name, "input": arguments}},
            ]}),
            // Cohere takes OpenAI's calls, but no content beside them.
            Kind::Cohere => json!({"role": "assistant", "tool_calls": [
                {"id": id, "type": "function", "function": {"name": name, "arguments": arguments.to_string()}},
            ]}),
        }
    }

    /// The turn carrying a tool's result; Gemini names the function instead of the call and takes
    /// a JSON object as the response.
    pub fn tool_result_turn(self, id: &str, name: &str, content: &str) -> Value {
        match self {
            Kind::OpenAi | Kind::Azure | Kind::Cohere => {
                json!({"role": "tool", "tool_call_id": id, "content": content})
            }
            Kind::Bedrock => json!({"role": "user", "content": [
                {"toolResult": {"toolUseId": id, "content": [{"text": content}]}},
            ]}),
            Kind::Anthropic => json!({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": id, "content": content},
            ]}),
            Kind::Gemini | Kind::Vertex => {
                let response: Value = serde_json::from_str(content).expect("a JSON tool result");
                json!({"role": "user", "parts": [
                    {"functionResponse": {"name": name, "response": response}},
                ]})
            }
        }
    }

    /// A user turn with a text, an inline PNG (base64 `data`) and an image by `url` (a JPEG).
    /// Bedrock takes image bytes only, so its turn has the text and the PNG (`url` is unused).
    pub fn image_turn(self, text: &str, data: &str, url: &str) -> Value {
        match self {
            Kind::Bedrock => json!({"role": "user", "content": [
                {"text": text},
                {"image": {"format": "png", "source": {"bytes": data}}},
            ]}),
            Kind::OpenAi | Kind::Azure | Kind::Cohere => json!({"role": "user", "content": [
                {"type": "text", "text": text},
                {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{data}")}},
                {"type": "image_url", "image_url": {"url": url}},
            ]}),
            Kind::Anthropic => json!({"role": "user", "content": [
                {"type": "text", "text": text},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}},
                {"type": "image", "source": {"type": "url", "url": url}},
            ]}),
            Kind::Gemini | Kind::Vertex => json!({"role": "user", "parts": [
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
            Kind::Cohere => ["stop_sequences", "max_tokens", "temperature", "p"],
            Kind::Gemini | Kind::Vertex => {
                let config = &body["generationConfig"];
                return ["stopSequences", "maxOutputTokens", "temperature", "topP"]
                    .iter()
                    .map(|k| config[*k].clone())
                    .collect();
            }
            Kind::Bedrock => {
                let config = &body["inferenceConfig"];
                return ["stopSequences", "maxTokens", "temperature", "topP"]
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
            Kind::Gemini | Kind::Vertex => (
                Script::error(429, "RESOURCE_EXHAUSTED", BUSY),
                client(429, "rate_limit_exceeded", "rate_limit_exceeded"),
            ),
            // Bedrock names the class in x-amzn-ErrorType; the class is the code.
            Kind::Bedrock => (
                Script::error(429, "ThrottlingException", BUSY),
                client(429, "rate_limit_exceeded", "ThrottlingException"),
            ),
            // Cohere names nothing: its message says what the error is.
            Kind::Cohere => (
                Script::error(429, "", BUSY),
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
            Kind::Gemini | Kind::Vertex => (
                Script::stream_error(429, "RESOURCE_EXHAUSTED", BUSY),
                (429, "rate_limit_exceeded", json!("rate_limit_exceeded")),
            ),
            // An exception frame first: throttlingException, as a stream names the class.
            Kind::Bedrock => (
                Script::stream_error(429, "ThrottlingException", BUSY),
                (429, "rate_limit_exceeded", json!("ThrottlingException")),
            ),
            // A message-end with the error first, the way Cohere ends a stream that failed.
            Kind::Cohere => (
                Script::stream_error(429, "", BUSY),
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
            Kind::Gemini | Kind::Vertex => ("INVALID_ARGUMENT", "invalid_argument"),
            Kind::Azure => ("BadRequest", "BadRequest"),
            Kind::Bedrock => ("ValidationException", "ValidationException"),
            // Cohere's body names no class, so there is no code to carry over.
            Kind::Cohere => return (Script::error(400, "", "Bad messages"), Value::Null),
        };
        (Script::error(400, kind, "Bad messages"), json!(code))
    }
}
