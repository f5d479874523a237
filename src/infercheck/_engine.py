"""Executing cases concurrently, once each, and evaluating checks over the recorded exchanges."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import quote
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import httpx

from . import _aio, _answers, _cases, _checks, _metrics, _profiles
from ._baseline import Baseline
from ._cases import Case
from ._checks import Check, Context, Result
from ._exchange import Exchange, Request
from ._gate import Gate
from ._profiles import Profile
from ._target import Target, request_for, selects
from ._transport import confirm, lost, open_client, send_async, silent, timed_out

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
    checks = _checks.registry().values()
    return [
        Item(case, chk)
        for case in _cases.load(api)
        if wanted is None or case.route in wanted
        for chk in checks
        if chk.applies(case)
    ]


def request_key(request: Request) -> tuple[str, str, bytes | None, str | None]:
    """What makes two requests the same request: sent once, answered once."""
    return (request.method, request.url, request.body, request.headers.get("Authorization"))


def route_of(request: Request) -> str:
    """What the circuit breaker counts by: the method and path of a request (``POST /v1/chat/completions``)."""
    return f"{request.method} {httpx.URL(request.url).path}"


@dataclass
class Breaker:
    """The circuit breaker: once ``limit`` requests in a row to one route (method and path) went unanswered (timed
    out, refused, or dropped before a status line), the endpoint has stopped answering that route, and the rest
    of its requests are not sent. 0: never."""

    limit: int
    streaks: dict[str, int] = field(default_factory=dict)
    tripped: dict[str, str] = field(default_factory=dict)  # route -> why it was given up
    last: dict[str, Exchange] = field(default_factory=dict)  # route -> the unanswered request that tripped it

    def record(self, exchange: Exchange) -> None:
        if not exchange.sent:
            return
        route = route_of(exchange.request)
        if not silent(exchange):
            self.streaks[route] = 0
            return
        streak = self.streaks[route] = self.streaks.get(route, 0) + 1
        if self.limit and streak >= self.limit and route not in self.tripped:
            self.last[route] = exchange
            self.tripped[route] = (f"the endpoint stopped answering {route}: {streak} requests in a row went "
                                   f"unanswered (the last: {exchange.error}), so the rest were not sent (--breaker)")

    def why(self, request: Request) -> str | None:
        return self.tripped.get(route_of(request))

    def abandon(self, case: Case, request: Request) -> Exchange | None:
        """The exchange standing for ``case``'s request when its route was given up, else None."""
        why = self.why(request)
        if why is None:
            return None
        return Exchange(case.id, request, error=why, stream=case.stream, sent=False, abandoned=True)


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
    # they made void (``_under_load``)
    results: list[Result] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    baseline: Baseline | None = None  # failures it records are reported as known, not failed
    max_tokens: int | None = None  # generated tokens, across every suite: a hard ceiling

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.max_requests is not None and self.max_requests < 1:
            raise ValueError("max_requests must be at least 1")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        self._by_signature = {request_key(e.request): e for e in self.target.discovery if e.response is not None}
        self.breaker = Breaker(self.target.breaker)
        self._sent = len(self.target.discovery)
        self._tokens = 0  # generated tokens counted, and reserved by requests not answered yet
        self._judged: dict[str, Result] = {}  # item id -> its result, evaluated ahead (judge_async)

    @property
    def context(self) -> Context:
        return Context(base_url=self.target.base_url, model=self.target.model or "", exchanges=self.exchanges,
                       secrets=tuple(self.target.secrets()))

    def request_for(self, case: Case, body: bytes | None = None, path: str | None = None) -> Request:
        return request_for(self.target, case, body, path)

    @property
    def requests_sent(self) -> int:
        """Requests sent so far, discovery included (what the budget has spent)."""
        return self._sent

    @property
    def tokens_spent(self) -> int:
        """Generated tokens counted so far, and reserved by requests not answered yet."""
        return self._tokens

    def spend(self, tokens: int | None = 0, requests: int = 1) -> str | None:
        """Take ``requests`` requests, and ``tokens`` generated tokens at most (None: nothing bounds them), from the
        budgets every suite shares; why not, when that would pass one. The tokens are reserved until ``settle``."""
        if self.max_requests is not None and self._sent + requests > self.max_requests:
            return f"the request budget is spent (--max-requests {self.max_requests})"
        if self.max_tokens is not None:
            if tokens is None:
                return (f"nothing bounds the tokens its answer may generate (no valid max_tokens), and --max-tokens "
                        f"{self.max_tokens} is a hard ceiling")
            if tokens and self._tokens + tokens * requests > self.max_tokens:
                return (f"the token budget is spent (--max-tokens {self.max_tokens}): its answer may generate up to "
                        f"{tokens * requests} tokens, and {self._tokens} are generated or reserved")
            self._tokens += tokens * requests
        self._sent += requests
        return None

    def settle(self, reserved: int | None, exchange: Exchange) -> None:
        """Replace what a request reserved of the token budget with what its answer generated."""
        if self.max_tokens is not None:
            asked = exchange.request.json()
            echoed = _cases.prompt_count(asked.get("prompt")) if isinstance(asked, dict) and asked.get("echo") is True \
                else 0
            self._tokens += _answers.generated(exchange, reserved or 0, echoed) - (reserved or 0)

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
        _aio.run(self.send_async(cases, Gate(self.concurrency)))

    async def send_async(self, cases: Iterable[Case], gate: Gate, judge: Iterable[Item] = ()) -> None:
        """What ``execute`` does, on the caller's event loop, sharing ``gate`` with whatever else the run sends at
        the same time; the checks of ``judge`` are evaluated (``judge_async``) before the copies are sent."""
        wanted = _closure(cases)
        await self._send_cases(wanted, gate)
        await self.judge_async(judge)
        await self._load(wanted, gate)

    async def _send_cases(self, wanted: list[Case], gate: Gate) -> None:
        """Send the cases of ``wanted`` (a ``_closure``) not sent yet, but for their copies sent at once."""
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
                elif signature in pending:
                    pending[signature].append((case, request))
                elif (why := self.spend(_cases.reservation(case))) is not None:
                    self._not_sent(case, why)
                else:
                    pending[signature] = [(case, request)]
            if pending:
                await self._send_all(pending, gate)

    async def _load(self, wanted: list[Case], gate: Gate) -> None:
        """The cases of ``wanted`` that ask for it (``concurrent``), sent several times at once once they were
        answered, with nothing else running (once nothing else is in flight or waiting): a copy cut in the middle
        of its answer is confirmed by a second round, never blamed on one."""
        if self.concurrency < 2:
            return
        for case in wanted:
            exchange = self.exchanges.get(case.id)
            if case.concurrent > 1 and exchange is not None and exchange.response is not None \
                    and not exchange.under_load:
                async with gate.alone(idle=True):
                    exchange.under_load = await self._under_load(case, exchange.request,
                                                                 min(case.concurrent, self.concurrency))

    async def judge_async(self, items: Iterable[Item]) -> None:
        """Evaluate ahead the checks of ``items`` whose cases were answered and are final (not those whose copies
        are still to be sent), a few at a time between the event loop's other work; ``evaluate`` then reports
        what was judged here instead of judging again."""
        context = self.context
        for n, item in enumerate(items):
            exchange = self.exchanges.get(item.case.id)
            if exchange is not None and item.case.concurrent <= 1 and item.id not in self._judged:
                self._judged[item.id] = _checks.evaluate(item.check, item.case, exchange, context, self.profile)
            if n % 16 == 15:
                await asyncio.sleep(0)  # the answers arriving meanwhile are read without waiting for all of this

    async def _send_all(self, pending: dict[tuple, list[tuple[Case, Request]]], gate: Gate) -> None:
        bounds = self.target.bounds
        async with open_client(bounds, self.concurrency) as client:

            async def one(signature: tuple, group: list[tuple[Case, Request]]) -> None:
                first, request = group[0]
                async with gate.slot(Gate.FIRST):  # derived cases and comparisons wait for these answers
                    exchange = self.breaker.abandon(first, request)
                    if exchange is not None:
                        self._keep(signature, group, exchange)
                        return
                    exchange = await send_async(client, first.id, request, bounds, stream=first.stream)
                reserved = _cases.reservation(first)
                # A transport failure is confirmed before it is blamed on the request: sent again on a fresh
                # connection, with nothing else in flight. So is a stream that ended before its finish_reason while
                # other requests could be in flight (a server may stop a running stream for another request). The
                # answer to that attempt is the one judged (and the one the circuit breaker counts).
                ended = self.concurrency > 1 and _answers.ended_early(exchange)
                if (lost(exchange) or ended) and self.breaker.why(request) is None:
                    async with gate.alone():
                        first_attempt, exchange = exchange, await confirm(exchange, bounds, ended=ended)
                    self.settle(reserved, first_attempt)
                else:
                    self.settle(reserved, exchange)
                self.breaker.record(exchange)
                self._keep(signature, group, exchange)

            await asyncio.gather(*(one(sig, group) for sig, group in pending.items()))

    async def _under_load(self, case: Case, request: Request, copies: int) -> tuple[tuple[Exchange, ...], ...]:
        """``copies`` of ``request`` sent at once, each on a connection of its own; a second round when a copy
        was interrupted (not when it timed out: that costs the deadline again). Only rounds the request budget
        and the token budget pay for in full are sent."""

        async def copy() -> Exchange:
            async with open_client(self.target.bounds, keep_alive=False) as client:
                return await send_async(client, case.id, request, self.target.bounds, stream=case.stream)

        reserved = _cases.reservation(case)
        rounds: list[tuple[Exchange, ...]] = []
        waited = False
        while len(rounds) < 2 and self.spend(reserved, copies) is None:
            rounds.append(tuple(await asyncio.gather(*(copy() for _ in range(copies)))))
            for sent in rounds[-1]:
                self.settle(reserved, sent)
            if any(map(_answers.interrupted, rounds[-1])):
                continue
            # Copies that timed out, none interrupted, say nothing: the endpoint was still busy (a single-slot server
            # goes on generating what other requests gave up on). Once it answers the request alone in time, the
            # round is sent again; once only.
            if not waited and any(map(timed_out, rounds[-1])):
                waited = True
                if await self._idle(case, request, copy):
                    self.waits.extend(rounds.pop())
                    continue
            break
        return tuple(rounds)

    async def _idle(self, case: Case, request: Request, send: Callable[[], Awaitable[Exchange]],
                    tries: int = 3) -> bool:
        """Whether the endpoint answers ``request`` alone, in time, within ``tries`` attempts (each within the
        request budget): how a run waits for a busy endpoint to work off what it still generates."""
        reserved = _cases.reservation(case)
        for _ in range(tries):
            if self.spend(reserved) is not None:
                return False
            answer = await send()
            self.settle(reserved, answer)
            self.waits.append(answer)
            if not timed_out(answer):
                return answer.response is not None
        return False

    def _keep(self, signature: tuple, group: list[tuple[Case, Request]], exchange: Exchange) -> None:
        self._by_signature[signature] = exchange
        for case, _ in group:
            self.exchanges[case.id] = exchange

    def evaluate(self, item: Item) -> Result:
        if item.case.id not in self.exchanges:
            self.execute([item.case])
        result = self._judged.pop(item.id, None) or _checks.evaluate(item.check, item.case,
                                                                     self.exchanges[item.case.id], self.context,
                                                                     self.profile)
        if self.baseline is not None:
            result = self.baseline.apply(result)
        self.results.append(result)
        return result

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

    def stats(self) -> dict[str, float | int]:
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
            **({"max_tokens": self.max_tokens, "tokens_counted": self._tokens} if self.max_tokens is not None else {}),
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


def run(
    target: Target,
    *,
    api: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    profile: Profile | str | None = None,
    max_requests: int | None = None,
    max_tokens: int | None = None,
) -> Runner:
    """Run every check of ``api`` against ``target`` without pytest; the runner holds the results."""
    if not isinstance(profile, Profile):
        profile = _profiles.load(profile)
    runner = Runner(target, concurrency, profile, max_requests, max_tokens=max_tokens)
    api = api or target.api
    selected = [i for i in items(api) if selects(api, target.task, i.case.api, i.case.route)]
    runner.execute(dict.fromkeys(item.case for item in selected))
    for item in selected:
        runner.evaluate(item)
    return runner
