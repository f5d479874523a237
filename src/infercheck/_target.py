"""The endpoint under test: its configuration, discovery, and the embedded default."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from ._exchange import Exchange, Request
from ._transport import client_timeout, send_async

DEFAULT_TIMEOUT = 60.0


class TargetError(Exception):
    """A target that cannot be tested: bad URL, unreachable, or answering garbage. One line."""


@dataclass
class Target:
    base_url: str  # OpenAI-style, including /v1, without a trailing slash
    api_key: str | None = None
    model: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    embedded: bool = False
    discovery: list[Exchange] = field(default_factory=list)  # requests made while resolving

    def url(self, path: str) -> str:
        return self.base_url + path

    def headers(self, *, json_body: bool = False) -> dict[str, str]:
        headers = {"Accept": "application/json, text/event-stream"}
        if json_body:
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def secrets(self) -> list[str]:
        return [self.api_key] if self.api_key else []


def normalise_base_url(raw: str) -> str:
    try:
        url = httpx.URL(raw.strip())
    except (httpx.InvalidURL, TypeError) as exc:
        raise TargetError(f"invalid base URL {raw!r}: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise TargetError(f"invalid base URL {raw!r}: expected http(s)://host[:port]/v1")
    return str(url).rstrip("/")


def resolve(
    base_url: str, *, api_key: str | None = None, model: str | None = None, timeout: float = DEFAULT_TIMEOUT
) -> Target:
    """Check the target answers ``GET /models`` and pick the model (the first listed when none is given)."""
    target = Target(normalise_base_url(base_url), api_key or None, model or None, timeout)
    exchange = asyncio.run(_discover(target))
    target.discovery.append(exchange)
    if exchange.response is None:
        raise TargetError(f"cannot reach {target.base_url}: {exchange.error}")
    status = exchange.response.status
    if status in (401, 403):
        hint = "an API key was given but refused" if api_key else "set --api-key (or INFERCHECK_API_KEY)"
        raise TargetError(f"{target.url('/models')} answered {status}: {hint}")
    if target.model is not None:
        return target
    if status != 200:
        raise TargetError(
            f"{target.url('/models')} answered {status}; give the model with --model, or check the base URL"
            " (it must include /v1)"
        )
    try:
        models = exchange.response.json()["data"]
        target.model = str(models[0]["id"])
    except (ValueError, KeyError, IndexError, TypeError):
        raise TargetError(
            f"{target.url('/models')} did not list any model (body starts {exchange.response.body[:80]!r});"
            " give the model with --model"
        ) from None
    return target


async def _discover(target: Target) -> Exchange:
    request = Request("GET", target.url("/models"), target.headers())
    async with httpx.AsyncClient(timeout=client_timeout(target.timeout)) as client:
        return await send_async(client, "models.list", request, deadline=target.timeout)


@contextmanager
def embedded(*, api_key: str | None = None, model: str | None = None, faults: tuple[str, ...] = ()) -> Iterator[str]:
    """Run the reference endpoint on a free loopback port in a background thread; yield its base URL."""
    import uvicorn

    from .serve import DEFAULT_MODEL, create_app

    app = create_app(api_key=api_key, model=model or DEFAULT_MODEL, faults=faults)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # asyncio sets TCP_NODELAY only on sockets made with proto IPPROTO_TCP; accepted connections inherit it
    # from here. Without it every sequential request stalls 40 ms on Nagle and delayed ACKs.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="infercheck-serve")
    thread.start()
    try:
        for _ in range(500):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.01)
        if not server.started:
            raise TargetError("the embedded reference endpoint did not start")
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()
