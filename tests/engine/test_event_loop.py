"""infercheck's Python API inside a running event loop, as in a notebook cell (Jupyter runs one)."""

from __future__ import annotations

import asyncio

from hypothesis import settings

from infercheck import Outcome, resolve, run
from infercheck.engine import explore as _exploring
from infercheck.generation import routes as _routes


def test_resolve_run_and_the_property_suites_work_inside_a_running_event_loop(reference_url):
    async def cell():
        asyncio.get_running_loop()  # what makes asyncio.run refuse
        target = resolve(reference_url)
        runner = run(target, suites=False)
        found = _exploring.run(runner, _routes.Property("chat", "positive"), base=settings(), max_examples=3,
                                seed=1)
        return target, runner, found

    target, runner, found = asyncio.run(cell())
    assert target.model == "infercheck-tiny"
    outcomes = {r.outcome for r in runner.results}
    assert Outcome.PASSED in outcomes and not outcomes & {Outcome.FAILED, Outcome.ERROR}
    assert found.examples == 3 and found.requests >= 1 and not found.failures and not found.errors
