"""A default run against an endpoint that takes 300 ms before answering any POST, beside its floor (issue 14).

The endpoint is the reference endpoint in a process of its own under uvicorn, wrapped to wait 300 ms before it
answers a POST (an error as well as a stream's first token) and to log when each request arrived and when its
answer ended. The floor is the sum of the endpoint's time
answering each request the run sent, divided by the run's concurrency: what the run would take if the
endpoint were never idle and never answered more than ``--concurrency`` requests at once. The run's time is that
of ``infercheck run`` (a process of its own), from start to exit; beside it, the span from its first request to
its last answer (the time spent on the endpoint, without starting Python, pytest and the embedded checks).

Two endpoints: the conformant one, and ``validation-lenient`` (it accepts some invalid requests, as most real
servers do, so the negative property suites find failures and shrink them). Goal: at most 1.3x the floor.

    python benchmarks/properties.py [--concurrency 8] [--ttft-ms 300]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _serving import free_port, served

GOAL = 1.3

SERVER = """
import asyncio, sys, time, uvicorn
from infercheck.serve import create_app

log = open(sys.argv[2], "a", buffering=1)
latency = float(sys.argv[3]) / 1000
app = create_app(faults=sys.argv[4:])

async def timed(scope, receive, send):
    if scope["type"] != "http":
        return await app(scope, receive, send)
    start = time.time()
    try:
        if scope["method"] == "POST":  # every answer to a POST (an error too) begins this long after the request
            await asyncio.sleep(latency)
        await app(scope, receive, send)
    finally:
        log.write(f"{scope['method']} {start:.6f} {time.time():.6f}\\n")

uvicorn.run(timed, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def measure(fault: str | None, concurrency: int, ttft_ms: float) -> dict:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "requests.log"
        with served([sys.executable, "-c", SERVER, str(port), str(log), str(ttft_ms), *([fault] if fault else [])],
                    port):
            log.write_text("")  # the readiness probe is no request of the run's
            started = time.perf_counter()
            run = subprocess.run([sys.executable, "-m", "infercheck", "run", "--base-url", f"http://127.0.0.1:{port}/v1",
                                  "--seed", "1", "--concurrency", str(concurrency)],
                                 capture_output=True, text=True)
            seconds = time.perf_counter() - started
        spans = [tuple(float(x) for x in line.split()[1:]) for line in log.read_text().splitlines() if line]
    busy = sum(end - start for start, end in spans)
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda t: (t[0], t[1]))
    in_flight = peak = 0
    for _, step in events:
        in_flight += step
        peak = max(peak, in_flight)
    floor = busy / concurrency
    verdict = next((line for line in run.stdout.splitlines() if line.startswith("verdict:")), "(no verdict)")
    return {"endpoint": fault or "conformant", "requests": len(spans), "seconds": seconds,
            "span": max(e for _, e in spans) - min(s for s, _ in spans), "floor": floor, "peak": peak,
            "exit": run.returncode, "verdict": verdict}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--ttft-ms", type=float, default=300.0)
    args = parser.parse_args()
    rows = [measure(None, args.concurrency, args.ttft_ms), measure("validation-lenient", args.concurrency, args.ttft_ms)]
    print(f"default run, {args.ttft_ms:g} ms before answering any POST, --concurrency {args.concurrency} (goal: at most {GOAL}x "
          "the floor)")
    print(f"{'endpoint':20} {'requests':>8} {'floor s':>8} {'run s':>7} {'x floor':>7} {'span s':>7} {'x floor':>7} "
          f"{'in flight':>9} {'exit':>4}")
    for r in rows:
        print(f"{r['endpoint']:20} {r['requests']:8d} {r['floor']:8.2f} {r['seconds']:7.2f} "
              f"{r['seconds'] / r['floor']:6.2f}x {r['span']:7.2f} {r['span'] / r['floor']:6.2f}x {r['peak']:9d} "
              f"{r['exit']:4d}  {r['verdict']}")


if __name__ == "__main__":
    main()
