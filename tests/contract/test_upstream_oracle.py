"""Our schemas against the upstream OpenAI OpenAPI document (../shared/upstream/openai-openapi).

Every request and response example the upstream document gives for the operations we
cover must validate against our schema. Examples that cannot are listed in EXCEPTIONS
with the reason, and the test proves each exception is still needed.
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass

import pytest
import yaml

from infercheck.contract import schemas as _schemas

from ..support import SHARED

OPENAPI = SHARED / "upstream" / "openai-openapi" / "openapi.yaml"
if not OPENAPI.is_file():
    if os.environ.get("CI") == "true":  # CI has ../shared beside the clone: its absence is an error there
        raise FileNotFoundError(f"the upstream oracle is missing: {OPENAPI}")
    pytest.skip(f"upstream oracle not found at {OPENAPI} (../shared beside the checkout)", allow_module_level=True)

OPERATIONS = {
    ("/completions", "post"): ("openai/completion-request.json", "openai/completion-response.json",
                               "openai/completion-chunk.json"),
    ("/chat/completions", "post"): ("openai/chat-request.json", "openai/chat-response.json", "openai/chat-chunk.json"),
    ("/models", "get"): (None, "openai/model-list.json", None),
    ("/models/{model}", "get"): (None, "openai/model.json", None),
    ("/embeddings", "post"): ("openai/embedding-request.json", "openai/embedding-response.json", None),
    ("/responses", "post"): ("openai/response-request.json", "openai/response.json", "openai/response-event.json"),
    ("/responses/{response_id}", "get"): (None, "openai/response.json", None),
}
COMPONENT_EXAMPLES = {
    "CreateCompletionResponse": "openai/completion-response.json",
    "CreateChatCompletionResponse": "openai/chat-response.json",
    "CreateChatCompletionStreamResponse": "openai/chat-chunk.json",
    "Model": "openai/model.json",
    **{name: "openai/response-event.json" for name in (
        "ResponseCreatedEvent", "ResponseInProgressEvent", "ResponseOutputItemAddedEvent",
        "ResponseOutputItemDoneEvent", "ResponseContentPartAddedEvent", "ResponseContentPartDoneEvent", "ResponseTextDeltaEvent",
        "ResponseTextDoneEvent", "ResponseFunctionCallArgumentsDoneEvent", "ResponseRefusalDeltaEvent",
        "ResponseRefusalDoneEvent", "ResponseErrorEvent", "ResponseCompletedEvent", "ResponseIncompleteEvent",
        "ResponseFailedEvent", "ResponseReasoningTextDeltaEvent", "ResponseReasoningSummaryTextDeltaEvent")},
}
# example id -> why it cannot be validated. Each must still fail to parse (see the last test).
EXCEPTIONS = {
    "POST /completions 'Streaming' response": "not JSON: a comma is missing after \"model\" and one trails the object",
    "GET /models response": "not JSON: a trailing comma after the last model",
    "POST /embeddings response": "not JSON: the vector is elided with '....' and has a trailing comma",
}
# example id -> (why upstream's own example breaks upstream's own schema, a violation our schema reports for it).
# Each must still break ours with that violation (see the last tests).
STALE = {
    "POST /responses 'Web search' request": ("a built-in tool (web_search_preview) is OpenAI's own service, not a "
                                             "function tool an inference endpoint serves", "'function' was expected"),
    "POST /responses 'File search' request": ("a built-in tool (file_search) is OpenAI's own service, not a "
                                              "function tool an inference endpoint serves", "'function' was expected"),
    "POST /responses 'Streaming' response": ("the example predates sequence_number, which every ResponseStreamEvent "
                                             "requires", "'sequence_number' is a required property"),
    "component ResponseCompletedEvent example": ("the response is abridged: no parallel_tool_calls, which Response "
                                                 "requires", "'parallel_tool_calls' is a required property"),
    "component ResponseFailedEvent example": ("no sequence_number, which the event requires",
                                              "'sequence_number' is a required property"),
    "component ResponseIncompleteEvent example": ("incomplete_details.reason is 'max_tokens', not among the reasons "
                                                  "upstream lists (max_output_tokens, content_filter)", "max_tokens"),
}


@dataclass
class Example:
    id: str
    schema: str
    text: str
    many: bool = False  # a stream: JSON documents separated by blank lines, '....' elisions


def _curl_body(curl: str) -> str | None:
    match = re.search(r"-d '(.*?)'", curl, re.S)
    return match.group(1) if match else None


@functools.cache
def _upstream() -> dict:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(OPENAPI.read_text(), Loader=loader)  # noqa: S506 (a safe loader)


def _examples() -> list[Example]:
    document = _upstream()
    found = []
    for (path, method), (request_schema, response_schema, chunk_schema) in OPERATIONS.items():
        meta = document["paths"][path][method]["x-oaiMeta"]["examples"]
        for example in meta if isinstance(meta, list) else [meta]:
            label = f"{method.upper()} {path}" + (f" {example['title']!r}" if example.get("title") else "")
            body = _curl_body(example["request"]["curl"])
            streamed = False
            if body is not None and request_schema:
                found.append(Example(f"{label} request", request_schema, body))
                streamed = '"stream": true' in body
            if example.get("response"):
                if (streamed or example["response"].startswith("event:")) and chunk_schema:
                    found.append(Example(f"{label} response", chunk_schema, example["response"], many=True))
                else:
                    found.append(Example(f"{label} response", response_schema, example["response"]))
    components = document["components"]["schemas"]
    for name, schema in COMPONENT_EXAMPLES.items():
        text = components[name]["x-oaiMeta"]["example"]
        found.append(Example(f"component {name} example", schema, text, "\n\n{" in text))
    return found


EXAMPLES = _examples()


def _documents(example: Example) -> list:
    if not example.many:
        return [json.loads(example.text)]
    parts = [p.strip() for p in example.text.split("\n\n")]
    return [json.loads(_data(p)) for p in parts if p and p.strip(".") != ""]


def _data(part: str) -> str:
    """A stream example's event: the JSON itself, or the data of an SSE event (``event:`` and ``data:`` lines)."""
    if not part.startswith(("event:", "data:")):
        return part
    return "\n".join(line.removeprefix("data:").strip() for line in part.splitlines() if line.startswith("data:"))


def test_the_oracle_found_the_examples():
    ids = {e.id for e in EXAMPLES}
    assert len(EXAMPLES) >= 15
    assert "POST /chat/completions 'Default' request" in ids
    assert "POST /chat/completions 'Streaming' response" in ids
    assert set(EXCEPTIONS) <= ids, "an exception names an example that no longer exists"


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.id not in EXCEPTIONS and e.id not in STALE],
                         ids=lambda e: e.id)
def test_upstream_example_validates_against_our_schema(example: Example):
    documents = _documents(example)
    assert documents
    for document in documents:
        assert _schemas.errors(example.schema, document) == [], example.schema


@pytest.mark.parametrize("example_id", sorted(EXCEPTIONS))
def test_exceptions_are_still_needed(example_id: str):
    example = next(e for e in EXAMPLES if e.id == example_id)
    with pytest.raises(ValueError):
        _documents(example)


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.id not in EXCEPTIONS and e.id not in STALE
                                     and e.id.endswith(("response",
                                     "example"))], ids=lambda e: e.id)
def test_upstream_response_examples_have_no_field_our_schemas_leave_undeclared(example: Example):
    for document in _documents(example):
        assert _schemas.undocumented(example.schema, document) == []


@pytest.mark.parametrize("example_id", sorted(STALE))
def test_stale_examples_still_break_our_schema_as_said(example_id: str):
    example = next(e for e in EXAMPLES if e.id == example_id)
    _, violation = STALE[example_id]
    found = [error for document in _documents(example) for error in _schemas.errors(example.schema, document)]
    assert any(violation in error for error in found), found


def test_the_responses_examples_were_found():
    ids = {e.id for e in EXAMPLES}
    assert {"POST /responses 'Text input' request", "POST /responses 'Functions' response",
            "GET /responses/{response_id} response", "component ResponseTextDeltaEvent example"} <= ids
    assert set(STALE) <= ids, "a stale example no longer exists"


# upstream component -> where ours describes the same object
DECLARES = {
    "CreateChatCompletionResponse": "openai/chat-response.json#",
    "CreateCompletionResponse": "openai/completion-response.json#",
    "CreateChatCompletionStreamResponse": "openai/chat-chunk.json#",
    "Model": "openai/model.json#",
    "ListModelsResponse": "openai/model-list.json#",
    "CreateEmbeddingResponse": "openai/embedding-response.json#",
    "Embedding": "openai/embedding-response.json#/properties/data/items",
    "ChatCompletionResponseMessage": "openai/chat-response.json#/properties/choices/items/properties/message",
    "ChatCompletionStreamResponseDelta": "openai/chat-chunk.json#/properties/choices/items/properties/delta",
    "CompletionUsage": "openai/common.json#/$defs/usage",
    "Error": "openai/error.json#/properties/error",
    "Response": "openai/response.json#",
    "ResponseUsage": "openai/response.json#/$defs/usage",
    "OutputMessage": "openai/response.json#/$defs/message",
    "OutputTextContent": "openai/response.json#/$defs/content/allOf/0/then",
    "FunctionToolCall": "openai/response.json#/$defs/function-call",
    "ReasoningItem": "openai/response.json#/$defs/reasoning",
    "ResponseTextDeltaEvent": "openai/response-event.json#/allOf/3/then",
    "ResponseTextDoneEvent": "openai/response-event.json#/allOf/4/then",
    "ResponseFunctionCallArgumentsDeltaEvent": "openai/response-event.json#/allOf/7/then",
    "ResponseFunctionCallArgumentsDoneEvent": "openai/response-event.json#/allOf/8/then",
    "ResponseContentPartAddedEvent": "openai/response-event.json#/allOf/2/then",
    "ResponseOutputItemAddedEvent": "openai/response-event.json#/allOf/1/then",
}


@pytest.mark.parametrize("component", sorted(DECLARES))
def test_every_property_upstream_declares_in_a_response_object_is_declared_in_ours(component: str):
    """So that `undocumented-fields` never reports a field OpenAI itself documents."""
    resolved = _schemas.registry().resolver().lookup(_schemas.uri(DECLARES[component]))
    node = resolved.contents
    while "$ref" in node and "properties" not in node:
        resolved = resolved.resolver.lookup(node["$ref"])
        node = resolved.contents
    envelope = _ENVELOPE.get(DECLARES[component].split("#")[0], set())
    assert _declared_upstream(component) - set(node.get("properties", {})) - envelope == set()


_ENVELOPE = {"openai/response-event.json": {"type", "sequence_number"}}  # declared once, beside the branches


def _declared_upstream(component: str) -> set[str]:
    """The properties upstream declares for ``component``, those of the schemas it combines (allOf) included."""
    schema = _upstream()["components"]["schemas"][component]
    found = set(schema.get("properties", {}))
    for part in schema.get("allOf", ()):
        found |= (_declared_upstream(part["$ref"].rsplit("/", 1)[1]) if "$ref" in part
                  else set(part.get("properties", {})))
    return found
