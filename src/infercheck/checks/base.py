"""The check registry: checks are functions over a recorded exchange.

A check has a fixed id, title and severity, says which cases it applies to,
and either returns (passed) or raises through :func:`fail`, :func:`skip` or
:func:`deviate`. One exchange feeds every check that applies to its case.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from ..contract.cases import Case
from ..wire.exchange import Exchange
from ..wire.redaction import redact
from .crash import crash

if TYPE_CHECKING:
    from ..contract.profiles import Allowance, Profile

SEVERITIES = ("critical", "high", "medium", "low")


class Outcome(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    DEVIATION = "deviation"
    SKIPPED = "skipped"
    ERROR = "error"  # infercheck's own code raised: nothing was decided about the endpoint
    KNOWN = "known"  # failed, but recorded in the baseline the run was given: reported, not failing the run


@dataclass(frozen=True)
class Problem:
    """One thing a check found wrong, in terms a profile can match: what kind, where, what value."""

    kind: str  # e.g. a JSON Schema keyword ("type", "required") or a check's own word ("nondeterministic")
    path: str = "$"  # JSON path of the offending value in the response
    value: Any = None  # the offending value


class _Verdict(Exception):
    outcome: Outcome

    def __init__(self, message: str, expected: Any = None, received: Any = None, problems: tuple[Problem, ...] = ()):
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.received = received
        self.problems = problems


class CheckFailed(_Verdict):
    outcome = Outcome.FAILED


class CheckSkipped(_Verdict):
    outcome = Outcome.SKIPPED


class CheckDeviation(_Verdict):
    outcome = Outcome.DEVIATION


def fail(
    message: str,
    *,
    expected: Any = None,
    received: Any = None,
    kind: str | None = None,
    problems: list[Problem] | tuple[Problem, ...] = (),
) -> NoReturn:
    """Fail the check. ``kind`` (or ``problems``) names what went wrong so that a profile can
    recognise a known, documented variation and report a deviation instead."""
    found = tuple(problems) + ((Problem(kind),) if kind else ())
    raise CheckFailed(message, expected, received, found)


def skip(reason: str) -> NoReturn:
    raise CheckSkipped(reason)


def deviate(message: str, *, expected: Any = None, received: Any = None) -> NoReturn:
    raise CheckDeviation(message, expected, received)


@dataclass(frozen=True)
class Context:
    """What a check may know about the run besides its own exchange."""

    base_url: str
    model: str
    exchanges: Mapping[str, Exchange] = field(default_factory=dict, repr=False)  # case id -> exchange
    secrets: tuple[str, ...] = field(default=(), repr=False)  # never put these in a message

    def twin(self, case: Case) -> Exchange:
        """The exchange of the case this one is compared with (``case.twin``); skips when it is unusable."""
        if case.twin is None:
            raise ValueError(f"case {case.id} has no twin")
        exchange = self.exchanges.get(case.twin)
        if exchange is None or exchange.response is None:
            why = exchange.error if exchange is not None else "not run"
            skip(f"needs the answer to {case.twin}, which has none: {why}")
        if not 200 <= exchange.response.status < 300:
            skip(f"needs the answer to {case.twin}, which answered {exchange.response.status}")
        return exchange


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


SCHEMA_KINDS = "JSON Schema keywords"  # what a check that reports a schema's violations names its kinds by
UNENFORCED = "unenforced"  # the problem kind of output that strays from a schema the request did not mark strict


def kinds_of(chk: Check) -> list[str]:
    """The kinds of problem ``chk`` reports (what a profile's allowance names), read from its code: its
    ``kind="..."`` and ``Problem("...")`` literals, ``UNENFORCED`` where it lets output stray from a schema that is not
    strict (``common.stray``), and ``SCHEMA_KINDS`` where it reports a schema's violations."""
    import inspect

    source = inspect.getsource(chk.func)
    kinds = list(dict.fromkeys(re.findall(r"""(?:kind=|Problem\()["']([^"']+)["']""", source)))
    return kinds + ([UNENFORCED] if "stray(" in source else []) + ([SCHEMA_KINDS] if "schema_problem" in source else [])


def registered() -> dict[str, Check]:
    """The checks registered so far, by id (``catalog.registry`` registers the built-in ones first)."""
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
    allowance: Allowance | None = None  # for a deviation: the profile entry that allowed it
    traceback: str = ""  # for an internal error: where infercheck's code broke
    known: str | None = None  # for a known failure: the reason the baseline gives
    kinds: tuple[str, ...] = ()  # for a failure: the kinds of problem it found (what a profile's allowance names)

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
        if self.kinds:
            out["kinds"] = list(self.kinds)
        if self.allowance is not None:
            out["allowed_by"] = self.allowance.to_json()
        if self.traceback:
            out["traceback"] = self.traceback
        if self.known is not None:
            out["baseline_reason"] = self.known
        return out

    def render(self, *, traceback: bool = False) -> str:
        """The failure text: check, expected vs received, and the curl reproduction; for an internal error, what
        broke and where (and with ``traceback``, the whole traceback)."""
        if self.outcome is Outcome.ERROR:
            lines = [f"[internal error] {self.check}", f"case: {self.case}", self.message,
                     *(["the request it was checking:", f"  {self.curl}"] if self.curl else []),
                     *([self.traceback.rstrip()] if traceback else [])]
            return "\n".join(line for line in lines if line)
        lines = [f"[{self.severity}] {self.check}: {self.title}", f"case: {self.case}", self.message,
                 f"kinds: {', '.join(self.kinds)}" if self.kinds else ""]
        if self.expected is not None:
            lines.append(f"expected: {short(self.expected)}")
        if self.received is not None:
            lines.append(f"received: {short(self.received)}")
        if self.curl:
            lines += ["reproduce with:", f"  {self.curl}"]
        return "\n".join(line for line in lines if line)


def short(value: Any, limit: int = 500) -> str:
    """``value`` as text (JSON unless a string), cut after ``limit`` characters with the length said."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def redact_result(result: Result, secrets: list[str]) -> Result:
    """Echoed secrets out of what a result quotes of the server (message, expected, received, traceback); its
    curl reads the key from the environment already."""
    for name in ("message", "expected", "received", "traceback"):
        setattr(result, name, redact(getattr(result, name), secrets))
    return result


INTERNAL = "internal"  # the check id of an internal error that no single check raised
INTERNAL_TITLE = "infercheck's own code raised an exception: this part of the run decided nothing"


def internal_error(exc: BaseException, *, what: str, case: str, check: str = INTERNAL, severity: str = "critical",
                   title: str = INTERNAL_TITLE, curl: str = "") -> Result:
    """The result standing for ``exc``, raised by infercheck's own code while running ``what``."""
    found = crash(exc)
    message = f"internal error in {what}: {found.summary}" + (f"\n  at {found.where}" if found.where else "")
    return Result(check, case, Outcome.ERROR, severity, title, message, curl=curl, traceback=found.traceback)


def evaluate(chk: Check, case: Case, exchange: Exchange, ctx: Context, profile: Profile | None = None) -> Result:
    """Run one check. A failure every problem of which ``profile`` allows becomes a deviation; an exception the
    check (or the profile) raises is an internal error, never a verdict."""
    curl = exchange.curl() if exchange.sent or exchange.abandoned else ""
    try:
        return _evaluate(chk, case, exchange, ctx, profile, curl)
    except Exception as exc:
        return internal_error(exc, what=f"check {chk.id}", case=case.id, check=chk.id, severity=chk.severity,
                              title=chk.title, curl=curl)


def _evaluate(chk: Check, case: Case, exchange: Exchange, ctx: Context, profile: Profile | None, curl: str
              ) -> Result:
    result = Result(chk.id, case.id, Outcome.PASSED, chk.severity, chk.title, curl=curl)
    try:
        if not exchange.sent and not exchange.abandoned:  # given up on: the status check says why, others skip
            skip(exchange.error or "not sent")
        if exchange.response is None and chk.needs_response:
            skip(f"no response to check: {exchange.error}")
        chk.func(case, exchange, ctx)
    except _Verdict as verdict:
        result.outcome = verdict.outcome
        result.message = verdict.message
        result.expected = verdict.expected
        result.received = verdict.received
        result.kinds = tuple(dict.fromkeys(p.kind for p in verdict.problems))
        if verdict.outcome is Outcome.FAILED and profile is not None:
            allowance = profile.allows(chk.id, case, verdict.problems)
            if allowance is not None:
                result.outcome = Outcome.DEVIATION
                result.allowance = allowance
                result.message = (f"{allowance.explain(profile.name)}\nseen: {verdict.message}")
    return result
