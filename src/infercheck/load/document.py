"""What a load run writes: the document (``schemas/load.json``), its verdict and exit status, the knee, Markdown.

The verdict: ``conformant`` (exit 0) when every step kept the contract (no answer broke a check, every request was
answered); ``not_conformant`` (exit 1) when an answer broke it or a request went unanswered or was refused under
load; ``undecided`` (exit 2) when nothing could be sent (an empty workload, a step with no answer), or when the only
answers not conformant are those infercheck's own error left unjudged (``internal_errors``). The knee: the
highest level, of those tried from the lowest, up to which every step kept the contract and the SLO (when one is
given).

Determinism under load is a finding, not a violation: the OpenAI contract calls ``seed`` best effort, and batching
servers document that a greedy answer may change with the batch it is computed in (vLLM's reproducibility notes,
and its opt-in batch-invariant mode). Each step says how many greedy answers were compared with their request's
answer alone and how many differed, with an example. An answer that is exactly another request's is a violation
(``cross-talk``, critical).
"""

from __future__ import annotations

import re
from typing import Any

from .._version import __version__
from .tally import SLO_FIGURES, Tally

EXIT = {"conformant": 0, "not_conformant": 1, "undecided": 2}
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "": 1.0}
_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|)\s*$")


def seconds(text: str) -> float:
    """A duration: ``30s``, ``500ms``, ``2m``, or a number of seconds."""
    found = _SPAN.match(text)
    if found is None or float(found.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration (e.g. 30s, 500ms, 2m)")
    return float(found.group(1)) * _UNITS[found.group(2)]


def slo(text: str) -> dict[str, float]:
    """``ttft=500ms,itl=50ms,e2e=10s`` as {figure: bound in ms}."""
    bounds: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        if name.strip() not in SLO_FIGURES or not value:
            raise ValueError(f"{part!r}: an SLO is {', '.join(f'{n}=DURATION' for n in SLO_FIGURES)}")
        bounds[SLO_FIGURES[name.strip()]] = round(seconds(value) * 1000, 3)
    return bounds


def levels(text: str) -> list[int]:
    """``1,4,16,64``: the users of each step, rising."""
    try:
        found = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        found = []
    if not found or any(n < 1 for n in found) or found != sorted(set(found)):
        raise ValueError(f"{text!r}: a sweep is rising numbers of users, e.g. 1,4,16")
    return found


def knee(steps: list[Tally]) -> int | None:
    """The highest level up to which every step kept the contract and the SLO; None when the first did not."""
    best = None
    for step in steps:
        if not step.kept_contract or step.kept_slo is False:
            break
        best = step.users
    return best


def verdict(steps: list[Tally], excluded: list[dict[str, str]]) -> dict[str, Any]:
    """The run's verdict, its exit status and a sentence saying it."""
    requests = sum(s.requests for s in steps)
    internal = sum(s.internal for s in steps)
    if not steps or any(s.requests == 0 for s in steps):
        status, said = "undecided", "UNDECIDED: a step sent no request, so the load decided nothing"
    elif internal and not any(s.violations or s.errors for s in steps):
        status = "undecided"
        said = (f"UNDECIDED: {internal} of {requests} answers could not be judged (infercheck's own error; the JSON's "
                "internal_errors says where), and no other answer broke the contract")
    elif all(s.kept_contract for s in steps):
        status = "conformant"
        said = (f"CONFORMANT UNDER LOAD: {requests} answers checked at {_levels(steps)} users, none broke the "
                "contract")
    else:
        status = "not_conformant"
        bad = sum(s.requests - s.conformant for s in steps) - internal
        first = next(s.users for s in steps if s.violations or s.errors)
        said = (f"NOT CONFORMANT UNDER LOAD: {bad} of {requests} answers broke the contract or went unanswered "
                f"(from {first} users)")
    if excluded and status != "undecided":
        said += f"; {len(excluded)} case(s) that broke it alone were left out of the load (see `infercheck run`)"
    return {"status": status, "exit": EXIT[status], "summary": said}


def _levels(steps: list[Tally]) -> str:
    return ", ".join(str(s.users) for s in steps)


def document(*, target: dict[str, Any], workload: list[str], excluded: list[dict[str, str]], steps: list[Tally],
             slo_ms: dict[str, float], step_duration: float, spawn_rate: float | None, workers: int = 1
             ) -> dict[str, Any]:
    """The load document (``schemas/load.json``)."""
    return {
        "infercheck": __version__, "target": target, "mode": "closed", "workers": workers,
        "step_duration_s": step_duration, "spawn_rate": spawn_rate,
        "workload": {"cases": workload, "excluded": excluded},
        "slo": {name: bound for name, bound in slo_ms.items()},
        "steps": [s.to_json() for s in steps],
        "knee": {"users": knee(steps)},
        "verdict": verdict(steps, excluded),
    }


def markdown(doc: dict[str, Any]) -> str:
    """The document as Markdown, for a pull request: the verdict, a table of steps, one example per violation."""
    lines = [f"## infercheck load: {doc['verdict']['summary']}", "",
             f"Target `{doc['target'].get('base_url')}`, model `{doc['target'].get('model')}`, "
             f"{len(doc['workload']['cases'])} request(s) in the mix, {doc['step_duration_s']:g} s a step. "
             f"Knee: {doc['knee']['users'] if doc['knee']['users'] is not None else 'none'}"
             + (" users." if doc['knee']['users'] is not None else "."), "",
             "| users | requests | conformant | violations | errors | req/s | goodput/s | TTFT p95 ms | "
             "e2e p95 ms |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for step in doc["steps"]:
        rate = step["conformant_rate"]
        lines.append(
            f"| {step['users']} | {step['requests']} | {'-' if rate is None else f'{rate:.1%}'} | "
            f"{sum(step['violations'].values())} | {', '.join(f'{k} {v}' for k, v in step['errors'].items()) or 0} | "
            f"{step['throughput']['requests_per_s']:g} | {step['goodput']['requests_per_s']:g} | "
            f"{_ms(step['latency']['ttft_ms']['p95'])} | {_ms(step['latency']['e2e_ms']['p95'])} |")
    shown: set[str] = set()
    for step in doc["steps"]:
        for check, example in step["examples"].items():
            if check in shown:
                continue
            shown.add(check)
            lines += ["", f"### {check} ({example['severity']}): {example['title']}", "",
                      f"First seen at {step['users']} users, {step['violations'][check]} of {step['requests']} "
                      f"answers; case `{example['case']}`.", "", "```", example["message"], "```", "",
                      "```sh", example["curl"], "```"]
    for step in doc["steps"]:
        same = step["determinism"]
        if same["differed"]:
            lines += ["", f"Determinism at {step['users']} users (a finding, not a failure): {same['differed']} of "
                      f"{same['compared']} greedy answers said something else than their request got alone, e.g. "
                      f"`{same['example']['case']}`."]
    return "\n".join(lines) + "\n"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"
