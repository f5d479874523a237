"""One gate of ``--concurrency`` shared by the cases and every property suite (issue 14): who gets a freed slot,
what ``alone`` holds while it waits, and a whole run where the suites' requests overlap the cases' tail."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

from infercheck.contract.cases import by_id
from infercheck.contract.cases import load as load_cases
from infercheck.engine.gate import Gate
from infercheck.serve import create_app

from ..support import serve_app


def _run(coro):
    return asyncio.run(coro)


def test_a_freed_slot_goes_to_the_first_rank_then_to_the_longest_waiting():
    async def scenario() -> list[str]:
        gate, granted = Gate(1), []

        async def want(name: str, rank: int) -> None:
            async with gate.slot(rank):
                granted.append(name)
                await asyncio.sleep(0)

        async with gate.slot():
            waiting = [asyncio.create_task(want(name, rank)) for name, rank in
                       (("later-1", Gate.LATER), ("first-1", Gate.FIRST), ("later-2", Gate.LATER),
                        ("first-2", Gate.FIRST))]
            await asyncio.sleep(0.01)
            assert granted == []  # the one slot is held
        await asyncio.gather(*waiting)
        return granted

    assert _run(scenario()) == ["first-1", "first-2", "later-1", "later-2"]


def test_a_cancelled_waiter_leaves_no_slot_behind():
    async def scenario() -> None:
        gate = Gate(1)
        async with gate.slot():
            waiter = asyncio.create_task(gate._acquire(Gate.LATER))
            await asyncio.sleep(0.01)
            waiter.cancel()  # cancelled while waiting
            await asyncio.gather(waiter, return_exceptions=True)
        # granted and cancelled before it ran: the slot is handed on, not lost
        async with gate.slot():
            granted = asyncio.create_task(gate._acquire(Gate.LATER))
            await asyncio.sleep(0.01)
        granted.cancel()
        await asyncio.gather(granted, return_exceptions=True)
        async with asyncio.timeout(1):  # the one slot is free again
            async with gate.slot():
                pass
        assert gate._free == 1 and not [w for w in gate._waiting if not w[2].done()]

    _run(scenario())


def test_alone_when_idle_holds_no_slot_while_it_waits_and_then_every_slot():
    async def scenario() -> list[str]:
        gate, log = Gate(2), []
        release_first = asyncio.Event()

        async def first() -> None:
            async with gate.slot():
                log.append("first in")
                await release_first.wait()
            log.append("first out")

        async def copies() -> None:
            async with gate.alone(idle=True):
                log.append(f"alone in, {gate._free} free")
                await asyncio.sleep(0.02)
            log.append("alone out")

        async def later() -> None:
            async with gate.slot():
                log.append("later in")

        one = asyncio.create_task(first())
        await asyncio.sleep(0.01)
        waiting = asyncio.create_task(copies())
        await asyncio.sleep(0.01)
        await asyncio.create_task(later())  # the free slot is not taken by the waiting `alone`
        assert log == ["first in", "later in"]
        release_first.set()
        await one
        await asyncio.sleep(0.005)
        after = asyncio.create_task(later())  # arrives while `alone` runs: waits for it to end
        await asyncio.gather(waiting, after)
        return log

    assert _run(scenario()) == ["first in", "later in", "first out", "alone in, 0 free", "alone out", "later in"]


def test_the_suites_requests_overlap_the_cases_tail_and_the_copies_run_alone():
    """A whole default run against the reference endpoint answering every POST after 0.1 s: never more than
    --concurrency in flight; the property suites' requests begin before the cases' last answer ends (one gate, one
    loop: neither waits for the other's tail); the copies of chat.concurrent-streams have nothing else in flight."""
    app, spans = create_app(), []

    async def timed(scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await app(scope, receive, send)
        body, start, replayed = b"", time.monotonic(), False

        async def replay():  # the body once, then what the server says (a disconnect)
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await asyncio.sleep(0.1)
        try:
            await app(scope, replay, send)
        finally:
            spans.append((start, time.monotonic(), body))

    with serve_app(timed) as root:
        run = subprocess.run([sys.executable, "-m", "infercheck", "run", "--base-url", f"{root}/v1", "--seed", "1",
                              "--concurrency", "4"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    model = "infercheck-tiny"

    def key(body: bytes) -> str | None:
        try:
            return json.dumps(json.loads(body), sort_keys=True)
        except (TypeError, ValueError):
            return None

    cases = {key(c.render_body(model)) for c in load_cases("openai") if c.method == "POST" and c.derive is None}
    concurrent = key(by_id("chat.concurrent-streams").render_body(model))
    events = sorted([(s, 1) for s, _, _ in spans] + [(e, -1) for _, e, _ in spans], key=lambda t: (t[0], t[1]))
    in_flight = peak = 0
    for _, step in events:
        in_flight += step
        peak = max(peak, in_flight)
    assert peak <= 4
    last_case_end = max(e for _, e, b in spans if key(b) in cases)
    generated = [s for s, _, b in spans if key(b) not in cases]
    assert len(generated) > 50 and min(generated) < last_case_end
    rounds = sorted((s, e) for s, e, b in spans if key(b) == concurrent)
    assert len(rounds) >= 4  # the case itself, then at least one round of its copies
    first_copy, last_copy = rounds[1][0], max(e for _, e in rounds)
    beside = [(s, e) for s, e, b in spans if key(b) != concurrent and s < last_copy and e > first_copy]
    assert not beside, "something was in flight beside the copies"


def test_a_suite_sends_nothing_more_while_one_of_its_requests_awaits_its_confirmation():
    """Against an endpoint that never answers a POST, a suite's first wave times out under load; each timeout is
    confirmed alone, and meanwhile the suite's queued requests wait instead of each waiting out the deadline (once
    one is confirmed unanswered, the suite sends nothing more). Before, the queue kept leaving in waves: 16 and more
    of the 20 drawn requests were sent, a deadline each (issue 14, benchmarks/hostile.py post-hang)."""
    from hypothesis import settings

    from infercheck import embedded, resolve
    from infercheck.engine import explore as _exploring
    from infercheck.engine.runner import Runner
    from infercheck.generation import routes as _routes

    with embedded(faults=("post-hang",)) as url:
        runner = Runner(resolve(url, timeout=1), concurrency=8)
        found = _exploring.run_all(runner, [_routes.Property("embeddings", "positive")], base=settings(),
                                    max_examples=20, seed=1)[0]
    assert found.requests <= 8, found.requests  # the first wave only
    assert runner.stats()["retried"] == 1  # one confirmation, alone; the others were not sent again
