"""What does checking every answer cost a load? ``infercheck load`` against plain Locust on the same endpoint.

Starts the reference endpoint in a process of its own (``infercheck serve --ttft-ms T --itl-ms I``), then sends the
same workload (the cases ``infercheck load`` repeats, in turn) from the same number of users for the same time, one
Locust worker process each:

- the baseline: Locust's ``FastHttpUser`` (geventhttpclient), each answer read to its end and nothing else checked,
  as LLM load tools do (llm-locust drains each stream "without reading/parsing content");
- ``infercheck load``: each answer sent through infercheck's send path and judged by every check of its case.

It prints both rates and their ratio, against the endpoint with latency injected (a model's, roughly) and without
any (where the load generator's own cost per request is all there is). Goal: infercheck load sends at least 0.7x the
baseline's requests a second, measured in the same run, in both.

Usage: python benchmarks/load_checking.py [--users 32] [--seconds 10] [--ttft-ms 50] [--itl-ms 5]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _serving import free_port, reference, served

from infercheck.contract import profiles as _profiles
from infercheck.engine.target import resolve
from infercheck.load import workload as _workload

LOCUSTFILE = '''
import itertools, json
from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser

WORK = itertools.cycle(json.load(open({path!r})))


class Drain(FastHttpUser):
    wait_time = constant(0)

    @task
    def send(self):
        method, path, body = next(WORK)
        self.client.request(method, path, data=body, headers={{"Content-Type": "application/json"}})
'''


def baseline(url: str, work: list[tuple[str, str, str]], users: int, seconds: int, folder: Path) -> float:
    """Locust's own FastHttpUser over ``work``: its requests a second."""
    (folder / "work.json").write_text(json.dumps(work))
    (folder / "locustfile.py").write_text(LOCUSTFILE.format(path=str(folder / "work.json")))
    subprocess.run([sys.executable, "-m", "locust", "-f", str(folder / "locustfile.py"), "--headless", "-u",
                    str(users), "-r", str(users), "-t", f"{seconds}s", "--host", url, "--csv", str(folder / "plain"),
                    "--only-summary", "--processes", "1"], check=True, capture_output=True, timeout=seconds + 120)
    with open(folder / "plain_stats.csv") as f:
        row = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    return float(row["Requests/s"])


def checked(url: str, users: int, seconds: int, folder: Path) -> float:
    """``infercheck load`` over the same endpoint: its requests a second."""
    out = folder / "load.json"
    subprocess.run([sys.executable, "-m", "infercheck.cli", "load", "--base-url", url + "/v1", "--users", str(users),
                    "--duration", f"{seconds}s", "--json", str(out)], check=True, capture_output=True,
                   timeout=seconds + 120)
    return json.loads(out.read_text())["steps"][0]["throughput"]["requests_per_s"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--ttft-ms", type=float, default=50)
    parser.add_argument("--itl-ms", type=float, default=5)
    args = parser.parse_args()
    ratios = []
    for ttft, itl in ((args.ttft_ms, args.itl_ms), (0.0, 0.0)):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with served(reference(port, ttft_ms=ttft, itl_ms=itl), port), tempfile.TemporaryDirectory() as tmp:
            target = resolve(url + "/v1")
            profile = _profiles.load()
            works = _workload.prepare(target, profile, _workload.candidates(target, profile))
            work = [(w.request.method, w.request.url.removeprefix(url), w.request.body.decode()) for w in works]
            plain = baseline(url, work, args.users, args.seconds, Path(tmp))
            rate = checked(url, args.users, args.seconds, Path(tmp))
        ratios.append(rate / plain if plain else 0.0)
        print(f"{len(work)} requests in the mix, {args.users} users, {args.seconds} s, one worker process each; "
              f"endpoint ttft {ttft:g} ms itl {itl:g} ms")
        print(f"  Locust FastHttpUser, nothing checked:  {plain:8.1f} requests/s")
        print(f"  infercheck load, every answer checked: {rate:8.1f} requests/s")
        print(f"  ratio: {ratios[-1]:.2f}x (goal: at least 0.70x)")
    return 0 if min(ratios) >= 0.7 else 1


if __name__ == "__main__":
    sys.exit(main())
