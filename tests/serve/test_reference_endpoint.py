"""The reference endpoint speaks the contract: driven by the real `openai` Python client."""

from __future__ import annotations

import base64
import struct

import httpx
import openai
import pytest

MODEL = "infercheck-tiny"


@pytest.fixture(scope="module")
def client(keyed_url):
    return openai.OpenAI(base_url=keyed_url, api_key="sk-test-secret", max_retries=0, timeout=10)


def test_models(client):
    assert [m.id for m in client.models.list()] == [MODEL]
    assert client.models.retrieve(MODEL).owned_by == "infercheck"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("nope")


def test_completion_with_max_tokens_echo_and_logprobs(client):
    c = client.completions.create(model=MODEL, prompt="Say this is a test", max_tokens=7, temperature=0,
                                  echo=True, logprobs=2)
    (choice,) = c.choices
    assert choice.text.startswith("Say this is a test") and choice.finish_reason == "length"
    assert c.usage.completion_tokens == 7 and c.usage.total_tokens == c.usage.prompt_tokens + 7
    assert len(choice.logprobs.tokens) == len(choice.logprobs.token_logprobs) == len(choice.logprobs.text_offset)
    assert "".join(choice.logprobs.tokens) == choice.text


def test_temperature_zero_and_seed_are_deterministic(client):
    def text(**kw):
        return client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}],
                                              max_tokens=12, **kw).choices[0].message.content
    assert text(temperature=0) == text(temperature=0)
    assert text(temperature=1, seed=42) == text(temperature=1, seed=42)


def test_n_choices_and_stop(client):
    c = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}], n=3, seed=1,
                                       max_tokens=40)
    assert sorted(ch.index for ch in c.choices) == [0, 1, 2]
    full = client.completions.create(model=MODEL, prompt="stop test", max_tokens=40, temperature=0).choices[0].text
    stop = full[8:12]
    cut = client.completions.create(model=MODEL, prompt="stop test", max_tokens=40, temperature=0, stop=[stop])
    assert stop not in cut.choices[0].text and cut.choices[0].finish_reason == "stop"
    assert full.startswith(cut.choices[0].text)


def test_chat_stream_with_usage_matches_the_non_streamed_answer(client):
    kwargs = dict(model=MODEL, messages=[{"role": "user", "content": "Count"}], max_tokens=10, temperature=0)
    whole = client.chat.completions.create(**kwargs)
    chunks = list(client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(ch.usage is None for ch in chunks[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == whole.choices[0].message.content
    assert [ch.choices[0].finish_reason for ch in chunks if ch.choices][-1] == whole.choices[0].finish_reason


WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"},
                                                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                   "required": ["location"]}}}
CLOCK = {"type": "function", "function": {"name": "get_time", "parameters": {
    "type": "object", "properties": {"timezone": {"type": "string"}}, "required": ["timezone"]}}}


def test_tool_calls_as_the_openai_client_reads_them(client):
    """Tool calls, read by the real client: arguments that parse and fit the parameters, tool_choice honoured, the
    streamed deltas assembled as a client assembles them, and a follow-up turn with the tool's answer."""
    import json

    ask = [{"role": "user", "content": "Weather and time in Paris?"}]
    auto = client.chat.completions.create(model=MODEL, messages=ask, tools=[WEATHER, CLOCK], max_tokens=64)
    call = auto.choices[0].message.tool_calls[0]
    assert auto.choices[0].finish_reason == "tool_calls" and call.type == "function" and call.id
    assert call.function.name == "get_weather" and "location" in json.loads(call.function.arguments)
    named = dict(model=MODEL, messages=ask, tools=[WEATHER, CLOCK], max_tokens=64, temperature=0,
                 tool_choice={"type": "function", "function": {"name": "get_time"}})
    whole = client.chat.completions.create(**named).choices[0].message.tool_calls
    assert [c.function.name for c in whole] == ["get_time"]
    built: dict[int, dict[str, str]] = {}
    for chunk in client.chat.completions.create(**named, stream=True):
        for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            entry = built.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            entry["id"] += delta.id or ""
            entry["name"] += (delta.function.name or "") if delta.function else ""
            entry["arguments"] += (delta.function.arguments or "") if delta.function else ""
    assert list(built) == [0] and built[0]["id"] and built[0]["name"] == "get_time"
    assert json.loads(built[0]["arguments"]) == json.loads(whole[0].function.arguments)
    none = client.chat.completions.create(model=MODEL, messages=ask, tools=[WEATHER], tool_choice="none",
                                          max_tokens=8)
    assert none.choices[0].message.tool_calls is None and isinstance(none.choices[0].message.content, str)
    follow = client.chat.completions.create(model=MODEL, tools=[WEATHER], max_tokens=8, messages=[
        *ask, {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "14 degrees, cloudy"}])
    assert follow.choices[0].finish_reason in ("stop", "length") and follow.choices[0].message.content
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=ask, tools=[WEATHER], max_tokens=8,
                                       tool_choice={"type": "function", "function": {"name": "get_time"}})
    assert caught.value.body["param"] == "tool_choice"


def test_the_responses_api_as_the_openai_client_reads_it(client):
    """The Responses API, read by the real client: a plain response, the same streamed (the events the client
    types, assembled into the same text), retrieved by its id, cut by max_output_tokens, a named function call
    (plain and streamed) and a structured output."""
    import json

    ask = dict(model=MODEL, input="Count from one to twenty, in words:", max_output_tokens=64, temperature=0)
    plain = client.responses.create(**ask)
    assert plain.status == "completed" and plain.incomplete_details is None and plain.output_text
    assert plain.usage.total_tokens == plain.usage.input_tokens + plain.usage.output_tokens
    events = list(client.responses.create(**ask, stream=True))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == plain.output_text
    assert events[-1].response.output_text == plain.output_text
    stored = client.responses.retrieve(plain.id)
    assert stored.id == plain.id and stored.output_text == plain.output_text
    cut = client.responses.create(model=MODEL, input="Write a very long story about the sea.", max_output_tokens=16,
                                  temperature=0)
    assert cut.status == "incomplete" and cut.incomplete_details.reason == "max_output_tokens"
    assert cut.usage.output_tokens == 16
    tools = [{"type": "function", "name": f["function"]["name"], "parameters": f["function"]["parameters"],
              "strict": False} for f in (WEATHER, CLOCK)]
    named = dict(model=MODEL, input="Weather and time in Paris?", tools=tools, temperature=0,
                 tool_choice={"type": "function", "name": "get_time"})
    call = client.responses.create(**named).output[0]
    assert call.type == "function_call" and call.name == "get_time" and call.call_id
    assert "timezone" in json.loads(call.arguments)
    streamed = [e for e in client.responses.create(**named, stream=True)]
    built = "".join(e.delta for e in streamed if e.type == "response.function_call_arguments.delta")
    assert json.loads(built) == json.loads(call.arguments)
    assert [e.arguments for e in streamed if e.type == "response.function_call_arguments.done"] == [built]
    shaped = client.responses.create(model=MODEL, input="A color", text={"format": {
        "type": "json_schema", "name": "color", "strict": True, "schema": {
            "type": "object", "properties": {"color": {"type": "string", "enum": ["red", "blue"]}},
            "required": ["color"], "additionalProperties": False}}})
    assert json.loads(shaped.output_text) == {"color": "red"}
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve("resp_missing")


def test_strict_schemas_must_be_closed_and_wholly_required(client):
    """As OpenAI refuses them: a strict function's parameters or a strict json_schema format that leaves a property
    optional or the object open gets 400 naming the property, in chat and in the Responses API alike; the same
    schema without strict is served."""
    ask = dict(model=MODEL, messages=[{"role": "user", "content": "Weather in Paris?"}], max_tokens=32)
    loose = {**WEATHER["function"], "strict": True,  # closed, but unit is not required
             "parameters": {**WEATHER["function"]["parameters"], "additionalProperties": False}}
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(**ask, tools=[{"type": "function", "function": loose}], tool_choice="required")
    assert caught.value.body["param"] == "tools" and "Missing 'unit'" in caught.value.body["message"]
    open_schema = {"type": "object", "properties": {"color": {"type": "string"}}, "required": ["color"]}
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(**ask, response_format={"type": "json_schema", "json_schema": {
            "name": "color", "strict": True, "schema": open_schema}})
    assert caught.value.body["param"] == "response_format" and "additionalProperties" in caught.value.body["message"]
    nested = {"type": "object", "additionalProperties": False, "required": ["where"], "properties": {"where": {
        "type": "object", "additionalProperties": False, "properties": {"city": {"type": "string"}}}}}
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=MODEL, input="Where?", max_output_tokens=32, tools=[
            {"type": "function", "name": "locate", "parameters": nested, "strict": True}])
    assert "('properties', 'where')" in caught.value.body["message"] and "Missing 'city'" in caught.value.body["message"]
    served = client.chat.completions.create(**ask, tools=[WEATHER], tool_choice="required")
    assert served.choices[0].message.tool_calls


def test_completion_stream(client):
    chunks = list(client.completions.create(model=MODEL, prompt="x", max_tokens=5, temperature=0, stream=True))
    assert "".join(c.choices[0].text for c in chunks) == \
        client.completions.create(model=MODEL, prompt="x", max_tokens=5, temperature=0).choices[0].text


def test_embeddings_float_and_base64(client):
    floats = client.embeddings.create(model=MODEL, input=["a", "b"], encoding_format="float")
    assert [d.index for d in floats.data] == [0, 1] and len(floats.data[0].embedding) == 64
    raw = client.embeddings.with_raw_response.create(model=MODEL, input="a", encoding_format="base64").http_response.json()
    decoded = struct.unpack("<64f", base64.b64decode(raw["data"][0]["embedding"]))
    assert decoded == pytest.approx(floats.data[0].embedding, rel=1e-6)


@pytest.mark.parametrize(
    "kwargs",
    [dict(temperature=5), dict(top_p=2), dict(n=0), dict(max_tokens=-1), dict(top_logprobs=3),
     dict(stream_options={"include_usage": True}), dict(messages=[])],
    ids=lambda kw: ",".join(kw),
)
def test_bad_requests_get_400_with_the_envelope(client, kwargs):
    request = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], **kwargs}
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(**request)
    assert caught.value.status_code == 400
    assert set(caught.value.body) >= {"message", "type", "param", "code"}


def test_unknown_model_and_missing_key(client, keyed_url):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-nope", messages=[{"role": "user", "content": "Hi"}])
    assert caught.value.body["code"] == "model_not_found"
    keyless = openai.OpenAI(base_url=keyed_url, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        keyless.models.list()


def test_output_and_context_limits_are_enforced(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model=MODEL, prompt="x", max_tokens=100_000)
    assert caught.value.body["param"] == "max_tokens"  # beyond the 1024 tokens the model generates at most
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model=MODEL, prompt="word " * 3500, max_tokens=1000)
    assert caught.value.body["code"] == "context_length_exceeded"


def test_integral_numbers_are_integers(reference_url):
    """JSON Schema's integer takes 5.0; so must the endpoint (schemathesis found a 500 here)."""
    body = {"model": "infercheck-tiny", "prompt": "hi", "n": 2.0, "max_tokens": 3.0}
    response = httpx.post(reference_url + "/completions", json=body, timeout=5)
    assert response.status_code == 200, response.text
    assert len(response.json()["choices"]) == 2


@pytest.mark.parametrize("part", [
    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}, "text": {"x": 1}},
    {"type": "refusal", "refusal": "no", "text": ["x"]},
], ids=["image-with-object-text", "refusal-with-list-text"])
def test_a_content_part_of_another_type_is_not_read_as_text(reference_url, part):
    """The contract leaves parts other than text open, a "text" of any type included (schemathesis found a 500)."""
    body = {"model": "infercheck-tiny", "max_tokens": 4,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}, part]}]}
    response = httpx.post(reference_url + "/chat/completions", json=body, timeout=5)
    assert response.status_code == 200, response.text


def test_the_endpoint_refuses_what_its_document_says_it_refuses(reference_url):
    too_many = {"model": "infercheck-tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1025}
    response = httpx.post(reference_url + "/chat/completions", json=too_many, timeout=5)
    assert response.status_code == 400 and response.json()["error"]["param"] == "max_tokens"
    doc = httpx.get(reference_url.removesuffix("/v1") + "/openapi.json", timeout=5).json()
    assert doc["components"]["schemas"]["openai.chat-request"]["properties"]["max_tokens"]["maximum"] == 1024
