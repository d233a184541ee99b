//! Codex CLI through the Responses API: against Anthropic with instructions, input items (a user
//! message, the function call of an earlier turn and its output), function tools and a stream
//! without stored state, Claude's tool_use coming back as a function_call item with its arguments
//! streamed as deltas; and a whole tool loop through Gemini, whose calls have no ids of their own.

use serde_json::{Value, json};
use switchyard_tests::providers::{Answer, Script, Tokens, ToolCall};

use super::{
    ANTHROPIC_DEFAULT_MAX_TOKENS, MODEL, Setup, Upstream, request_id, responses_stream,
    usage_counts,
};

const INSTRUCTIONS: &str = "You are Codex, a coding agent. Use the shell tool to inspect files.";
const ENVIRONMENT: &str = "<environment_context>\n  <cwd>/repo</cwd>\n  <sandbox_mode>workspace-write</sandbox_mode>\n</environment_context>";
const ASK: &str = "What does this repository do?";

fn shell_tool() -> Value {
    json!({
        "type": "function",
        "name": "shell",
        "description": "Runs a shell command and returns its output.",
        "strict": false,
        "parameters": {
            "type": "object",
            "properties": {
                "command": {"type": "array", "items": {"type": "string"}},
                "workdir": {"type": "string"},
            },
            "required": ["command"],
            "additionalProperties": false,
        },
    })
}

/// A request as Codex CLI sends it on its second turn, after running `ls`.
fn codex_request() -> Value {
    let text = |text: &str| json!([{"type": "input_text", "text": text}]);
    json!({
        "model": MODEL,
        "instructions": INSTRUCTIONS,
        "input": [
            {"type": "message", "role": "user", "content": text(ENVIRONMENT)},
            {"type": "message", "role": "user", "content": text(ASK)},
            {"type": "function_call", "name": "shell",
                "arguments": "{\"command\":[\"ls\"],\"workdir\":\"/repo\"}", "call_id": "call_ls_1"},
            {"type": "function_call_output", "call_id": "call_ls_1", "output": "README.md\nsrc\n"},
        ],
        "tools": [shell_tool()],
        "tool_choice": "auto",
        "parallel_tool_calls": false,
        "store": false,
        "stream": true,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "0199a7c4-5b8e-7d21-a4f0-3c2e1d9b8a77",
    })
}

/// Consecutive repeats of an event name collapsed into one, so that the order of kinds of
/// events can be compared whatever the number of deltas.
fn collapsed<'a>(names: &[&'a str]) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for name in names {
        if out.last() != Some(name) {
            out.push(name);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_gets_claudes_tool_call_as_a_function_call() {
    let s = Setup::start(Upstream::Anthropic).await;
    let arguments = json!({"command": ["cat", "README.md"], "workdir": "/repo"});
    let call = ToolCall::new("toolu_01A2B3", "shell", arguments.clone());
    let answer = Answer {
        text: "Let me read the README.".to_owned(),
        ..Answer::tool_calls(vec![call])
    }
    .with_tokens(Tokens {
        prompt: 812,
        completion: 46,
        cached: 0,
        cache_write: 0,
    });
    s.mock.enqueue(Script::Answer(answer));
    let request = codex_request();
    let stream = responses_stream(&s.gateway, &request).await;

    // Anthropic got the conversation in its own terms: the tool output as a tool_result block.
    let sent = s.mock.last_request();
    assert_eq!(sent.path, "/v1/messages");
    let text = |text: &str| json!({"type": "text", "text": text});
    let tool = shell_tool();
    let expected = json!({
        "model": "claude-sonnet-4-5",
        "system": [text(INSTRUCTIONS)],
        "messages": [
            {"role": "user", "content": [text(ENVIRONMENT), text(ASK)]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "call_ls_1",
                "name": "shell", "input": {"command": ["ls"], "workdir": "/repo"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_ls_1",
                "content": "README.md\nsrc\n"}]},
        ],
        "max_tokens": ANTHROPIC_DEFAULT_MAX_TOKENS,
        "stream": true,
        "tools": [{"name": "shell", "description": tool["description"],
            "input_schema": tool["parameters"]}],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": true},
    });
    assert_eq!(sent.json(), expected);

    assert_eq!(
        collapsed(&stream.names()),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    assert_eq!(stream.text(), "Let me read the README.");
    let added = stream.of_type("response.output_item.added");
    let call_item = &added[1]["item"];
    assert_eq!(added[1]["output_index"], 1);
    assert_eq!(
        (
            &call_item["type"],
            &call_item["call_id"],
            &call_item["name"]
        ),
        (
            &json!("function_call"),
            &json!("toolu_01A2B3"),
            &json!("shell")
        )
    );
    let deltas = stream.of_type("response.function_call_arguments.delta");
    assert!(deltas.len() > 1, "arguments arrive in pieces: {deltas:?}");
    let mut streamed = String::new();
    for delta in &deltas {
        assert_eq!(
            (&delta["item_id"], &delta["output_index"]),
            (&call_item["id"], &json!(1))
        );
        streamed.push_str(delta["delta"].as_str().expect("a string delta"));
    }
    let done = stream.of_type("response.function_call_arguments.done")[0];
    assert_eq!(done["arguments"], streamed.as_str());
    assert_eq!(done["name"], "shell");
    let parsed: Value = serde_json::from_str(&streamed).expect("the arguments are JSON");
    assert_eq!(parsed, arguments);

    let completed = stream.completed();
    let output = completed["output"].as_array().expect("output items");
    assert_eq!(output.len(), 2, "{completed}");
    assert_eq!(output[0]["type"], "message");
    let expected_call = json!({"id": call_item["id"], "type": "function_call",
        "status": "completed", "call_id": "toolu_01A2B3", "name": "shell", "arguments": streamed});
    assert_eq!(output[1], expected_call);
    // The request's settings are echoed, as the SDKs' Response model requires.
    assert_eq!(
        (
            &completed["instructions"],
            &completed["tools"],
            &completed["tool_choice"]
        ),
        (&json!(INSTRUCTIONS), &request["tools"], &json!("auto"))
    );
    assert_eq!(
        (&completed["parallel_tool_calls"], &completed["store"]),
        (&json!(false), &json!(false))
    );
    assert_eq!(
        usage_counts(&completed["usage"]),
        [json!(812), json!(0), json!(46), json!(858)]
    );
    let log = s.gateway.wait_log(&request_id(&stream.headers)).await;
    assert_eq!(
        (log.prompt_tokens, log.completion_tokens),
        (812, 46),
        "{log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_runs_a_tool_loop_through_gemini() {
    let s = Setup::start(Upstream::Gemini).await;
    let arguments = json!({"command": ["ls"], "workdir": "/repo"});
    // Gemini's function calls carry no id: the gateway makes up the call_id Codex answers with.
    let call = ToolCall::new("ignored", "shell", arguments.clone());
    s.mock
        .enqueue(Script::Answer(Answer::tool_calls(vec![call])));
    let ask = json!({"type": "message", "role": "user",
        "content": [{"type": "input_text", "text": ASK}]});
    let mut request = codex_request();
    request["input"] = json!([ask]);
    let stream = responses_stream(&s.gateway, &request).await;
    let item = stream.completed()["output"][0].clone();
    assert_eq!(
        (&item["type"], &item["name"]),
        (&json!("function_call"), &json!("shell"))
    );
    let call_id = item["call_id"].as_str().expect("a call_id").to_owned();
    assert!(!call_id.is_empty());
    let sent: Value = serde_json::from_str(item["arguments"].as_str().expect("arguments"))
        .expect("JSON arguments");
    assert_eq!(sent, arguments);

    // The next turn replays the call and answers it, as Codex does.
    s.mock
        .enqueue(Script::Answer(Answer::text("The repo has a README.")));
    let output = json!({"type": "function_call_output", "call_id": call_id,
        "output": "README.md\nsrc\n"});
    request["input"] = json!([ask, item, output]);
    let stream = responses_stream(&s.gateway, &request).await;
    assert_eq!(stream.text(), "The repo has a README.");
    let contents = s.mock.last_request().json()["contents"].clone();
    let expected = json!([
        {"role": "user", "parts": [{"text": ASK}]},
        {"role": "model", "parts": [{"functionCall": {"name": "shell", "args": arguments}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "shell",
            "response": {"content": "README.md\nsrc\n"}}}]},
    ]);
    assert_eq!(contents, expected);
}
