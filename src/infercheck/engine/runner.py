"""Executing cases concurrently, once each, and evaluating checks over the recorded exchanges."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import quote

from ..checks import base as _checks
from ..checks.base import Check, Context, Outcome, Result
from ..checks.baseline import Baseline
from ..checks.catalog import registry
from ..contract import cases as _cases
from ..contract import profiles as _profiles
from ..contract.cases import Case
from ..contract.profiles import Profile
from ..wire import aio as _aio
from ..wire import answers as _answers
from ..wire import metrics as _metrics
from ..wire.exchange import Exchange, Request
from ..wire.transport import open_client
from .gate import Gate
from . import unserved as _unserved
from .copies import send_copies
from .limits import Breaker, Budget, request_key
from .sending import Lane, Sender
from .target import Target, request_for

DEFAULT_CONCURRENCY = 8


@dataclass(frozen=True)
class Item:
    """One (case, check) pair: the unit a suite reports on."""

    case: Case
    check: Check

    @property
    def id(self) -> str:
        return f"{self.case.id}/{self.check.id}"

    def __str__(self) -> str:
        return self.id


def items(api: str = "openai", *, routes: Iterable[str] | None = None) -> list[Item]:
    """Every (case, check) pair of an API, optionally only for some routes."""
    wanted = set(routes) if routes is not None else None
    checks = registry().values()
    return [
        Item(case, chk)
        for case in _cases.load(api)
        if wanted is None or case.route in wanted
        for chk in checks
        if chk.applies(case)
    ]


@dataclass
class Runner:
    """Sends each case's request once (concurrently) and evaluates checks over the exchanges.

    Cases a profile says the endpoint lacks, cases needing a key when none was given, and
    cases beyond ``max_requests`` (requests) or ``max_tokens`` (generated tokens) are not sent; their checks are
    skipped with the reason.
    """

    target: Target
    concurrency: int = DEFAULT_CONCURRENCY
    profile: Profile = field(default_factory=_profiles.load)
    max_requests: int | None = None
    exchanges: dict[str, Exchange] = field(default_factory=dict)
    generated: list[Exchange] = field(default_factory=list)  # the property suites' requests
    waits: list[Exchange] = field(default_factory=list)  # requests that waited for a busy endpoint, and the copies
    # they made void (``copies``)
    results: list[Result] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    baseline: Baseline | None = None  # failures it records are reported as known, not failed
    max_tokens: int | None = None  # generated tokens, across every suite: a hard ceiling
    seed: int | None = None  # of the property suites, once chosen
    max_failures: int | None = None  # once this many checks failed, nothing more is sent (--max-failures, -x)

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.max_failures is not None and self.max_failures < 1:
            raise ValueError("max_failures must be at least 1")
        self.failures = 0  # checks found failing while sending (what --max-failures counts)
        self.budget = Budget(self.max_requests, self.max_tokens, sent=len(self.target.discovery))
        self._by_signature = {request_key(e.request): e for e in self.target.discovery if e.response is not None}
        self.breaker = Breaker(self.target.breaker)
        self.cases_lane = Lane()  # the cases' requests: confirmed before they are blamed, one doubt at a time
        self._judged: dict[str, Result] = {}  # item id -> its result, evaluated ahead (judge_async)
        self.unserved: dict[str, _unserved.Unserved] = {}  # route -> what shows the endpoint does not serve it
        self._cases: dict[str, Case] = {}  # every case sent or not, by id (for the survey of the routes)
        self.gates: list[Gate] = []  # every gate the run sent through: their narrowings say what the endpoint served

    @property
    def context(self) -> Context:
        return Context(base_url=self.target.base_url, model=self.target.model or "", exchanges=self.exchanges,
                       secrets=tuple(self.target.secrets()))

    def request_for(self, case: Case, body: bytes | None = None, path: str | None = None) -> Request:
        return request_for(self.target, case, body, path)

    @property
    def requests_sent(self) -> int:
        """Requests sent so far, discovery included (what the budget has spent)."""
        return self.budget.sent

    @property
    def tokens_spent(self) -> int:
        """Generated tokens counted so far, and reserved by requests not answered yet."""
        return self.budget.tokens

    @asynccontextmanager
    async def sending(self, gate: Gate) -> AsyncIterator[Sender]:
        """The run's one way of sending (``Sender``), through ``gate``, within the runner's budget and breaker, on a
        client of ``gate.width`` connections."""
        bounds = self.target.bounds
        self.gates.append(gate)
        async with open_client(bounds, gate.width) as client:
            yield Sender(bounds, gate, self.budget, self.breaker, client)

    def _not_sent(self, case: Case, reason: str) -> None:
        self.exchanges[case.id] = Exchange(case.id, self.request_for(case), error=reason, stream=case.stream,
                                           sent=False)

    def _why_not(self, case: Case) -> str | None:
        lacking = self.profile.lacks(case)
        if lacking:
            return lacking
        if case.auth and not self.target.api_key:
            return "no API key was given (--api-key), so there is no authentication to check"
        return None

    def _derived(self, case: Case) -> Request | str:
        """The request of a case completed from another case's answer, or why it cannot be built."""
        source = self.exchanges.get(case.derive["from"])
        if source is not None and not source.sent:
            return f"needs a successful answer from {case.derive['from']}, which was not sent: {source.error}"
        if source is None or source.response is None or not 200 <= source.response.status < 300:
            return f"needs a successful answer from {case.derive['from']}, which gave none"
        model = self.target.model or ""
        if "id" in case.derive:
            found = _answers.document(source)
            ident = found.get("id") if isinstance(found, dict) else None
            if not isinstance(ident, str) or not ident:
                return f"the answer to {case.derive['from']} has no id to ask for it by"
            path = case.render_path(model).replace(case.derive["id"], quote(ident, safe=""))
            return self.request_for(case, path=path)
        text = _answers.read(source).text()
        if text is None:
            return f"needs a text answer from {case.derive['from']}, which gave none"
        stop = _answers.stop_from(text)
        if stop is None:
            return f"the answer to {case.derive['from']} is too short to take a stop sequence from: {text!r}"
        body = json.loads(case.render_body(model))
        body["stop"] = [stop]
        return self.request_for(case, json.dumps(body).encode())

    def execute(self, cases: Iterable[Case]) -> None:
        """Send every case not sent yet (and the cases they compare with or derive from, first);
        requests identical to one already made are not sent again unless a case asks to repeat."""
        _aio.run(self._execute(cases))

    async def _execute(self, cases: Iterable[Case]) -> None:
        async with self.sending(Gate(self.concurrency)) as sender:
            await self.send_async(cases, sender)

    async def send_async(self, cases: Iterable[Case], sender: Sender, judge: Iterable[Item] = ()) -> None:
        """What ``execute`` does, on the caller's event loop, through ``sender`` (whatever else the run sends at the
        same time shares its gate); the checks of ``judge`` are evaluated (``judge_async``) before the copies are
        sent."""
        wanted = _closure(cases)
        early: dict[str, list[Item]] = {}  # with --max-failures, each case's checks are judged as it is answered
        for item in judge if self.max_failures is not None else ():
            early.setdefault(item.case.id, []).append(item)
        await self._send_cases(wanted, sender, early)
        self._cases.update((case.id, case) for case in wanted)
        self.unserved = _unserved.survey(self._cases.values(), self.exchanges)
        await self.judge_async(judge)
        await send_copies(wanted, self.exchanges, sender, self.concurrency, self.waits)

    async def _send_cases(self, wanted: list[Case], sender: Sender, early: dict[str, list[Item]]) -> None:
        """Send the cases of ``wanted`` (a ``_closure``) not sent yet, but for their copies sent at once; the checks
        of ``early`` (by case id) are judged as soon as their case is answered (``judge_now``)."""
        for wave in (False, True):  # plain cases first, then the ones derived from their answers
            pending: dict[tuple, list[tuple[Case, Request]]] = {}
            for case in wanted:
                if case.id in self.exchanges or (case.derive is not None) is not wave:
                    continue
                reason = self._why_not(case)
                request = self._derived(case) if wave and reason is None else self.request_for(case)
                if isinstance(request, str):
                    reason = request
                if reason is not None:
                    self._not_sent(case, reason)
                    continue
                signature = (*request_key(request), case.id) if case.repeat else request_key(request)
                known = self._by_signature.get(signature)
                if known is not None:
                    self.exchanges[case.id] = known
                else:
                    pending.setdefault(signature, []).append((case, request))

            async def one(signature: tuple, group: list[tuple[Case, Request]]) -> None:
                first, request = group[0]
                # derived cases and comparisons wait for these answers: they go first
                exchange = await sender.send(first, request, self.cases_lane, rank=Gate.FIRST)
                if not exchange.sent and not exchange.abandoned:  # the budget is spent: each case says so
                    for case, _ in group:
                        self._not_sent(case, exchange.error)
                    return
                self._by_signature[signature] = exchange
                for case, _ in group:
                    self.exchanges[case.id] = exchange
                for case, _ in group:
                    self.judge_now(early.get(case.id, ()))

            await asyncio.gather(*(one(sig, group) for sig, group in pending.items()))

    def judge_now(self, items: Iterable[Item]) -> None:
        """Judge the checks of ``items`` whose answers (and twins') are in and final, and count their failures."""
        context = self.context
        judged = [r for item in items if (r := self._judge_ahead(item, context)) is not None]
        self.count_failures(judged)

    def _judge_ahead(self, item: Item, context: Context) -> Result | None:
        """Judge ``item`` now, before it is reported (``_decide`` takes it), when its answer is in and it was not
        judged yet; the result, or None."""
        exchange = self._answered(item)
        if exchange is None or item.id in self._judged:
            return None
        self._judged[item.id] = _checks.evaluate(item.check, item.case, exchange, context, self.profile)
        return self._judged[item.id]

    def _answered(self, item: Item) -> Exchange | None:
        """The answer ``item`` is judged on, once it (and its twin's) is in and final (not copied under load)."""
        case, exchange = item.case, self.exchanges.get(item.case.id)
        if exchange is None or case.concurrent > 1 or (case.twin is not None and case.twin not in self.exchanges):
            return None
        return exchange

    def count_failures(self, results: Iterable[Result]) -> None:
        """Count the failures found while sending (a baseline's known ones apart); once ``max_failures`` is
        reached, nothing more is sent: every request after it is refused with the reason, its checks not run."""
        if self.max_failures is None:
            return
        known = self.baseline.known if self.baseline is not None else {}
        self.failures += sum(1 for r in results if r.outcome is Outcome.FAILED and (r.case, r.check) not in known)
        if self.failures >= self.max_failures and self.budget.stopped is None:
            self.budget.stopped = (f"the run stopped after {self.failures} failure(s) "
                                   f"(--max-failures {self.max_failures})")

    async def judge_async(self, items: Iterable[Item]) -> None:
        """Evaluate ahead the checks of ``items`` whose cases were answered and are final (not those whose copies
        are still to be sent), a few at a time between the event loop's other work; ``evaluate`` then reports
        what was judged here instead of judging again."""
        context = self.context
        for n, item in enumerate(items):
            self._judge_ahead(item, context)
            if n % 16 == 15:
                await asyncio.sleep(0)  # the answers arriving meanwhile are read without waiting for all of this

    def decide_interrupted(self, items: Iterable[Item]) -> None:
        """A run stopped before it ended (Ctrl-C): the checks of ``items`` not reported yet whose answers (and their
        twins') had arrived are judged now, as ``evaluate`` would; the others were not run. Nothing is sent."""
        secrets = self.target.secrets()
        done = {(r.case, r.check) for r in self.results}
        for item in items:
            exchange = self._answered(item)
            if exchange is not None and (item.case.id, item.check.id) not in done:
                self.results.append(_checks.redact_result(self._decide(item, exchange), secrets))

    def evaluate(self, item: Item) -> Result:
        if item.case.id not in self.exchanges:
            self.execute([item.case])
        result = self._decide(item, self.exchanges[item.case.id])
        self.results.append(result)
        return result

    def _decide(self, item: Item, exchange: Exchange) -> Result:
        """What the run reports of ``item``: its check's verdict on ``exchange`` (judged ahead, or now), then a route
        or feature the endpoint does not serve, and the baseline's known failures."""
        result = self._judged.pop(item.id, None) or _checks.evaluate(item.check, item.case, exchange, self.context,
                                                                     self.profile)
        result = _unserved.judge(result, exchange, self.unserved)
        return self.baseline.apply(result) if self.baseline is not None else result

    def sent(self) -> list[Exchange]:
        """Every request the run sent, once each: discovery, cases, their copies, generated requests."""
        exchanges = [*self.target.discovery, *self.exchanges.values(), *self.generated, *self.waits]
        copies = [c for e in exchanges for round_ in e.under_load for c in round_]
        return list({id(e): e for e in [*exchanges, *copies] if e.sent}.values())

    def metrics(self) -> dict[str, dict[str, float | int | None]]:
        return _metrics.figures(self.sent())

    def latency_samples(self) -> dict[str, list[float]]:
        """The samples of time to first token and inter-token latency (ms), for a distribution's chart."""
        found = _metrics.samples(self.sent())
        return {name: [round(v, 3) for v in found[name]] for name in ("ttft_ms", "itl_ms")}

    def stats(self) -> dict[str, Any]:
        sent = {id(e): e for e in self.sent()}
        return {
            "requests": len(sent),
            "completion_tokens": sum(_answers.completion_tokens(e) for e in sent.values()),
            "duration_s": round(time.perf_counter() - self.started, 3),
            "loading_waited_s": round(max((e.waited for e in sent.values()), default=0.0), 3),
            "retried": sum(1 for e in sent.values() if e.transient is not None),
            "resent_after_wait": sum(e.retries for e in sent.values()),
            "waited_s": round(sum(e.waited for e in sent.values()), 3),
            "abandoned": sum(1 for e in {id(e): e for e in self.exchanges.values()}.values() if e.abandoned),
            **({"max_tokens": self.max_tokens, "tokens_counted": self.budget.tokens} if self.max_tokens is not None
               else {}),
            **({"concurrency": self.concurrency, "concurrency_lowest": min(g.lowest for g in self.gates),
                "concurrency_end": min(g.width for g in self.gates),
                "narrowed": sum(g.narrowed for g in self.gates),
                # how it narrowed and grew back, in words
                "concurrency_changes": [change for gate in self.gates for change in gate.changes]}
               if any(g.lowest < g.full for g in self.gates) else {}),
        }


def _closure(cases: Iterable[Case]) -> list[Case]:
    """``cases`` and, before them, every case they compare with or derive from (in file order)."""
    wanted = {case.id: case for case in cases}
    stack = list(wanted.values())
    while stack:
        case = stack.pop()
        for ref in (case.twin, (case.derive or {}).get("from")):
            if ref is not None and ref not in wanted:
                wanted[ref] = _cases.by_id(ref, case.api)
                stack.append(wanted[ref])
    order = {case.id: i for api in dict.fromkeys(c.api for c in wanted.values())
             for i, case in enumerate(_cases.load(api))}
    return sorted(wanted.values(), key=lambda c: order.get(c.id, len(order)))
