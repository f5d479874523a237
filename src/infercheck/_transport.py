"""Sending one request and recording the exchange, always under a deadline."""

from __future__ import annotations

import asyncio
import time

import httpx

from ._exchange import Exchange, Request, Response


def client_timeout(seconds: float) -> httpx.Timeout:
    """Per-request timeouts: connecting gets at most 10 s of the budget."""
    return httpx.Timeout(seconds, connect=min(seconds, 10.0))


def lost(exchange: Exchange) -> bool:
    """A transport failure (no response, and not a timeout: a retry would cost the whole deadline again) that
    must be confirmed before it is blamed on the request: a dropped keep-alive connection, a stream cut by
    another request's arrival, a reset after an earlier error."""
    return exchange.sent and exchange.response is None and not timed_out(exchange)


def timed_out(exchange: Exchange) -> bool:
    return exchange.response is None and (exchange.error or "").startswith("timed out")


async def confirm(first: Exchange, *, deadline: float, patience: float = 0.0) -> Exchange:
    """``first``, or, when it is a transport failure to confirm, the answer to its request sent again on a fresh
    connection of its own. That answer is the one judged; it records the first attempt's error. Never a third
    attempt: a failure twice over is the server's."""
    if not lost(first):
        return first
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=client_timeout(deadline), limits=limits) as client:
        again = await send_async(client, first.case_id, first.request, deadline=deadline, stream=first.stream,
                                 patience=patience)
    again.transient = first.error
    again.transient_cut = first.cut
    return again


def _describe(exc: Exception, deadline: float) -> str:
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        return f"timed out after {deadline:g}s"
    if isinstance(exc, httpx.ConnectError):
        return f"connection failed ({exc or type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}"


def loading_estimate(response: Response) -> float | None:
    """The ``estimated_time`` of a 503 "model is loading" answer (Hugging Face), else None."""
    if response.status != 503:
        return None
    try:
        estimate = response.json().get("estimated_time")
    except (ValueError, AttributeError):
        return None
    return float(estimate) if isinstance(estimate, (int, float)) and not isinstance(estimate, bool) else None


async def send_async(
    client: httpx.AsyncClient, case_id: str, request: Request, *, deadline: float, stream: bool = False,
    patience: float = 0.0,
) -> Exchange:
    """Send ``request`` under ``deadline``. A 503 "model is loading" answer is waited out (its estimated_time,
    at least 0.1 s and at most what is left) and the request sent again, for at most ``patience`` seconds;
    ``exchange.waited`` says how long."""
    waited = 0.0
    while True:
        exchange = await _send_once(client, case_id, request, deadline=deadline, stream=stream)
        exchange.waited = waited
        estimate = loading_estimate(exchange.response) if exchange.response is not None else None
        if estimate is None or waited >= patience:
            return exchange
        pause = min(max(estimate, 0.1), patience - waited)
        await asyncio.sleep(pause)
        waited += pause


async def _send_once(
    client: httpx.AsyncClient, case_id: str, request: Request, *, deadline: float, stream: bool
) -> Exchange:
    exchange = Exchange(case_id, request, stream=stream)
    start = time.perf_counter()
    wire: list[float] = []  # when the request began to go out (httpcore's first trace: connecting, or sending)

    async def trace(name: str, info: dict) -> None:
        if not wire:
            wire.append(time.perf_counter())

    status, body = None, bytearray()
    arrivals: list[tuple[int, float]] = []  # (bytes received so far, clock), read as the bytes arrive
    try:
        async with asyncio.timeout(deadline):
            async with client.stream(request.method, request.url, headers=request.headers, content=request.body,
                                     extensions={"trace": trace}) as r:
                status = r.status_code
                async for chunk in r.aiter_bytes():
                    arrivals.append((len(body) + len(chunk), time.perf_counter()))
                    body += chunk
                end = time.perf_counter()
                # Times count from the moment the request began to go out on the wire, not from when the client
                # library began to build it (about half a millisecond earlier): that is when the endpoint's
                # clock can start too.
                origin = wire[0] if wire else start
                exchange.response = Response(
                    r.status_code, dict(r.headers), bytes(body), end - origin,
                    arrivals[0][1] - origin if arrivals else None, [(n, t - origin) for n, t in arrivals],
                )
    except Exception as exc:
        exchange.error = _describe(exc, deadline)
        if status is not None:  # the answer had begun: the connection was cut in the middle of its body
            exchange.cut = True
            exchange.error += f" (after status {status} and {len(body)} bytes of the body)"
    return exchange
