"""Property-based conformance: every property suite explored at once against a target (``generation/`` makes the
requests; ``search`` sends, judges and shrinks one suite's).

hypothesis draws each suite's requests up front, in a thread of its own, one suite after another; each suite sends
its requests as soon as they are drawn, through the run's one ``Sender``: ``--concurrency`` in flight across every
suite and the cases, one circuit breaker, one budget; and each distinct failure is shrunk to a minimal request in
waves of simpler candidates sent at once (``generation/shrink.py``).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import Any

from hypothesis import settings as Settings

from ..checks.base import Outcome, Result, redact_result
from ..checks.catalog import registry
from ..generation.requests import DEFAULT_MAX_EXAMPLES, DEFAULT_SHRINK_BUDGET, case_for, draws
from ..generation.routes import ROUTES, Property
from ..wire import aio as _aio
from .runner import Runner
from .gate import Gate
from .limits import route_of
from .search import Exploration, Search, Suite
from .sending import Sender


def run(runner: Runner, prop: Property, *, base: Settings, max_examples: int = DEFAULT_MAX_EXAMPLES,
        seed: int | None = None, shrink_budget: tuple[int, float] = DEFAULT_SHRINK_BUDGET) -> Exploration:
    """Explore ``prop`` against the runner's target (``run_all`` of one suite)."""
    return run_all(runner, [prop], base=base, max_examples=max_examples, seed=seed, shrink_budget=shrink_budget)[0]


def run_all(runner: Runner, props: list[Property], *, base: Settings, max_examples: int = DEFAULT_MAX_EXAMPLES,
            seed: int | None = None, shrink_budget: tuple[int, float] = DEFAULT_SHRINK_BUDGET) -> list[Exploration]:
    """Explore ``props`` at once against the runner's target (``run_all_async`` on an event loop of its own)."""
    return _aio.run(run_all_async(runner, props, base=base, max_examples=max_examples, seed=seed,
                                  shrink_budget=shrink_budget))


async def run_all_async(runner: Runner, props: list[Property], *, base: Settings,
                        max_examples: int = DEFAULT_MAX_EXAMPLES, seed: int | None = None,
                        shrink_budget: tuple[int, float] = DEFAULT_SHRINK_BUDGET,
                        sender: Sender | None = None) -> list[Exploration]:
    """Explore ``props`` at once against the runner's target, sending through ``sender`` (the cases may be sent
    through it at the same time; default: one of the runner's own), within its circuit breaker and request budget.
    Each suite's requests are drawn up front by hypothesis, one suite after another in a thread of their own (nothing
    is sent while drawing), and each suite sends its requests as soon as they are drawn, ``--concurrency`` in flight
    across every suite, and so are the waves that shrink their failures. The results are added to the runner's (in
    the order of ``props``), secrets redacted."""
    props = list(dict.fromkeys(props))
    secrets = runner.target.secrets()
    done: dict[Property, Exploration] = {}
    model = runner.target.model or ""
    with _drawing() as drawing:
        loop = asyncio.get_running_loop()
        jobs: dict[Property, asyncio.Future[list[Any]]] = {}
        for prop in props:
            route = route_of(runner.request_for(case_for(prop, {}), b"{}"))
            feature = ROUTES[prop.route].feature
            if route in runner.breaker.tripped:  # given up before the suite began: no search at all
                done[prop] = Exploration(prop, [_abandoned(runner, prop, route)])
            elif feature and feature in runner.profile.unsupported:
                done[prop] = Exploration(prop, skipped=(f"profile {runner.profile.name!r}: the server documents "
                                                        f"no {feature} support: {runner.profile.unsupported[feature]}"))
            else:
                jobs[prop] = loop.run_in_executor(drawing, partial(draws, prop, model=model, profile=runner.profile,
                                                                   base=base, max_examples=max_examples, seed=seed))
        if jobs:
            if sender is None:
                async with runner.sending(Gate(runner.concurrency)) as own:
                    suites = await _explore_all(runner, jobs, shrink_budget, own, drawing)
            else:
                suites = await _explore_all(runner, jobs, shrink_budget, sender, drawing)
            for prop, (found, suite) in zip(jobs, suites):
                found.requests = suite.sent
                if found.skipped and suite.given_up is not None:
                    found.skipped = None  # not a skip: the endpoint stopped answering the route
                    found.results.append(_abandoned(runner, prop, suite.given_up))
                done[prop] = found
    for prop in props:
        found = done[prop]
        if found.skipped and not found.results:  # in the results too: a suite that checked nothing says so
            found.results.append(_skipped(prop, found.skipped))
        # A request's own failure met by the negative suite (reported under the positive one) that the positive
        # suite already reported, for the same minimal request, is the same finding: reported once.
        reported = {(r.case, r.check, r.curl) for r in runner.results if r.outcome is Outcome.FAILED}
        found.results = [r for r in (redact_result(r, secrets) for r in found.results)
                         if r.outcome is not Outcome.FAILED or (r.case, r.check, r.curl) not in reported]
        if runner.baseline is not None:
            found.results = [runner.baseline.apply(r) for r in found.results]
        runner.results.extend(found.results)
    return [done[prop] for prop in props]


@contextmanager
def _drawing() -> Iterator[ThreadPoolExecutor]:
    """The thread hypothesis draws in. Drawing is CPU-bound and holds the GIL; meanwhile the event loop's thread
    gets the GIL back after 0.5 ms instead of Python's 5 ms, so answers are read and requests sent without waiting
    behind it (measured: ``benchmarks/properties.py``)."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, 0.0005))
    drawing = ThreadPoolExecutor(1, thread_name_prefix="infercheck-draw")
    try:
        yield drawing
    finally:
        drawing.shutdown(wait=False)  # an exploration that raised leaves its draws to end by themselves
        sys.setswitchinterval(interval)


async def _explore_all(runner: Runner, jobs: dict[Property, asyncio.Future[list[Any]]],
                       shrink_budget: tuple[int, float], sender: Sender,
                       drawing: ThreadPoolExecutor) -> list[tuple[Exploration, Suite]]:
    suites = [Suite(runner, sender, shrink_budget) for _ in jobs]
    found = await asyncio.gather(*(
        Search(prop, suite, model=runner.target.model or "", context=runner.context, profile=runner.profile,
               width=runner.concurrency, drawing=drawing).run(drawn)
        for (prop, drawn), suite in zip(jobs.items(), suites)))
    return list(zip(found, suites))


def _skipped(prop: Property, why: str) -> Result:
    chk = registry()["status-code"]
    return Result(chk.id, f"property.{prop.id}", Outcome.SKIPPED, chk.severity, chk.title, why)


def _abandoned(runner: Runner, prop: Property, route: str) -> Result:
    """The result of a suite whose route the endpoint stopped answering: status-code failed, saying so, with the
    curl of the request that tripped the breaker."""
    chk = registry()["status-code"]
    return Result(chk.id, f"property.{prop.id}", Outcome.FAILED, chk.severity, chk.title,
                  f"not sent: {runner.breaker.tripped[route]}",
                  expected=["2xx" if prop.polarity == "positive" else "4xx"],
                  received="not sent: the endpoint had stopped answering", curl=runner.breaker.last[route].curl())
