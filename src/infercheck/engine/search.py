"""One property suite's search: its drawn requests sent (``Suite``), every answer judged by every check that applies,
and each distinct failure shrunk to a minimal request (``Search``).

A failure's identity is its property, its kind of mutation and the set of checks it fails: failures that differ only
in generated values, or in the field that was broken, are reported once, with the curl of the minimal request and
every field where the same failure was seen. A negative request's failure is blamed on its violation only if the
request without it is served.
"""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..checks import base as _checks
from ..checks.base import Context, Outcome, Result
from ..checks.catalog import registry
from ..contract.cases import Case
from ..contract.profiles import Profile
from ..generation import shrink as _shrink
from ..generation.negative import Mutation, breaks
from ..generation.positive import servable
from ..generation.requests import case_for, shrinker
from ..generation.routes import Property
from ..wire.exchange import Exchange
from ..wire.transport import silent
from .runner import Runner
from .gate import Gate
from .limits import request_key, route_of
from .sending import Lane, Sender


@dataclass
class Exploration:
    """What exploring one property found."""

    prop: Property
    results: list[Result] = field(default_factory=list)  # failures (minimal), deviations, passes per check
    requests: int = 0  # generated requests sent
    examples: int = 0  # generated requests checked
    skipped: str | None = None

    @property
    def failures(self) -> list[Result]:
        return [r for r in self.results if r.outcome is Outcome.FAILED]

    @property
    def known(self) -> list[Result]:
        return [r for r in self.results if r.outcome is Outcome.KNOWN]

    @property
    def errors(self) -> list[Result]:
        """Internal errors: a check that raised on a generated request (once per check, not shrunk)."""
        return [r for r in self.results if r.outcome is Outcome.ERROR]


@dataclass
class Finding:
    """A failing request: its identity (the property, the kind of violation, the failed checks), what was sent and
    judged, and the positive request it is shrunk as (the request itself, or the one the violation was put in)."""

    identity: tuple
    case: Case
    exchange: Exchange
    results: list[Result]
    original: dict[str, Any]
    mutation: Mutation | None = None  # the violation kept while shrinking
    blamed: Mutation | None = None  # a request's own failure: the violation it was found with
    steps: int = 0  # simplifications kept
    stopped: str | None = None  # why shrinking stopped before the request was minimal


class Suite:
    """One suite's sending, through the run's ``Sender`` on a lane of its own (which stops once one of its requests
    went unanswered: a timeout is not shrunk); identical requests are sent once. The drawn requests are sent (each at
    most twice: a negative one without its violation too); shrinking's stop at the ``shrink_budget`` (requests,
    seconds since shrinking began). A request not sent is None, and ``stopped`` says why."""

    def __init__(self, runner: Runner, sender: Sender, shrink_budget: tuple[int, float]):
        self.runner, self.sender, self.shrink_budget = runner, sender, shrink_budget
        self.lane = Lane(stops=True)
        self.memo: dict[tuple, asyncio.Future[Exchange | None]] = {}
        self.shrinking_since: float | None = None
        self.sent_before_shrinking = 0
        self.stopped: str | None = None  # why a request was not sent
        self.refused = 0  # drawn requests not sent (not counting shrinking's)
        self.given_up: str | None = None  # the route the circuit breaker gave up on, when that refused one

    @property
    def sent(self) -> int:
        return self.lane.sent

    def start_shrinking(self) -> None:
        self.shrinking_since, self.sent_before_shrinking = time.perf_counter(), self.lane.sent

    async def send(self, case: Case, body: bytes, *, shrinking: bool) -> Exchange | None:
        request = self.runner.request_for(case, body)
        key = request_key(request)
        if key not in self.memo:
            self.memo[key] = asyncio.ensure_future(self._send(case, body, shrinking))
        return await self.memo[key]

    def _spent(self) -> str | None:
        budget = self.shrink_budget
        if self.lane.sent - self.sent_before_shrinking >= budget[0] \
                or time.perf_counter() - (self.shrinking_since or 0.0) >= budget[1]:
            return f"the shrink budget is spent ({budget[0]} requests, {budget[1]:g} s: --shrink-budget)"
        return None

    async def _send(self, case: Case, body: bytes, shrinking: bool) -> Exchange | None:
        request = self.runner.request_for(case, body)
        exchange = await self.sender.send(case, request, self.lane, rank=Gate.FIRST if shrinking else Gate.LATER,
                                          refusal=self._spent if shrinking else None)  # a shrinking wave goes first
        if not exchange.sent:
            if exchange.abandoned:
                self.given_up = route_of(request)
            self.stopped = exchange.error
            self.refused += not shrinking
            return None
        self.runner.generated.append(exchange)
        return exchange


class Search:
    """Once they are drawn, send every drawn request at once (the suite's share of the gate), check every answer,
    and shrink each distinct failure in waves of ``width`` candidates sent at once. Shrinking's candidates are made
    on the ``drawing`` thread, as the draws were: hypothesis parses Python source (to describe a function, a
    traceback, the constants of a module), which CPython 3.11 cannot do in two threads at once (SystemError: AST
    constructor recursion depth mismatch), so hypothesis runs on that one thread only."""

    def __init__(self, prop: Property, suite: Suite, *, model: str, context: Context, profile: Profile, width: int,
                 drawing: ThreadPoolExecutor):
        self.prop, self.suite, self.model, self.context, self.profile = prop, suite, model, context, profile
        self.width, self.drawing = width, drawing
        self.found = Exploration(prop)
        self.checks = list(registry().values())
        self.tally: dict[str, Result] = {}  # check id -> a passed (or deviation) result standing for every example
        self.seen: dict[tuple, set[str]] = {}  # failure identity -> every field where it was seen
        self.broken: dict[str, Result] = {}  # check id -> the first internal error it raised
        self.held: dict[str, set[bytes]] = {}  # check id -> the distinct requests it passed (or deviated) on
        self.distinct: set[bytes] = set()  # every distinct request sent
        self.plain_prop = Property(prop.route, "positive")
        self.counted: set[str] = set()  # the checks whose failure this suite counted towards --max-failures

    async def run(self, drawn_: asyncio.Future[list[Any]]) -> Exploration:
        drawn = await drawn_
        findings = await asyncio.gather(*(self.attempt(d) for d in drawn))
        first: dict[tuple, Finding] = {}
        for finding in findings:
            if finding is not None:
                first.setdefault(finding.identity, finding)
        shrunk: list[Finding] = []
        if first:
            self.suite.start_shrinking()
            shrunk = list(await asyncio.gather(*(self.shrink(f) for f in first.values())))
        if self.found.examples == 0:
            self.found.skipped = ("no generated request could be sent: " + (self.suite.stopped or
                                                                            "none could be generated")
                                  if drawn else "no request could be generated")
            return self.found
        return self.report(shrunk)

    async def check(self, case: Case, body: dict[str, Any], shrinking: bool) -> tuple[Exchange | None, list[Result]]:
        sent = json.dumps(body).encode()
        exchange = await self.suite.send(case, sent, shrinking=shrinking)
        if exchange is None:
            return None, []
        self.distinct.add(sent)
        self.found.examples += 1
        results = [_checks.evaluate(c, case, exchange, self.context, self.profile) for c in self.checks
                   if c.applies(case)]
        for r in results:
            if r.outcome is Outcome.ERROR:  # infercheck's bug, not the endpoint's: reported, never shrunk
                self.broken.setdefault(r.check, r)
            if r.outcome in (Outcome.PASSED, Outcome.DEVIATION) and case.id.startswith(f"property.{self.prop.id}"):
                self.held.setdefault(r.check, set()).add(sent)
                if r.check not in self.tally or (r.outcome is Outcome.DEVIATION
                                                  and self.tally[r.check].outcome is Outcome.PASSED):
                    self.tally[r.check] = r
        failed = [r for r in results if r.outcome is Outcome.FAILED]
        self.suite.runner.count_failures(r for r in failed if r.check not in self.counted)
        self.counted.update(r.check for r in failed)
        return exchange, failed

    async def plain(self, body: dict[str, Any], blamed: Mutation | None, shrinking: bool
                    ) -> tuple[bool, Finding | None]:
        """A positive request: (sent, its failure or None). With ``blamed``, the request a violation was put in,
        whose own failure is not the violation's."""
        case = case_for(self.plain_prop, body)
        exchange, failed = await self.check(case, body, shrinking)
        if exchange is None or not failed:
            return exchange is not None, None
        if blamed is not None:
            for r in failed:
                r.message = (f"{r.message}\n(not the violation's failure: found while sending {blamed}, but "
                             "the request fails without that violation too)")
        kind = "without-the-violation" if blamed is not None else None
        identity = (self.prop.id, kind, tuple(sorted(r.check for r in failed)))
        return True, Finding(identity, case, exchange, failed, body, blamed=blamed)

    async def violated(self, body: dict[str, Any], mutation: Mutation, original: dict[str, Any],
                       shrinking: bool) -> tuple[bool, Finding | None]:
        """A negative request: (sent, its failure or None), blamed on the violation only if the request without
        it is served. While shrinking, the shrinker asks that of the candidate it keeps only, not of every one."""
        case = case_for(self.prop, body, mutation)
        exchange, failed = await self.check(case, body, shrinking)
        if exchange is None or not failed:
            return exchange is not None, None
        if not shrinking:
            sent, mine = await self.plain(original, mutation, shrinking)
            if not sent or mine is not None:
                return sent, mine
        self.seen.setdefault(identity := (self.prop.id, mutation.kind, tuple(sorted(r.check for r in failed))),
                             set()).add(mutation.where)
        return True, Finding(identity, case, exchange, failed, original, mutation=mutation)

    async def attempt(self, drawn_one: Any) -> Finding | None:
        if self.prop.polarity == "positive":
            return (await self.plain(drawn_one, None, False))[1]
        return (await self.violated(*drawn_one, False))[1]

    async def shrink(self, f: Finding) -> Finding:
        """``f`` shrunk: waves of simpler candidates of its positive request (the violation kept), each wave sent at
        once; every simplification that held is combined into the next wave's first candidate."""
        if silent(f.exchange):
            f.stopped = "the request went unanswered, and a timeout is not shrunk"
            return f
        prop, mutation, width = self.prop, f.mutation, self.width
        made_by = shrinker(prop.route, self.model, tuple(sorted(self.profile.unsupported)))
        full = servable(prop.route)
        loop = asyncio.get_running_loop()

        def valid(body: dict[str, Any]) -> bool:
            return full(body) and (mutation is None or breaks(prop.route, mutation.apply(body), mutation))

        async def reproduce(body: dict[str, Any]) -> tuple[bool, Finding | None]:
            if mutation is None:
                return await self.plain(body, f.blamed, True)
            return await self.violated(mutation.apply(body), mutation, body, True)

        tried: set[tuple[int, str]] = set()
        combined: dict[str, Any] | None = None
        while True:
            made = await loop.run_in_executor(self.drawing, made_by.candidates, f.original, valid)
            candidates = [(e, c) for e, c in made if _shrink.size(c) not in tried]
            wave = candidates[:width]
            if combined is not None and _shrink.size(combined) not in tried and valid(combined) and \
                    _shrink.size(combined) < _shrink.size(f.original):
                wave = [(None, combined), *[(e, c) for e, c in wave if c != combined][:width - 1]]
            if not wave:
                return f
            answers = await asyncio.gather(*(reproduce(c) for _, c in wave))
            kept = [(e, again) for (e, _), (_, again) in zip(wave, answers)
                    if again is not None and again.identity == f.identity]
            tried.update(_shrink.size(c) for (_, c), (_, again) in zip(wave, answers)
                         if again is None or again.identity != f.identity)
            unsent = not all(sent for sent, _ in answers)
            while kept and mutation is not None:  # the violation's failure, not the request's own
                sent, mine = await self.plain(kept[0][1].original, mutation, True)
                if sent and mine is None:
                    break
                unsent = unsent or not sent
                tried.add(_shrink.size(kept.pop(0)[1].original))
            combined = None
            if kept:
                _, best = kept[0]
                best.steps, best.blamed = f.steps + 1, f.blamed
                combined = best.original
                for edit, _ in kept[1:]:  # the other simplifications that held, all at once
                    changed = edit.apply(combined) if edit is not None else None
                    combined = changed if changed is not None and valid(changed) else combined
                combined = None if combined == best.original else combined
                f = best
            if unsent:
                f.stopped = self.suite.stopped or "a request was not sent"
                return f
            if not kept and len(candidates) <= len(wave):
                return f

    def report(self, shrunk: list[Finding]) -> Exploration:
        """The suite's results: internal errors, each shrunk failure (saying how minimal it is), and one result per
        check that held (or deviated) standing for every generated request."""
        found, suite = self.found, self.suite
        failed_checks = set(self.broken)
        found.results.extend(self.broken.values())
        for bug in shrunk:
            where = sorted(self.seen.get(bug.identity, ()))
            also = f"; the same failure breaking {len(where)} fields: {', '.join(where)}" if len(where) > 1 else ""
            kept = f"shrunk in {bug.steps} step(s)" if bug.steps else "as drawn"
            how = (f"the request below is minimal ({kept}): no simpler version of it fails the same way"
                   if bug.stopped is None else
                   f"the request below is the simplest found ({kept}); shrinking stopped early: {bug.stopped}")
            for r in bug.results:
                failed_checks.add(r.check)
                r.message = f"{r.message}\n({how}; {len(self.distinct)} distinct requests generated{also})"
                found.results.append(r)
        for check_id, r in self.tally.items():
            if check_id in failed_checks:
                continue
            if r.outcome is Outcome.PASSED:
                r.case = f"property.{self.prop.id}"
                r.message = f"held for {len(self.held[check_id])} distinct generated request(s)" + (
                    f"; {suite.refused} more drawn request(s) not sent: {suite.stopped}" if suite.refused else "")
                r.curl = ""
            found.results.append(r)
        return found
