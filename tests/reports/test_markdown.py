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


def test_two_runs_of_one_seed_write_their_results_in_the_same_order():
    from infercheck import embedded, resolve, run

    orders = []
    for _ in range(2):
        with embedded(faults=("created-millis",)) as url:
            runner = run(resolve(url), max_examples=3, seed=5, concurrency=8)
        doc = _doc(runner.results)
        orders.append([(r["case"], r["check"], r["outcome"]) for r in doc["results"]])
    assert orders[0] == orders[1] and len(orders[0]) > 100
    cases = [case for case, _, _ in orders[0]]
    from infercheck.contract import cases as _cases

    files = [c.id for c in _cases.load("openai")]
    seen = [c for c in dict.fromkeys(cases) if not c.startswith("property.")]
    assert seen == [c for c in files if c in seen]  # the cases in their files' order
    assert max(i for i, c in enumerate(cases) if not c.startswith("property.")) < \
        min(i for i, c in enumerate(cases) if c.startswith("property."))
