"""The results document (``--json``; described by ``schemas/results.json``) and secret redaction."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from . import _metrics
from ._checks import Outcome, Result
from ._exchange import MIN_SECRET_LENGTH, REDACTED, Exchange
from ._version import __version__

RESULTS_SCHEMA = "results.json"


# Keys that local servers document as placeholders (vLLM's "EMPTY", llama.cpp's "sk-no-key-required", Ollama's
# "ollama", LM Studio's "lm-studio"): not secrets, and words a body may well contain ("tool_choice": "none").
PLACEHOLDER_KEYS = frozenset({"empty", "none", "null", "ollama", "lm-studio", "sk-no-key-required", "no-key",
                              "dummy", "test", "token", "key", "api-key", "sk-xxx", "x", "-", "abc123"})
_WORD = "A-Za-z0-9_\\-"


def _pattern(secret: str) -> re.Pattern[str]:
    # the key as a whole word only: a short key never matches inside another word ("k" in "max_tokens")
    return re.compile(f"(?<![{_WORD}]){re.escape(secret)}(?![{_WORD}])")


def redact(value: Any, secrets: list[str]) -> Any:
    """``value`` with every secret a server may have echoed replaced, inside strings, lists and dicts: each
    secret where it stands as a whole word; placeholder keys and keys shorter than MIN_SECRET_LENGTH never (they
    are not secrets, and would match ordinary text by chance). Requests never need this: their curl reads
    the key from the environment."""
    patterns = [_pattern(s) for s in secrets if len(s) >= MIN_SECRET_LENGTH and s.lower() not in PLACEHOLDER_KEYS]
    return _redact(value, patterns) if patterns else value


def _redact(value: Any, patterns: list[re.Pattern[str]]) -> Any:
    if isinstance(value, str):
        for pattern in patterns:
            value = pattern.sub(REDACTED, value)
        return value
    if isinstance(value, list):
        return [_redact(v, patterns) for v in value]
    if isinstance(value, dict):
        return {k: _redact(v, patterns) for k, v in value.items()}
    return value


def response_text(exchange: Exchange) -> str:
    """A response as it came back (status, headers, body), or the transport error; to be redacted."""
    response = exchange.response
    if response is None:
        return f"no response: {exchange.error}"
    head = [f"HTTP {response.status}", *(f"{k}: {v}" for k, v in response.headers.items())]
    return "\n".join(head) + "\n\n" + response.body.decode("utf-8", errors="replace")


def redact_result(result: Result, secrets: list[str]) -> Result:
    """Echoed secrets out of what a result quotes of the server (message, expected, received, traceback); its
    curl reads the key from the environment already."""
    for name in ("message", "expected", "received", "traceback"):
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
