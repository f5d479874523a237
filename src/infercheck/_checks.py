"""The check registry: checks are functions over a recorded exchange.

A check has a fixed id, title and severity, says which cases it applies to,
and either returns (passed) or raises through :func:`fail`, :func:`skip` or
:func:`deviate`. One exchange feeds every check that applies to its case.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from ._cases import Case
from ._exchange import Exchange

SEVERITIES = ("critical", "high", "medium", "low")


class Outcome(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    DEVIATION = "deviation"
    SKIPPED = "skipped"


class _Verdict(Exception):
    outcome: Outcome

    def __init__(self, message: str, expected: Any = None, received: Any = None):
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.received = received


class CheckFailed(_Verdict):
    outcome = Outcome.FAILED


class CheckSkipped(_Verdict):
    outcome = Outcome.SKIPPED


class CheckDeviation(_Verdict):
    outcome = Outcome.DEVIATION


def fail(message: str, *, expected: Any = None, received: Any = None) -> NoReturn:
    raise CheckFailed(message, expected, received)


def skip(reason: str) -> NoReturn:
    raise CheckSkipped(reason)


def deviate(message: str, *, expected: Any = None, received: Any = None) -> NoReturn:
    raise CheckDeviation(message, expected, received)


@dataclass(frozen=True)
class Context:
    """What a check may know about the run besides the exchange."""

    base_url: str
    model: str


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    severity: str
    func: Callable[[Case, Exchange, Context], None] = field(repr=False)
    applies: Callable[[Case], bool] = field(repr=False)
    needs_response: bool = True


_REGISTRY: dict[str, Check] = {}


def check(
    id: str,
    *,
    title: str,
    severity: str,
    applies: Callable[[Case], bool] = lambda case: True,
    needs_response: bool = True,
) -> Callable[[Callable[[Case, Exchange, Context], None]], Callable[[Case, Exchange, Context], None]]:
    """Register a check. ``applies`` selects the cases it runs on."""
    if severity not in SEVERITIES:
        raise ValueError(f"check {id!r}: severity must be one of {SEVERITIES}, not {severity!r}")

    def register(func: Callable[[Case, Exchange, Context], None]) -> Callable[[Case, Exchange, Context], None]:
        if id in _REGISTRY:
            raise ValueError(f"check {id!r} is already registered")
        _REGISTRY[id] = Check(id, title, severity, func, applies, needs_response)
        return func

    return register


def registry() -> dict[str, Check]:
    from . import _builtin_checks  # noqa: F401  (registers the built-in checks)

    return dict(_REGISTRY)


@dataclass
class Result:
    check: str
    case: str
    outcome: Outcome
    severity: str
    title: str
    message: str = ""
    expected: Any = None
    received: Any = None
    curl: str = ""

    def to_json(self) -> dict[str, Any]:
        out = {
            "check": self.check,
            "case": self.case,
            "outcome": self.outcome.value,
            "severity": self.severity,
            "title": self.title,
            "message": self.message,
            "curl": self.curl,
        }
        if self.expected is not None:
            out["expected"] = self.expected
        if self.received is not None:
            out["received"] = self.received
        return out

    def render(self) -> str:
        """The failure text: check, expected vs received, and the curl reproduction."""
        lines = [f"[{self.severity}] {self.check}: {self.title}", f"case: {self.case}", self.message]
        if self.expected is not None:
            lines.append(f"expected: {_short(self.expected)}")
        if self.received is not None:
            lines.append(f"received: {_short(self.received)}")
        if self.curl:
            lines += ["reproduce with:", f"  {self.curl}"]
        return "\n".join(line for line in lines if line)


def _short(value: Any, limit: int = 500) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def evaluate(chk: Check, case: Case, exchange: Exchange, ctx: Context) -> Result:
    result = Result(chk.id, case.id, Outcome.PASSED, chk.severity, chk.title, curl=exchange.curl())
    try:
        if exchange.response is None and chk.needs_response:
            skip(f"no response to check: {exchange.error}")
        chk.func(case, exchange, ctx)
    except _Verdict as verdict:
        result.outcome = verdict.outcome
        result.message = verdict.message
        result.expected = verdict.expected
        result.received = verdict.received
    return result
