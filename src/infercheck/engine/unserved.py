"""Routes the endpoint does not serve: one finding, not one per check.

A route (method and path) every case request of which (two at least) was answered the same refusal (404, 405 or
501), valid requests among them, is not served: a server without the Responses API answers every Responses case 404, and each
would otherwise fail its status and its schema. The first valid case of the route keeps the failure of its status
check, which says so; every other failure of the route (its cases' and its property suites') is skipped with that
reason. A profile that declares the feature unsupported keeps the requests from being sent at all.

A feature refused is found the same way, one field of the request at a time: every case request that carries it
(two at least, valid ones among them) answered the same refusal (400, 422 or 501) whose text names it, while
requests to the same route without it were served (vLLM without --enable-auto-tool-choice answers every request
with tools 400 '"auto" tool choice requires --enable-auto-tool-choice ...'). The failures of the requests that
carry it are then the one finding, and the suite whose requests carry it (chat-tools, chat-format) is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..checks.base import Outcome, Result
from ..contract.cases import Case
from ..generation.routes import ROUTES
from ..wire.exchange import Exchange, Request
from .limits import route_of

REFUSALS = (404, 405, 501)
FEATURE_REFUSALS = (400, 422, 501)
# the request fields a server may refuse as a whole: the suites' own (tools, response formats) and the options
FEATURES = (*dict.fromkeys(field for route in ROUTES.values() for field in route.fields),
            "n", "logprobs", "top_logprobs", "logit_bias", "seed", "stream_options", "suffix", "echo", "best_of")
STATUS = "status-code"  # the check whose failure on the route's first valid case is the finding


@dataclass(frozen=True)
class Unserved:
    route: str
    status: int
    requests: int
    first: str  # the case whose status check carries the finding
    feature: str | None = None  # the request field refused, when the route is served without it
    said: str = ""  # what the refusal said (a feature's)

    @property
    def message(self) -> str:
        if self.feature is not None:
            return (f"the endpoint refuses {self.feature} on {self.route}: every request carrying it ({self.requests}, "
                    f"valid ones among them) was answered {self.status} naming it ({self.said!r}), while requests "
                    "without it were served; the other checks of requests carrying it are skipped")
        return (f"the endpoint does not serve {self.route}: every request to it ({self.requests}, valid ones among "
                f"them) was answered {self.status} (if its answer names the model instead, --model names one it does "
                "not have); the route's other checks are skipped")

    @property
    def reason(self) -> str:
        if self.feature is not None:
            return (f"{self.feature} is refused on {self.route} (every request carrying it answered {self.status}): "
                    f"see {self.first}/{STATUS}")
        return f"{self.route} is not served (every request answered {self.status}): see {self.first}/{STATUS}"


def _key(route: str, feature: str) -> str:
    return f"{route} with {feature}"


def _names(field: str, text: str) -> bool:
    """Whether ``text`` (an answer's, lowercased) names the request field ``field`` (``tools``: "tool" will do)."""
    words = {field, field.replace("_", " "), field.removesuffix("s")}
    return any(re.search(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])", text) for word in words)


def _text(exchange: Exchange) -> str:
    return exchange.response.body.decode("utf-8", "replace") if exchange.response is not None else ""


def _said(exchange: Exchange) -> str:
    text = _text(exchange)
    return text if len(text) <= 160 else text[:157] + "..."


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
        elif any(e.response is not None and 200 <= e.response.status < 300 for _, e in answered):
            found.update(_features(route, answered))
    return found


def _features(route: str, answered: list[tuple[Case, Exchange]]) -> dict[str, Unserved]:
    """The features a served route refuses (one field of the request at a time), none covered by another's."""
    found: list[tuple[set[int], Unserved]] = []
    fields = [(case, e, set(body) if isinstance(body := e.request.json(), dict) else set()) for case, e in answered]
    served = {id(e) for _, e in answered if e.response is not None and 200 <= e.response.status < 300}
    for feature in FEATURES:
        carrying = [(case, e) for case, e, named in fields if feature in named]
        requests = {id(e) for _, e in carrying}
        without = served - requests
        valid = [case for case, _ in carrying if case.expects_success]
        statuses = {e.response.status if e.response is not None else None for _, e in carrying}
        if (len(requests) > 1 and valid and without and len(statuses) == 1
                and next(iter(statuses)) in FEATURE_REFUSALS
                and all(_names(feature, _text(e).lower()) for _, e in carrying)):
            found.append((requests, Unserved(route, next(iter(statuses)), len(requests), valid[0].id, feature,
                                             _said(carrying[0][1]))))
    # tools refused covers tool_choice refused: the finding is the widest
    kept = [u for ids, u in found if not any(ids < other for other, _ in found)]
    return {_key(u.route, u.feature or ""): u for u in kept}


def refusing(request: Request, unserved: Mapping[str, Unserved]) -> Unserved | None:
    """What ``unserved`` says of ``request``: its route not served, or a field of it refused."""
    route = route_of(request)
    missing = unserved.get(route)
    if missing is not None or not any(" with " in key for key in unserved):
        return missing
    body = request.json()
    if isinstance(body, dict):
        for field in body:
            if (missing := unserved.get(_key(route, field))) is not None:
                return missing
    return None


def refused_suite(route: str, suite: str, unserved: Mapping[str, Unserved]) -> Unserved | None:
    """Why the suite ``suite`` (of ``ROUTES``) is not judged: its route not served, or the fields it is for refused."""
    missing = unserved.get(route)
    for field in ROUTES[suite].fields if missing is None else ():
        if (missing := unserved.get(_key(route, field))) is not None:
            break
    return missing


def judge(result: Result, exchange: Exchange | None, unserved: Mapping[str, Unserved]) -> Result:
    """``result`` of a check over ``exchange``, seen in the light of the routes not served."""
    if result.outcome is not Outcome.FAILED or exchange is None or not exchange.sent:
        return result
    missing = refusing(exchange.request, unserved)
    if missing is None:
        return result
    if result.case == missing.first and result.check == STATUS:
        result.message = missing.message
    else:
        result.outcome, result.message = Outcome.SKIPPED, missing.reason
    return result
