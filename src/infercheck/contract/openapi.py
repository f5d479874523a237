"""An OpenAPI 3.1 document assembled from ``schemas/``: the reference endpoint serves it at
``GET /openapi.json``, and schemathesis (or any OpenAPI tool) can test an endpoint against it.

Each schema file becomes one entry of ``components.schemas`` (its ``$id`` dropped) and every
``$ref`` between files is rewritten to point there, so the document stands alone.
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urldefrag, urljoin

from .._version import __version__
from . import schemas as _schemas

# (path, method, request schema, response schema, stream chunk schema, operation id)
OPERATIONS = (
    ("/v1/completions", "post", "openai/completion-request.json", "openai/completion-response.json",
     "openai/completion-chunk.json", "createCompletion"),
    ("/v1/chat/completions", "post", "openai/chat-request.json", "openai/chat-response.json",
     "openai/chat-chunk.json", "createChatCompletion"),
    ("/v1/embeddings", "post", "openai/embedding-request.json", "openai/embedding-response.json", None,
     "createEmbedding"),
    ("/v1/models", "get", None, "openai/model-list.json", None, "listModels"),
    ("/v1/models/{model}", "get", None, "openai/model.json", None, "retrieveModel"),
    ("/v1/responses", "post", "openai/response-request.json", "openai/response.json", "openai/response-event.json",
     "createResponse"),
    ("/v1/responses/{response_id}", "get", None, "openai/response.json", None, "getResponse"),
)
ERROR = "openai/error.json"


def component(name: str) -> str:
    """``openai/chat-request.json`` -> ``openai.chat-request``."""
    return name.removesuffix(".json").replace("/", ".")


def _rewrite(node: Any, base: str) -> Any:
    if isinstance(node, list):
        return [_rewrite(item, base) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("$id", "$schema"):
            continue
        if key == "$ref" and isinstance(value, str):
            target, fragment = urldefrag(urljoin(base, value))
            out[key] = f"#/components/schemas/{component(target.removeprefix(_schemas.BASE_URI))}{fragment}"
        elif key in ("const", "enum", "examples", "default"):
            out[key] = copy.deepcopy(value)
        else:
            out[key] = _rewrite(value, base)
    return out


def _event(chunk: dict[str, str]) -> dict[str, Any]:
    """One server-sent event of a stream (OpenAPI before 3.2 has ``schema`` describe each event): its data
    is a chunk as JSON text, and ``[DONE]`` ends the stream. ``contentSchema`` is an annotation; the
    infercheck checks validate each chunk."""
    return {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {"anyOf": [{"const": "[DONE]"},
                               {"type": "string", "contentMediaType": "application/json", "contentSchema": chunk}]},
            "event": {"type": "string"},
            "id": {"type": "string"},
            "retry": {"type": "integer", "minimum": 0},
        },
    }


def document(*, model: str | None = None, server: str | None = None,
             limits: dict[str, dict[str, dict[str, Any]]] | None = None) -> dict[str, Any]:
    """The OpenAPI document. With ``model``, requests must name that model (the endpoint serves one).
    ``limits`` are an endpoint's own tightenings, {component: {property: {keyword: value}}}: an endpoint
    that refuses some contract-valid requests (max_tokens beyond what it generates, say) states so here,
    so that a tool generating requests from the document does not send them."""
    schemas = {}
    for name in _schemas.names():
        if name.startswith("openai/") and name.count("/") == 1:  # not positive/: infercheck's generators
            schemas[component(name)] = _rewrite(_schemas.schema(name), _schemas.uri(name))
    if model is not None:
        for name in ("openai.completion-request", "openai.chat-request", "openai.embedding-request",
                     "openai.response-request"):
            schemas[name]["properties"]["model"] = {"const": model}
    for name, properties in (limits or {}).items():
        for prop, keywords in properties.items():
            schemas[name]["properties"][prop] = {**schemas[name]["properties"][prop], **keywords}

    def ref(name: str) -> dict[str, str]:
        return {"$ref": f"#/components/schemas/{component(name)}"}

    errors = {"description": "The error envelope", "content": {"application/json": {"schema": ref(ERROR)}}}
    paths: dict[str, Any] = {}
    for path, method, request, response, chunk, operation_id in OPERATIONS:
        content: dict[str, Any] = {"application/json": {"schema": ref(response)}}
        if chunk:
            content["text/event-stream"] = {"schema": _event(ref(chunk))}
        operation: dict[str, Any] = {
            "operationId": operation_id,
            "responses": {"200": {"description": "OK", "content": content}, "400": errors, "401": errors,
                          "404": errors},
        }
        if request:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(request)}}}
        if "{model}" in path:
            operation["parameters"] = [{"name": "model", "in": "path", "required": True,
                                        "schema": {"type": "string"} if model is None else {"const": model}}]
        if "{response_id}" in path:
            operation["parameters"] = [{"name": "response_id", "in": "path", "required": True,
                                        "schema": {"type": "string", "minLength": 1}}]
        paths.setdefault(path, {})[method] = operation
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "infercheck reference endpoint (OpenAI-style)", "version": __version__},
        "paths": paths,
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
    if server:
        doc["servers"] = [{"url": server}]
    return doc
