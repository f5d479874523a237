"""Property-based conformance: requests generated from the request schemas.

*Positive* requests come from ``schemas/openai/positive/`` (and ``schemas/hf/positive/`` for the Hugging Face
text tasks): the part of the contract every conformant endpoint must serve, bounded in cost. Each must get 200 and pass every check that applies.
*Negative* requests are positive ones with one violation of the contract schema (a missing required
field, a wrong type, an out-of-range number, an unknown enum value). Each must get a 4xx with the
error envelope: never 200, never 5xx, never a hang.

hypothesis drives the generation and shrinks each failure to a minimal request. A failure's identity is
its property, its kind of mutation and the set of checks it fails: failures that differ only in generated
values, or in the field that was broken, are reported once, with the curl of the minimal request and
every field where the same failure was seen.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, Verbosity, given, reject
from hypothesis import seed as hypothesis_seed
from hypothesis import settings as Settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from jsonschema import Draft202012Validator

from . import _aio, _checks, _schemas
from ._cases import Case
from ._checks import Outcome, Result
from ._engine import Runner, request_key, route_of
from ._exchange import Exchange
from ._profiles import Profile
from ._transport import client_timeout, confirm, send_async, silent

Resolver = Any  # referencing's resolver (its class is not public)

DEFAULT_MAX_EXAMPLES = 20
SHRINK_ALLOWANCE = 10  # a property sends at most this many times max_examples requests: shrinking takes most


@dataclass(frozen=True)
class Route:
    path: str
    contract: str  # request schema of the contract
    positive: str  # request schema of what must be served
    response: str
    chunk: str | None = None
    feature: str | None = None  # profile feature the route needs
    api: str = "openai"

    @property
    def error_schema(self) -> str:
        return f"{self.api}/error.json"


ROUTES: dict[str, Route] = {
    "completions": Route("/completions", "openai/completion-request.json", "openai/positive/completion-request.json",
                         "openai/completion-response.json", "openai/completion-chunk.json"),
    "chat": Route("/chat/completions", "openai/chat-request.json", "openai/positive/chat-request.json",
                  "openai/chat-response.json", "openai/chat-chunk.json"),
    "embeddings": Route("/embeddings", "openai/embedding-request.json", "openai/positive/embedding-request.json",
                        "openai/embedding-response.json", feature="embeddings"),
    # Hugging Face text tasks: a task endpoint is its own URL. Audio and image tasks have no generated payloads:
    # their inputs must be real media (the cases send fixtures, raw and base64).
    **{task: Route("", f"hf/{task}-request.json", f"hf/positive/{task}-request.json", f"hf/{task}-response.json",
                   api="hf")
       for task in ("text-generation", "text-classification", "token-classification", "fill-mask",
                    "question-answering", "summarization", "translation", "zero-shot-classification",
                    "feature-extraction", "sentence-similarity")},
}


@dataclass(frozen=True)
class Property:
    route: str
    polarity: str  # "positive" or "negative"

    @property
    def id(self) -> str:
        return f"{self.route}.{self.polarity}"

    def __str__(self) -> str:
        return self.id


def properties(routes: list[str] | None = None, api: str | None = None) -> list[Property]:
    """The property suites of ``routes`` (default: every route of ``api``, or of every API)."""
    chosen = routes or [name for name, route in ROUTES.items() if api is None or route.api == api]
    return [Property(r, p) for r in chosen for p in ("positive", "negative")]


# -- positive requests -----------------------------------------------------------------------------------


def positive_schema(route: str, model: str, lacking: Iterable[str] = ()) -> dict[str, Any]:
    """The positive schema of ``route`` with the model pinned (where requests name one) and the ``lacking``
    features left out."""
    schema = copy.deepcopy(_schemas.schema(ROUTES[route].positive))
    if "model" in schema["properties"]:
        schema["properties"]["model"] = {"const": model}
    for feature in lacking:
        schema["properties"].pop(feature, None)
    return schema


def positive(route: str, model: str, profile: Profile | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Requests from the positive schema, without the features ``profile`` says the server lacks. The
    schema's conditional rules (``allOf`` of ``if``/``then``) are not generated: the whole schema filters
    what is generated."""
    return _positive(route, model, tuple(sorted(profile.unsupported)) if profile else ())


@cache
def _positive(route: str, model: str, lacking: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    schema = positive_schema(route, model, lacking)
    full = _schemas.validator(ROUTES[route].positive)
    return _strategy(schema, schema.get("$defs", {})).filter(full.is_valid)


_ABSENT = object()  # an optional field left out
_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "title", "description", "$defs", "allOf"})


def _strategy(node: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A strategy for a positive schema: closed objects, tuples, lists and anyOf are composed here, each
    built once; hypothesis-jsonschema generates the leaves (strings, numbers, enums). Left to itself it
    would rebuild the strategies of nested objects at every draw, which makes shrinking slow. ``allOf``
    rules are not generated but checked: the caller filters with the whole schema."""
    from hypothesis_jsonschema import from_schema  # not at import: it builds strategies, slow in plugin loading

    keys = set(node) - _ANNOTATIONS
    if keys == {"$ref"}:
        return _strategy(defs[node["$ref"].removeprefix("#/$defs/")], defs)
    if keys == {"anyOf"}:
        return st.one_of([_strategy(branch, defs) for branch in node["anyOf"]])
    if node.get("type") == "object" and node.get("additionalProperties") is False:
        fields = {name: _strategy(sub, defs) for name, sub in node["properties"].items()}
        required = set(node.get("required", ()))
        # Each optional field present or absent by its own draw, absence first: hypothesis shrinks a field away
        # by flipping that draw, which its own ``optional=`` (a drawn list of keys) often fails to do.
        present = {k: v if k in required else st.one_of(st.just(_ABSENT), v) for k, v in fields.items()}
        return st.fixed_dictionaries(present).map(lambda d: {k: v for k, v in d.items() if v is not _ABSENT})
    if node.get("type") == "array" and "prefixItems" in node and node.get("items") is False:
        return st.tuples(*(_strategy(item, defs) for item in node["prefixItems"])).map(list)
    if node.get("type") == "array" and isinstance(node.get("items"), dict):
        return st.lists(_strategy(node["items"], defs), min_size=node.get("minItems", 0),
                        max_size=node.get("maxItems"))
    leaf = from_schema({**node, "$schema": "http://json-schema.org/draft-07/schema#"})
    edges = boundaries(node)
    return st.one_of(st.sampled_from(edges), leaf) if edges else leaf


def boundaries(node: dict[str, Any]) -> list[int | float]:
    """The values of a numeric leaf where servers break: its bounds, zero, one and minus one, whichever of them
    the leaf allows. Drawn as often as everything else together, since a uniform draw over [-2, 2] rarely
    lands on -2, 0 or any negative number in the 20 examples of a run."""
    types = node.get("type")
    types = set(types) if isinstance(types, list) else {types}
    if not types & {"number", "integer"}:
        return []
    candidates = [node.get("minimum"), node.get("maximum"), 0, 1, -1]
    valid = Draft202012Validator(node).is_valid
    return list(dict.fromkeys(v for v in candidates if v is not None and valid(v)))


# -- negative requests -----------------------------------------------------------------------------------

_TYPES = Draft202012Validator.TYPE_CHECKER
WRONG_TYPES = ({"infercheck": "wrong type"}, [{"infercheck": "wrong type"}], "infercheck-wrong-type", 12345)
UNKNOWN = "infercheck-unknown-value"
_NO_UPPER = frozenset({"n", "best_of"})  # above their maximum a lenient server would generate many choices


@dataclass(frozen=True)
class Mutation:
    """One violation of the contract: ``kind`` at ``path`` (keys and list indices), setting ``value``."""

    kind: str  # "missing", "wrong-type", "out-of-range", "unknown-enum"
    path: tuple[str | int, ...]
    value: Any = None

    @property
    def where(self) -> str:
        return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.path)

    def __str__(self) -> str:
        if self.kind == "missing":
            return f"{self.where} removed"
        return f"{self.where} = {json.dumps(self.value)} ({self.kind})"

    def apply(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """A changed copy of ``body``, or None when the path is not there to change."""
        out = copy.deepcopy(body)
        parent: Any = out
        for key in self.path[:-1]:
            if isinstance(parent, dict) and key in parent:
                parent = parent[key]
            elif isinstance(parent, list) and isinstance(key, int) and key < len(parent):
                parent = parent[key]
            else:
                return None
        if not isinstance(parent, dict):
            return None
        last = self.path[-1]
        if self.kind == "missing":
            if last not in parent:
                return None
            del parent[last]
        else:
            parent[last] = self.value
        return out


@dataclass(frozen=True)
class Site:
    path: tuple[str | int, ...]
    facts: dict[str, Any] = field(hash=False)  # keywords gathered from every subschema at the path
    required: bool = False


def _gather(node: Any, resolver: Resolver, into: dict[str, Any], depth: int = 0) -> None:
    """Collect the keywords that apply at one place: the schema, its refs, and its allOf/anyOf/then parts."""
    while isinstance(node, dict) and "$ref" in node:
        resolved = resolver.lookup(node["$ref"])
        node, resolver = resolved.contents, resolved.resolver
    if not isinstance(node, dict) or depth > 6:
        return
    for key in ("type", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if key in node:
            into.setdefault(key, []).append(node[key])
    for name, sub in node.get("properties", {}).items():
        into.setdefault("properties", {}).setdefault(name, []).append((sub, resolver))
    into.setdefault("required", set()).update(node.get("required", []))
    if isinstance(node.get("items"), dict):
        into.setdefault("items", []).append((node["items"], resolver))
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in node.get(key, []):
            _gather(sub, resolver, into, depth + 1)
    if "then" in node:  # a conditional requirement still says what the field may be
        _gather(node["then"], resolver, into, depth + 1)


def _facts(subs: list[tuple[Any, Resolver]]) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for sub, resolver in subs:
        _gather(sub, resolver, facts)
    return facts


@cache
def sites(route: str) -> tuple[Site, ...]:
    """Where the contract of ``route`` can be violated: its top-level fields, the fields of its objects
    (``stream_options``), and those of the first item of its arrays of objects (chat messages)."""
    uri = _schemas.uri(ROUTES[route].contract)
    root = _facts([({"$ref": uri}, _schemas.registry().resolver(uri))])
    found: list[Site] = []
    for name, subs in root.get("properties", {}).items():
        facts = _facts(subs)
        found.append(Site((name,), facts, name in root["required"]))
        nested = [((name,), facts)] + [((name, 0), _facts([item])) for item in facts.get("items", [])]
        for prefix, inner in nested:
            for sub_name, sub_subs in inner.get("properties", {}).items():
                found.append(Site((*prefix, sub_name), _facts(sub_subs), sub_name in inner["required"]))
    return tuple(found)


def mutations(site: Site) -> list[Mutation]:
    """Every candidate violation at ``site`` (the caller keeps those that really break the contract)."""
    out: list[Mutation] = []
    if site.required:
        out.append(Mutation("missing", site.path))
    types = {t for ts in site.facts.get("type", []) for t in ([ts] if isinstance(ts, str) else ts)}
    # a wrong type is a value of a JSON type the field does not allow: 12345 for an integer field is out of range
    out += [Mutation("wrong-type", site.path, value) for value in WRONG_TYPES
            if not any(_TYPES.is_type(value, t) for t in types)]
    integer = "integer" in types and "number" not in types
    for low in site.facts.get("minimum", []) + site.facts.get("exclusiveMinimum", []):
        out.append(Mutation("out-of-range", site.path, low - 1 if integer else low - 0.5))
    if site.path[-1] not in _NO_UPPER:
        for high in site.facts.get("maximum", []) + site.facts.get("exclusiveMaximum", []):
            out.append(Mutation("out-of-range", site.path, high + 1 if integer else high + 0.5))
    if site.facts.get("enum") or any(isinstance(c, str) for c in site.facts.get("const", [])):
        out.append(Mutation("unknown-enum", site.path, UNKNOWN))
    return out


def breaks(route: str, body: dict[str, Any] | None, mutation: Mutation) -> bool:
    """Whether ``body`` violates the contract where ``mutation`` changed it (not merely elsewhere, as
    when a wrongly typed ``stream_options`` is refused for want of ``stream``)."""
    if body is None:
        return False
    parent = mutation.path[:-1]
    for error in _schemas.validator(ROUTES[route].contract).iter_errors(body):
        for leaf in _schemas.leaves(error):
            where = tuple(leaf.absolute_path)
            if where[:len(mutation.path)] == mutation.path or (mutation.kind == "missing" and where == parent
                                                                and leaf.validator == "required"):
                return True
    return False


def negative(route: str, model: str, profile: Profile | None = None
             ) -> st.SearchStrategy[tuple[dict[str, Any], Mutation, dict[str, Any]]]:
    """A positive request with one mutation that makes it invalid against the contract: (the mutated request,
    the mutation, the positive request it was made from)."""
    candidates = [m for site in sites(route) for m in mutations(site)]
    valid = positive(route, model, profile)

    @st.composite
    def mutated(draw: st.DrawFn) -> tuple[dict[str, Any], Mutation, dict[str, Any]]:
        body = draw(valid)
        mutation = draw(st.sampled_from(candidates))
        changed = mutation.apply(body)
        if not breaks(route, changed, mutation):
            reject()
        return changed, mutation, body

    return mutated()


# -- exploring -----------------------------------------------------------------------------------------


class _Found(Exception):
    """A failing example; one subclass per failure identity, so hypothesis shrinks each separately."""

    def __init__(self, case: Case, exchange: Exchange, results: list[Result]):
        super().__init__(case.id)
        self.case, self.exchange, self.results = case, exchange, results


_FOUND_TYPES: dict[tuple, type[_Found]] = {}


def _found_type(identity: tuple) -> type[_Found]:
    return _FOUND_TYPES.setdefault(identity, type("PropertyFailure", (_Found,), {"identity": identity}))


def case_for(prop: Property, body: dict[str, Any], mutation: Mutation | None = None) -> Case:
    route = ROUTES[prop.route]
    name = f"property.{prop.id}" + (f"[{mutation}]" if mutation else "")
    stream = prop.polarity == "positive" and body.get("stream") is True
    if prop.polarity == "positive":
        return Case(name, f"generated {prop.route} request", prop.route, "POST", route.path, body=body,
                    stream=stream, status=(200,), schema=None if stream else route.response,
                    chunk_schema=route.chunk if stream else None,
                    tags=frozenset({"generated"}), api=route.api, error_schema=route.error_schema)
    return Case(name, f"generated invalid {prop.route} request", prop.route, "POST", route.path, body=body,
                status=("4xx",), tags=frozenset({"generated"}), api=route.api, error_schema=route.error_schema)


@dataclass
class Exploration:
    """What exploring one property found."""

    prop: Property
    results: list[Result] = field(default_factory=list)  # failures (minimal), deviations, passes per check
    requests: int = 0  # generated requests sent
    examples: int = 0  # generated requests checked
    skipped: str | None = None

    @property
    def failures(self) -> list[Result]:
        return [r for r in self.results if r.outcome is Outcome.FAILED]

    @property
    def known(self) -> list[Result]:
        return [r for r in self.results if r.outcome is Outcome.KNOWN]

    @property
    def errors(self) -> list[Result]:
        """Internal errors: a check that raised on a generated request (once per check, not shrunk)."""
        return [r for r in self.results if r.outcome is Outcome.ERROR]


Send = Callable[[Case, bytes], Exchange | None]


def explore(prop: Property, *, model: str, send: Send, context: _checks.Context, profile: Profile,
            base: Settings, max_examples: int, seed: int | None) -> Exploration:
    """Generate requests for ``prop``, check every answer, shrink each distinct failure."""
    found = Exploration(prop)
    if ROUTES[prop.route].feature and ROUTES[prop.route].feature in profile.unsupported:
        found.skipped = (f"profile {profile.name!r}: the server documents no {ROUTES[prop.route].feature} "
                         f"support: {profile.unsupported[ROUTES[prop.route].feature]}")
        return found
    checks = list(_checks.registry().values())
    tally: dict[str, Result] = {}  # check id -> a passed (or deviation) result standing for every example
    seen: dict[tuple, set[str]] = {}  # failure identity -> every field where it was seen
    broken: dict[str, Result] = {}  # check id -> the first internal error it raised
    held: dict[str, set[bytes]] = {}  # check id -> the distinct requests it passed (or deviated) on
    distinct: set[bytes] = set()  # every distinct request sent
    strategy = positive(prop.route, model, profile) if prop.polarity == "positive" else negative(
        prop.route, model, profile)

    def check(case: Case, body: dict[str, Any]) -> tuple[Exchange, list[Result]]:
        sent = json.dumps(body).encode()
        exchange = send(case, sent)
        if exchange is None:
            reject()  # the request budget is spent
        distinct.add(sent)
        found.examples += 1
        results = [_checks.evaluate(c, case, exchange, context, profile) for c in checks if c.applies(case)]
        for r in results:
            if r.outcome is Outcome.ERROR:  # infercheck's bug, not the endpoint's: reported, never shrunk
                broken.setdefault(r.check, r)
            if r.outcome in (Outcome.PASSED, Outcome.DEVIATION) and case.id.startswith(f"property.{prop.id}"):
                held.setdefault(r.check, set()).add(sent)  # distinct requests: hypothesis replays them as it shrinks
                if r.check not in tally or (r.outcome is Outcome.DEVIATION
                                             and tally[r.check].outcome is Outcome.PASSED):
                    tally[r.check] = r
        return exchange, [r for r in results if r.outcome is Outcome.FAILED]

    def failing() -> None:
        if hasattr(send, "failing"):
            send.failing = True

    def attempt(drawn: Any) -> None:
        body, mutation, original = (drawn, None, None) if prop.polarity == "positive" else drawn
        case = case_for(prop, body, mutation)
        exchange, failed = check(case, body)
        if failed and mutation is not None:
            # Blamed on the violation only if the request without it is served: else it is the request's own.
            plain_case = case_for(Property(prop.route, "positive"), original)
            plain, plain_failed = check(plain_case, original)
            if plain_failed:
                for r in plain_failed:
                    r.message = (f"{r.message}\n(not the violation's failure: found while sending {mutation}, but "
                                 "the request fails without that violation too)")
                failing()
                identity = (prop.id, "without-the-violation", tuple(sorted(r.check for r in plain_failed)))
                raise _found_type(identity)(plain_case, plain, plain_failed)
        if failed:
            failing()
            identity = (prop.id, mutation.kind if mutation else None, tuple(sorted(r.check for r in failed)))
            if mutation is not None:
                seen.setdefault(identity, set()).add(mutation.where)
            raise _found_type(identity)(case, exchange, failed)

    test = given(strategy)(attempt)
    test = Settings(
        base, max_examples=max_examples, deadline=None, database=None, verbosity=Verbosity.quiet,
        phases=(Phase.explicit, Phase.generate, Phase.shrink), report_multiple_bugs=True,
        suppress_health_check=list(HealthCheck),
    )(test)
    if seed is not None:
        test = hypothesis_seed(seed)(test)
    minimal: list[_Found] = []
    try:
        test()
    except _Found as one:
        minimal = [one]
    except BaseExceptionGroup as group:
        minimal = [e for e in _flatten(group) if isinstance(e, _Found)]
        if len(minimal) != len(list(_flatten(group))):
            raise
    except Unsatisfiable:
        if found.examples == 0:
            found.skipped = "no generated request could be sent: the request budget is spent (--max-requests)"
            return found
    failed_checks = set(broken)
    found.results.extend(broken.values())
    for bug in minimal:
        where = sorted(seen.get(type(bug).identity, ()))
        also = f"; the same failure breaking {len(where)} fields: {', '.join(where)}" if len(where) > 1 else ""
        for r in bug.results:
            failed_checks.add(r.check)
            r.message = (f"{r.message}\n(the request below is minimal: hypothesis shrank it; "
                         f"{len(distinct)} distinct requests generated{also})")
            found.results.append(r)
    for check_id, r in tally.items():
        if check_id in failed_checks:
            continue
        if r.outcome is Outcome.PASSED:
            r.case = f"property.{prop.id}"
            r.message = f"held for {len(held[check_id])} distinct generated request(s)"
            r.curl = ""
        found.results.append(r)
    return found


def _flatten(group: BaseExceptionGroup) -> Iterator[BaseException]:
    for e in group.exceptions:
        if isinstance(e, BaseExceptionGroup):
            yield from _flatten(e)
        else:
            yield e


class Sender:
    """Sends generated requests on one event loop and client; identical requests are sent once, and at
    most ``cap`` requests (further ones get None, so hypothesis stops there). Once the suite has found a failure,
    each new request is shrinking's (or a search past a failure's): those stop at ``shrink_budget`` (requests,
    seconds). A route the runner's circuit breaker gave up on gets None at once."""

    def __init__(self, runner: Runner, cap: int, shrink_budget: tuple[int, float] = (0, 0.0)):
        self.runner, self.cap = runner, cap
        self.memo: dict[tuple, Exchange] = {}
        self.sent = 0
        self.failing = False  # set by the search once a failure was found: what follows is shrinking
        self.shrink_budget = shrink_budget
        self.shrink_spent: tuple[int, float] = (0, 0.0)
        self.stopped: str | None = None  # why new requests are refused
        self.given_up: str | None = None  # the route the circuit breaker gave up on, when that refused one
        self.unanswered: str | None = None  # what became of a request that timed out, or stayed rate limited
        self._loop = _aio.Loop()
        self._client = httpx.AsyncClient(timeout=client_timeout(runner.target.timeout))

    def __call__(self, case: Case, body: bytes) -> Exchange | None:
        request = self.runner.request_for(case, body)
        key = request_key(request)
        if key in self.memo:
            return self.memo[key]
        why = self.runner.breaker.why(request)
        if why is not None:
            self.stopped, self.given_up = why, route_of(request)
            return None
        if self.unanswered is not None:
            self.stopped = (f"a request of this suite went unanswered ({self.unanswered}): that is not shrunk, and "
                            "the suite's search stops there")
            return None
        if self.failing and (self.shrink_spent[0] >= self.shrink_budget[0]
                             or self.shrink_spent[1] >= self.shrink_budget[1]):
            self.stopped = (f"the shrink budget is spent ({self.shrink_budget[0]} requests, "
                            f"{self.shrink_budget[1]:g} s: --shrink-budget)")
            return None
        if self.sent >= self.cap or not self.runner.spend():
            return None
        self.sent += 1
        started = time.perf_counter()
        bounds = self.runner.target.bounds
        exchange = self._loop.run(send_async(self._client, case.id, request, bounds, stream=case.stream))
        self.runner.breaker.record(exchange)
        if silent(exchange):
            self.unanswered = exchange.error or f"still {exchange.response.status} after {exchange.retries} retries"
        # confirmed before it is kept: a transport hiccup is no answer to shrink towards
        if self.runner.breaker.why(request) is None:
            exchange = self._loop.run(confirm(exchange, bounds))
        if self.failing:
            self.shrink_spent = (self.shrink_spent[0] + 1, self.shrink_spent[1] + time.perf_counter() - started)
        self.memo[key] = exchange
        self.runner.generated.append(exchange)
        return exchange

    def close(self) -> None:
        self._loop.run(self._client.aclose())
        self._loop.close()


DEFAULT_SHRINK_BUDGET = (400, 120.0)  # per suite, after its first failure: requests, seconds


def parse_shrink_budget(text: str) -> tuple[int, float]:
    """``REQUESTS:SECONDS`` (``100:60``), or ``REQUESTS`` alone (the default seconds); ``0`` shrinks nothing."""
    requests, _, seconds = text.strip().partition(":")
    try:
        budget = (int(requests), float(seconds) if seconds else DEFAULT_SHRINK_BUDGET[1])
    except ValueError:
        raise ValueError(f"shrink budget {text!r}: expected REQUESTS:SECONDS, such as 100:60") from None
    if budget[0] < 0 or budget[1] < 0:
        raise ValueError(f"shrink budget {text!r}: requests and seconds must be >= 0")
    return budget


def run(runner: Runner, prop: Property, *, base: Settings, max_examples: int = DEFAULT_MAX_EXAMPLES,
        seed: int | None = None, shrink_budget: tuple[int, float] = DEFAULT_SHRINK_BUDGET) -> Exploration:
    """Explore ``prop`` against the runner's target, sharing its request budget; the results are added to
    the runner's, secrets redacted."""
    from ._report import redact_result

    route = route_of(runner.request_for(case_for(prop, {}), b"{}"))
    if route in runner.breaker.tripped:  # the route was given up before the suite began: no search at all
        found = Exploration(prop, [redact_result(_abandoned(runner, prop, route), runner.target.secrets())])
        runner.results.extend(found.results)
        return found
    sender = Sender(runner, cap=max_examples * SHRINK_ALLOWANCE, shrink_budget=shrink_budget)
    try:
        found = explore(prop, model=runner.target.model or "", send=sender, context=runner.context,
                        profile=runner.profile, base=base, max_examples=max_examples, seed=seed)
    finally:
        sender.close()
    found.requests = sender.sent
    if found.skipped and sender.given_up is not None:
        found.skipped = None  # not a skip: the endpoint stopped answering the route
        found.results.append(_abandoned(runner, prop, sender.given_up))
    elif sender.stopped and found.failures:
        for r in found.failures:
            r.message += f"\n(shrinking stopped early: {sender.stopped})"
    secrets = runner.target.secrets()
    # A request's own failure met by the negative suite (reported under the positive one) that the positive
    # suite already reported, for the same minimal request, is the same finding: reported once.
    reported = {(r.case, r.check, r.curl) for r in runner.results if r.outcome is Outcome.FAILED}
    found.results = [r for r in (redact_result(r, secrets) for r in found.results)
                     if r.outcome is not Outcome.FAILED or (r.case, r.check, r.curl) not in reported]
    if runner.baseline is not None:
        found.results = [runner.baseline.apply(r) for r in found.results]
    runner.results.extend(found.results)
    return found


def _abandoned(runner: Runner, prop: Property, route: str) -> Result:
    """The result of a suite whose route the endpoint stopped answering: status-code failed, saying so, with the
    curl of the request that tripped the breaker."""
    chk = _checks.registry()["status-code"]
    return Result(chk.id, f"property.{prop.id}", Outcome.FAILED, chk.severity, chk.title,
                  f"not sent: {runner.breaker.tripped[route]}",
                  expected=["2xx" if prop.polarity == "positive" else "4xx"],
                  received="not sent: the endpoint had stopped answering", curl=runner.breaker.last[route].curl())


def cost(max_examples: int = DEFAULT_MAX_EXAMPLES) -> dict[str, int]:
    """What the property suites cost at most from a conformant endpoint (nothing to shrink): requests, and
    completion tokens as the positive schemas bound them (max_tokens x n x prompts per request)."""
    tokens = 0
    for route in (r for r in ROUTES.values() if r.api == "openai"):
        fields = _schemas.schema(route.positive)["properties"]
        if "max_tokens" in fields:
            prompts = max((b.get("maxItems", 1) for b in fields["prompt"]["anyOf"] if b.get("type") == "array"),
                          default=1) if "prompt" in fields else 1
            tokens += max_examples * fields["max_tokens"]["maximum"] * fields.get("n", {}).get("maximum", 1) * prompts
    return {"requests": max_examples * len(properties(api="openai")), "completion_tokens": tokens,
            "shrinking": max_examples * SHRINK_ALLOWANCE}
