"""What ``infercheck load`` sends: the documented cases that may be repeated, each answered alone first.

A case belongs to the workload when it asks for a success (a load is what production sends), is sent as it is
written (not derived from another answer, not compared with a twin, not about authentication, not the copies of a
case sent at once), generates within a bound when it generates at all, and the profile does not say the endpoint
lacks it. Each is sent once alone before any load, and judged by every check that applies to it: one that breaks
the contract alone is left out of the load, with its reason (``infercheck run`` reports it), so that what the load
finds is what the load causes.
"""

from __future__ import annotations

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
from ..wire.exchange import Exchange, Request
from ..wire.transport import open_client


@dataclass(frozen=True)
class Work:
    """One request of the workload: its case, the request, and the checks that judge every answer to it."""

    case: Case
    request: Request
    checks: tuple[Check, ...]
    alone: Exchange | None = None  # its answer sent alone, before any load


def candidates(target: Target, profile: Profile) -> list[Case]:
    """The cases of ``target``'s API that a load may repeat (see the module)."""
    return [case for case in _cases.load(target.api)
            if selects(target.api, target.task, case.api, case.route) and case.method == "POST"
            and case.expects_success and case.twin is None and case.derive is None and case.auth is None
            and case.concurrent <= 1 and _cases.reservation(case) is not None and not profile.lacks(case)]


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
