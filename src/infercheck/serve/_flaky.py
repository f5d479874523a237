"""The ``transport-flaky`` quirk: the first attempt at each distinct POST loses its connection mid-answer.

It stands for what real servers do to a request that is not at fault: uvicorn resets a keep-alive connection
after a 500, llama-cpp-python cuts a running stream when another request arrives. A conformant client (and
infercheck) confirms such a failure by sending the request again, alone, on a fresh connection: the second
attempt at each request is answered normally.
"""

from __future__ import annotations

import logging
from typing import Any

_CUT = "ASGI callable returned without completing response."  # what uvicorn logs when a connection is cut so


class _Quiet(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _CUT  # the cut is the quirk's purpose, not a server error worth a line


_QUIET = _Quiet()  # one filter for every app that cuts connections: addFilter keeps a filter once


def quiet_cut_connections() -> None:
    """Keep uvicorn from logging a connection cut on purpose (this quirk, the streams-cut-under-load fault)."""
    logging.getLogger("uvicorn.error").addFilter(_QUIET)


class FlakyTransport:
    """ASGI middleware: answers the first attempt at each (path, body) with headers and half a body, then
    drops the connection; every later attempt reaches the app."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: set[tuple[str, bytes]] = set()
        quiet_cut_connections()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        messages, body, more = [], b"", True
        while more:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            more = message.get("more_body", False)
        key = (scope["path"], body)
        if key not in self.seen:
            self.seen.add(key)
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": b'{"id": "', "more_body": True})
            return  # the response never completes: the server closes the connection

        async def replay() -> dict:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)
