"""The property suites: a suite per route (completions, chat, embeddings, chat-tools, chat-format, responses, the
Hugging Face text tasks), each positive and negative. A route names its contract and positive request schemas, the
case route its requests are for (so the checks apply), the fields its negative suite breaks, and how a request is
made to keep the rules across fields that no schema states."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Route:
    path: str
    contract: str  # request schema of the contract
    positive: str  # request schema of what must be served
    response: str
    chunk: str | None = None
    feature: str | None = None  # profile feature the route needs
    api: str = "openai"
    endpoint: str | None = None  # the route its requests are cases of, for the checks (default: the suite's name)
    fields: tuple[str, ...] = ()  # the top-level fields its negative suite breaks (default: every one)
    agree: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # a positive request made to keep the rules
    # across fields that no schema states (a request that already keeps them is given back equal)

    @property
    def error_schema(self) -> str:
        return f"{self.api}/error.json"


JSON_INSTRUCTIONS = "You answer in JSON."  # what a generated json_object request says, as OpenAI requires


def _agreeing(body: dict[str, Any]) -> dict[str, Any]:
    """A tool-calling request made to keep the rules across fields that no schema states (chat's tools nest the name
    under ``function``, the Responses API's do not): tool names distinct (the first of each name kept), a named
    tool_choice among them (else the last one named), "required" or a named choice only with tools, every
    generated JSON Schema kept to the rules of ``_schemas_kept``, and a Responses ``json_object`` format asked for
    with the word JSON in the instructions (OpenAI refuses it otherwise, as chat-format's system message says)."""
    out = _schemas_kept(body)
    fmt = out.get("text", {}).get("format") if isinstance(out.get("text"), dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_object":
        out["instructions"] = JSON_INSTRUCTIONS
    names: list[str] = []
    tools = []
    for tool in out.get("tools") or []:
        name = (tool.get("function") or tool).get("name")
        if name not in names:
            names.append(name)
            tools.append(tool)
    if "tools" in out:
        out["tools"] = tools
    choice = out.get("tool_choice")
    if isinstance(choice, dict) or choice == "required":
        if not names:
            del out["tool_choice"]
        elif isinstance(choice, dict) and (choice.get("function") or choice).get("name") not in names:
            (choice.get("function") or choice)["name"] = names[-1]
    return out


def _schemas_kept(node: Any) -> Any:
    """A copy of ``node`` whose generated JSON Schemas (a tool's parameters, a response format's) require only the
    properties they declare, and where ``strict`` is true beside the schema, all of them with no other (OpenAI refuses
    a strict schema that leaves a property optional or the object open)."""
    if isinstance(node, list):
        return [_schemas_kept(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _schemas_kept(value) for key, value in node.items()}
    if out.get("type") == "object" and isinstance(out.get("required"), list):
        out["required"] = [name for name in out["required"] if name in (out.get("properties") or {})]
    if out.get("strict") is True:
        for key in ("schema", "parameters"):
            schema = out.get(key)
            if isinstance(schema, dict) and isinstance(schema.get("properties"), dict):
                out[key] = {**schema, "required": list(schema["properties"]), "additionalProperties": False}
    return out


ROUTES: dict[str, Route] = {
    "completions": Route("/completions", "openai/completion-request.json", "openai/positive/completion-request.json",
                         "openai/completion-response.json", "openai/completion-chunk.json"),
    "chat": Route("/chat/completions", "openai/chat-request.json", "openai/positive/chat-request.json",
                  "openai/chat-response.json", "openai/chat-chunk.json"),
    "embeddings": Route("/embeddings", "openai/embedding-request.json", "openai/positive/embedding-request.json",
                        "openai/embedding-response.json", feature="embeddings"),
    # tools, response formats and the Responses API: suites of their own, since many servers serve none of them
    "chat-tools": Route("/chat/completions", "openai/chat-request.json", "openai/positive/chat-tools-request.json",
                        "openai/chat-response.json", "openai/chat-chunk.json", feature="tools", endpoint="chat",
                        fields=("tools", "tool_choice", "parallel_tool_calls"), agree=_agreeing),
    "chat-format": Route("/chat/completions", "openai/chat-request.json", "openai/positive/chat-format-request.json",
                         "openai/chat-response.json", "openai/chat-chunk.json", feature="response-format",
                         endpoint="chat", fields=("response_format",), agree=_schemas_kept),
    "responses": Route("/responses", "openai/response-request.json", "openai/positive/response-request.json",
                       "openai/response.json", "openai/response-event.json", feature="responses", agree=_agreeing),
    # Hugging Face text tasks: a task endpoint is its own URL. Audio and image tasks have no generated payloads:
    # their inputs must be real media (the cases send fixtures, raw and base64).
    **{task: Route("", f"hf/{task}-request.json", f"hf/positive/{task}-request.json", f"hf/{task}-response.json",
                   api="hf")
       for task in ("text-generation", "text-classification", "token-classification", "fill-mask",
                    "question-answering", "summarization", "translation", "zero-shot-classification",
                    "feature-extraction", "sentence-similarity")},
}


@dataclass(frozen=True)
class Property:
    route: str
    polarity: str  # "positive" or "negative"

    @property
    def id(self) -> str:
        return f"{self.route}.{self.polarity}"

    def __str__(self) -> str:
        return self.id


def properties(routes: list[str] | None = None, api: str | None = None) -> list[Property]:
    """The property suites of ``routes`` (default: every route of ``api``, or of every API)."""
    chosen = routes or [name for name, route in ROUTES.items() if api is None or route.api == api]
    return [Property(r, p) for r in chosen for p in ("positive", "negative")]
