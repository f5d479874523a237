"""The faults that show only under load: ``errors-under-load``. An endpoint that keeps its contract one request at a
time, and breaks it once more requests are in flight than it has room for, as servers do under pressure (a 500 from
an exhausted KV cache, a worker pool that is full). The room is ``ROOM`` requests: more than ``infercheck run`` ever
has in flight with its default ``--concurrency`` (8), so an idle run passes, and ``infercheck load`` with more users
than that finds it.

Each POST is held ``HOLD`` seconds before it is answered, as a model takes time to answer, so that the requests of
concurrent users overlap.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

ROOM = 8  # requests in flight that the endpoint serves; one more, and it answers 500
HOLD = 0.05  # seconds each POST is held before it is answered


class ErrorsUnderLoad:
    """ASGI middleware: a POST arriving while ``ROOM`` others are in flight is answered 500 with an error envelope."""

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
            if crowded:
                body = json.dumps({"error": {"message": "the server is overloaded", "type": "server_error",
                                             "param": None, "code": None}}).encode()
                await send({"type": "http.response.start", "status": 500,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
