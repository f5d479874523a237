"""The gate of ``--concurrency`` that everything one run sends at once goes through."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Gate:
    """At most ``width`` requests in flight, shared by whatever one run sends at once (the cases, every property
    suite). A slot that frees goes to the longest-waiting request of the first rank that has one (``slot(rank)``):
    requests others wait for (the cases, whose answers derived cases and comparisons need; the waves that shrink a
    failure) go before requests nothing waits for, so the run does not end on a chain of them with the endpoint
    idle. ``alone`` waits until nothing else is in flight and keeps it so: some servers cut a running stream when
    another request arrives, and a single-slot server queues requests until the last ones outlive their deadline,
    so an answer missing under load is asked again with nothing else running before it is blamed. From the moment it
    asks until the last ``alone`` waiting ends, every slot that frees is kept for them: none goes to another request
    meanwhile. With ``idle`` it
    waits until nothing is in flight or waiting, holding no slot meanwhile (the copies of a case sent at once to see
    whether its streams survive each other: nothing waits for them, so they cost no draining of the others).
    ``narrow`` halves the width (a server that answers alone what timed out under load cannot keep up with it), and
    ``answered`` grows it back slowly, as TCP's congestion control does: one slot more after as many requests answered
    in a row as there are slots, up to the width it began with; ``changes`` says what happened, for the report."""

    FIRST, LATER = 0, 1

    def __init__(self, width: int):
        self.width, self._free, self.quiet = width, width, asyncio.Lock()
        self.full, self.lowest = width, width  # the width asked for, and the narrowest it became
        self.changes: list[str] = []  # each narrowing and growing, said in words
        self.narrowed = 0  # times it narrowed
        self._answered = 0  # requests answered in a row since the width last changed
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []  # a heap: (rank, arrival, granted)
        self._arrivals = itertools.count()
        self._idle = asyncio.Event()
        self._claims = 0  # `alone`s waiting or running: while there are any, no slot is handed to anyone else

    async def _acquire(self, rank: int) -> None:
        if self._free and not self._waiting and not self._claims:
            self._free -= 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (rank, next(self._arrivals), granted))
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():  # the slot came with the cancellation: hand it on
                self._release()
            raise

    def _release(self) -> None:
        self._free += 1
        self._dispatch()

    def _dispatch(self) -> None:
        """Hand the free slots to the waiting requests, best rank and longest waiting first (none while an ``alone``
        waits or runs)."""
        while self._free and self._waiting and not self._claims:
            _, _, granted = heapq.heappop(self._waiting)
            if not granted.done():  # a cancelled waiter's is done
                self._free -= 1
                granted.set_result(None)
        if self._free >= self.width:
            self._idle.set()

    @asynccontextmanager
    async def slot(self, rank: int = LATER) -> AsyncIterator[None]:
        await self._acquire(rank)
        try:
            yield
        finally:
            self._release()

    @asynccontextmanager
    async def alone(self, *, idle: bool = False) -> AsyncIterator[None]:
        if idle:
            while self._free < self.width or self._waiting or self._claims:
                self._idle.clear()
                await self._idle.wait()
            taken, self._free = self._free, 0  # every slot at once: nothing can come between
            try:
                yield
            finally:
                for _ in range(taken):
                    self._release()
            return
        self._claims += 1  # from now on every slot that frees is kept for the `alone`s
        try:
            async with self.quiet:  # one at a time, to the end
                while self._free < self.width:
                    self._idle.clear()
                    await self._idle.wait()
                self._free = 0
                try:
                    yield
                finally:
                    self._free = self.width  # a narrowed gate keeps the difference, for good
        finally:
            self._claims -= 1
            self._dispatch()  # to the next `alone`, or once none waits, to the waiting requests

    def narrow(self, why: str) -> None:
        """Only while ``alone``: the slots it took and does not give back are gone until ``answered`` grows them."""
        if self.width > 1:
            self.changes.append(f"{self.width} -> {self.width // 2}: {why}")
            self.narrowed += 1
        self.width = max(1, self.width // 2)
        self.lowest = min(self.lowest, self.width)
        self._answered = 0

    def answered(self, in_time: bool) -> None:
        """A request sent under load came back: answered in time, or not (which starts the count again)."""
        if not in_time or self.width >= self.full:
            self._answered = 0
            return
        self._answered += 1
        if self._answered >= self.width:
            self.changes.append(f"{self.width} -> {self.width + 1}: {self._answered} requests in a row answered in time")
            self.width, self._answered = self.width + 1, 0
            self._release()  # the slot it gains
