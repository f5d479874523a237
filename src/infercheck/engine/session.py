"""One run of the cases and the property suites together, for the pytest plugin and the Python API alike.

The cases of the collected items and every property suite are sent at once, on one event loop, through one
``Sender`` (one gate of ``--concurrency``, one client, one circuit breaker, one budget): hypothesis draws the suites'
requests in a thread while the cases are sent; each suite's requests join the cases' as soon as they are drawn, so
neither waits for the other's last answers, and the cases' checks are evaluated while the suites' answers arrive.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable
from typing import Any

from hypothesis import settings as Settings

from ..checks.base import Outcome
from ..checks.baseline import Baseline
from ..checks.catalog import kinds, registry
from ..contract import profiles as _profiles
from ..contract.profiles import Profile
from ..generation.requests import DEFAULT_MAX_EXAMPLES, DEFAULT_SHRINK_BUDGET, case_for
from ..generation.routes import ROUTES, Property, properties
from ..wire import aio as _aio
from . import explore as _explore
from . import unserved as _unserved
from .runner import DEFAULT_CONCURRENCY, Item, Runner, items
from .gate import Gate
from .limits import route_of
from .search import Exploration
from .target import Target, selects


class Session:
    """The runner of the cases, and the explorations of the property suites: drawn with ``base`` (hypothesis
    settings), ``max_examples`` requests a suite, from ``seed``; failures shrunk within ``shrink_budget``."""

    def __init__(self, runner: Runner, *, base: Settings | None = None, max_examples: int = DEFAULT_MAX_EXAMPLES,
                 seed: int | None = None, shrink_budget: tuple[int, float] = DEFAULT_SHRINK_BUDGET):
        self.runner, self.base, self.max_examples = runner, base or Settings(), max_examples
        self.seed, self.shrink_budget = seed, shrink_budget
        self.explored: dict[Property, Exploration] = {}
        self.broken: Exception | None = None  # what stopped the suites' exploration (an internal error)

    def start(self, wanted: Iterable[Item], suites: Iterable[Property]) -> None:
        """Send the cases of ``wanted`` (judging their checks ahead) and explore ``suites``, all at once. An
        exception of the exploration is kept (``broken``): each suite's report raises it, and the cases stand."""
        runner, wanted, suites = self.runner, list(wanted), list(dict.fromkeys(suites))
        cases = list(dict.fromkeys(item.case for item in wanted))

        async def both() -> list[Any]:
            async with runner.sending(Gate(runner.concurrency)) as sender:
                explore = [_explore.run_all_async(runner, suites, base=self.base, max_examples=self.max_examples,
                                                  seed=self.seed, shrink_budget=self.shrink_budget,
                                                  sender=sender)] if suites else []
                return await asyncio.gather(runner.send_async(cases, sender, wanted), *explore,
                                            return_exceptions=True)

        sent, *explored = _aio.run(both())
        if isinstance(sent, BaseException):
            raise sent
        if not explored:
            return
        if isinstance(explored[0], BaseException):  # infercheck's own bug: each suite's report raises it
            if not isinstance(explored[0], Exception):
                raise explored[0]
            self.broken = explored[0]
            return
        self.explored.update(zip(suites, explored[0]))
        for found in explored[0]:
            self._unserved(found)

    def _unserved(self, found: Exploration) -> None:
        """A suite whose route the cases show not served is skipped with that reason, its failures with it."""
        request = self.runner.request_for(case_for(found.prop, {}), b"{}")
        missing = _unserved.refused_suite(route_of(request), found.prop.route, self.runner.unserved)
        if missing is None:
            return
        for result in found.results:
            if result.outcome is Outcome.FAILED:
                result.outcome, result.message = Outcome.SKIPPED, missing.reason
        found.skipped = missing.reason

    def exploration(self, prop: Property) -> Exploration:
        """What exploring ``prop`` found: explored now when the session's start did not (run outside a session)."""
        if self.broken is not None:
            raise self.broken
        if prop not in self.explored:
            self.explored[prop] = _explore.run(self.runner, prop, base=self.base, max_examples=self.max_examples,
                                               seed=self.seed, shrink_budget=self.shrink_budget)
        return self.explored[prop]

    def target_info(self) -> dict[str, Any]:
        """The target as the results document describes it."""
        target = self.runner.target
        return {"base_url": target.base_url, "model": target.model, "embedded": target.embedded,
                "api": target.api, "task": target.task, "authenticated": bool(target.api_key),
                "profile": self.runner.profile.name, "seed": self.seed, "tls": target.tls.describe()}


def suites_of(api: str, task: str | None) -> list[Property]:
    """The property suites a run of ``api`` (and ``task``) explores."""
    return [p for p in properties(api=api) if selects(api, task, ROUTES[p.route].api, p.route)]


def run(
    target: Target,
    *,
    api: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    profile: Profile | str | None = None,
    max_requests: int | None = None,
    max_tokens: int | None = None,
    baseline: Baseline | None = None,
    suites: bool = True,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    seed: int | None = None,
    shrink_budget: tuple[int, float] = DEFAULT_SHRINK_BUDGET,
    max_failures: int | None = None,
) -> Runner:
    """Run every check of ``api`` against ``target`` without pytest, as ``infercheck run`` does: the cases, and with
    ``suites`` the property suites of the API too (``max_examples`` generated requests each, from ``seed``: random
    when None, kept as ``runner.seed``), all at once; with ``max_failures``, nothing more is sent once that many
    checks failed. The runner holds the results."""
    if not isinstance(profile, Profile):
        profile = _profiles.load(profile, checks=registry(), kinds=kinds)
    runner = Runner(target, concurrency, profile, max_requests, baseline=baseline, max_tokens=max_tokens,
                    max_failures=max_failures)
    api = api or target.api
    selected = [i for i in items(api) if selects(api, target.task, i.case.api, i.case.route)]
    chosen = suites_of(api, target.task) if suites else []
    runner.seed = seed if seed is not None or not chosen else random.getrandbits(32)
    session = Session(runner, max_examples=max_examples, seed=runner.seed, shrink_budget=shrink_budget)
    session.start(selected, chosen)
    if session.broken is not None:
        raise session.broken
    for item in selected:
        runner.evaluate(item)
    return runner
