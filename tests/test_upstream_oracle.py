"""Our schemas against the upstream OpenAI OpenAPI document (../shared/upstream/openai-openapi).

Every request and response example the upstream document gives for the operations we
cover must validate against our schema. Examples that cannot are listed in EXCEPTIONS
with the reason, and the test proves each exception is still needed.
"""

from __future__ import annotations

import json
import os
import functools
import re
from dataclasses import dataclass

import pytest
import yaml

from infercheck import _schemas

from .conftest import SHARED

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
}
COMPONENT_EXAMPLES = {
    "CreateCompletionResponse": "openai/completion-response.json",
    "CreateChatCompletionResponse": "openai/chat-response.json",
    "CreateChatCompletionStreamResponse": "openai/chat-chunk.json",
    "Model": "openai/model.json",
}
# example id -> why it cannot be validated. Each must still fail to parse (see the last test).
EXCEPTIONS = {
    "POST /completions 'Streaming' response": "not JSON: a comma is missing after \"model\" and one trails the object",
    "GET /models response": "not JSON: a trailing comma after the last model",
    "POST /embeddings response": "not JSON: the vector is elided with '....' and has a trailing comma",
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
                if streamed and chunk_schema:
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
    return [json.loads(p) for p in parts if p and p.strip(".") != ""]


def test_the_oracle_found_the_examples():
    ids = {e.id for e in EXAMPLES}
    assert len(EXAMPLES) >= 15
    assert "POST /chat/completions 'Default' request" in ids
    assert "POST /chat/completions 'Streaming' response" in ids
    assert set(EXCEPTIONS) <= ids, "an exception names an example that no longer exists"


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.id not in EXCEPTIONS], ids=lambda e: e.id)
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


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.id not in EXCEPTIONS and e.id.endswith(("response",
                                     "example"))], ids=lambda e: e.id)
def test_upstream_response_examples_have_no_field_our_schemas_leave_undeclared(example: Example):
    for document in _documents(example):
        assert _schemas.undocumented(example.schema, document) == []


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
}


@pytest.mark.parametrize("component", sorted(DECLARES))
def test_every_property_upstream_declares_in_a_response_object_is_declared_in_ours(component: str):
    """So that `undocumented-fields` never reports a field OpenAI itself documents."""
    resolved = _schemas.registry().resolver().lookup(_schemas.uri(DECLARES[component]))
    node = resolved.contents
    while "$ref" in node and "properties" not in node:
        resolved = resolved.resolver.lookup(node["$ref"])
        node = resolved.contents
    theirs = set(_upstream()["components"]["schemas"][component].get("properties", {}))
    assert theirs - set(node.get("properties", {})) == set()
