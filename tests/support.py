"""What many self-tests share: where the checkout is, a tiny endpoint that records what it was sent, an ASGI app
served on a free port, the ``infercheck`` command run as a user runs it, and a recorded exchange."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from infercheck import Exchange, Request, Response

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
RECORDED = ROOT / "fixtures" / "openai" / "recorded"
INFERCHECK = [sys.executable, "-m", "infercheck.cli"]


class Recorder:
    """An endpoint that answers ``{}`` to everything after ``delay`` seconds, and records what it was sent and how
    many requests it held at once."""

    def __init__(self, delay: float):
        self.delay, self.in_flight, self.peak, self.seen = delay, 0, 0, []

    async def endpoint(self, request):
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        self.seen.append(await request.body())
        await asyncio.sleep(self.delay)
        self.in_flight -= 1
        return JSONResponse({})


@contextmanager
def serve(recorder: Recorder) -> Iterator[str]:
    with serve_app(Starlette(routes=[Route("/v1/{path:path}", recorder.endpoint, methods=["GET", "POST"])])) as url:
        yield url + "/v1"


@contextmanager
def serve_app(app) -> Iterator[str]:
    """An ASGI app served on a free loopback port in a thread: its root URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(5)


def clean_env() -> dict[str, str]:
    """The environment without any setting of infercheck's, OpenAI's or Hugging Face's."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "INFERCHECK_", "HF_"))}


def infercheck(*args: str, env: dict[str, str] | None = None, command: list[str] = INFERCHECK
               ) -> subprocess.CompletedProcess:
    """The command, in a process of its own, with a clean environment (and ``env``)."""
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120,
                          env={**clean_env(), **(env or {})}, stdin=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(*args: str) -> Iterator[int]:
    """`infercheck serve ARGS` on a free port, as a user starts it; yields the port once it answers."""
    port = free_port()
    server = subprocess.Popen([*INFERCHECK, "serve", "--port", str(port), *args],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for _ in range(200):
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield port
    finally:
        server.terminate()
        server.wait(10)


def recorded(name: str | Path, case_id: str) -> Exchange:
    """A recorded exchange, from ``fixtures/openai/recorded/`` (a name) or anywhere (a path)."""
    data = json.loads((RECORDED / name).read_text())
    req, resp = data["request"], data["response"]
    request = Request(req["method"], "https://inference.example" + req["path"],
                      {"Authorization": "Bearer 4279eecf-bb20-4c58-9745-f18fd1e764bb"},
                      json.dumps(req["body"]).encode())
    body = resp["body_text"].encode() if "body_text" in resp else json.dumps(resp["body"]).encode()  # a stream
    response = Response(resp["status"], resp["headers"], body, 0.1)
    return Exchange(case_id, request, response, stream=response.media_type == "text/event-stream")
