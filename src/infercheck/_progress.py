"""A progress bar for ``infercheck run`` on a terminal: requests sent of those planned, and failures so far.

Shown only when the output is a terminal and the run has taken more than a couple of seconds; it disappears when
the run ends (the summary follows). Elsewhere (a CI log, a pipe) nothing is drawn."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .checks.base import Outcome
from .contract import cases as _cases
from .generation.requests import DEFAULT_MAX_EXAMPLES, cost

DELAY = 2.0  # seconds before the bar appears: a quick run needs none


class RunProgress:
    def __init__(self, console: Console, state: Callable[[], Any], planned: int, *, delay: float = DELAY):
        self.console, self.state, self.planned, self.delay = console, state, planned, delay
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._show, daemon=True, name="infercheck-progress")

    def __enter__(self) -> RunProgress:
        if self.console.is_terminal:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def counts(self) -> tuple[int, int]:
        """(requests sent, failures so far)."""
        state = self.state()
        runner = getattr(state, "runner", None)
        if runner is None:
            return 0, 0
        failures = sum(1 for r in list(state.results) if r.outcome is Outcome.FAILED)
        return runner.requests_sent, failures

    def _show(self) -> None:
        if self._stop.wait(self.delay):
            return
        columns = (TextColumn("requests"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("[red]{task.fields[failures]} failed"), TimeElapsedColumn())
        with Progress(*columns, console=self.console, transient=True) as progress:
            task = progress.add_task("run", total=self.planned, failures=0)
            while not self._stop.wait(0.2):
                sent, failures = self.counts()
                progress.update(task, completed=sent, total=max(self.planned, sent), failures=failures)


def planned(api: str, max_examples: int | None) -> int:
    """At most how many requests a run sends (the cases, and the property suites at their default size)."""
    cases = _cases.cost(_cases.load(api))["requests"] if api == "openai" else len(_cases.load(api))
    generated = cost(max_examples or DEFAULT_MAX_EXAMPLES)["requests"] if api == "openai" else 0
    return cases + generated
