"""The comparison document: results documents of several targets (or one) side by side, check by check.

``matrix[check][target]`` is the worst outcome of that check's results for that target: error, failed (a known
failure still fails), deviation, passed, skipped; a check the target's run did not reach is skipped. A target
whose run could not be made (exit 2 before any result) has no document, and its error instead."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._version import __version__
from ..wire.metrics import FIGURES
from ..checks.base import SEVERITIES
from .results import doc_verdict

OUTCOMES = ("passed", "failed", "deviation", "skipped", "error")
_WORST = ("error", "failed", "deviation", "passed", "skipped")
DETAILS_PER_CELL = 5  # results quoted per (check, target) cell that did not pass


@dataclass
class Run:
    """One target's run: its results document, or the error that kept it from giving one."""

    name: str
    doc: dict[str, Any] | None
    error: str | None = None
    status: int | None = None  # the run's exit status


def _outcome(result: dict[str, Any]) -> str:
    return "failed" if result["outcome"] == "known" else result["outcome"]


def build(runs: list[Run], *, seed: int | None = None, schedule: dict[str, str] | None = None) -> dict[str, Any]:
    checks: dict[str, dict[str, str]] = {}
    for run in runs:
        for r in (run.doc or {}).get("results", []):
            checks.setdefault(r["check"], {"title": r["title"], "severity": r["severity"]})
    targets: dict[str, Any] = {}
    matrix: dict[str, dict[str, str]] = {check: {} for check in checks}
    details: dict[str, dict[str, list[dict[str, Any]]]] = {check: {} for check in checks}
    samples: dict[str, dict[str, list[float]]] = {}
    for run in runs:
        if run.doc is None:
            targets[run.name] = {"verdict": f"ERROR: {run.error}", "exit_status": run.status, "error": run.error,
                                 "summary": None, "metrics": None, "stats": None, "target": None}
            for check in checks:
                matrix[check][run.name] = "error"
            continue
        doc = run.doc
        said, status = doc_verdict(doc)
        targets[run.name] = {"verdict": said, "exit_status": run.status if run.status is not None else status,
                             "error": None, "summary": doc["summary"], "metrics": doc.get("metrics"),
                             "stats": doc["stats"], "target": doc["target"], "tool": doc["tool"]}
        samples[run.name] = doc.get("latency_samples") or {"ttft_ms": [], "itl_ms": []}
        by_check: dict[str, list[dict[str, Any]]] = {}
        for r in doc["results"]:
            by_check.setdefault(r["check"], []).append(r)
        for check in checks:
            found = {_outcome(r) for r in by_check.get(check, [])}
            matrix[check][run.name] = next((o for o in _WORST if o in found), "skipped")
            quoted = [r for r in by_check.get(check, []) if _outcome(r) in ("failed", "error", "deviation")]
            if quoted:
                details[check][run.name] = [
                    {"case": r["case"], "outcome": r["outcome"], "message": r["message"], "curl": r["curl"],
                     **({"expected": r["expected"]} if "expected" in r else {}),
                     **({"received": r["received"]} if "received" in r else {})}
                    for r in quoted[:DETAILS_PER_CELL]] + (
                    [{"more": len(quoted) - DETAILS_PER_CELL}] if len(quoted) > DETAILS_PER_CELL else [])
    # the checks some target did not pass come first (worst cell first, then severity): the page, the Markdown and
    # the JSON read top down, and forty green rows before the red ones hide them
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    order = sorted(checks, key=lambda c: (min((_WORST.index(o) if o in _WORST else len(_WORST)
                                                for o in matrix[c].values()), default=len(_WORST)),
                                          rank.get(checks[c]["severity"], len(rank))))
    checks = {c: checks[c] for c in order}
    matrix = {c: matrix[c] for c in order}
    return {
        "tool": {"name": "infercheck", "version": __version__},
        "seed": seed,
        "schedule": schedule or {"mode": "sequential", "why": "one target"},
        "targets": targets,
        "checks": checks,
        "matrix": matrix,
        "details": {check: cells for check, cells in details.items() if cells},
        "latency_samples": samples,
        "figures": list(FIGURES),
    }
