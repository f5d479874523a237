"""The ``streams-cut-under-load`` and ``streams-ended-under-load`` faults: a running stream stops when another
request arrives, as llama-cpp-python's server does by default (``interrupt_requests=True``: the running stream
stops as soon as another request waits for the model). It writes ``data: [DONE]`` and stops, a well-framed stream
whose choices never got their finish_reason (``streams-ended-under-load``, for chat and text completions), or the
connection closes in the middle of the chunked body before that is flushed (``streams-cut-under-load``).

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
    """ASGI middleware: an event stream stops once a later POST has arrived: its connection cut, or (``done``) a
    completion stream ends with ``data: [DONE]`` there."""

    def __init__(self, app: Any, done: bool = False) -> None:
        self.app, self.done = app, done
        self.arrivals = 0
        quiet_cut_connections()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        self.arrivals += 1
        mine = self.arrivals
        streaming = False
        done = self.done and scope["path"].endswith("/completions")

        async def paced(message: dict) -> None:
            nonlocal streaming
            if message["type"] == "http.response.start":
                streaming = any(k.lower() == b"content-type" and v.startswith(b"text/event-stream")
                                for k, v in message.get("headers", []))
            elif streaming and message.get("more_body") and done:
                # as llama-cpp-python: after each event sent, [DONE] and stop if another request waits
                await send(message)
                await asyncio.sleep(PACE)
                if self.arrivals != mine:
                    await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})
                    raise _Cut
                return
            elif streaming and message.get("more_body"):
                await asyncio.sleep(PACE)
                if self.arrivals != mine:
                    raise _Cut
            await send(message)

        try:
            await self.app(scope, receive, paced)
        except _Cut:
            return  # the response ended there ([DONE]), or never completes: the server closes the connection
