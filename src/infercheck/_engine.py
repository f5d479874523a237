"""Executing cases concurrently, once each, and evaluating checks over the recorded exchanges."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx

from . import _cases, _checks
from ._cases import Case
from ._checks import Check, Context, Result
from ._exchange import Exchange, Request
from ._target import Target
from ._transport import client_timeout, send_async

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


def _signature(request: Request) -> tuple[str, str, bytes | None]:
    return (request.method, request.url, request.body)


@dataclass
class Runner:
    """Sends each case's request once (concurrently) and evaluates checks over the exchanges."""

    target: Target
    concurrency: int = DEFAULT_CONCURRENCY
    exchanges: dict[str, Exchange] = field(default_factory=dict)
    results: list[Result] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._by_signature = {_signature(e.request): e for e in self.target.discovery if e.response is not None}

    @property
    def context(self) -> Context:
        return Context(base_url=self.target.base_url, model=self.target.model or "")

    def request_for(self, case: Case) -> Request:
        model = self.target.model or ""
        body = case.render_body(model)
        return Request(case.method, self.target.url(case.render_path(model)), self.target.headers(json_body=body is not None), body)

    def execute(self, cases: Iterable[Case]) -> None:
        """Send every case not sent yet; requests identical to one already made are not sent again."""
        pending: dict[tuple, list[Case]] = {}
        for case in cases:
            if case.id in self.exchanges:
                continue
            request = self.request_for(case)
            known = self._by_signature.get(_signature(request))
            if known is not None:
                self.exchanges[case.id] = known
            else:
                pending.setdefault(_signature(request), []).append(case)
        if pending:
            asyncio.run(self._send_all(pending))

    async def _send_all(self, pending: dict[tuple, list[Case]]) -> None:
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        timeout = client_timeout(self.target.timeout)
        gate = asyncio.Semaphore(self.concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:

            async def one(signature: tuple, cases: list[Case]) -> None:
                first = cases[0]
                async with gate:
                    exchange = await send_async(
                        client, first.id, self.request_for(first), deadline=self.target.timeout, stream=first.stream
                    )
                self._by_signature[signature] = exchange
                for case in cases:
                    self.exchanges[case.id] = exchange

            await asyncio.gather(*(one(sig, cases) for sig, cases in pending.items()))

    def evaluate(self, item: Item) -> Result:
        if item.case.id not in self.exchanges:
            self.execute([item.case])
        result = _checks.evaluate(item.check, item.case, self.exchanges[item.case.id], self.context)
        self.results.append(result)
        return result

    def stats(self) -> dict[str, float | int]:
        sent = {id(e): e for e in [*self.target.discovery, *self.exchanges.values()]}
        return {
            "requests": len(sent),
            "completion_tokens": sum(completion_tokens(e) for e in sent.values()),
            "duration_s": round(time.perf_counter() - self.started, 3),
        }


def completion_tokens(exchange: Exchange) -> int:
    """Tokens a response says it generated (usage.completion_tokens), 0 when it does not say."""
    response = exchange.response
    if response is None or not (200 <= response.status < 300):
        return 0
    documents = []
    if exchange.stream:
        for event in response.sse().events:
            try:
                documents.append(json.loads(event.data))
            except ValueError:
                continue
    else:
        try:
            documents.append(response.json())
        except ValueError:
            return 0
    for doc in reversed(documents):
        usage = doc.get("usage") if isinstance(doc, dict) else None
        if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
            return usage["completion_tokens"]
    return 0


def run(target: Target, *, api: str = "openai", concurrency: int = DEFAULT_CONCURRENCY) -> Runner:
    """Run every check of ``api`` against ``target`` without pytest; the runner holds the results."""
    runner = Runner(target, concurrency)
    selected = items(api)
    runner.execute(dict.fromkeys(item.case for item in selected))
    for item in selected:
        runner.evaluate(item)
    return runner
