"""Are the latency figures true? Measured against an endpoint whose latency is known because it is injected.

Starts the reference endpoint in a process of its own (``infercheck serve --ttft-ms T --itl-ms I``), sends streamed
chat and completion requests (16 tokens each) through infercheck's transport at concurrency 1 and 8, and prints
the measured median time to first token and inter-token latency beside the injected truth. Goal: the medians
within 1 ms of it.

Only streamed generations are sent: a default run's other requests (a 256-token answer with logprobs, say) keep
the endpoint's single event loop busy for milliseconds, so the requests queued behind them really do wait longer
for their first token. That is true latency, but it is not the injected latency this benchmark checks against.
Usage: python benchmarks/latency.py [--ttft-ms 40] [--itl-ms 8] [--requests 48]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from _serving import free_port, reference, served

from infercheck.wire import metrics as _metrics
from infercheck.wire import transport as _transport
from infercheck.wire.exchange import Exchange, Request


def requests(url: str, count: int) -> list[Request]:
    bodies = [
        {"model": "infercheck-tiny", "messages": [{"role": "user", "content": "Say something."}], "max_tokens": 16,
         "stream": True},
        {"model": "infercheck-tiny", "prompt": "Once upon a time", "max_tokens": 16, "stream": True},
    ]
    paths = ["/chat/completions", "/completions"]
    return [Request("POST", url + paths[i % 2], {"content-type": "application/json"},
                    json.dumps(bodies[i % 2]).encode()) for i in range(count)]


async def send(batch: list[Request], concurrency: int) -> list[Exchange]:
    gate = asyncio.Semaphore(concurrency)
    bounds = _transport.Bounds(timeout=60, patience=0)
    async with _transport.open_client(bounds, concurrency) as client:
        async def one(request: Request) -> Exchange:
            async with gate:
                return await _transport.send_async(client, "bench", request, bounds, stream=True)

        return await asyncio.gather(*(one(r) for r in batch))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ttft-ms", type=float, default=40.0)
    parser.add_argument("--itl-ms", type=float, default=8.0)
    parser.add_argument("--requests", type=int, default=48)
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    worst = 0.0
    with served(reference(port, ttft_ms=args.ttft_ms, itl_ms=args.itl_ms), port):
        asyncio.run(send(requests(url, 8), 8))  # warm-up: imports, the endpoint's first answers
        print(f"injected: ttft {args.ttft_ms:g} ms, itl {args.itl_ms:g} ms; endpoint in its own process at {url}")
        print(f"{'concurrency':>11} {'figure':>8} {'injected':>9} {'p50':>8} {'p95':>8} {'error@p50':>10} {'n':>4}")
        for concurrency in (1, 8):
            figures = _metrics.figures(asyncio.run(send(requests(url, args.requests), concurrency)))
            for name, injected in (("ttft_ms", args.ttft_ms), ("itl_ms", args.itl_ms)):
                f = figures[name]
                error = f["p50"] - injected
                worst = max(worst, abs(error))
                print(f"{concurrency:>11} {name:>8} {injected:>9.2f} {f['p50']:>8.2f} {f['p95']:>8.2f} "
                      f"{error:>+10.2f} {f['n']:>4}")
            e2e = figures["e2e_ms"]
            print(f"{concurrency:>11} {'e2e_ms':>8} {'':>9} {e2e['p50']:>8.2f} {e2e['p95']:>8.2f} {'':>10} {e2e['n']:>4}")
    print(f"largest error at the median: {worst:.2f} ms (goal: within 1 ms)")
    sys.exit(0 if worst <= 1.0 else 1)


if __name__ == "__main__":
    main()
