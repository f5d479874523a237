"""Injected latency (``infercheck serve --ttft-ms --itl-ms``): the known truth the latency figures are measured
against (``benchmarks/latency.py``).

An ASGI middleware, so every route is paced alike. The clock starts when the request arrives. A stream's k-th
event that carries generated text leaves at ``arrival + ttft + k * itl`` (k from 0), on a fixed schedule, so a
late wake-up never adds up along a stream; other events (the role chunk, the finish, usage, ``[DONE]``) leave
as soon as they are made. A non-streamed answer that says how many tokens it generated leaves at
``arrival + ttft + (tokens - 1) * itl``, as if it had been streamed.

This reads the endpoint's own output with its own few lines rather than infercheck's answer readers: the
truth must not depend on the code it tests.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

_SPIN = 0.002  # seconds before a moment when sleeping gives way to yielding


def _texts(event: Any) -> bool:
    """Whether one stream event's JSON carries generated text."""
    if not isinstance(event, dict):
        return False
    if isinstance(event.get("token"), dict):  # TGI
        return bool(event["token"].get("text")) and not event["token"].get("special")
    if event.get("type") == "response.output_text.delta":  # the Responses API
        return bool(event.get("delta"))
    for choice in event.get("choices") or []:
        delta = choice.get("delta") or choice.get("message") or {}
        if choice.get("text") or (isinstance(delta, dict) and delta.get("content")):
            return True
    return False


def _content_events(body: bytes) -> int:
    count = 0
    for line in body.splitlines():
        if line.startswith(b"data:"):
            try:
                count += _texts(json.loads(line[5:]))
            except ValueError:
                pass
    return count


def _generated_tokens(body: bytes) -> int | None:
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    doc = doc[0] if isinstance(doc, list) and doc else doc
    if not isinstance(doc, dict):
        return None
    usage, details = doc.get("usage"), doc.get("details")
    if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
        return usage["completion_tokens"]
    if isinstance(usage, dict) and isinstance(usage.get("output_tokens"), int):  # the Responses API
        return usage["output_tokens"]
    if isinstance(details, dict) and isinstance(details.get("generated_tokens"), int):
        return details["generated_tokens"]
    return 1 if isinstance(doc.get("generated_text"), str) else None


class Pace:
    """ASGI middleware holding generated text back to a fixed schedule."""

    def __init__(self, app: Any, *, ttft: float, itl: float) -> None:
        self.app, self.ttft, self.itl = app, ttft, itl

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        arrived = time.perf_counter()
        streamed, ok, sent = False, False, 0  # sent: content events sent so far

        async def until(moment: float) -> None:
            # the event loop wakes up to a millisecond late (epoll's timeout is in whole milliseconds, rounded
            # up): sleep to just before the moment, then yield to the loop until it has come
            delay = moment - time.perf_counter()
            if delay > _SPIN:
                await asyncio.sleep(delay - _SPIN)
            while time.perf_counter() < moment:
                await asyncio.sleep(0)

        async def paced(message: dict) -> None:
            nonlocal streamed, ok, sent
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or [])
                streamed = headers.get(b"content-type", b"").startswith(b"text/event-stream")
                ok = 200 <= message["status"] < 300
            elif message["type"] == "http.response.body" and message.get("body") and ok:
                body = message["body"]
                if streamed:
                    for _ in range(_content_events(body)):
                        await until(arrived + self.ttft + sent * self.itl)
                        sent += 1
                elif tokens := _generated_tokens(body):
                    await until(arrived + self.ttft + (tokens - 1) * self.itl)
            await send(message)

        await self.app(scope, receive, paced)
