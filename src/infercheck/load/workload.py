"""What ``infercheck load`` sends: the documented cases that may be repeated, each answered alone first.

A case belongs to the workload when it asks for a success (a load is what production sends), is sent as it is
written (not derived from another answer, not about authentication, not the copies of a case sent at once),
generates within a bound when it generates at all, and the profile does not say the endpoint lacks it; ``--case``
patterns choose among those. A check that compares an answer with its twin's (a stream with the same request not
streamed) skips under load: the twin is not sent with it. Each is sent once alone before any load, and judged by
every check that applies to it: one that breaks the contract alone is left out of the load, with its reason
(``infercheck run`` reports it), so that what the load finds is what the load causes.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from ..checks import base as _checks
from ..checks.base import Check, Outcome, Result
from ..checks.catalog import registry
from ..contract import cases as _cases
from ..contract.cases import Case
from ..contract.profiles import Profile
from ..engine.gate import Gate
from ..engine.limits import Breaker, Budget
from ..engine.sending import Lane, Sender
from ..engine.target import Target, request_for, selects
from ..wire import answers as _answers
from ..wire.exchange import Exchange, Request
from ..wire.transport import open_client


@dataclass(frozen=True)
class Work:
    """One request of the workload: its case, the request, and the checks that judge every answer to it."""

    case: Case
    request: Request
    checks: tuple[Check, ...]
    alone: Exchange | None = None  # its answer sent alone, before any load


def candidates(target: Target, profile: Profile, patterns: tuple[str, ...] = ()) -> list[Case]:
    """The cases of ``target``'s API that a load may repeat (see the module); with ``patterns`` (shell-style, as
    ``chat.*-stream``), those whose id matches one."""
    return [case for case in _cases.load(target.api)
            if selects(target.api, target.task, case.api, case.route) and case.method == "POST"
            and case.expects_success and case.derive is None and case.auth is None
            and case.concurrent <= 1 and _cases.reservation(case) is not None and not profile.lacks(case)
            and (not patterns or any(fnmatch.fnmatchcase(case.id, p) for p in patterns))]


def prepare(target: Target, profile: Profile, cases: list[Case]) -> list[Work]:
    """``cases`` as work: each with its request and the checks that apply to it."""
    checks = tuple(registry().values())
    return [Work(case, request_for(target, case), tuple(c for c in checks if c.applies(case))) for case in cases]


async def alone(target: Target, works: list[Work]) -> list[Work]:
    """Each of ``works`` sent once, alone, one after another, through the one send path: its answer kept as
    ``Work.alone``."""
    done = []
    async with open_client(target.bounds, 1) as client:
        sender = Sender(target.bounds, Gate(1), Budget(), Breaker(0), client, confirming=False)
        lane = Lane()
        for work in works:
            exchange = await sender.send(work.case, work.request, lane)
            done.append(Work(work.case, work.request, work.checks, exchange))
    return done


def judge(work: Work, exchange: Exchange, target: Target, profile: Profile) -> list[Result]:
    """Every check of ``work`` over ``exchange``, as a conformance run judges it (profile allowances included); what
    breaks the contract with secrets redacted."""
    secrets = target.secrets()
    context = _checks.Context(base_url=target.base_url, model=target.model or "", secrets=tuple(secrets))
    results = [_checks.evaluate(c, work.case, exchange, context, profile) for c in work.checks]
    return [_checks.redact_result(r, secrets) if r.outcome in BROKEN else r for r in results]


def broken(results: list[Result]) -> list[Result]:
    """The results that break the contract: failures and internal errors (a deviation a profile allows does not)."""
    return [r for r in results if r.outcome in BROKEN]


BROKEN = (Outcome.FAILED, Outcome.ERROR)


# The load forms of checks that compare an answer with another: an answer under load against the answers each greedy
# request (temperature 0) got alone, before the load.
CROSS_TALK = ("cross-talk", "An answer under load is the answer another request got alone", "critical")
DISTINCT = 20  # characters an answer must have to tell it from another's


def text(exchange: Exchange | None) -> str | None:
    """The text of a successful answer's first choice, or None."""
    if exchange is None or exchange.response is None or not 200 <= exchange.response.status < 300:
        return None
    said = _answers.read(exchange).text()
    return said.strip() if isinstance(said, str) else None


def greedy(work: Work) -> bool:
    body = work.case.body if isinstance(work.case.body, dict) else {}
    return body.get("temperature") == 0 and body.get("n", 1) == 1


def references(works: list[Work]) -> dict[str, str]:
    """Case id -> the text its greedy request got alone: what answers under load are compared with."""
    return {w.case.id: t for w in works if greedy(w) and (t := text(w.alone))}


def against_alone(work: Work, exchange: Exchange, refs: dict[str, str]) -> tuple[bool | None, Result | None]:
    """Whether ``exchange`` (under load) says something else than ``work``'s request got alone (None: not compared);
    and the cross-talk it shows, if any: a text that is not its own but exactly the text, long enough to tell
    apart and unlike any other's, that another request got alone."""
    own, said = refs.get(work.case.id), text(exchange)
    if own is None or said is None:
        return None, None
    if said == own:
        return False, None
    others = [case for case, t in refs.items() if t == said and case != work.case.id]
    if len(said) < DISTINCT or len(others) != 1 or sum(t == said for t in refs.values()) != 1:
        return True, None
    check, title, severity = CROSS_TALK
    message = (f"under load, {work.case.id} was answered with the text {others[0]} got alone: "
               f"{_checks.short(said, 200)}")
    return True, Result(check, work.case.id, Outcome.FAILED, severity, title, message, expected=own, received=said,
                        curl=exchange.curl(), kinds=("another-request",))
