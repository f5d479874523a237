"""``infercheck load``'s engine: Locust's master and workers (its master/worker protocol, its spawn control), each
worker's users sending the workload through infercheck's one send path and judging their own answers; the master
adds up the workers' tallies, step by step.

This module runs only as a process of its own, started by ``distributed.process``: gevent's monkey-patching comes
first, before anything else is imported (Locust needs it), but for ``select``. Locust's users are greenlets;
infercheck's send path is asyncio: each worker runs one asyncio loop in a native thread, a user hands its request to
that loop, which sends it and judges the answer, and waits for both without blocking the other users (a gevent async
watcher wakes it).

The protocol, on Locust's custom messages: each worker says hello once its handlers are in place; the master sends
the plan (the target, the profile, the workload's cases)
and waits until every worker answers ``ready``; for each step it announces the step (each worker starts a new
tally), starts the users (Locust's ``start``), waits the duration, announces the step's end (each worker's users
send nothing more; once their requests in flight are answered, the worker sends its tally), and stops the users once
every worker's tally is in. The master writes each step's tally, added up, as one JSON line on its standard output.
"""

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import sys
import time
from typing import Any

import gevent
from gevent import monkey
from gevent.event import AsyncResult
from locust import User, constant, task
from locust.env import Environment

from ..checks.catalog import kinds, registry
from ..contract import cases as _cases
from ..contract import profiles as _profiles
from ..engine.gate import Gate
from ..engine.limits import Breaker, Budget
from ..engine.sending import Lane, Sender
from ..engine.target import Target
from ..wire.transport import Tls, open_client
from .tally import Tally
from .workload import Work, against_alone, broken, judge, prepare

HELLO, PLAN, READY, STEP, STEP_END, TALLY = ("infercheck-hello", "infercheck-plan", "infercheck-ready",
                                             "infercheck-step", "infercheck-step-end", "infercheck-tally")


class Loop:
    """One asyncio loop in a native thread; ``call`` runs a coroutine there and waits for it in the calling greenlet
    only."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        # a native thread: threading.Thread, even gevent's saved original, starts a greenlet once patched
        monkey.get_original("_thread", "start_new_thread")(self.loop.run_forever, ())

    def call(self, coro: Any) -> Any:
        done, watcher = AsyncResult(), gevent.get_hub().loop.async_()
        watcher.start(lambda: done.set(None))
        try:
            future = asyncio.run_coroutine_threadsafe(coro, self.loop)
            future.add_done_callback(lambda _: watcher.send())
            done.get()
            return future.result()
        finally:
            watcher.close()


class Worker:
    """One worker process's part: the plan, its sender, and the tally of the step running."""

    def __init__(self) -> None:
        self.loop = Loop()
        self.target: Target | None = None
        self.works: list[Work] = []
        self.tally: Tally | None = None
        self.closing, self.in_flight = True, 0

    def prepare(self, plan: dict[str, Any]) -> None:
        spec = dict(plan["target"])
        tls = Tls(spec.pop("ca_bundle"), spec.pop("insecure"))
        self.target = Target(**spec, tls=tls)
        self.profile = _profiles.load(plan["profile"], checks=registry(), kinds=kinds)
        by_id = {case.id: case for case in _cases.load(self.target.api)}
        self.works = prepare(self.target, self.profile, [by_id[i] for i in plan["cases"]])
        self.turns = itertools.cycle(self.works)
        self.slo, self.references = plan["slo"], plan["references"]
        self.stack = contextlib.AsyncExitStack()
        self.senders: dict[int, Sender] = {}
        self.lane = Lane()

    async def _sender(self) -> Sender:
        """A user's own sender, on a client of its own (one connection, kept alive), as each Locust user has its
        own client: one client for every user would search its whole pool of connections at every request."""
        client = await self.stack.enter_async_context(open_client(self.target.bounds, 1))
        return Sender(self.target.bounds, Gate(1), Budget(), Breaker(0), client, confirming=False)

    def step(self, users: int) -> None:
        self.tally, self.closing = Tally(users, self.slo), False
        self.began = (time.process_time(), time.perf_counter())

    def request(self, user: User) -> None:
        """One request of ``user``: sent, answered, judged into the step's tally."""
        if self.closing or self.tally is None:
            gevent.sleep(0.05)
            return
        tally, work = self.tally, next(self.turns)
        self.in_flight += 1
        try:
            tally.add(*self.loop.call(self._judged(id(user), work)))
        finally:
            self.in_flight -= 1

    async def _judged(self, user: int, work: Work) -> tuple[Any, list[Any], bool | None, str]:
        """``work`` sent and judged on the loop's thread: the user's greenlet is woken once, with both."""
        if user not in self.senders:
            self.senders[user] = await self._sender()
        exchange = await self.senders[user].send(work.case, work.request, self.lane)
        exchange.alone = False  # the user's gate is one request wide, but other users' requests are in flight
        found = broken(judge(work, exchange, self.target, self.profile))
        differed, crossed = against_alone(work, exchange, self.references)
        return exchange, found + ([crossed] if crossed else []), differed, self.references.get(work.case.id, "")

    def end(self) -> dict[str, Any]:
        """The step's end: nothing more is sent; the tally once the requests in flight are answered."""
        self.closing = True
        while self.in_flight:
            gevent.sleep(0.01)
        cpu, wall = time.process_time() - self.began[0], time.perf_counter() - self.began[1]
        self.tally.cpu = [round(100 * cpu / wall, 1)] if wall > 0 else []  # this process, all its threads
        return self.tally.state()


WORKER: Worker | None = None


class CheckedUser(User):
    """A user of infercheck's load: one request at a time, each answer checked."""

    wait_time = constant(0)

    @task
    def send(self) -> None:
        WORKER.request(self)


def _worker(host: str, port: int) -> int:
    global WORKER
    WORKER = Worker()
    env = Environment(user_classes=[CheckedUser])
    runner = env.create_worker_runner(host, port)

    def plan(environment: Any, msg: Any, **kwargs: Any) -> None:
        try:
            WORKER.prepare(msg.data)
            runner.send_message(READY, {"error": None})
        except Exception as exc:  # the master says it; the worker goes on waiting for the next plan
            runner.send_message(READY, {"error": f"{type(exc).__name__}: {exc}"})

    runner.register_message(PLAN, plan, concurrent=True)
    runner.register_message(STEP, lambda environment, msg, **kw: WORKER.step(msg.data["users"]))
    runner.register_message(STEP_END, lambda environment, msg, **kw: runner.send_message(
        TALLY, {"step": msg.data["step"], "state": WORKER.end()}), concurrent=True)
    # Locust's worker is connected (and its master may count it) before these handlers exist: the master sends its
    # plan to a worker once the worker says it can take it
    runner.send_message(HELLO, None)
    runner.greenlet.join()
    return 0


def _master(plan: dict[str, Any], host: str, port: int, expect: int, wait: float) -> int:
    env = Environment(user_classes=[CheckedUser])
    runner = env.create_master_runner(host, port)
    hello: set[str] = set()  # the workers whose handlers are in place
    ready: dict[str, str | None] = {}
    tallies: dict[int, dict[str, dict[str, Any]]] = {}
    runner.register_message(HELLO, lambda environment, msg, **kw: hello.add(msg.node_id))
    runner.register_message(READY, lambda environment, msg, **kw: ready.__setitem__(msg.node_id, msg.data["error"]))
    runner.register_message(TALLY, lambda environment, msg, **kw: tallies.setdefault(msg.data["step"], {})
                            .__setitem__(msg.node_id, msg.data["state"]))

    def say(**what: Any) -> None:
        print(json.dumps(what), flush=True)

    deadline = time.monotonic() + wait
    while len(hello) < expect:
        if time.monotonic() > deadline:
            say(error=f"{len(hello)} of {expect} workers connected within {wait:.0f} s")
            return 2
        gevent.sleep(0.1)
    for node in sorted(hello):
        runner.send_message(PLAN, plan, client_id=node)
    while len(ready) < len(hello):
        if time.monotonic() > deadline + 60:
            say(error=f"{len(ready)} of {len(hello)} workers prepared the plan within 60 s")
            return 2
        gevent.sleep(0.05)
    failed = [why for why in ready.values() if why]
    if failed:
        say(error=f"a worker could not prepare the plan: {failed[0]}")
        return 2
    say(workers=len(hello))
    for index, users in enumerate(plan["levels"]):
        runner.send_message(STEP, {"users": users})
        started = time.perf_counter()
        runner.start(users, plan["spawn_rate"] or users)
        gevent.sleep(plan["duration"])
        runner.send_message(STEP_END, {"step": index})
        workers = runner.worker_count
        end = time.monotonic() + plan["target"]["timeout"] + 30
        while len(tallies.get(index, {})) < workers and time.monotonic() < end:
            gevent.sleep(0.02)
        if len(tallies.get(index, {})) < workers or not workers:
            say(error=f"{len(tallies.get(index, {}))} of {workers or expect} Locust workers reported the step of "
                      f"{users} users: a worker was lost (its own output says why)")
            return 2
        tally = Tally(users, plan["slo"])
        for state in tallies.get(index, {}).values():
            tally.absorb(state)
        tally.elapsed = time.perf_counter() - started
        runner.stop()
        say(step=index, users=users, elapsed=tally.elapsed, state=tally.state(), workers=len(tallies.get(index, {})))
    runner.quit()
    return 0


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    parser = argparse.ArgumentParser(prog="infercheck-load-locust")
    sub = parser.add_subparsers(dest="role", required=True)
    master = sub.add_parser("master")
    master.add_argument("--bind", default="*")
    master.add_argument("--port", type=int, default=5557)
    master.add_argument("--expect-workers", type=int, default=1)
    master.add_argument("--wait", type=float, default=300)
    worker = sub.add_parser("worker")
    worker.add_argument("--master-host", default="127.0.0.1")
    worker.add_argument("--master-port", type=int, default=5557)
    args = parser.parse_args(argv)
    if args.role == "worker":
        return _worker(args.master_host, args.master_port)
    plan = json.load(sys.stdin)  # the plan comes on standard input (it may hold the key)
    return _master(plan, args.bind, args.port, args.expect_workers, args.wait)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
