"""The results document (``--json``; described by ``schemas/results.json``), its counts, the verdict and exit status."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from .._version import __version__
from ..checks.base import Outcome, Result
from ..wire import metrics as _metrics

RESULTS_SCHEMA = "results.json"


def summary(results: list[Result]) -> dict[str, int]:
    counts = Counter(r.outcome for r in results)
    return {
        "passed": counts[Outcome.PASSED],
        "failed": counts[Outcome.FAILED],
        "errors": counts[Outcome.ERROR],
        "deviations": counts[Outcome.DEVIATION],
        "skipped": counts[Outcome.SKIPPED],
        "known": counts[Outcome.KNOWN],
    }


EXIT_OK, EXIT_FAILED, EXIT_INCOMPLETE = 0, 1, 2
FAIL_ON = ("failed", "deviation", "never")  # which outcomes fail a run (--fail-on); internal errors always do


def verdict(counts: dict[str, int], fail_on: str = "failed") -> tuple[str, int]:
    """The verdict of a run and its exit status, from its summary counts alone. An internal error makes a run
    INCOMPLETE (exit 2) whatever else it found: the checks it stopped decided nothing. ``fail_on`` chooses what
    else gives exit 1: failures (the default), failures and deviations, or nothing."""
    failed = f"{counts['failed']} failed"
    known = counts.get("known", 0)
    if counts["errors"]:
        return (f"INCOMPLETE: {counts['errors']} internal error(s)" + (f"; {failed}" if counts["failed"] else ""),
                EXIT_INCOMPLETE)
    status = EXIT_FAILED if fail_on != "never" else EXIT_OK
    if counts["failed"]:
        return f"NOT CONFORMANT: {failed}" + (f" and {known} known" if known else ""), status
    if counts["deviations"] and fail_on == "deviation":
        return f"NOT CONFORMANT: {counts['deviations']} deviation(s) (--fail-on deviation)", EXIT_FAILED
    if known:
        return f"NO NEW FAILURES: {known} known failure(s) from the baseline", EXIT_OK
    return "CONFORMANT", EXIT_OK


def document(*, target: dict[str, Any], results: list[Result], stats: dict[str, Any],
             metrics: dict[str, Any] | None = None, samples: dict[str, list[float]] | None = None) -> dict[str, Any]:
    return {
        "tool": {"name": "infercheck", "version": __version__},
        "target": target,
        "summary": summary(results),
        "stats": stats,
        "metrics": metrics if metrics is not None else _metrics.empty(),
        "latency_samples": samples or {"ttft_ms": [], "itl_ms": []},
        "results": [r.to_json() for r in results],
    }


def write(path: str | Path, doc: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
