"""Simpler versions of a generated request, guided by the schema it was generated from.

A failing generated request is shrunk by trying simpler versions of it and keeping one that fails the same way,
until none does. Each candidate is one edit of the request: an optional field removed, a list item removed or the
list cut to its shortest, a value replaced by the simplest value its part of the schema allows (hypothesis's own
minimal example of that part: "0", "A", 1, false), a number halved or moved one step towards zero, a string
cut. A candidate is kept only when it is smaller in shortlex order (the length of its JSON, then the JSON), so
shrinking ends. The candidates of one request are independent of each other's answers, which is what lets a
suite send a whole wave of them at once (``engine/search.py``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from hypothesis import HealthCheck, Phase, find
from hypothesis import settings as Settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

DROP = object()  # an edit's value: remove the field or the list item
_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "title", "description", "$defs", "allOf"})
_MINIMAL = Settings(database=None, max_examples=200, deadline=None, derandomize=True,
                    phases=(Phase.generate, Phase.shrink), suppress_health_check=list(HealthCheck))


@dataclass(frozen=True)
class Edit:
    """Set ``path`` (keys and list indices) to ``value``, or remove what is there when ``value`` is ``DROP``."""

    path: tuple[str | int, ...]
    value: Any
    rank: int  # 0 removes, 1 sets the simplest value, 2 a smaller one: tried in that order

    def apply(self, body: Any) -> Any:
        """A changed copy of ``body``, or None when the path is not there."""
        out = copy.deepcopy(body)
        parent = out
        for step in self.path[:-1]:
            try:
                parent = parent[step]
            except (KeyError, IndexError, TypeError):
                return None
        last = self.path[-1]
        if not isinstance(parent, (dict, list)) or isinstance(parent, dict) and last not in parent:
            return None
        if isinstance(parent, list) and not (isinstance(last, int) and last < len(parent)):
            return None
        if self.value is DROP:
            del parent[last]
        else:
            parent[last] = copy.deepcopy(self.value)
        return out


def size(body: Any) -> tuple[int, str]:
    """Shortlex order: a request is simpler than another when its JSON is shorter, or as long and sorts first."""
    text = json.dumps(body, sort_keys=True)
    return len(text), text


class Shrinker:
    """The edits of requests generated from ``schema``; ``strategy`` is the strategy the generator builds for a part
    of the schema (its simplest example is the simplest value of that part)."""

    def __init__(self, schema: dict[str, Any], strategy: Callable[[dict[str, Any]], st.SearchStrategy[Any]]):
        self.schema, self.defs, self._strategy = schema, schema.get("$defs", {}), strategy
        self._minimal: dict[str, Any] = {}

    def candidates(self, body: dict[str, Any], valid: Callable[[Any], bool]) -> list[tuple[Edit, Any]]:
        """Every (edit, simpler request) of ``body`` that ``valid`` accepts, most promising first, each once."""
        edits = sorted(self._edits(body, self.schema, ()), key=lambda e: e.rank)  # stable: document order within
        current, seen, out = size(body), set(), []
        for edit in edits:
            changed = edit.apply(body)
            if changed is None:
                continue
            key = size(changed)
            if key < current and key not in seen and valid(changed):
                seen.add(key)
                out.append((edit, changed))
        return out

    def minimal(self, node: dict[str, Any]) -> Any:
        """The simplest value of a part of the schema, as hypothesis shrinks it."""
        key = json.dumps(node, sort_keys=True)
        if key not in self._minimal:
            self._minimal[key] = find(self._strategy(node), _anything, settings=_MINIMAL)
        return self._minimal[key]

    def _resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and set(node) - _ANNOTATIONS == {"$ref"}:
            node = self.defs[node["$ref"].removeprefix("#/$defs/")]
        return node

    def _edits(self, value: Any, node: Any, path: tuple[str | int, ...]) -> Iterator[Edit]:
        node = self._resolve(node)
        if not isinstance(node, dict):
            return
        if path:  # the request itself is never replaced
            simplest = self.minimal(node)
            if simplest != value:
                yield Edit(path, simplest, 1)
        if set(node) - _ANNOTATIONS == {"anyOf"}:
            branch = next((b for b in node["anyOf"] if _fits(self._resolve(b), self.defs, value)), None)
            if branch is not None:
                yield from self._edits_inside(value, self._resolve(branch), path)
            return
        yield from self._edits_inside(value, node, path)

    def _edits_inside(self, value: Any, node: dict[str, Any], path: tuple[str | int, ...]) -> Iterator[Edit]:
        if isinstance(value, dict) and node.get("type") == "object":
            required = set(node.get("required", ()))
            fields = node.get("properties", {})
            yield from (Edit((*path, k), DROP, 0) for k in value if k not in required)
            for k, v in value.items():
                if k in fields:
                    yield from self._edits(v, fields[k], (*path, k))
            return
        if isinstance(value, list) and "prefixItems" in node:
            for i, (v, sub) in enumerate(zip(value, node["prefixItems"])):
                yield from self._edits(v, sub, (*path, i))
            return
        if isinstance(value, list) and isinstance(node.get("items"), dict):
            shortest = node.get("minItems", 0)
            if len(value) > shortest:
                if path:
                    yield Edit(path, value[:max(shortest, 1)] if len(value) > max(shortest, 1) else [], 0)
                yield from (Edit((*path, i), DROP, 0) for i in range(len(value)))
            for i, v in enumerate(value):
                yield from self._edits(v, node["items"], (*path, i))
            return
        yield from (Edit(path, smaller, 2) for smaller in _smaller(value) if _fits(node, self.defs, smaller))


def _anything(_: Any) -> bool:
    """Every value: the condition of ``find`` for a part's simplest value. Named, not a lambda: hypothesis describes a
    lambda by parsing its module's source (see ``generation.positive._present``)."""
    return True


def _smaller(value: Any) -> list[Any]:
    """Values a little simpler than a leaf's: halved, a step towards zero, cut short."""
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int):
        return [value // 2 if value > 0 else -(-value // 2), value - 1 if value > 0 else value + 1] if value else []
    if isinstance(value, float):
        return [float(int(value)), value / 2] if value else []
    if isinstance(value, str) and value:
        return [value[:1], value[:len(value) // 2], value[:-1]]
    return []


def _fits(node: dict[str, Any], defs: dict[str, Any], value: Any) -> bool:
    return _validator(json.dumps({**node, "$defs": defs}, sort_keys=True)).is_valid(value)


@cache
def _validator(schema: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema))
