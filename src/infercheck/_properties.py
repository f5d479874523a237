"""Property-based conformance: requests generated from the request schemas.

*Positive* requests come from ``schemas/openai/positive/`` (and ``schemas/hf/positive/`` for the Hugging Face
text tasks): the part of the contract every conformant endpoint must serve, bounded in cost. Each must get 200 and pass every check that applies.
*Negative* requests are positive ones with one violation of the contract schema (a missing required
field, a wrong type, an out-of-range number, an unknown enum value). Each must get a 4xx with the
error envelope: never 200, never 5xx, never a hang.

hypothesis draws each suite's requests up front; every suite's are then sent together, ``--concurrency`` in
flight, and each distinct failure is shrunk to a minimal request in waves of simpler candidates sent at once
(``_shrink``). A failure's identity is its property, its kind of mutation and the set of checks it fails:
failures that differ only in generated values, or in the field that was broken, are reported once, with the
curl of the minimal request and every field where the same failure was seen.
"""

from __future__ import annotations

import asyncio
import copy
import json
import posixpath
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, Verbosity, given, reject
from hypothesis import seed as hypothesis_seed
from hypothesis import settings as Settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from jsonschema import Draft202012Validator

from . import _aio, _answers, _cases, _checks, _schemas, _shrink
from ._cases import Case
from ._checks import Outcome, Result
from ._engine import Runner, request_key, route_of
from ._gate import Gate
from ._exchange import Exchange, Request
from ._profiles import Profile
from ._transport import confirm, lost, open_client, send_async, silent, timed_out

Resolver = Any  # referencing's resolver (its class is not public)

DEFAULT_MAX_EXAMPLES = 20


@dataclass(frozen=True)
class Route:
    path: str
    contract: str  # request schema of the contract
    positive: str  # request schema of what must be served
    response: str
    chunk: str | None = None
    feature: str | None = None  # profile feature the route needs
    api: str = "openai"
    endpoint: str | None = None  # the route its requests are cases of, for the checks (default: the suite's name)
    fields: tuple[str, ...] = ()  # the top-level fields its negative suite breaks (default: every one)
    agree: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # a positive request made to keep the rules
    # across fields that no schema states (a request that already keeps them is given back equal)

    @property
    def error_schema(self) -> str:
        return f"{self.api}/error.json"


JSON_INSTRUCTIONS = "You answer in JSON."  # what a generated json_object request says, as OpenAI requires


def _agreeing(body: dict[str, Any]) -> dict[str, Any]:
    """A tool-calling request made to keep the rules across fields that no schema states (chat's tools nest the name
    under ``function``, the Responses API's do not): tool names distinct (the first of each name kept), a named
    tool_choice among them (else the last one named), "required" or a named choice only with tools, every
    generated JSON Schema kept to the rules of ``_schemas_kept``, and a Responses ``json_object`` format asked for
    with the word JSON in the instructions (OpenAI refuses it otherwise, as chat-format's system message says)."""
    out = _schemas_kept(body)
    fmt = out.get("text", {}).get("format") if isinstance(out.get("text"), dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_object":
        out["instructions"] = JSON_INSTRUCTIONS
    names: list[str] = []
    tools = []
    for tool in out.get("tools") or []:
        name = (tool.get("function") or tool).get("name")
        if name not in names:
            names.append(name)
            tools.append(tool)
    if "tools" in out:
        out["tools"] = tools
    choice = out.get("tool_choice")
    if isinstance(choice, dict) or choice == "required":
        if not names:
            del out["tool_choice"]
        elif isinstance(choice, dict) and (choice.get("function") or choice).get("name") not in names:
            (choice.get("function") or choice)["name"] = names[-1]
    return out


def _schemas_kept(node: Any) -> Any:
    """A copy of ``node`` whose generated JSON Schemas (a tool's parameters, a response format's) require only the
    properties they declare, and where ``strict`` is true beside the schema, all of them with no other (OpenAI refuses
    a strict schema that leaves a property optional or the object open)."""
    if isinstance(node, list):
        return [_schemas_kept(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _schemas_kept(value) for key, value in node.items()}
    if out.get("type") == "object" and isinstance(out.get("required"), list):
        out["required"] = [name for name in out["required"] if name in (out.get("properties") or {})]
    if out.get("strict") is True:
        for key in ("schema", "parameters"):
            schema = out.get(key)
            if isinstance(schema, dict) and isinstance(schema.get("properties"), dict):
                out[key] = {**schema, "required": list(schema["properties"]), "additionalProperties": False}
    return out


ROUTES: dict[str, Route] = {
    "completions": Route("/completions", "openai/completion-request.json", "openai/positive/completion-request.json",
                         "openai/completion-response.json", "openai/completion-chunk.json"),
    "chat": Route("/chat/completions", "openai/chat-request.json", "openai/positive/chat-request.json",
                  "openai/chat-response.json", "openai/chat-chunk.json"),
    "embeddings": Route("/embeddings", "openai/embedding-request.json", "openai/positive/embedding-request.json",
                        "openai/embedding-response.json", feature="embeddings"),
    # tools, response formats and the Responses API: suites of their own, since many servers serve none of them
    "chat-tools": Route("/chat/completions", "openai/chat-request.json", "openai/positive/chat-tools-request.json",
                        "openai/chat-response.json", "openai/chat-chunk.json", feature="tools", endpoint="chat",
                        fields=("tools", "tool_choice", "parallel_tool_calls"), agree=_agreeing),
    "chat-format": Route("/chat/completions", "openai/chat-request.json", "openai/positive/chat-format-request.json",
                         "openai/chat-response.json", "openai/chat-chunk.json", feature="response-format",
                         endpoint="chat", fields=("response_format",), agree=_schemas_kept),
    "responses": Route("/responses", "openai/response-request.json", "openai/positive/response-request.json",
                       "openai/response.json", "openai/response-event.json", feature="responses", agree=_agreeing),
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
    schema = copy.deepcopy(bundled(ROUTES[route].positive))
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
    drawn = _strategy(schema, schema.get("$defs", {}))
    agree = ROUTES[route].agree
    return (drawn if agree is None else drawn.map(agree)).filter(servable(route))


@cache
def servable(route: str) -> Callable[[Any], bool]:
    """Whether a request is one the positive suite of ``route`` may send: valid against its positive schema, and
    keeping the rules across fields that the route's ``agree`` keeps."""
    full, agree = _schemas.validator(ROUTES[route].positive), ROUTES[route].agree

    def servable(body: Any) -> bool:  # named, not a lambda: see _present
        return full.is_valid(body) and (agree is None or agree(body) == body)

    return servable


@cache
def bundled(name: str) -> dict[str, Any]:
    """The schema ``name`` with each ``$ref`` into another schema (or to a part of its own other than ``$defs``)
    replaced by a ref to a copy of its target in its own ``$defs``: the generator and the shrinker read local refs
    only, and a positive schema may share parts with another (``positive/parts.json``)."""
    document = _schemas.schema(name)
    defs: dict[str, Any] = {}  # the copies

    def local(node: Any, where: str) -> Any:
        if isinstance(node, list):
            return [local(item, where) for item in node]
        if not isinstance(node, dict):
            return node
        out = {key: local(value, where) for key, value in node.items() if key != "$defs"}
        ref = node.get("$ref")
        if isinstance(ref, str):
            target, _, pointer = ref.partition("#")
            target = posixpath.normpath(posixpath.join(posixpath.dirname(where), target)) if target else where
            if target == name and pointer.startswith("/$defs/") and pointer.count("/") == 2:
                out["$ref"] = "#" + pointer
            else:
                key = f"{target}{pointer}".replace("/", ":")
                if key not in defs:
                    defs[key] = {}  # taken before it is filled: a ref back to it ends here
                    resolved = _schemas.registry().resolver(_schemas.uri(target)).lookup("#" + pointer)
                    defs[key] = local(resolved.contents, target)
                out["$ref"] = f"#/$defs/{key}"
        return out

    bundle = local(document, name)
    bundle["$defs"] = {**{key: local(value, name) for key, value in document.get("$defs", {}).items()}, **defs}
    return bundle


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
        return st.fixed_dictionaries(present).map(_present)
    if node.get("type") == "array" and "prefixItems" in node and node.get("items") is False:
        return st.tuples(*(_strategy(item, defs) for item in node["prefixItems"])).map(list)
    if node.get("type") == "array" and isinstance(node.get("items"), dict):
        return st.lists(_strategy(node["items"], defs), min_size=node.get("minItems", 0),
                        max_size=node.get("maxItems"))
    leaf = from_schema({**node, "$schema": "http://json-schema.org/draft-07/schema#"})
    edges = boundaries(node)
    return st.one_of(st.sampled_from(edges), leaf) if edges else leaf


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields drawn present. A named function, as every function given to hypothesis here: hypothesis describes
    a lambda by parsing its module's source, which CPython 3.11 cannot do in two threads at once (SystemError: AST
    constructor recursion depth mismatch); hypothesis runs on its own thread (``_drawing``), and the fewer sources
    it parses the better."""
    return {k: v for k, v in fields.items() if v is not _ABSENT}


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
        if ROUTES[route].fields and name not in ROUTES[route].fields:
            continue
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
        # drawn among those that apply to this body: a request without tools has no tools[0].type to break
        applicable = [m for m in candidates if m.apply(body) is not None]
        mutation = draw(st.sampled_from(applicable))
        changed = mutation.apply(body)
        if not breaks(route, changed, mutation):
            reject()
        return changed, mutation, body

    return mutated()


# -- exploring -----------------------------------------------------------------------------------------


def case_for(prop: Property, body: dict[str, Any], mutation: Mutation | None = None) -> Case:
    route = ROUTES[prop.route]
    name = f"property.{prop.id}" + (f"[{mutation}]" if mutation else "")
    stream = prop.polarity == "positive" and body.get("stream") is True
    endpoint = route.endpoint or prop.route
    if prop.polarity == "positive":
        return Case(name, f"generated {prop.route} request", endpoint, "POST", route.path, body=body,
                    stream=stream, status=(200,), schema=None if stream else route.response,
                    chunk_schema=route.chunk if stream else None,
                    tags=frozenset({"generated"}), api=route.api, error_schema=route.error_schema)
    return Case(name, f"generated invalid {prop.route} request", endpoint, "POST", route.path, body=body,
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


def draws(prop: Property, *, model: str, profile: Profile, base: Settings, max_examples: int,
          seed: int | None) -> list[Any]:
    """The requests a suite sends first, drawn by hypothesis up front (nothing is sent while drawing, so a seed
    always draws the same ones): bodies for a positive suite, (body, mutation, original) for a negative one."""
    strategy = positive(prop.route, model, profile) if prop.polarity == "positive" else negative(
        prop.route, model, profile)
    drawn: list[Any] = []

    def keep(example: Any) -> None:
        drawn.append(example)

    test = given(strategy)(keep)
    test = Settings(base, max_examples=max_examples, deadline=None, database=None, verbosity=Verbosity.quiet,
                    phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))(test)
    if seed is not None:
        test = hypothesis_seed(seed)(test)
    try:
        test()
    except Unsatisfiable:
        pass  # fewer than asked for: what was drawn is sent
    return drawn


@dataclass
class _Finding:
    """A failing request: its identity (the property, the kind of violation, the failed checks), what was sent and
    judged, and the positive request it is shrunk as (the request itself, or the one the violation was put in)."""

    identity: tuple
    case: Case
    exchange: Exchange
    results: list[Result]
    original: dict[str, Any]
    mutation: Mutation | None = None  # the violation kept while shrinking
    blamed: Mutation | None = None  # a request's own failure: the violation it was found with
    steps: int = 0  # simplifications kept
    stopped: str | None = None  # why shrinking stopped before the request was minimal


class _Suite:
    """One suite's sending. Every suite shares the runner's client and its gate of ``--concurrency`` requests in
    flight; identical requests are sent once. The drawn requests are sent (each at most twice: a negative one
    without its violation too); shrinking's stop at the ``shrink_budget`` (requests, seconds since shrinking
    began). A route the circuit breaker gave up on, and
    every request after one of the suite's went unanswered, are not sent (None)."""

    def __init__(self, runner: Runner, client: httpx.AsyncClient, gate: Gate,
                 shrink_budget: tuple[int, float]):
        self.runner, self.client, self.gate, self.shrink_budget = runner, client, gate, shrink_budget
        self.memo: dict[tuple, asyncio.Future[Exchange | None]] = {}
        self.sent = 0
        self.shrink_sent = 0
        self.shrinking_since: float | None = None
        self.stopped: str | None = None  # why a request was not sent
        self.refused = 0  # drawn requests not sent (not counting shrinking's)
        self.given_up: str | None = None  # the route the circuit breaker gave up on, when that refused one
        self.unanswered: str | None = None  # what became of a request that timed out, or stayed rate limited
        self.doubts = 0  # this suite's requests that went unanswered and await their confirmation
        self.settled = asyncio.Event()  # set while none does: the suite's other requests wait until then
        self.settled.set()

    async def send(self, case: Case, body: bytes, *, shrinking: bool) -> Exchange | None:
        request = self.runner.request_for(case, body)
        key = request_key(request)
        if key not in self.memo:
            self.memo[key] = asyncio.ensure_future(self._send(case, request, shrinking))
        return await self.memo[key]

    def _refusal(self, case: Case, request: Request, shrinking: bool) -> str | None:
        why = self.runner.breaker.why(request)
        if why is not None:
            self.given_up = route_of(request)
            return why
        if self.unanswered is not None:
            return (f"a request of this suite went unanswered ({self.unanswered}): that is not shrunk, and the "
                    "suite sends nothing more")
        if shrinking and (self.shrink_sent >= self.shrink_budget[0]
                          or time.perf_counter() - (self.shrinking_since or 0.0) >= self.shrink_budget[1]):
            return (f"the shrink budget is spent ({self.shrink_budget[0]} requests, {self.shrink_budget[1]:g} s: "
                    "--shrink-budget)")
        return self.runner.spend(_cases.reservation(case))

    async def _send(self, case: Case, request: Request, shrinking: bool) -> Exchange | None:
        bounds = self.runner.target.bounds
        while True:
            await self.settled.wait()  # none of this suite's requests awaits its confirmation
            async with self.gate.slot(Gate.FIRST if shrinking else Gate.LATER):  # a shrinking wave waits for these
                if not self.settled.is_set():
                    continue  # one went unanswered meanwhile: its slot back, and wait for its confirmation
                why = self._refusal(case, request, shrinking)
                if why is not None:
                    self.stopped = why
                    self.refused += not shrinking
                    return None
                self.sent += 1
                self.shrink_sent += shrinking
                exchange = await send_async(self.client, case.id, request, bounds, stream=case.stream)
                self.runner.settle(_cases.reservation(case), exchange)
            break
        # Confirmed alone before it is kept: a transport hiccup is no answer to judge, nor to shrink towards, and a
        # timeout under load may be the load's (the circuit breaker counts the confirmed answer). Meanwhile the
        # suite sends nothing more: against an endpoint that answers nothing, its queued requests would otherwise
        # each wait out the deadline before the confirmation settles the matter.
        # So is a stream that ended before its finish_reason while others were in flight (a server may stop a running
        # stream for another request).
        ended = self.gate.width > 1 and _answers.ended_early(exchange)
        if lost(exchange) or (timed_out(exchange) and self.gate.width > 1) or ended:
            self.doubts += 1
            self.settled.clear()
            try:
                async with self.gate.alone():
                    # not when the route was given up, or another of the suite's was confirmed unanswered meanwhile
                    if self.runner.breaker.why(request) is None and self.unanswered is None:
                        first, exchange = exchange, await confirm(exchange, bounds, timeouts=True, ended=ended)
                        if timed_out(first) and not timed_out(exchange):
                            self.gate.narrow()
            finally:
                self.doubts -= 1
                if not self.doubts:
                    self.settled.set()
        self.runner.breaker.record(exchange)
        if silent(exchange):
            self.unanswered = exchange.error or f"still {exchange.response.status} after {exchange.retries} retries"
        self.runner.generated.append(exchange)
        return exchange


async def _explore(prop: Property, drawn_: asyncio.Future[list[Any]], suite: _Suite, *, model: str,
                   context: _checks.Context, profile: Profile, width: int,
                   drawing: ThreadPoolExecutor) -> Exploration:
    """Once they are drawn, send every drawn request at once (the suite's share of the gate), check every answer,
    and shrink each distinct failure in waves of ``width`` candidates sent at once. Shrinking's candidates are made
    on the ``drawing`` thread, as the draws were: hypothesis parses Python source (to describe a function, a
    traceback, the constants of a module), which CPython 3.11 cannot do in two threads at once (SystemError: AST
    constructor recursion depth mismatch), so hypothesis runs on that one thread only."""
    drawn = await drawn_
    loop = asyncio.get_running_loop()
    found = Exploration(prop)
    checks = list(_checks.registry().values())
    tally: dict[str, Result] = {}  # check id -> a passed (or deviation) result standing for every example
    seen: dict[tuple, set[str]] = {}  # failure identity -> every field where it was seen
    broken: dict[str, Result] = {}  # check id -> the first internal error it raised
    held: dict[str, set[bytes]] = {}  # check id -> the distinct requests it passed (or deviated) on
    distinct: set[bytes] = set()  # every distinct request sent
    plain_prop = Property(prop.route, "positive")

    async def check(case: Case, body: dict[str, Any], shrinking: bool) -> tuple[Exchange | None, list[Result]]:
        sent = json.dumps(body).encode()
        exchange = await suite.send(case, sent, shrinking=shrinking)
        if exchange is None:
            return None, []
        distinct.add(sent)
        found.examples += 1
        results = [_checks.evaluate(c, case, exchange, context, profile) for c in checks if c.applies(case)]
        for r in results:
            if r.outcome is Outcome.ERROR:  # infercheck's bug, not the endpoint's: reported, never shrunk
                broken.setdefault(r.check, r)
            if r.outcome in (Outcome.PASSED, Outcome.DEVIATION) and case.id.startswith(f"property.{prop.id}"):
                held.setdefault(r.check, set()).add(sent)
                if r.check not in tally or (r.outcome is Outcome.DEVIATION
                                             and tally[r.check].outcome is Outcome.PASSED):
                    tally[r.check] = r
        return exchange, [r for r in results if r.outcome is Outcome.FAILED]

    async def plain(body: dict[str, Any], blamed: Mutation | None, shrinking: bool) -> tuple[bool, _Finding | None]:
        """A positive request: (sent, its failure or None). With ``blamed``, the request a violation was put in,
        whose own failure is not the violation's."""
        case = case_for(plain_prop, body)
        exchange, failed = await check(case, body, shrinking)
        if exchange is None or not failed:
            return exchange is not None, None
        if blamed is not None:
            for r in failed:
                r.message = (f"{r.message}\n(not the violation's failure: found while sending {blamed}, but "
                             "the request fails without that violation too)")
        kind = "without-the-violation" if blamed is not None else None
        identity = (prop.id, kind, tuple(sorted(r.check for r in failed)))
        return True, _Finding(identity, case, exchange, failed, body, blamed=blamed)

    async def violated(body: dict[str, Any], mutation: Mutation, original: dict[str, Any],
                       shrinking: bool) -> tuple[bool, _Finding | None]:
        """A negative request: (sent, its failure or None), blamed on the violation only if the request without
        it is served. While shrinking, the shrinker asks that of the candidate it keeps only, not of every one."""
        case = case_for(prop, body, mutation)
        exchange, failed = await check(case, body, shrinking)
        if exchange is None or not failed:
            return exchange is not None, None
        if not shrinking:
            sent, mine = await plain(original, mutation, shrinking)
            if not sent or mine is not None:
                return sent, mine
        seen.setdefault(identity := (prop.id, mutation.kind, tuple(sorted(r.check for r in failed))),
                        set()).add(mutation.where)
        return True, _Finding(identity, case, exchange, failed, original, mutation=mutation)

    async def attempt(drawn_one: Any) -> _Finding | None:
        if prop.polarity == "positive":
            return (await plain(drawn_one, None, False))[1]
        return (await violated(*drawn_one, False))[1]

    findings = await asyncio.gather(*(attempt(d) for d in drawn))
    first: dict[tuple, _Finding] = {}
    for finding in findings:
        if finding is not None:
            first.setdefault(finding.identity, finding)
    if first:
        suite.shrinking_since = time.perf_counter()
        shrinker = _shrinker(prop.route, model, tuple(sorted(profile.unsupported)))
        full = servable(prop.route)

        async def shrink(f: _Finding) -> _Finding:
            if silent(f.exchange):
                f.stopped = "the request went unanswered, and a timeout is not shrunk"
                return f
            mutation = f.mutation

            def valid(body: dict[str, Any]) -> bool:
                return full(body) and (mutation is None or breaks(prop.route, mutation.apply(body),
                                                                            mutation))

            async def reproduce(body: dict[str, Any]) -> tuple[bool, _Finding | None]:
                if mutation is None:
                    return await plain(body, f.blamed, True)
                return await violated(mutation.apply(body), mutation, body, True)

            tried: set[tuple[int, str]] = set()
            combined: dict[str, Any] | None = None
            while True:
                made = await loop.run_in_executor(drawing, shrinker.candidates, f.original, valid)
                candidates = [(e, c) for e, c in made if _shrink.size(c) not in tried]
                wave = candidates[:width]
                if combined is not None and _shrink.size(combined) not in tried and valid(combined) and \
                        _shrink.size(combined) < _shrink.size(f.original):
                    wave = [(None, combined), *[(e, c) for e, c in wave if c != combined][:width - 1]]
                if not wave:
                    return f
                answers = await asyncio.gather(*(reproduce(c) for _, c in wave))
                kept = [(e, again) for (e, _), (_, again) in zip(wave, answers)
                        if again is not None and again.identity == f.identity]
                tried.update(_shrink.size(c) for (_, c), (_, again) in zip(wave, answers)
                             if again is None or again.identity != f.identity)
                unsent = not all(sent for sent, _ in answers)
                while kept and mutation is not None:  # the violation's failure, not the request's own
                    sent, mine = await plain(kept[0][1].original, mutation, True)
                    if sent and mine is None:
                        break
                    unsent = unsent or not sent
                    tried.add(_shrink.size(kept.pop(0)[1].original))
                combined = None
                if kept:
                    _, best = kept[0]
                    best.steps, best.blamed = f.steps + 1, f.blamed
                    combined = best.original
                    for edit, _ in kept[1:]:  # the other simplifications that held, all at once
                        changed = edit.apply(combined) if edit is not None else None
                        combined = changed if changed is not None and valid(changed) else combined
                    combined = None if combined == best.original else combined
                    f = best
                if unsent:
                    f.stopped = suite.stopped or "a request was not sent"
                    return f
                if not kept and len(candidates) <= len(wave):
                    return f

        shrunk = await asyncio.gather(*(shrink(f) for f in first.values()))
    else:
        shrunk = []
    if found.examples == 0:
        found.skipped = ("no generated request could be sent: " + (suite.stopped or "none could be generated")
                         if drawn else "no request could be generated")
        return found
    failed_checks = set(broken)
    found.results.extend(broken.values())
    for bug in shrunk:
        where = sorted(seen.get(bug.identity, ()))
        also = f"; the same failure breaking {len(where)} fields: {', '.join(where)}" if len(where) > 1 else ""
        kept = f"shrunk in {bug.steps} step(s)" if bug.steps else "as drawn"
        how = (f"the request below is minimal ({kept}): no simpler version of it fails the same way"
               if bug.stopped is None else
               f"the request below is the simplest found ({kept}); shrinking stopped early: {bug.stopped}")
        for r in bug.results:
            failed_checks.add(r.check)
            r.message = f"{r.message}\n({how}; {len(distinct)} distinct requests generated{also})"
            found.results.append(r)
    for check_id, r in tally.items():
        if check_id in failed_checks:
            continue
        if r.outcome is Outcome.PASSED:
            r.case = f"property.{prop.id}"
            r.message = f"held for {len(held[check_id])} distinct generated request(s)" + (
                f"; {suite.refused} more drawn request(s) not sent: {suite.stopped}" if suite.refused else "")
            r.curl = ""
        found.results.append(r)
    return found


@cache
def _shrinker(route: str, model: str, lacking: tuple[str, ...]) -> _shrink.Shrinker:
    schema = positive_schema(route, model, lacking)
    return _shrink.Shrinker(schema, lambda node: _strategy(node, schema.get("$defs", {})))


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
    """Explore ``prop`` against the runner's target (``run_all`` of one suite)."""
    return run_all(runner, [prop], base=base, max_examples=max_examples, seed=seed, shrink_budget=shrink_budget)[0]


def run_all(runner: Runner, props: list[Property], *, base: Settings, max_examples: int = DEFAULT_MAX_EXAMPLES,
            seed: int | None = None, shrink_budget: tuple[int, float] = DEFAULT_SHRINK_BUDGET) -> list[Exploration]:
    """Explore ``props`` at once against the runner's target (``run_all_async`` on an event loop of its own)."""
    return _aio.run(run_all_async(runner, props, base=base, max_examples=max_examples, seed=seed,
                                  shrink_budget=shrink_budget))


async def run_all_async(runner: Runner, props: list[Property], *, base: Settings,
                        max_examples: int = DEFAULT_MAX_EXAMPLES, seed: int | None = None,
                        shrink_budget: tuple[int, float] = DEFAULT_SHRINK_BUDGET,
                        gate: Gate | None = None) -> list[Exploration]:
    """Explore ``props`` at once against the runner's target, sharing its concurrency (``gate``: the cases may be
    sent through it at the same time), circuit breaker and request budget. Each suite's requests are drawn up front
    by hypothesis, one suite after another in a thread of their own (nothing is sent while drawing), and each suite
    sends its requests as soon as they are drawn, ``--concurrency`` in flight across every suite, and so are the
    waves that shrink their failures. The results are added to the runner's (in the order of ``props``), secrets
    redacted."""
    from ._report import redact_result

    props = list(dict.fromkeys(props))
    secrets = runner.target.secrets()
    done: dict[Property, Exploration] = {}
    model = runner.target.model or ""
    with _drawing() as drawing:
        loop = asyncio.get_running_loop()
        jobs: dict[Property, asyncio.Future[list[Any]]] = {}
        for prop in props:
            route = route_of(runner.request_for(case_for(prop, {}), b"{}"))
            feature = ROUTES[prop.route].feature
            if route in runner.breaker.tripped:  # given up before the suite began: no search at all
                done[prop] = Exploration(prop, [_abandoned(runner, prop, route)])
            elif feature and feature in runner.profile.unsupported:
                done[prop] = Exploration(prop, skipped=(f"profile {runner.profile.name!r}: the server documents "
                                                        f"no {feature} support: {runner.profile.unsupported[feature]}"))
            else:
                jobs[prop] = loop.run_in_executor(drawing, partial(draws, prop, model=model, profile=runner.profile,
                                                                   base=base, max_examples=max_examples, seed=seed))
        if jobs:
            suites = await _explore_all(runner, jobs, shrink_budget, gate or Gate(runner.concurrency), drawing)
            for prop, (found, suite) in zip(jobs, suites):
                found.requests = suite.sent
                if found.skipped and suite.given_up is not None:
                    found.skipped = None  # not a skip: the endpoint stopped answering the route
                    found.results.append(_abandoned(runner, prop, suite.given_up))
                done[prop] = found
    for prop in props:
        found = done[prop]
        if found.skipped and not found.results:  # in the results too: a suite that checked nothing says so
            found.results.append(_skipped(prop, found.skipped))
        # A request's own failure met by the negative suite (reported under the positive one) that the positive
        # suite already reported, for the same minimal request, is the same finding: reported once.
        reported = {(r.case, r.check, r.curl) for r in runner.results if r.outcome is Outcome.FAILED}
        found.results = [r for r in (redact_result(r, secrets) for r in found.results)
                         if r.outcome is not Outcome.FAILED or (r.case, r.check, r.curl) not in reported]
        if runner.baseline is not None:
            found.results = [runner.baseline.apply(r) for r in found.results]
        runner.results.extend(found.results)
    return [done[prop] for prop in props]


@contextmanager
def _drawing() -> Iterator[ThreadPoolExecutor]:
    """The thread hypothesis draws in. Drawing is CPU-bound and holds the GIL; meanwhile the event loop's thread
    gets the GIL back after 0.5 ms instead of Python's 5 ms, so answers are read and requests sent without waiting
    behind it (measured: ``benchmarks/properties.py``)."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, 0.0005))
    drawing = ThreadPoolExecutor(1, thread_name_prefix="infercheck-draw")
    try:
        yield drawing
    finally:
        drawing.shutdown(wait=False)  # an exploration that raised leaves its draws to end by themselves
        sys.setswitchinterval(interval)


async def _explore_all(runner: Runner, jobs: dict[Property, asyncio.Future[list[Any]]],
                       shrink_budget: tuple[int, float], gate: Gate,
                       drawing: ThreadPoolExecutor) -> list[tuple[Exploration, _Suite]]:
    async with open_client(runner.target.bounds, runner.concurrency) as client:
        suites = [_Suite(runner, client, gate, shrink_budget) for _ in jobs]
        found = await asyncio.gather(*(
            _explore(prop, drawn, suite, model=runner.target.model or "", context=runner.context,
                     profile=runner.profile, width=runner.concurrency, drawing=drawing)
            for (prop, drawn), suite in zip(jobs.items(), suites)))
    return list(zip(found, suites))


def _skipped(prop: Property, why: str) -> Result:
    chk = _checks.registry()["status-code"]
    return Result(chk.id, f"property.{prop.id}", Outcome.SKIPPED, chk.severity, chk.title, why)


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
    completion tokens as the positive schemas bound them (the limit x n x prompts per request)."""
    tokens = 0
    for route in (r for r in ROUTES.values() if r.api == "openai"):
        fields = bundled(route.positive)["properties"]
        limit = max((fields[name]["maximum"] for name in ("max_tokens", "max_completion_tokens", "max_output_tokens")
                     if name in fields), default=0)
        prompts = max((b.get("maxItems", 1) for b in fields["prompt"]["anyOf"] if b.get("type") == "array"),
                      default=1) if "prompt" in fields else 1
        tokens += max_examples * limit * fields.get("n", {}).get("maximum", 1) * prompts
    return {"requests": max_examples * len(properties(api="openai")), "completion_tokens": tokens,
            "shrinking": DEFAULT_SHRINK_BUDGET[0]}
