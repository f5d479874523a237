"""Sending one request and recording the exchange, always under a deadline."""

from __future__ import annotations

import asyncio
import time

import httpx

from ._exchange import Exchange, Request, Response


def client_timeout(seconds: float) -> httpx.Timeout:
    """Per-request timeouts: connecting gets at most 10 s of the budget."""
    return httpx.Timeout(seconds, connect=min(seconds, 10.0))


def _describe(exc: Exception, deadline: float) -> str:
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        return f"timed out after {deadline:g}s"
    if isinstance(exc, httpx.ConnectError):
        return f"connection failed ({exc or type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}"


async def send_async(
    client: httpx.AsyncClient, case_id: str, request: Request, *, deadline: float, stream: bool = False
) -> Exchange:
    exchange = Exchange(case_id, request, stream=stream)
    start = time.perf_counter()
    try:
        async with asyncio.timeout(deadline):
            async with client.stream(request.method, request.url, headers=request.headers, content=request.body) as r:
                body = bytearray()
                first = None
                async for chunk in r.aiter_bytes():
                    first = first if first is not None else time.perf_counter() - start
                    body += chunk
                exchange.response = Response(
                    r.status_code, dict(r.headers), bytes(body), time.perf_counter() - start, first
                )
    except Exception as exc:
        exchange.error = _describe(exc, deadline)
    return exchange
