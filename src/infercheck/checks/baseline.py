"""Baselines: a run's failures recorded (``--write-baseline``) so that a later run (``--baseline``) fails only on
new ones. A failure is known by its case and check; the reason is for people to fill in."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .base import Outcome, Result

FORMAT = "infercheck-baseline/1"


class BaselineError(ValueError):
    pass


@dataclass
class Baseline:
    path: str
    known: dict[tuple[str, str], str] = field(default_factory=dict)  # (case, check) -> reason

    def apply(self, result: Result) -> Result:
        """A failure the baseline records becomes known (reported, not failing the run)."""
        reason = self.known.get((result.case, result.check))
        if result.outcome is Outcome.FAILED and reason is not None:
            result.outcome, result.known = Outcome.KNOWN, reason
        return result

    def fixed(self, results: list[Result]) -> list[tuple[str, str]]:
        """Recorded failures that this run checked and found passing: the baseline can lose them."""
        passed = {(r.case, r.check) for r in results if r.outcome is Outcome.PASSED}
        failing = {(r.case, r.check) for r in results if r.outcome in (Outcome.FAILED, Outcome.KNOWN)}
        return sorted(k for k in self.known if k in passed and k not in failing)


def load(path: str) -> Baseline:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise BaselineError(f"baseline {path}: cannot read it: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise BaselineError(f"baseline {path}: not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("known"), list):
        raise BaselineError(f"baseline {path}: not an infercheck baseline (expected an object with format "
                            f"{FORMAT!r} and a list 'known'; write one with --write-baseline)")
    known = {}
    for i, entry in enumerate(doc["known"]):
        if not (isinstance(entry, dict) and isinstance(entry.get("case"), str) and isinstance(entry.get("check"), str)
                and isinstance(entry.get("reason", ""), str)):
            raise BaselineError(f"baseline {path}: known[{i}] must be an object with strings case, check and reason")
        known[(entry["case"], entry["check"])] = entry.get("reason", "")
    return Baseline(path, known)


def document(results: list[Result], target: dict[str, Any]) -> dict[str, Any]:
    """The failures (and known failures) of a run, one entry per (case, check), with an empty reason."""
    keys = sorted({(r.case, r.check) for r in results if r.outcome in (Outcome.FAILED, Outcome.KNOWN)})
    reasons = {(r.case, r.check): r.known or "" for r in results if r.outcome is Outcome.KNOWN}
    return {"format": FORMAT, "target": {k: target.get(k) for k in ("base_url", "model", "api", "task", "profile")},
            "known": [{"case": case, "check": check, "reason": reasons.get((case, check), "")}
                      for case, check in keys]}


def write(path: str, results: list[Result], target: dict[str, Any]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(document(results, target), indent=2) + "\n", encoding="utf-8")
