"""The reference endpoint's Responses API: ``POST /v1/responses`` (plain or streamed) and
``GET /v1/responses/{id}``, as OpenAI's ``openapi.yaml`` describes them, with the Responses faults planted.

A request is answered as the chat completion it amounts to (serve/_openai.py): ``instructions`` and the ``input`` items
make the prompt, function ``tools`` and ``tool_choice`` decide the calls (serve/_tools.py), and ``text.format`` the
structured output (serve/_formats.py). The answer is one ``message`` item, or one ``function_call`` item per call.
A stream is the sequence of events OpenAI sends, each named by its type (``event:``) and numbered
(``sequence_number``), from ``response.created`` to one terminal event (``response.completed`` or
``response.incomplete``). Stored responses (``store`` is true by default) are kept for GET, the newest
``STORED`` of them.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from . import _formats, _tools
from . import _generator as gen
from ._endpoint import MAX_OUTPUT_TOKENS, ApiError, Endpoint, check_context, check_output
from ._tools import PIECE

STORED = 256  # responses kept for GET /v1/responses/{id}: the oldest is dropped first
TERMINAL = ("response.completed", "response.incomplete", "response.failed")


class Responses:
    def __init__(self, endpoint: Endpoint):
        self.endpoint, self.faults = endpoint, endpoint.faults
        self.stored: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def routes(self) -> list[Route]:
        if "responses-not-served" in self.faults:  # every request to them is answered 404, as an unknown URL
            return []
        return [Route("/v1/responses", self.create, methods=["POST"]),
                Route("/v1/responses/{response_id}", self.retrieve, methods=["GET"])]

    async def create(self, request: Request) -> Response:
        endpoint = self.endpoint
        body = await endpoint.parse(request, "openai/response-request.json")
        chat = as_chat(body)
        try:
            _tools.validate(chat, self.faults)
        except _tools.ToolError as exc:
            raise ApiError(400, f"Invalid request: {exc}", param=exc.param, code="invalid_value") from None
        limit = body.get("max_output_tokens")
        check_output(limit, "max_output_tokens")
        prompt = "\n".join(f"{m['role']}: {m['content']}" for m in chat["messages"])
        prompt_tokens = gen.count_tokens(prompt) + 3 * len(chat["messages"])
        check_context(prompt_tokens, limit or 0, "input")
        if limit is None:
            limit = min(MAX_OUTPUT_TOKENS, gen.CONTEXT_LENGTH - prompt_tokens)
        if _tools.chosen(chat, self.faults):
            calls, used, short = _tools.cut(_tools.calls(chat, self.faults), limit)
            output: list[dict[str, Any]] = [function_call(call, short) for call in calls]
            pieces = [_pieces(item["arguments"]) for item in output]
        else:
            g = _formats.structured(endpoint.generate(prompt, chat, max_tokens=limit, index=0, top=0, lead=""),
                                    chat, limit, 0, self.faults)
            used, short = g.count, g.finish_reason == "length"
            output, pieces = [message(g.text, short)], [list(g.tokens)]
        response = self.response(body, output, prompt_tokens, used, short)
        if body.get("store") is not False:
            self.keep(response)
        if body.get("stream"):
            return self.stream(response, pieces)
        return endpoint.json(response, post=True)

    async def retrieve(self, request: Request) -> Response:
        self.endpoint.authorize(request)
        found = self.stored.get(request.path_params["response_id"])
        if found is None or "responses-not-stored" in self.faults:
            raise ApiError(404, f"No response found with id '{request.path_params['response_id']}'.",
                           param="response_id", code="not_found")
        if "responses-retrieve-stale" in self.faults:  # the snapshot taken when it began, never updated
            found = {**found, "status": "in_progress", "output": [], "usage": None, "incomplete_details": None,
                     "completed_at": None}
        return self.endpoint.json(found)

    def keep(self, response: dict[str, Any]) -> None:
        self.stored[response["id"]] = response
        while len(self.stored) > STORED:
            self.stored.popitem(last=False)

    def response(self, body: dict[str, Any], output: list[dict[str, Any]], prompt_tokens: int, used: int,
                 short: bool) -> dict[str, Any]:
        """The finished Response object."""
        now = int(time.time())
        incomplete = short and "responses-status-ignored" not in self.faults
        usage = {"input_tokens": prompt_tokens, "input_tokens_details": {"cached_tokens": 0},
                 "output_tokens": used, "output_tokens_details": {"reasoning_tokens": 0},
                 "total_tokens": prompt_tokens + used + (1 if "responses-usage-off" in self.faults else 0)}
        text = body.get("text") if isinstance(body.get("text"), dict) else {}
        return {
            "id": f"resp_{uuid.uuid4().hex}", "object": "response", "created_at": now,
            "status": "incomplete" if incomplete else "completed",
            "completed_at": None if incomplete else now,
            "error": None,
            "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "model": self.endpoint.model,
            "output": output,
            "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
            "previous_response_id": body.get("previous_response_id"),
            "store": body.get("store") is not False,
            "temperature": body.get("temperature", 1.0),
            "top_p": body.get("top_p", 1.0),
            "text": {"format": text.get("format") or {"type": "text"}},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools") or [],
            "truncation": "disabled",
            "usage": usage,
            "user": body.get("user"),
            "metadata": body.get("metadata") or {},
        }

    def stream(self, response: dict[str, Any], pieces: list[list[str]]) -> Response:
        faults = self.faults

        async def body() -> AsyncIterator[bytes]:
            for event in self.events(response, pieces):
                name = event["type"].removeprefix("response.") if "responses-event-name-wrong" in faults \
                    else event["type"]
                yield f"event: {name}\ndata: {json.dumps(event)}\n\n".encode()

        return StreamingResponse(body(), status_code=201 if "status-201" in faults else 200,
                                 media_type="application/json" if "stream-as-json" in faults else "text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    def events(self, response: dict[str, Any], pieces: list[list[str]]) -> Iterator[dict[str, Any]]:
        """The stream's events in order, numbered from 0."""
        faults = self.faults
        begun = {**response, "status": "in_progress", "output": [], "usage": None, "incomplete_details": None,
                 "completed_at": None}
        body: list[dict[str, Any]] = [{"type": "response.created", "response": begun},
                                      {"type": "response.in_progress", "response": begun}]
        for index, (item, parts) in enumerate(zip(response["output"], pieces)):
            body.extend(_item_events(index, item, parts, faults))
        terminal = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
        if "responses-terminal-missing" not in faults:
            body.append({"type": terminal, "response": response})
        sequence = 0
        for event in body:
            if "responses-sequence-reset" in faults and event["type"] == "response.output_item.added":
                sequence = 0  # each item numbered from 0 again
            yield {"type": event["type"], "sequence_number": sequence, **event}
            sequence += 1


def _item_events(index: int, item: dict[str, Any], parts: list[str], faults: frozenset[str]
                 ) -> Iterator[dict[str, Any]]:
    """The events that build output item ``index``: added, its content (text or arguments) in pieces, done."""
    where = {"item_id": item["id"], "output_index": index}
    if item["type"] == "function_call":
        yield {"type": "response.output_item.added", "output_index": index,
               "item": {**item, "arguments": "", "status": "in_progress"}}
        for part in parts:
            yield {"type": "response.function_call_arguments.delta", **where, "delta": part}
        yield {"type": "response.function_call_arguments.done", **where, "name": item["name"],
               "arguments": item["arguments"]}
        yield {"type": "response.output_item.done", "output_index": index, "item": item}
        return
    text = item["content"][0]["text"]
    yield {"type": "response.output_item.added", "output_index": index,
           "item": {**item, "content": [], "status": "in_progress"}}
    yield {"type": "response.content_part.added", **where, "content_index": 0,
           "part": {"type": "output_text", "text": "", "annotations": []}}
    if "responses-delta-dropped" in faults and len(parts) > 1:
        parts = parts[:-1]
    content_index = 1 if "responses-index-drift" in faults else 0
    for part in parts:
        yield {"type": "response.output_text.delta", **where, "content_index": content_index, "delta": part,
               "logprobs": []}
    yield {"type": "response.output_text.done", **where, "content_index": 0, "text": text, "logprobs": []}
    yield {"type": "response.content_part.done", **where, "content_index": 0, "part": item["content"][0]}
    yield {"type": "response.output_item.done", "output_index": index, "item": item}


def message(text: str, short: bool) -> dict[str, Any]:
    return {"id": f"msg_{uuid.uuid4().hex}", "type": "message", "role": "assistant",
            "status": "incomplete" if short else "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}


def function_call(call: dict[str, Any], short: bool) -> dict[str, Any]:
    """A chat tool call (serve/_tools.py) as a Responses output item."""
    return {"id": f"fc_{uuid.uuid4().hex}", "type": "function_call", "call_id": call["id"],
            "name": call["function"]["name"], "arguments": call["function"]["arguments"],
            "status": "incomplete" if short else "completed"}


def _pieces(arguments: Any) -> list[str]:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return [text[i:i + PIECE] for i in range(0, len(text), PIECE)]


def _text(content: Any) -> str:
    """The text of a message's content or a function call's output: a string, or the text of its parts."""
    if isinstance(content, str):
        return content
    return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))


def as_chat(body: dict[str, Any]) -> dict[str, Any]:
    """The chat completion request a Responses request amounts to: messages (instructions first, then each input
    item; a function call's result as a ``tool`` message), function tools and tool_choice in chat's shape, and
    ``text.format`` as ``response_format``. The fields read are valid (the request schema was applied)."""
    messages = [{"role": "system", "content": body["instructions"]}] if body.get("instructions") else []
    items = body["input"] if isinstance(body["input"], list) else [{"role": "user", "content": body["input"]}]
    for item in items:
        kind = item.get("type", "message")
        if kind == "function_call":
            messages.append({"role": "assistant", "content": f"{item['name']}({item['arguments']})"})
        elif kind == "function_call_output":
            messages.append({"role": "tool", "content": _text(item["output"])})
        else:
            messages.append({"role": item["role"], "content": _text(item["content"])})
    chat: dict[str, Any] = {"messages": messages or [{"role": "user", "content": ""}]}
    for name in ("temperature", "top_p", "seed"):
        if body.get(name) is not None:
            chat[name] = body[name]
    tools = [{"type": "function", "function": {"name": t["name"], "strict": t.get("strict"),
                                               "parameters": t.get("parameters") or {"type": "object", "properties": {}}}}
             for t in body.get("tools") or []]
    if tools:
        chat["tools"] = tools
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        chat["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    elif choice is not None:
        chat["tool_choice"] = choice
    fmt = (body.get("text") or {}).get("format") if isinstance(body.get("text"), dict) else None
    if isinstance(fmt, dict):
        chat["response_format"] = (
            {"type": "json_schema", "json_schema": {k: v for k, v in fmt.items() if k != "type"}}
            if fmt.get("type") == "json_schema" else {"type": fmt["type"]})
    return chat
