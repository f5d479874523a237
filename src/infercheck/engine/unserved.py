"""Routes the endpoint does not serve: one finding, not one per check.

A route (method and path) every case request of which (two at least) was answered the same refusal (404, 405 or
501), valid requests among them, is not served: a server without the Responses API answers every Responses case 404, and each
would otherwise fail its status and its schema. The first valid case of the route keeps the failure of its status
check, which says so; every other failure of the route (its cases' and its property suites') is skipped with that
reason. A profile that declares the feature unsupported keeps the requests from being sent at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..checks.base import Outcome, Result
from ..contract.cases import Case
from ..wire.exchange import Exchange
from .limits import route_of

REFUSALS = (404, 405, 501)
STATUS = "status-code"  # the check whose failure on the route's first valid case is the finding


@dataclass(frozen=True)
class Unserved:
    route: str
    status: int
    requests: int
    first: str  # the case whose status check carries the finding

    @property
    def message(self) -> str:
        return (f"the endpoint does not serve {self.route}: every request to it ({self.requests}, valid ones among "
                f"them) was answered {self.status} (if its answer names the model instead, --model names one it does "
                "not have); the route's other checks are skipped")

    @property
    def reason(self) -> str:
        return f"{self.route} is not served (every request answered {self.status}): see {self.first}/{STATUS}"


def survey(cases: Iterable[Case], exchanges: Mapping[str, Exchange]) -> dict[str, Unserved]:
    """The routes ``cases`` (with their ``exchanges``) show not served."""
    seen: dict[str, list[tuple[Case, Exchange]]] = {}
    for case in cases:
        exchange = exchanges.get(case.id)
        if exchange is not None and exchange.sent:
            seen.setdefault(route_of(exchange.request), []).append((case, exchange))
    found = {}
    for route, answered in seen.items():
        statuses = {e.response.status if e.response is not None else None for _, e in answered}
        valid = [case for case, _ in answered if case.expects_success]
        status, requests = next(iter(statuses)), len({id(e) for _, e in answered})
        # one request is no evidence of a route: a response not stored, a model not found, answer 404 too
        if len(statuses) == 1 and status in REFUSALS and valid and requests > 1:
            found[route] = Unserved(route, status, requests, valid[0].id)
    return found


def judge(result: Result, exchange: Exchange | None, unserved: Mapping[str, Unserved]) -> Result:
    """``result`` of a check over ``exchange``, seen in the light of the routes not served."""
    if result.outcome is not Outcome.FAILED or exchange is None or not exchange.sent:
        return result
    missing = unserved.get(route_of(exchange.request))
    if missing is None:
        return result
    if result.case == missing.first and result.check == STATUS:
        result.message = missing.message
    else:
        result.outcome, result.message = Outcome.SKIPPED, missing.reason
    return result
