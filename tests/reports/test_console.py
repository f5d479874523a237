"""The terminal summary says what the run did to its own load."""

from __future__ import annotations

import io

from rich.console import Console

from infercheck.reports.console import summarise


def _printed(stats: dict) -> str:
    out = io.StringIO()
    summarise(Console(file=out, width=200), [], {"requests": 3, "completion_tokens": 0, "loading_waited_s": 0,
                                                 **stats}, "default", 1.0, verbose=False, seed=None)
    return out.getvalue()


def test_a_narrowed_run_says_how_far_and_why():
    text = _printed({"concurrency": 8, "concurrency_lowest": 2, "concurrency_end": 3, "narrowed": 2,
                     "concurrency_changes": ["8 -> 4: c timed out under load and was answered alone in 1.2 s",
                                             "4 -> 2: d timed out under load and was answered alone in 0.9 s"]})
    assert "concurrency: narrowed 2 time(s) from 8 to as few as 2" in text and "3 at the end" in text
    assert "first: 8 -> 4: c timed out under load and was answered alone in 1.2 s" in text


def test_a_run_that_never_narrowed_says_nothing_of_it():
    assert "concurrency" not in _printed({})
