"""Our schemas are valid JSON Schema, their $ids match their files, every $ref resolves."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from infercheck.contract import schemas as _schemas

from ..support import ROOT

SCHEMA_FILES = sorted((ROOT / "schemas").rglob("*.json"))


def _refs(node, found=None):
    found = [] if found is None else found
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            found.append(node["$ref"])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)
    return found


def test_there_are_schemas_for_every_openai_document():
    names = set(_schemas.names())
    for kind in ("completion", "chat"):
        assert {f"openai/{kind}-request.json", f"openai/{kind}-response.json", f"openai/{kind}-chunk.json"} <= names
    assert {"openai/model.json", "openai/model-list.json", "openai/embedding-request.json",
            "openai/embedding-response.json", "openai/error.json", "results.json"} <= names


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: str(p.relative_to(ROOT / "schemas")))
def test_schema_is_valid_2020_12_with_matching_id(path: Path):
    document = json.loads(path.read_text())
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(document)
    assert document["$id"] == _schemas.BASE_URI + path.relative_to(ROOT / "schemas").as_posix()


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: str(p.relative_to(ROOT / "schemas")))
def test_every_ref_resolves(path: Path):
    document = json.loads(path.read_text())
    resolver = _schemas.registry().resolver(base_uri=document["$id"])
    for ref in _refs(document):
        resolver.lookup(ref)  # raises referencing.exceptions.Unresolvable


def test_schema_errors_name_the_place():
    problems = _schemas.errors("openai/completion-response.json", {"object": "text_completion"})
    assert any("'id' is a required property" in p for p in problems)
    assert _schemas.errors("openai/model.json", {"id": "m", "object": "model", "created": 1, "owned_by": "x"}) == []


@pytest.mark.parametrize(
    ("schema", "instance"),
    [
        ("openai/chat-request.json", {"model": "m", "messages": []}),
        ("openai/chat-request.json", {"model": "m", "messages": [{"role": "user"}]}),
        ("openai/chat-request.json", {"model": "m", "messages": [{"role": "user", "content": "a"}], "temperature": 3}),
        ("openai/chat-request.json",
         {"model": "m", "messages": [{"role": "user", "content": "a"}], "stream_options": {"include_usage": True}}),
        ("openai/completion-request.json", {"model": "m", "prompt": "a", "logprobs": 6}),
        ("openai/completion-request.json", {"model": "m", "prompt": "a", "n": 0}),
        ("openai/completion-request.json", {"model": "m"}),
        ("openai/embedding-request.json", {"model": "m", "input": []}),
        ("openai/error.json", {"error": "bad"}),
        ("openai/chat-chunk.json", {"id": "x", "object": "chat.completion", "created": 1, "model": "m", "choices": []}),
    ],
)
def test_schemas_are_strict_where_the_contract_is(schema, instance):
    assert _schemas.errors(schema, instance)


def test_schemas_are_open_where_servers_add_fields():
    vllm_like = {
        "id": "cmpl-1", "object": "text_completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "text": "hi", "logprobs": None, "finish_reason": "stop", "stop_reason": None,
                     "prompt_logprobs": None}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2, "prompt_tokens_details": None},
        "kv_transfer_params": None,
    }
    assert _schemas.errors("openai/completion-response.json", vllm_like) == []
    assert _schemas.errors("openai/chat-request.json",
                           {"model": "m", "messages": [{"role": "user", "content": "a"}], "top_k": 5}) == []
