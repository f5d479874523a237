"""How long a full default run takes against the embedded default, and what it costs.

Prints figures for the engine at concurrency 1 and 8, against a baseline run in the
same process: the same requests sent one after another with bare httpx, no checks.
Usage: python benchmarks/run_default.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import httpx

from infercheck import embedded, resolve, run


def baseline(url: str) -> float:
    """The very requests a default run sends (derived stop sequences included), one after another."""
    sent = run(resolve(url), concurrency=8, suites=False)
    requests = list({id(e): e.request for e in sent.exchanges.values() if e.sent}.values())
    start = time.perf_counter()
    with httpx.Client(timeout=30) as client:
        for r in requests:
            client.request(r.method, r.url, headers=r.headers, content=r.body).read()
    return time.perf_counter() - start


def engine(url: str, concurrency: int) -> tuple[float, dict]:
    start = time.perf_counter()
    runner = run(resolve(url), concurrency=concurrency, suites=False)
    return time.perf_counter() - start, runner.stats()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    with embedded() as url:
        engine(url, 8)  # warm up imports and the server
        base = statistics.median(baseline(url) for _ in range(repeat))
        seq = statistics.median(engine(url, 1)[0] for _ in range(repeat))
        par_runs = [engine(url, 8) for _ in range(repeat)]
        par = statistics.median(t for t, _ in par_runs)
        stats = par_runs[-1][1]
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "infercheck.cli", "run"], capture_output=True, text=True)
    cli = time.perf_counter() - start
    print(f"requests per run:                  {stats['requests']}")
    print(f"completion tokens per run:         {stats['completion_tokens']}")
    print(f"baseline (bare httpx, sequential): {base * 1000:8.1f} ms")
    print(f"engine, concurrency 1:             {seq * 1000:8.1f} ms  ({seq / base:.2f}x baseline)")
    print(f"engine, concurrency 8:             {par * 1000:8.1f} ms  ({par / base:.2f}x baseline)")
    print(f"`infercheck run` end to end:       {cli * 1000:8.1f} ms  (exit {proc.returncode}; process start, "
          "embedded server, pytest)")


if __name__ == "__main__":
    main()
