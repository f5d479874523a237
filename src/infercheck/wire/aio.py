"""Running infercheck's coroutines from synchronous code, whether or not the caller's thread runs an event loop.

In a notebook (Jupyter, IPython) the caller's thread already runs a loop, where ``asyncio.run`` refuses to
start. There the coroutines run on a private loop in a worker thread, and the caller waits for them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)``, also from a thread whose event loop is running."""
    if not _loop_running():
        return asyncio.run(coro)
    with Loop() as loop:
        return loop.run(coro)


class Loop:
    """One event loop for many calls (a client lives on it): the caller's own, or a private one in a worker
    thread when the caller's thread already runs a loop."""

    def __init__(self) -> None:
        self._runner: asyncio.Runner | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        if not _loop_running():
            self._runner = asyncio.Runner()
            return
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="infercheck-loop")
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._runner is not None:
            return self._runner.run(coro)
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result()

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
            return
        if self._loop is not None and self._thread is not None:
            self.run(self._loop.shutdown_asyncgens())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()
            self._loop = self._thread = None

    def __enter__(self) -> Loop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
