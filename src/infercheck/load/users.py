"""The load itself: ``users`` each sending the workload one request at a time (a closed loop) for a duration, through
the one send path (``engine/sending.py``) with nothing confirmed alone and no route given up (under load, the rate
of what goes wrong IS the finding), every answer checked as it arrives.

The users take the workload's requests in turn from one shared cycle, so each step sends the same mix; user ``i``
starts ``i / spawn_rate`` seconds after the first (all at once without a spawn rate). A user's request in flight when
the duration ends is awaited and counted; the step's duration runs to the last answer.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable

from ..contract.profiles import Profile
from ..engine.gate import Gate
from ..engine.limits import Breaker, Budget
from ..engine.sending import Lane, Sender
from ..engine.target import Target
from ..wire.transport import open_client
from .tally import Tally
from .workload import Work, broken, judge


async def alone(target: Target, works: list[Work]) -> list[Work]:
    """Each of ``works`` sent once, alone, one after another: its answer kept as ``Work.alone``."""
    done = []
    async with open_client(target.bounds, 1) as client:
        sender = Sender(target.bounds, Gate(1), Budget(), Breaker(0), client, confirming=False)
        lane = Lane()
        for work in works:
            exchange = await sender.send(work.case, work.request, lane)
            done.append(Work(work.case, work.request, work.checks, exchange))
    return done


async def closed_loop(target: Target, profile: Profile, works: list[Work], tally: Tally, duration: float, *,
                      spawn_rate: float | None = None, answered: Callable[[Tally], None] | None = None) -> Tally:
    """``tally.users`` users sending ``works`` for ``duration`` seconds; each answer judged into ``tally``
    (``answered`` told after each)."""
    users = tally.users
    turns = itertools.cycle(works)
    async with open_client(target.bounds, users) as client:
        sender = Sender(target.bounds, Gate(users), Budget(), Breaker(0), client, confirming=False)
        lane = Lane()
        started = time.perf_counter()
        deadline = started + duration

        async def user(index: int) -> None:
            if spawn_rate:
                await asyncio.sleep(min(index / spawn_rate, max(0.0, deadline - time.perf_counter())))
            while time.perf_counter() < deadline:
                work = next(turns)
                exchange = await sender.send(work.case, work.request, lane)
                tally.add(exchange, broken(judge(work, exchange, target, profile)))
                if answered is not None:
                    answered(tally)

        await asyncio.gather(*(user(i) for i in range(users)))
        tally.elapsed = time.perf_counter() - started
    return tally
