"""The terminal summary says what the run did to its own load."""

from __future__ import annotations

import io

from rich.console import Console

from infercheck.checks.base import Outcome, Result
from infercheck.reports.console import by_cause, summarise


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


def _failed(check: str, case: str, message: str, severity: str = "medium", kinds: tuple = ()) -> Result:
    return Result(check, case, Outcome.FAILED, severity, "t", message, kinds=kinds,
                  curl=f"curl http://h/v1/x --data-raw '{case}'")


def test_one_cause_is_one_block_the_most_severe_first_and_a_table_by_check():
    failures = [_failed("created-recent", f"case{i}", f"created is {1796635558899 + i}, +{i} s from now",
                        kinds=("created-skew",)) for i in range(30)]
    failures.append(_failed("stop-honoured", "chat.stop", "the text still contains 'time'", "high", ("stop-in-text",)))
    out = io.StringIO()
    summarise(Console(file=out, width=200), failures, {"requests": 31, "completion_tokens": 0,
                                                       "loading_waited_s": 0}, "default", 1.0, verbose=False,
              seed=None)
    text = out.getvalue()
    assert text.count("FAILED [") == 2 and len(text.splitlines()) < 40
    assert text.index("FAILED [high] stop-honoured") < text.index("FAILED [medium] created-recent: t (30 cases)")
    assert "kinds: created-skew" in text and "kinds: stop-in-text" in text
    assert "the same cause in 29 more case(s): case1, case2" in text and "and 21 more" in text
    assert "31 failure(s), 2 unique: by check" in text
    assert text.count("curl http://h/v1/x") == 2  # one example each


def test_failures_of_one_check_for_different_reasons_stay_apart():
    a = _failed("schema", "a", "$.x: 1 is not of type 'string'", kinds=("type",))
    b = _failed("schema", "b", "$.y is a required property", kinds=("required",))
    c = _failed("schema", "c", "$.x: 2 is not of type 'string'", kinds=("type",))
    assert [[r.case for r in g] for g in by_cause([a, b, c])] == [["a", "c"], ["b"]]
    assert a.to_json()["kinds"] == ["type"] and "kinds" not in _failed("x", "y", "z").to_json()
