"""The reference endpoint under load, beside a bare Starlette app measured in the same run (issue 14).

The bare app replays, byte for byte, what the reference endpoint answered to the same requests (a chat completion,
and a streamed one, event by event) and does nothing else: what Starlette and uvicorn alone can serve on this
machine. Each runs in a process of its own under uvicorn (one worker); the load comes from this process, with httpx
at ``--concurrency`` requests in flight. Two figures for each: requests per second (non-streamed chat completions,
``max_tokens`` 16) and streamed chunks per second (streamed chat completions, ``max_tokens`` 64). Goal: the
reference endpoint at least 0.7x the bare app on both.

The load generator shares the machine with the server: on 2 cores the figures are lower than on a dedicated client,
for both alike, so the ratio is what this measures.

    python benchmarks/reference_load.py [--concurrency 32] [--requests 2000] [--streams 300]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _serving import free_port, served
from _serving import reference as serve_command

GOAL = 0.7
MODEL = "infercheck-tiny"
PLAIN = {"model": MODEL, "messages": [{"role": "user", "content": "Say something."}], "max_tokens": 16,
         "temperature": 0, "seed": 1}
STREAMED = {**PLAIN, "max_tokens": 64, "stream": True}

BARE = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

plain = open(sys.argv[2], "rb").read()
events = [line + b"\\n\\n" for line in open(sys.argv[3], "rb").read().split(b"\\n\\n") if line]

async def chat(request):
    body = await request.json()
    if body.get("stream"):
        async def replay():
            for event in events:
                yield event
        return StreamingResponse(replay(), media_type="text/event-stream")
    return Response(plain, media_type="application/json")

app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


async def load(url: str, body: dict, count: int, concurrency: int) -> tuple[float, int]:
    """Seconds to send ``count`` requests at ``concurrency`` in flight, and the stream events received (every one
    checked: status 200, a stream ending in [DONE])."""
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one() -> int:
            async with gate:
                if not body.get("stream"):
                    response = await client.post(url, json=body)
                    assert response.status_code == 200 and response.json()["choices"], response.text[:200]
                    return 0
                async with client.stream("POST", url, json=body) as response:
                    assert response.status_code == 200
                    lines = [line async for line in response.aiter_lines() if line.startswith("data:")]
                assert lines and lines[-1] == "data: [DONE]", lines[-1:]
                return len(lines) - 1

        started = time.perf_counter()
        events = sum(await asyncio.gather(*(one() for _ in range(count))))
        return time.perf_counter() - started, events


def measure(url: str, args: argparse.Namespace) -> dict[str, float]:
    asyncio.run(load(url, PLAIN, 50, args.concurrency))  # warm-up
    seconds, _ = asyncio.run(load(url, PLAIN, args.requests, args.concurrency))
    stream_seconds, events = asyncio.run(load(url, STREAMED, args.streams, args.concurrency))
    return {"rps": args.requests / seconds, "chunks": events / stream_seconds}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--streams", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        plain, streamed = Path(tmp) / "plain.json", Path(tmp) / "streamed.sse"
        port = free_port()
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        with served(serve_command(port), port):
            plain.write_bytes(httpx.post(url, json=PLAIN, timeout=30).content)
            streamed.write_bytes(httpx.post(url, json=STREAMED, timeout=30).content)
            reference = measure(url, args)
        port = free_port()
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        with served([sys.executable, "-c", BARE, str(port), str(plain), str(streamed)], port):
            bare = measure(url, args)
        chunks = len([event for event in streamed.read_bytes().split(b"\n\n") if event.startswith(b"data:")]) - 1
    print(f"chat completions at concurrency {args.concurrency}: {args.requests} non-streamed (max_tokens 16), "
          f"{args.streams} streamed (max_tokens 64, {chunks} chunks each); goal: at least "
          f"{GOAL}x the bare app")
    print(f"{'figure':22} {'reference':>10} {'bare':>10} {'ratio':>6}")
    met = True
    for name, label in (("rps", "requests/s"), ("chunks", "streamed chunks/s")):
        ratio = reference[name] / bare[name]
        met = met and ratio >= GOAL
        print(f"{label:22} {reference[name]:10.0f} {bare[name]:10.0f} {ratio:5.2f}x")
    print("goal met" if met else "goal not met")
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
