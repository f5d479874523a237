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
    so an answer missing under load is asked again with nothing else running before it is blamed. With ``idle`` it
    waits until nothing is in flight or waiting, holding no slot meanwhile (the copies of a case sent at once to see
    whether its streams survive each other: nothing waits for them, so they cost no draining of the others).
    ``narrow`` halves the width for the rest of the run (a server that answers alone what timed out under load
    cannot keep up)."""

    FIRST, LATER = 0, 1

    def __init__(self, width: int):
        self.width, self._free, self.quiet = width, width, asyncio.Lock()
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []  # a heap: (rank, arrival, granted)
        self._arrivals = itertools.count()
        self._idle = asyncio.Event()

    async def _acquire(self, rank: int) -> None:
        if self._free and not self._waiting:
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
        while self._waiting:
            _, _, granted = heapq.heappop(self._waiting)
            if not granted.done():  # a cancelled waiter's is done
                granted.set_result(None)
                return
        self._free += 1
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
            while self._free < self.width or self._waiting:
                self._idle.clear()
                await self._idle.wait()
            taken, self._free = self._free, 0  # every slot at once: nothing can come between
            try:
                yield
            finally:
                for _ in range(taken):
                    self._release()
            return
        async with self.quiet:  # one at a time, to the end: a claim on every slot waits for no other
            for _ in range(self.width):
                await self._acquire(self.FIRST)
            try:
                yield
            finally:
                for _ in range(self.width):  # a narrowed gate keeps the difference, for good
                    self._release()

    def narrow(self) -> None:
        """Only while ``alone``: the slots it took and does not give back are gone."""
        self.width = max(1, self.width // 2)
