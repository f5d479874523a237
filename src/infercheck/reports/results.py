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


EXIT_OK, EXIT_FAILED, EXIT_INCOMPLETE, EXIT_INTERRUPTED = 0, 1, 2, 130  # 130: stopped by Ctrl-C, as shells say
FAIL_ON = ("failed", "deviation", "never")  # which outcomes fail a run (--fail-on); internal errors always do
BUDGET_SKIP = "budget is spent (--max-"  # in the message of a check a budget left unrun (engine/limits.py)
STOP_SKIP = "the run stopped after "  # in the message of a check --max-failures left unrun (engine/runner.py)


def unrun(results: list[Result], deselected: int = 0) -> str | None:
    """What a run left unchecked, in words ("522 of 740 checks not run: 522 for a spent budget"), or None when it
    ran every check it was given: a spent budget, a profile declaring a feature unsupported, ``-k``."""
    skipped = [r for r in results if r.outcome is Outcome.SKIPPED]
    why = {"for a spent budget (--max-requests/--max-tokens)": sum(1 for r in skipped if BUDGET_SKIP in r.message),
           "after the run stopped (--max-failures)": sum(1 for r in skipped if STOP_SKIP in r.message),
           "by the profile (features it declares unsupported)": sum(1 for r in skipped
                                                                    if r.message.startswith("profile ")),
           "deselected (-k)": deselected}
    count = sum(why.values())
    if not count:
        return None
    return (f"{count} of {len(results) + deselected} checks not run: "
            + ", ".join(f"{n} {reason}" for reason, n in why.items() if n))


def verdict(counts: dict[str, int], fail_on: str = "failed", *, partial: str | None = None,
            interrupted: bool = False) -> tuple[str, int]:
    """The verdict of a run and its exit status, from its summary counts (and what it left unrun, and whether it
    was interrupted). An interrupted run is INTERRUPTED (exit 130) whatever it found so far. An internal error makes
    a run INCOMPLETE (exit 2) whatever else it found: the checks it stopped decided nothing. ``fail_on`` chooses what
    else gives exit 1: failures (the default), failures and deviations, or nothing. A run that left checks unrun
    (``partial``) says so after its verdict; its exit status is the same."""
    failed = f"{counts['failed']} failed"
    known = counts.get("known", 0)
    if interrupted:
        decided = sum(counts.get(k, 0) for k in ("passed", "failed", "deviations", "known"))
        found = [failed] if counts["failed"] else []
        found += [f"{counts['errors']} internal error(s)"] if counts["errors"] else []
        return (f"INTERRUPTED: stopped (Ctrl-C) before it ended; {decided} check(s) decided"
                + (f" ({', '.join(found)})" if found else "") + ", the rest not run", EXIT_INTERRUPTED)
    if counts["errors"]:
        return (f"INCOMPLETE: {counts['errors']} internal error(s)" + (f"; {failed}" if counts["failed"] else ""),
                EXIT_INCOMPLETE)
    status = EXIT_FAILED if fail_on != "never" else EXIT_OK
    after = f" (partial: {partial})" if partial else ""
    if counts["failed"]:
        return f"NOT CONFORMANT: {failed}" + (f" and {known} known" if known else "") + after, status
    if counts["deviations"] and fail_on == "deviation":
        return f"NOT CONFORMANT: {counts['deviations']} deviation(s) (--fail-on deviation)" + after, EXIT_FAILED
    if known:
        return f"NO NEW FAILURES: {known} known failure(s) from the baseline" + after, EXIT_OK
    return "CONFORMANT" + after, EXIT_OK


def doc_verdict(doc: dict[str, Any], fail_on: str = "failed") -> tuple[str, int]:
    """``verdict`` of a results document (what it left unrun and whether it was interrupted included)."""
    return verdict(doc["summary"], fail_on, partial=doc.get("partial"), interrupted=bool(doc.get("interrupted")))


def document(*, target: dict[str, Any], results: list[Result], stats: dict[str, Any],
             metrics: dict[str, Any] | None = None, samples: dict[str, list[float]] | None = None,
             fail_on: str = "failed", interrupted: bool = False, deselected: int = 0) -> dict[str, Any]:
    counts, partial = summary(results), unrun(results, deselected)
    said, status = verdict(counts, fail_on, partial=partial, interrupted=interrupted)
    return {
        "tool": {"name": "infercheck", "version": __version__},
        "target": target,
        "verdict": said,
        "exit_status": status,
        "partial": partial,
        "interrupted": interrupted,
        "summary": counts,
        "stats": stats,
        "metrics": metrics if metrics is not None else _metrics.empty(),
        "latency_samples": samples or {"ttft_ms": [], "itl_ms": []},
        "results": [r.to_json() for r in ordered(results)],
    }


def ordered(results: list[Result]) -> list[Result]:
    """``results`` in an order that is the same for every run of one seed, however the answers arrived: the cases
    in their files' order (then the property suites'), each case's checks in the registry's order."""
    from ..checks.catalog import registry
    from ..contract import cases as _cases

    cases = {c.id: i for i, c in enumerate(c for api in ("openai", "tgi", "hf") for c in _cases.load(api))}
    checks = {c: i for i, c in enumerate(registry())}
    return sorted(results, key=lambda r: (r.case.startswith("property."), cases.get(r.case, len(cases)), r.case,
                                          checks.get(r.check, len(checks)), r.check, r.curl))


def results_of(doc: dict[str, Any]) -> list[Result]:
    """The results of a results document, as the run held them (what ``Result.to_json`` wrote, read back)."""
    from ..contract.profiles import Allowance

    out = []
    for r in doc["results"]:
        allowed = r.get("allowed_by")
        out.append(Result(r["check"], r["case"], Outcome(r["outcome"]), r["severity"], r["title"], r["message"],
                          r.get("expected"), r.get("received"), r.get("curl", ""),
                          Allowance(allowed["id"], r["check"], allowed["reason"], allowed["evidence"])
                          if allowed else None, r.get("traceback", ""), r.get("baseline_reason"),
                          tuple(r.get("kinds", ()))))
    return out


def write(path: str | Path, doc: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
