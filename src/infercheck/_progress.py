"""A progress bar for ``infercheck run`` on a terminal: requests sent of those planned, and failures so far.

Shown only when the output is a terminal and the run has taken more than a couple of seconds; it disappears when
the run ends (the summary follows). Elsewhere (a CI log, a pipe) nothing is drawn."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, TextIO

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

from .checks.base import SEVERITIES, Outcome
from .contract import cases as _cases
from .generation.requests import DEFAULT_MAX_EXAMPLES, cost

DELAY = 1.0  # seconds before the bar appears: a quick run needs none


class RunProgress:
    def __init__(self, console: Console, state: Callable[[], Any], planned: int, *, delay: float = DELAY):
        self.console, self.state, self.planned, self.delay = console, state, planned, delay
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._show, daemon=True, name="infercheck-progress")
        self._file: TextIO | None = None

    def __enter__(self) -> RunProgress:
        if self.console.is_terminal:
            # pytest captures the run's standard output (its file descriptor) until the session ends: the bar is
            # drawn on a copy of the descriptor taken before, which still is the terminal
            try:
                fd = self.console.file.fileno()
            except (AttributeError, OSError, ValueError):  # not a file of the system's (a test's buffer)
                fd = None
            if fd is not None:
                self._file = os.fdopen(os.dup(fd), "w", encoding="utf-8", errors="replace")
                self.console = Console(file=self._file, force_terminal=True, width=self.console.width,
                                       color_system=self.console.color_system)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        if self._file is not None:
            self._file.close()

    def counts(self) -> tuple[int, str]:
        """(requests sent, failures so far by severity: "2 failed (1 critical, 1 high)")."""
        state = self.state()
        runner = getattr(state, "runner", None)
        if runner is None:
            return 0, "0 failed"
        failed = [r.severity for r in list(state.results) if r.outcome is Outcome.FAILED]
        by = ", ".join(f"{failed.count(s)} {s}" for s in SEVERITIES if s in failed)
        return runner.requests_sent, f"{len(failed)} failed" + (f" ({by})" if by else "")

    def _show(self) -> None:
        if self._stop.wait(self.delay):
            return
        columns = (TextColumn("requests"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("[red]{task.fields[failures]}"), TimeElapsedColumn(), TextColumn("left"),
                   TimeRemainingColumn())
        # no redirection of sys.stdout and sys.stderr: pytest swaps them too, and the two would restore each other's
        with Progress(*columns, console=self.console, transient=True, redirect_stdout=False,
                      redirect_stderr=False) as progress:
            task = progress.add_task("run", total=self.planned, failures="0 failed")
            while not self._stop.wait(0.2):
                sent, failures = self.counts()
                progress.update(task, completed=sent, total=max(self.planned, sent), failures=failures)


def planned(api: str, max_examples: int | None, max_requests: int | None = None) -> int:
    """At most how many requests a run sends (the cases, and the property suites at their size), within
    ``--max-requests``."""
    cases = _cases.cost(_cases.load(api))["requests"] if api == "openai" else len(_cases.load(api))
    generated = cost(max_examples or DEFAULT_MAX_EXAMPLES)["requests"] if api == "openai" else 0
    return min(cases + generated, max_requests or cases + generated)
