"""The copies of a case sent at once (``concurrent``), once it was answered and nothing else is in flight or waiting:
whether a server's streams survive other requests. A copy cut in the middle of its answer is confirmed by a second
round, never blamed on one; copies that time out say nothing, and are sent again once the endpoint answers the
request alone in time."""

from __future__ import annotations

from collections.abc import Iterable

from ..contract.cases import Case
from ..wire import answers as _answers
from ..wire.exchange import Exchange, Request
from ..wire.transport import timed_out
from .sending import Sender


async def send_copies(cases: Iterable[Case], exchanges: dict[str, Exchange], sender: Sender, concurrency: int,
                      waits: list[Exchange]) -> None:
    """Each of ``cases`` that asks for it and was answered (``exchanges``) sent ``concurrent`` times at once (at most
    ``concurrency``), its rounds kept as its exchange's ``under_load``; the requests that waited for a busy endpoint,
    and the copies they made void, go to ``waits``."""
    if concurrency < 2:
        return
    for case in cases:
        exchange = exchanges.get(case.id)
        if case.concurrent > 1 and exchange is not None and exchange.response is not None \
                and not exchange.under_load:
            async with sender.gate.alone(idle=True):
                exchange.under_load = await _under_load(case, exchange.request, min(case.concurrent, concurrency),
                                                        sender, waits)


async def _under_load(case: Case, request: Request, copies: int, sender: Sender, waits: list[Exchange]
                      ) -> tuple[tuple[Exchange, ...], ...]:
    """``copies`` of ``request`` sent at once, each on a connection of its own; a second round when a copy was
    interrupted (not when it timed out: that costs the deadline again). Only rounds the request budget and the token
    budget pay for in full are sent."""
    rounds: list[tuple[Exchange, ...]] = []
    waited = False
    while len(rounds) < 2 and (sent := await sender.at_once(case, request, copies)) is not None:
        rounds.append(sent)
        if any(map(_answers.interrupted, rounds[-1])):
            continue
        # Copies that timed out, none interrupted, say nothing: the endpoint was still busy (a single-slot server
        # goes on generating what other requests gave up on). Once it answers the request alone in time, the round
        # is sent again; once only.
        if not waited and any(map(timed_out, rounds[-1])):
            waited = True
            if await _idle(case, request, sender, waits):
                waits.extend(rounds.pop())
                continue
        break
    return tuple(rounds)


async def _idle(case: Case, request: Request, sender: Sender, waits: list[Exchange], tries: int = 3) -> bool:
    """Whether the endpoint answers ``request`` alone, in time, within ``tries`` attempts (each within the request
    budget): how a run waits for a busy endpoint to work off what it still generates."""
    for _ in range(tries):
        sent = await sender.at_once(case, request, 1)
        if sent is None:
            return False
        waits.append(answer := sent[0])
        if not timed_out(answer):
            return answer.response is not None
    return False
