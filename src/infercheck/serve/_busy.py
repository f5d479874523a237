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
