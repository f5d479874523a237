"""*Negative* requests: positive ones with one violation of the contract schema (a missing required field, a wrong
type, an out-of-range number, an unknown enum value). Each must get a 4xx with the error envelope: never 200, never
5xx, never a hang."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from hypothesis import reject
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from ..contract import schemas as _schemas
from ..contract.profiles import Profile
from .positive import positive
from .routes import ROUTES

Resolver = Any  # referencing's resolver (its class is not public)

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
