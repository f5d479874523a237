"""The faults that show only under load. An endpoint that keeps its contract one request at a time and breaks it once
more requests are in flight than it has room for, as servers do under pressure: ``errors-under-load`` answers 500
(an exhausted KV cache, a full worker pool); ``answers-swapped-under-load`` answers a request with the answer it
last gave another request to the same route (the worst batching bugs: another request's tokens). The room is
``ROOM`` requests: more than ``infercheck run`` ever has in flight with its default ``--concurrency`` (8), so an idle
run passes, and ``infercheck load`` with more users than that finds it.

Each POST is held ``HOLD`` seconds before it is answered, as a model takes time to answer, so that the requests of
concurrent users overlap.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

ROOM = 8  # requests in flight that the endpoint serves; one more, and it breaks its contract
HOLD = 0.05  # seconds each POST is held before it is answered


class _Crowded:
    """ASGI middleware counting the POSTs in flight; ``crowded`` handles one that arrives with ``ROOM`` others in
    flight."""

    def __init__(self, app: Any) -> None:
        self.app, self.in_flight = app, 0

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        crowded = self.in_flight >= ROOM
        self.in_flight += 1
        try:
            await asyncio.sleep(HOLD)
            await (self.crowded if crowded else self.served)(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def served(self, scope: dict, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    async def crowded(self, scope: dict, receive: Any, send: Any) -> None:
        raise NotImplementedError


class ErrorsUnderLoad(_Crowded):
    """A POST arriving while ``ROOM`` others are in flight is answered 500 with an error envelope."""

    async def crowded(self, scope: dict, receive: Any, send: Any) -> None:
        body = json.dumps({"error": {"message": "the server is overloaded", "type": "server_error", "param": None,
                                     "code": None}}).encode()
        await send({"type": "http.response.start", "status": 500,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class SwappedUnderLoad(_Crowded):
    """A JSON answer (not a stream) made while ``ROOM`` others are in flight is replaced by the last JSON answer to
    another request on the same path; every JSON answer is kept as the last one of its path."""

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.last: dict[str, tuple[bytes, bytes]] = {}  # path -> (request body, answer body)

    async def served(self, scope: dict, receive: Any, send: Any) -> None:
        await self._answer(scope, receive, send, swap=False)

    async def crowded(self, scope: dict, receive: Any, send: Any) -> None:
        await self._answer(scope, receive, send, swap=True)

    async def _answer(self, scope: dict, receive: Any, send: Any, *, swap: bool) -> None:
        asked, more, messages = b"", True, []
        while more:
            message = await receive()
            messages.append(message)
            asked += message.get("body", b"")
            more = message.get("more_body", False)
        start: dict = {}
        body = b""

        async def replay() -> dict:
            return messages.pop(0) if messages else await receive()

        async def held(message: dict) -> None:
            nonlocal start, body
            if start and start.get("streaming"):
                await send(message)
            elif message["type"] == "http.response.start":
                start = message
                json_answer = any(k.lower() == b"content-type" and v.startswith(b"application/json")
                                  for k, v in message.get("headers", []))
                if not json_answer or message["status"] != 200:
                    start = {**message, "streaming": True}
                    await send(message)
            else:
                body += message.get("body", b"")
                if not message.get("more_body"):
                    await self._send(scope["path"], asked, start, body, send, swap=swap)

        await self.app(scope, replay, held)

    async def _send(self, path: str, asked: bytes, start: dict, body: bytes, send: Any, *, swap: bool) -> None:
        other = self.last.get(path)
        self.last[path] = (asked, body)
        if swap and other is not None and other[0] != asked:
            body = other[1]
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _Rewritten(_Crowded):
    """A JSON answer (not a stream) made while ``ROOM`` others are in flight is rewritten by ``rewrite``."""

    async def crowded(self, scope: dict, receive: Any, send: Any) -> None:
        start: dict = {}
        body = b""

        async def held(message: dict) -> None:
            nonlocal start, body
            if message["type"] == "http.response.start":
                start = message
                if not _is_json(message):
                    start = {**message, "passed": True}
                    await send(message)
            elif start.get("passed"):
                await send(message)
            else:
                body += message.get("body", b"")
                if not message.get("more_body"):
                    try:
                        body = json.dumps(self.rewrite(json.loads(body))).encode()
                    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
                        pass  # not an answer it rewrites: as it was
                    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
                    await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
                    await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, held)

    def rewrite(self, doc: Any) -> Any:
        raise NotImplementedError


def _is_json(start: dict) -> bool:
    return start["status"] == 200 and any(k.lower() == b"content-type" and v.startswith(b"application/json")
                                          for k, v in start.get("headers", []))


class UsageMiscountedUnderLoad(_Rewritten):
    """``usage.completion_tokens`` and ``total_tokens`` count one token more than was generated."""

    def rewrite(self, doc: Any) -> Any:
        usage = doc["usage"]
        usage["completion_tokens"] += 1
        usage["total_tokens"] += 1
        return doc


class GreedyVariesUnderLoad(_Rewritten):
    """A chat or text completion's first choice says its first two words the other way round (the same tokens, in
    another order), as a greedy answer computed in another batch may; not a JSON text (a structured output would
    break, which is not what this fault plants)."""

    def rewrite(self, doc: Any) -> Any:
        choice = doc["choices"][0]
        holder, key = (choice["message"], "content") if "message" in choice else (choice, "text")
        words = holder[key].split(" ")
        if len(words) > 2 and words[0] != words[1] and not holder[key].lstrip().startswith(("{", "[")):
            words[0], words[1] = words[1], words[0]
            holder[key] = " ".join(words)
        return doc


class StreamsEndedUnderLoad(_Crowded):
    """A completion stream begun while ``ROOM`` others are in flight ends with ``data: [DONE]`` after its first
    event, before any finish_reason (as llama-cpp-python ends a stream another request interrupts)."""

    async def crowded(self, scope: dict, receive: Any, send: Any) -> None:
        state = {"streaming": False, "events": 0, "done": False}

        async def held(message: dict) -> None:
            if state["done"]:
                return
            if message["type"] == "http.response.start":
                state["streaming"] = message["status"] == 200 and any(
                    k.lower() == b"content-type" and v.startswith(b"text/event-stream")
                    for k, v in message.get("headers", []))
                await send(message)
            elif state["streaming"] and scope["path"].endswith("/completions") and message.get("body"):
                await send({**message, "more_body": True})
                state["events"] += 1
                if state["events"] >= 1:
                    state["done"] = True
                    await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})
            else:
                await send(message)

        await self.app(scope, receive, held)
