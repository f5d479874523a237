"""The ``streams-cut-under-load`` fault: a running stream is cut when another request arrives, as
llama-cpp-python's server does by default (``interrupt_requests=True``: the running stream stops as soon as
another request waits for the model, and the connection is closed in the middle of the chunked body).

Each stream event is held for a moment, as a real model takes time per token, so that requests sent at once
overlap; each stream then checks whether a POST arrived after it did.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ._flaky import quiet_cut_connections

PACE = 0.02  # seconds per stream event


class _Cut(Exception):
    pass


class InterruptStreams:
    """ASGI middleware: an event stream stops, its connection cut, once a later POST has arrived."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.arrivals = 0
        quiet_cut_connections()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        self.arrivals += 1
        mine = self.arrivals
        streaming = False

        async def paced(message: dict) -> None:
            nonlocal streaming
            if message["type"] == "http.response.start":
                streaming = any(k.lower() == b"content-type" and v.startswith(b"text/event-stream")
                                for k, v in message.get("headers", []))
            elif streaming and message.get("more_body"):
                await asyncio.sleep(PACE)
                if self.arrivals != mine:
                    raise _Cut
            await send(message)

        try:
            await self.app(scope, receive, paced)
        except _Cut:
            return  # the response never completes: the server closes the connection
