"""Drives the official OpenAI and google-genai SDKs against the gateway, one step per call, and
prints what each SDK made of the answer as one JSON line. tests/tests/sdk_clients.rs scripts the
mock provider before each step and checks both ends.

Usage: clients.py PROXY_URL MODEL STEP
"""
import json
import sys

from google import genai
from google.genai import types
from openai import OpenAI

proxy, model, step = sys.argv[1], sys.argv[2], sys.argv[3]
openai = OpenAI(base_url=f"{proxy}/v1", api_key="unused", max_retries=0)
gemini = genai.Client(api_key="unused", http_options={"base_url": proxy})
TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def get_weather(city: str) -> str:
    """The weather in a city."""
    return "sunny"


def out(**fields):
    print(json.dumps(fields))


if step == "responses":
    answer = openai.responses.create(model=model, input="Say hi")
    out(text=answer.output_text, input_tokens=answer.usage.input_tokens,
        output_tokens=answer.usage.output_tokens, status=answer.status)
elif step == "responses-stream":
    kinds, text, usage = [], "", None
    for event in openai.responses.create(model=model, input="Say hi", stream=True):
        kinds.append(event.type)
        if event.type == "response.output_text.delta":
            text += event.delta
        if event.type == "response.completed":
            usage = event.response.usage.output_tokens
    out(text=text, first=kinds[0], last=kinds[-1], output_tokens=usage)
elif step == "responses-codex":
    final = None
    stream = openai.responses.create(
        model=model, instructions="You are a coding agent.",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"}]}],
        tools=[TOOL], stream=True, store=False, parallel_tool_calls=False,
        include=["reasoning.encrypted_content"])
    for event in stream:
        if event.type == "response.completed":
            final = event.response
    call = [item for item in final.output if item.type == "function_call"][0]
    out(name=call.name, arguments=json.loads(call.arguments), call_id=call.call_id)
elif step == "responses-tool-result":
    answer = openai.responses.create(model=model, input=[
        {"role": "user", "content": "Weather in Paris?"},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather",
         "arguments": "{\"city\": \"Paris\"}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
    ], tools=[TOOL])
    out(text=answer.output_text)
elif step == "gemini":
    answer = gemini.models.generate_content(model=model, contents="hi")
    out(text=answer.text, prompt_tokens=answer.usage_metadata.prompt_token_count,
        output_tokens=answer.usage_metadata.candidates_token_count)
elif step == "gemini-stream":
    text = "".join(chunk.text or "" for chunk in
                   gemini.models.generate_content_stream(model=model, contents="hi"))
    out(text=text)
elif step == "gemini-tool":
    answer = gemini.models.generate_content(
        model=model, contents="Weather in Paris?",
        config=types.GenerateContentConfig(
            tools=[get_weather], system_instruction="Be brief.",
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True)))
    call = answer.function_calls[0]
    out(name=call.name, args=call.args)
else:
    sys.exit(f"unknown step {step}")
