"""The comparison (and the one-target HTML page) puts the checks some target did not pass first."""

from __future__ import annotations

from infercheck.checks.base import Outcome, Result
from infercheck.reports.comparison import Run, build
from infercheck.reports.results import document


def _doc(results: list[Result]) -> dict:
    return document(target={"base_url": "http://h/v1", "model": "m", "api": "openai", "embedded": False},
                    results=results, stats={"requests": 1, "completion_tokens": 0})


def test_failing_rows_come_first_then_deviations_then_passes_by_severity():
    results = [Result(check, "c", outcome, severity, "t", "m") for check, outcome, severity in (
        ("a-passes", Outcome.PASSED, "critical"), ("b-passes", Outcome.PASSED, "low"),
        ("c-deviates", Outcome.DEVIATION, "high"), ("d-fails-low", Outcome.FAILED, "low"),
        ("e-fails-high", Outcome.FAILED, "high"))]
    page = build([Run("one", _doc(results)), Run("two", _doc([Result("a-passes", "c", Outcome.FAILED, "critical",
                                                                            "t", "m")]))])
    assert list(page["checks"]) == ["a-passes", "e-fails-high", "d-fails-low", "c-deviates", "b-passes"]
    assert list(page["matrix"]) == list(page["checks"])
