"""*Positive* requests: drawn from ``schemas/openai/positive/`` (and ``schemas/hf/positive/`` for the Hugging Face
text tasks), the part of the contract every conformant endpoint must serve, bounded in cost. Each must get 200 and
pass every check that applies."""

from __future__ import annotations

import copy
import posixpath
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from ..contract import schemas as _schemas
from ..contract.profiles import Profile
from .routes import ROUTES


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
    drawn = strategy(schema, schema.get("$defs", {}))
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


def strategy(node: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A strategy for a positive schema: closed objects, tuples, lists and anyOf are composed here, each
    built once; hypothesis-jsonschema generates the leaves (strings, numbers, enums). Left to itself it
    would rebuild the strategies of nested objects at every draw, which makes shrinking slow. ``allOf``
    rules are not generated but checked: the caller filters with the whole schema."""
    from hypothesis_jsonschema import from_schema  # not at import: it builds strategies, slow in plugin loading

    keys = set(node) - _ANNOTATIONS
    if keys == {"$ref"}:
        return strategy(defs[node["$ref"].removeprefix("#/$defs/")], defs)
    if keys == {"anyOf"}:
        return st.one_of([strategy(branch, defs) for branch in node["anyOf"]])
    if node.get("type") == "object" and node.get("additionalProperties") is False:
        fields = {name: strategy(sub, defs) for name, sub in node["properties"].items()}
        required = set(node.get("required", ()))
        # Each optional field present or absent by its own draw, absence first: hypothesis shrinks a field away
        # by flipping that draw, which its own ``optional=`` (a drawn list of keys) often fails to do.
        present = {k: v if k in required else st.one_of(st.just(_ABSENT), v) for k, v in fields.items()}
        return st.fixed_dictionaries(present).map(_present)
    if node.get("type") == "array" and "prefixItems" in node and node.get("items") is False:
        return st.tuples(*(strategy(item, defs) for item in node["prefixItems"])).map(list)
    if node.get("type") == "array" and isinstance(node.get("items"), dict):
        return st.lists(strategy(node["items"], defs), min_size=node.get("minItems", 0),
                        max_size=node.get("maxItems"))
    leaf = from_schema({**node, "$schema": "http://json-schema.org/draft-07/schema#"})
    edges = boundaries(node)
    return st.one_of(st.sampled_from(edges), leaf) if edges else leaf


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields drawn present. A named function, as every function given to hypothesis here: hypothesis describes
    a lambda by parsing its module's source, which CPython 3.11 cannot do in two threads at once (SystemError: AST
    constructor recursion depth mismatch); hypothesis runs on its own thread (``engine/explore.py``, ``_drawing``),
    and the fewer sources it parses the better."""
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
