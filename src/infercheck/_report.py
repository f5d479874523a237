"""The results document (``--json``; described by ``schemas/results.json``) and secret redaction."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from ._checks import Outcome, Result
from ._exchange import REDACTED
from ._version import __version__

RESULTS_SCHEMA = "results.json"


def redact(value: Any, secrets: list[str]) -> Any:
    """``value`` with every secret replaced, inside strings, lists and dicts."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, list):
        return [redact(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: redact(v, secrets) for k, v in value.items()}
    return value


def redact_result(result: Result, secrets: list[str]) -> Result:
    """Secrets out of everything a result shows (message, expected, received, curl, traceback)."""
    for name in ("message", "expected", "received", "curl", "traceback"):
        setattr(result, name, redact(getattr(result, name), secrets))
    return result


def summary(results: list[Result]) -> dict[str, int]:
    counts = Counter(r.outcome for r in results)
    return {
        "passed": counts[Outcome.PASSED],
        "failed": counts[Outcome.FAILED],
        "errors": counts[Outcome.ERROR],
        "deviations": counts[Outcome.DEVIATION],
        "skipped": counts[Outcome.SKIPPED],
    }


EXIT_OK, EXIT_FAILED, EXIT_INCOMPLETE = 0, 1, 2


def verdict(counts: dict[str, int]) -> tuple[str, int]:
    """The verdict of a run and its exit status, from its summary counts alone. An internal error makes a run
    INCOMPLETE (exit 2) whatever else it found: the checks it stopped decided nothing."""
    failed = f"{counts['failed']} failed"
    if counts["errors"]:
        return (f"INCOMPLETE: {counts['errors']} internal error(s)" + (f"; {failed}" if counts["failed"] else ""),
                EXIT_INCOMPLETE)
    if counts["failed"]:
        return f"NOT CONFORMANT: {failed}", EXIT_FAILED
    return "CONFORMANT", EXIT_OK


def document(*, target: dict[str, Any], results: list[Result], stats: dict[str, Any]) -> dict[str, Any]:
    return {
        "tool": {"name": "infercheck", "version": __version__},
        "target": target,
        "summary": summary(results),
        "stats": stats,
        "results": [r.to_json() for r in results],
    }


def write(path: str | Path, doc: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
