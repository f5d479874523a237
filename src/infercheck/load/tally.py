"""One step of a load: what its answers showed, kept as counts and latency samples (never the answers themselves).

A request is *conformant* when every check of its case passed (or a profile allowed what it found); *good* when it
is conformant and within every bound of the SLO that applies to it (TTFT and ITL to streamed answers, e2e to every
answer that generated text). Latency figures are the run's (``wire/metrics.py``), taken from conformant requests
only: a failed or interrupted request is counted apart, never in the latency of successes. A step *kept the contract*
when no answer broke it and every request was answered; it *kept the SLO* when the p95 of each bounded figure is
within its bound. Greedy answers are compared with the answer their request got alone: a difference is counted
(``determinism``), not a violation (see ``document``); an answer that is another request's is a violation
(``cross-talk``, ``workload.against_alone``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..checks.base import Outcome, Result
from ..wire import answers as _answers
from ..wire import metrics as _metrics
from ..wire.exchange import Exchange
from ..wire.transport import timed_out

LATENCY = ("ttft_ms", "itl_ms", "e2e_ms")
SATURATED = 90  # % of one core: Locust's own threshold for its CPU warning
SLO_FIGURES = {"ttft": "ttft_ms", "itl": "itl_ms", "e2e": "e2e_ms"}


def error_class(exchange: Exchange) -> str | None:
    """What kind of error an answer is, if any: ``timeout``, ``transport`` (a connection lost or refused),
    ``interrupted`` (a stream ended before its finish_reason), ``5xx``, ``429``, ``4xx``."""
    response = exchange.response
    if response is None:
        return "timeout" if timed_out(exchange) else "transport"
    if _answers.interrupted(exchange):
        return "interrupted"
    if response.status >= 500:
        return "5xx"
    if response.status == 429:
        return "429"
    if response.status >= 400:
        return "4xx"
    return None


@dataclass
class Tally:
    """What one step's answers showed. ``users`` (closed loop) is the level of the step."""

    users: int
    slo: dict[str, float] = field(default_factory=dict)  # figure (ttft_ms, itl_ms, e2e_ms) -> bound in ms
    requests: int = 0
    conformant: int = 0
    good: int = 0
    output_tokens: int = 0
    elapsed: float = 0.0
    violations: dict[str, int] = field(default_factory=dict)  # check -> answers it failed
    examples: dict[str, dict[str, Any]] = field(default_factory=dict)  # check -> its first failure
    errors: dict[str, int] = field(default_factory=dict)  # error class -> answers
    samples: dict[str, list[float]] = field(default_factory=lambda: {name: [] for name in LATENCY})
    compared: int = 0  # greedy answers compared with their request's answer alone
    differed: int = 0  # of those, the ones that said something else
    difference: dict[str, Any] | None = None  # the first of them
    cpu: list[float] = field(default_factory=list)  # each worker's CPU use over the step, % of one core
    internal: int = 0  # answers a check could not judge: infercheck's own error, not the endpoint's
    internal_example: dict[str, Any] | None = None

    def add(self, exchange: Exchange, broken: list[Result], differed: bool | None = None, alone: str = "") -> None:
        """One answer, the results of its checks that broke the contract, and whether it said something else than
        its request got ``alone`` (None: not compared; counted for a conformant answer only)."""
        self.requests += 1
        kind = error_class(exchange)
        if kind is not None:
            self.errors[kind] = self.errors.get(kind, 0) + 1
        for result in broken:
            if result.outcome is Outcome.ERROR:  # infercheck's own error: this answer was not judged, not failed
                self.internal += 1
                self.internal_example = self.internal_example or {"case": result.case, "check": result.check,
                                                                  "message": result.message}
                continue
            self.violations[result.check] = self.violations.get(result.check, 0) + 1
            self.examples.setdefault(result.check, {
                "case": result.case, "title": result.title, "severity": result.severity,
                "kinds": list(result.kinds), "message": result.message, "curl": result.curl})
        if broken or kind is not None:
            return
        self.conformant += 1
        if differed is not None:  # only a conformant answer is compared: a cut one differs for another reason
            self.compared += 1
            self.differed += differed
            if differed and self.difference is None:
                self.difference = {"case": exchange.case_id, "alone": alone, "under_load": _said(exchange),
                                   "curl": exchange.curl()}
        figures = _metrics.samples([exchange])
        within = True
        for name in LATENCY:
            for value in figures[name]:
                self.samples[name].append(value)
                within = within and value <= self.slo.get(name, float("inf"))
        self.good += within
        self.output_tokens += _answers.completion_tokens(exchange) or 0

    def state(self) -> dict[str, Any]:
        """What a worker sends its master: everything ``absorb`` adds up (JSON)."""
        return {name: getattr(self, name) for name in _STATE}

    def absorb(self, state: dict[str, Any]) -> None:
        """Add another tally of the same step (a worker's ``state``): counts and samples add up, each check's first
        example stays the first one seen."""
        for name in ("requests", "conformant", "good", "output_tokens"):
            setattr(self, name, getattr(self, name) + state[name])
        for name in ("violations", "errors"):
            mine = getattr(self, name)
            for key, count in state[name].items():
                mine[key] = mine.get(key, 0) + count
        for check, example in state["examples"].items():
            self.examples.setdefault(check, example)
        for name, values in state["samples"].items():
            self.samples[name].extend(values)
        self.compared += state["compared"]
        self.differed += state["differed"]
        self.difference = self.difference or state["difference"]
        self.cpu.extend(state["cpu"])
        self.internal += state["internal"]
        self.internal_example = self.internal_example or state["internal_example"]

    @property
    def kept_contract(self) -> bool:
        return self.requests > 0 and not self.violations and not self.errors and not self.internal

    @property
    def kept_slo(self) -> bool | None:
        """Whether the p95 of each bounded figure is within its bound; None without an SLO."""
        if not self.slo:
            return None
        return all(not self.samples[name] or _metrics.percentile(self.samples[name], 95) <= bound
                   for name, bound in self.slo.items())

    def to_json(self) -> dict[str, Any]:
        per_s = (lambda n: round(n / self.elapsed, 3)) if self.elapsed > 0 else (lambda n: 0.0)
        return {
            "users": self.users, "duration_s": round(self.elapsed, 3), "requests": self.requests,
            "checked": self.requests, "conformant": self.conformant,
            "conformant_rate": round(self.conformant / self.requests, 4) if self.requests else None,
            "violations": dict(sorted(self.violations.items())), "examples": dict(sorted(self.examples.items())),
            "errors": dict(sorted(self.errors.items())),
            "latency": {name: _statistics(values) for name, values in self.samples.items()},
            "throughput": {"requests_per_s": per_s(self.requests), "output_tokens_per_s": per_s(self.output_tokens)},
            "goodput": {"requests_per_s": per_s(self.good), "good": self.good},
            "kept_contract": self.kept_contract, "kept_slo": self.kept_slo,
            "determinism": {"compared": self.compared, "differed": self.differed, "example": self.difference},
            "load_generator": {"cpu_percent": max(self.cpu) if self.cpu else None, "saturated": self.saturated},
            "internal_errors": {"count": self.internal, "example": self.internal_example},
        }

    @property
    def saturated(self) -> bool:
        """Whether the load generator's own CPU bounded the load: its busiest worker process used ``SATURATED`` % of
        a core or more over the step (a worker's users share one core: its asyncio loop and its greenlets)."""
        return bool(self.cpu) and max(self.cpu) >= SATURATED


_STATE = ("requests", "conformant", "good", "output_tokens", "violations", "examples", "errors", "samples", "compared",
          "differed", "difference", "cpu", "internal", "internal_example")


def _said(exchange: Exchange) -> str:
    said = _answers.read(exchange).text() if exchange.response is not None else None
    return said.strip() if isinstance(said, str) else ""


def _statistics(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "n": 0}
    return {"p50": round(_metrics.percentile(values, 50), 3), "p95": round(_metrics.percentile(values, 95), 3),
            "p99": round(_metrics.percentile(values, 99), 3), "n": len(values)}
