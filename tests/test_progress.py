"""The progress bar: drawn on a terminal only, with requests sent of planned and failures so far."""

from __future__ import annotations

import io
import time
from types import SimpleNamespace

from rich.console import Console

from infercheck._progress import RunProgress, planned
from infercheck.checks.base import Outcome, Result


def state(sent: int, failed: int) -> SimpleNamespace:
    results = [Result("c", "k", Outcome.FAILED, "high", "t") for _ in range(failed)]
    return SimpleNamespace(runner=SimpleNamespace(requests_sent=sent), results=results)


def test_a_terminal_gets_a_bar_with_requests_and_failures():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with RunProgress(console, lambda: state(7, 2), planned=20, delay=0):
        time.sleep(0.6)
    drawn = out.getvalue()
    assert "requests" in drawn and "7/20" in drawn and "2 failed (2 high)" in drawn and "left" in drawn


def test_no_terminal_no_bar_and_a_quick_run_none_either():
    out = io.StringIO()
    with RunProgress(Console(file=out, force_terminal=False), lambda: state(7, 2), planned=20, delay=0):
        time.sleep(0.3)
    assert out.getvalue() == ""
    quick = io.StringIO()
    with RunProgress(Console(file=quick, force_terminal=True), lambda: state(7, 2), planned=20, delay=5):
        pass
    assert quick.getvalue() == ""


def test_before_the_runner_starts_nothing_is_counted():
    assert RunProgress(Console(file=io.StringIO()), lambda: None, planned=5).counts() == (0, "0 failed")


def test_the_planned_requests_respect_max_requests():
    assert planned("openai", None, 10) == 10 and planned("openai", None) > 300
