"""The one way a run sends a request: the cases and every property suite alike.

A request takes a slot of the gate of ``--concurrency``; is refused (not sent) when the circuit breaker gave its
route up, when its lane stopped, for the caller's own reason, or when the budgets are spent; is sent within its
bounds; settles the token budget. An answer in doubt is confirmed before it is blamed on the request: sent again
alone, on a fresh connection, with nothing else in flight, and that answer is the one judged and the one the breaker
counts. In doubt are a transport failure (a reset, a connection dropped before the answer), and, while other requests
could be in flight, a timeout (the load may be the run's own: the gate narrows when the request answers alone in
time) and a completion stream that ended before its finish_reason (a server may stop a running stream for another
request). ``confirming=False`` sends without confirming anything, for a load that is meant to be one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from ..contract import cases as _cases
from ..contract.cases import Case
from ..wire import answers as _answers
from ..wire.exchange import Exchange, Request
from ..wire.transport import Bounds, confirm, lost, open_client, send_async, silent, timed_out
from .gate import Gate
from .limits import Breaker, Budget, route_of


class Lane:
    """The requests of one part of a run that answer for each other: the cases, or one property suite. While one of
    its requests awaits its confirmation, the lane sends nothing more: against an endpoint that answers nothing, its
    queued requests would otherwise each wait out the deadline before the confirmation settles the matter. A lane
    that ``stops`` (a property suite: a timeout is not shrunk) sends nothing more, and confirms no timeout more, once
    one of its requests went unanswered."""

    def __init__(self, *, stops: bool = False):
        self.stops = stops
        self.unanswered: str | None = None  # what became of a request that timed out, or stayed rate limited
        self.sent = 0  # the lane's requests sent (not counting confirmations)
        self.doubts = 0  # the lane's requests awaiting their confirmation
        self.settled = asyncio.Event()  # set while none does
        self.settled.set()


class Sender:
    """Sends on ``client`` (``open_client``: at most ``gate.width`` connections), through ``gate``, within the
    ``budget``, counted by the ``breaker``."""

    def __init__(self, bounds: Bounds, gate: Gate, budget: Budget, breaker: Breaker, client: httpx.AsyncClient, *,
                 confirming: bool = True):
        self.bounds, self.gate, self.budget, self.breaker, self.client = bounds, gate, budget, breaker, client
        self.confirming = confirming
        self.hanging = 0  # confirmations that timed out alone too, since a route of theirs last answered
        self.hung: set[str] = set()  # the routes of those confirmations

    async def send(self, case: Case, request: Request, lane: Lane, *, rank: int = Gate.LATER,
                   refusal: Callable[[], str | None] | None = None) -> Exchange:
        """``request``, made for ``case``, sent or refused: a refused one is an exchange not sent (``sent`` False),
        whose ``error`` says why (``abandoned`` when the breaker gave its route up). ``rank``: the gate's
        (``Gate.FIRST`` for requests others wait for). ``refusal``: the caller's own reason not to send, asked in
        the slot, after the breaker and the lane and before the budgets."""
        while True:
            await lane.settled.wait()  # none of the lane's requests awaits its confirmation
            async with self.gate.slot(rank):
                if not lane.settled.is_set():
                    continue  # one went unanswered meanwhile: its slot back, and wait for its confirmation
                why = self._refusal(case, request, lane, refusal)
                if why is not None:
                    return Exchange(case.id, request, error=why, stream=case.stream, sent=False,
                                    abandoned=self.breaker.why(request) is not None)
                lane.sent += 1
                alone = self.gate.width == 1
                exchange = await send_async(self.client, case.id, request, self.bounds, stream=case.stream)
                exchange.alone = alone
                self.budget.settle(_cases.reservation(case), exchange)
            break
        self.gate.answered(not timed_out(exchange))
        if self.hung and exchange.response is not None and route_of(request) in self.hung:
            self.hanging = 0  # the route that hung answers others: what hung was those requests, not the endpoint
        if self.confirming:
            exchange, counts = await self._confirmed(exchange, lane)
        else:
            counts = True
        if counts:
            self.breaker.record(exchange)
        if silent(exchange):
            lane.unanswered = exchange.error or f"still {exchange.response.status} after {exchange.retries} retries"
        return exchange

    def _refusal(self, case: Case, request: Request, lane: Lane, refusal: Callable[[], str | None] | None
                 ) -> str | None:
        why = self.breaker.why(request)
        if why is not None:
            return why
        if lane.stops and lane.unanswered is not None:
            return (f"a request of this suite went unanswered ({lane.unanswered}): that is not shrunk, and the "
                    "suite sends nothing more")
        why = refusal() if refusal is not None else None
        return why if why is not None else self.budget.spend(_cases.reservation(case))

    async def _confirmed(self, exchange: Exchange, lane: Lane) -> tuple[Exchange, bool]:
        """``exchange``, or when it is in doubt, the answer to its request sent again alone (see the module); and
        whether the breaker counts it: not a timeout under load left unconfirmed (only a suite that stopped leaves
        one so), for the load may be the run's own."""
        loaded = self.gate.width > 1  # other requests could have been in flight
        ended = loaded and _answers.ended_early(exchange)
        doubted = lost(exchange) or (loaded and timed_out(exchange)) or ended
        if not doubted:
            return exchange, True
        if not self._worth(exchange, lane):
            return exchange, not (loaded and timed_out(exchange) and self.hanging < 2)
        lane.doubts += 1
        lane.settled.clear()
        try:
            async with self.gate.alone():
                if self._worth(exchange, lane):  # still, now that nothing else is in flight
                    first, exchange = exchange, await confirm(exchange, self.bounds, timeouts=True, ended=ended)
                    exchange.alone = True
                    if timed_out(first) and not timed_out(exchange):
                        took = f" in {exchange.response.elapsed:.1f} s" if exchange.response is not None else ""
                        self.gate.narrow(f"{exchange.case_id} timed out under load and was answered alone{took}")
                    self.hanging = self.hanging + 1 if timed_out(exchange) else 0
                    if timed_out(exchange):
                        self.hung.add(route_of(exchange.request))
        finally:
            lane.doubts -= 1
            if not lane.doubts:
                lane.settled.set()
        return exchange, True

    def _worth(self, exchange: Exchange, lane: Lane) -> bool:
        """Whether a doubt is worth confirming: not when its route was given up; nor a timeout once two requests sent
        alone timed out too and their routes answered nothing since (a third would cost the deadline again, for an
        endpoint that answers nothing there), nor one of a suite that stopped. A timeout behind requests that hang,
        while their routes answer others, is still confirmed: it may have waited for their slots."""
        if self.breaker.why(exchange.request) is not None:
            return False
        return not (timed_out(exchange) and (self.hanging >= 2 or (lane.stops and lane.unanswered is not None)))

    async def at_once(self, case: Case, request: Request, copies: int) -> tuple[Exchange, ...] | None:
        """``copies`` of ``request`` sent at once, each on a connection of its own, outside the gate (the caller
        holds it), none confirmed; None when the budgets cannot pay for all of them."""
        reserved = _cases.reservation(case)
        if self.budget.spend(reserved, copies) is not None:
            return None

        async def copy() -> Exchange:
            async with open_client(self.bounds, keep_alive=False) as client:
                return await send_async(client, case.id, request, self.bounds, stream=case.stream)

        sent = tuple(await asyncio.gather(*(copy() for _ in range(copies))))
        for exchange in sent:
            self.budget.settle(reserved, exchange)
        return sent
