"""Running a load on Locust's master and workers (``load/_locust.py``), each in a process of its own: the plan the
master hands its workers, the processes started, and the master's lines read back as each step's tally."""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

from ..engine.target import Target
from .tally import Tally
from .workload import Work, references

# gevent's monkey-patching first, before anything else is imported, then Locust (told not to patch again), then the
# module. Everything is patched but select (and selectors): the asyncio loop of a worker runs in a native thread,
# where gevent's select would run a hub of its own at each call (httpx's pool polls each idle connection before each
# request: measured, a third of a worker's time). Ctrl-C is the command's: it ends its master and workers itself.
_RUN = ('import os, signal; signal.signal(signal.SIGINT, signal.SIG_IGN); '
        'os.environ["LOCUST_SKIP_MONKEY_PATCH"] = "1"; from gevent import monkey; monkey.patch_all(select=False); '
        'import locust, runpy, sys; sys.argv[0] = "infercheck load"; '
        'runpy.run_module("infercheck.load._locust", run_name="__main__")')
NEEDS = "infercheck load runs on Locust, which is not installed: pip install 'locust>=2.30'"


class FleetError(Exception):
    """The master or its workers could not run the load: one line."""


def available() -> bool:
    return importlib.util.find_spec("locust") is not None


def process(role: str, *args: str) -> list[str]:
    """The command line of a master or a worker."""
    return [sys.executable, "-c", _RUN, role, *args]


def plan(target: Target, profile: str | None, works: list[Work], *, slo: dict[str, float], levels: list[int],
         duration: float, spawn_rate: float | None) -> dict[str, Any]:
    """What the master hands each worker: the target as resolved (its key included: the master's channel to its
    workers must be as private as the key), the profile's name or path, the workload's cases, the steps, and the
    texts the greedy requests got alone."""
    spec = {name: getattr(target, name) for name in ("base_url", "api_key", "model", "api", "task", "timeout",
                                                        "load_wait", "max_body", "max_events", "max_retries")}
    spec.update(breaker=0, ca_bundle=target.tls.ca_bundle, insecure=target.tls.insecure)
    return {"target": spec, "profile": profile, "cases": [w.case.id for w in works], "slo": slo, "levels": levels,
            "duration": duration, "spawn_rate": spawn_rate, "references": references(works)}


class Fleet:
    """A master (and ``local`` workers on this machine) running ``plan``; ``steps`` yields each step's tally as the
    master reports it. The processes end with the context."""

    def __init__(self, plan: dict[str, Any], *, bind: str, port: int, expect: int, local: int = 0,
                 wait: float = 300):
        self.plan, self.bind, self.port, self.expect, self.local, self.wait = plan, bind, port, expect, local, wait
        self.workers = 0
        self._processes: list[subprocess.Popen] = []

    def __enter__(self) -> Fleet:
        # the plan goes to the master on its standard input: it may hold the key, which no file or command line shows
        self.master = subprocess.Popen(
            process("master", "--bind", self.bind, "--port", str(self.port), "--expect-workers", str(self.expect),
                    "--wait", str(self.wait)),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._processes.append(self.master)
        self.master.stdin.write(json.dumps(self.plan))
        self.master.stdin.close()
        for _ in range(self.local):
            self._processes.append(subprocess.Popen(
                process("worker", "--master-host", "127.0.0.1", "--master-port", str(self.port)),
                stdout=subprocess.DEVNULL))
        return self

    def steps(self) -> Iterator[Tally]:
        for line in self.master.stdout:
            said = json.loads(line)
            if "error" in said:
                raise FleetError(said["error"])
            if "workers" in said and "step" not in said:
                self.workers = said["workers"]
                continue
            tally = Tally(said["users"], self.plan["slo"])
            tally.absorb(said["state"])
            tally.elapsed = said["elapsed"]
            yield tally
        if self.master.wait() != 0:
            raise FleetError(f"the Locust master ended with status {self.master.returncode}")

    def __exit__(self, *exc: object) -> None:
        for proc in self._processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self._processes:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.master.stdout is not None:
            self.master.stdout.close()


def worker(host: str, port: int) -> int:
    """A worker of a master elsewhere, until the master ends the load: its exit status."""
    proc = subprocess.Popen(process("worker", "--master-host", host, "--master-port", str(port)))
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        raise
