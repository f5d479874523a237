"""The Markdown summary says the verdict as the terminal does (partial, interrupted) and each failure's kinds."""

from __future__ import annotations

from infercheck.checks.base import Outcome, Result
from infercheck.reports.markdown import run_summary
from infercheck.reports.results import document


def _doc(results: list[Result], **kwargs) -> dict:
    return document(target={"base_url": "http://h/v1", "model": "m", "api": "openai", "embedded": False},
                    results=results, stats={"requests": 3, "completion_tokens": 0}, **kwargs)


def test_a_failure_shows_its_kinds_and_a_partial_run_says_so():
    failed = Result("stop-honoured", "chat.stop", Outcome.FAILED, "high", "t", "the text still contains 'x'",
                    kinds=("stop-in-text",))
    spent = Result("status-code", "chat.n", Outcome.SKIPPED, "critical", "t",
                   "the request budget is spent (--max-requests 3)")
    page = run_summary(_doc([failed, spent]))
    assert "kinds: stop-in-text" in page
    assert page.startswith("## infercheck: NOT CONFORMANT: 1 failed (partial: 1 of 2 checks not run: 1 for a spent "
                           "budget (--max-requests/--max-tokens))")


def test_an_interrupted_run_says_so_with_its_exit_status():
    passed = Result("status-code", "chat.stop", Outcome.PASSED, "critical", "t")
    doc = _doc([passed], interrupted=True)
    assert doc["exit_status"] == 130 and "exit status 130" in run_summary(doc)
    assert run_summary(doc).startswith("## infercheck: INTERRUPTED: stopped (Ctrl-C) before it ended; 1 check(s)")
