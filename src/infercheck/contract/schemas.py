"""The contract: JSON Schemas loaded from ``schemas/`` into a ``referencing`` registry.

python-jsonschema says what is wrong with an instance, in the words every failure report quotes. Whether anything is
wrong at all is asked of jsonschema-rs first, over the same schemas and the same formats (python-jsonschema's own
format checkers): a valid instance, the common case, is not walked in Python (benchmarks/load_checking.py: the schema
walks were four fifths of judging an answer). jsonschema-rs may find fault where python-jsonschema finds none (its
own checkers of formats python-jsonschema does not assert, ECMA-262's ``$``); python-jsonschema then decides.
tests/contract/test_fast_validation.py proves the other way round: never valid to jsonschema-rs and invalid to
python-jsonschema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from typing import Any

import jsonschema
import jsonschema_rs
from jsonschema.exceptions import best_match
from referencing import Registry, Resource

from .data import data_dir

BASE_URI = "https://infercheck.dev/schemas/"


@cache
def registry() -> Registry:
    resources = []
    for path in sorted(data_dir("schemas").rglob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        resources.append((document["$id"], Resource.from_contents(document)))
    return Registry().with_resources(resources)


def uri(name: str) -> str:
    """``openai/chat-response.json`` -> its full ``$id``."""
    return name if name.startswith("https://") else BASE_URI + name


def schema(name: str) -> dict[str, Any]:
    return registry().contents(uri(name))


def names() -> list[str]:
    """Every schema, by its short name relative to ``schemas/``."""
    return sorted(u.removeprefix(BASE_URI) for u in registry())


@cache
def validator(name: str) -> jsonschema.protocols.Validator:
    document = schema(name)
    cls = jsonschema.validators.validator_for(document)
    return cls(document, registry=registry(), format_checker=cls.FORMAT_CHECKER)


@cache
def _fast_registry(closed: bool) -> jsonschema_rs.Registry:
    source = closed_registry() if closed else registry()
    return jsonschema_rs.Registry([(u, source.contents(u)) for u in source])


@cache
def _fast(name: str, closed: bool = False) -> Any:
    """jsonschema-rs' validator of ``name`` (the closed schema's, which asserts no format), with python-jsonschema's
    format checkers for the formats that one asserts."""
    document = (closed_registry() if closed else registry()).contents(uri(name))
    checker = validator(name).format_checker
    formats = {} if closed else {f: (lambda value, f=f: checker.conforms(value, f)) for f in checker.checkers}
    return jsonschema_rs.validator_for(document, registry=_fast_registry(closed), validate_formats=not closed,
                                       formats=formats)


def valid(name: str, instance: Any, *, closed: bool = False) -> bool:
    """Whether jsonschema-rs finds ``instance`` valid against ``name`` (then python-jsonschema does too); False when
    it cannot say (python-jsonschema decides)."""
    try:
        return _fast(name, closed).is_valid(instance)
    except Exception:  # an instance jsonschema-rs cannot take (an integer past 64 bits): the slow path decides
        return False


def violations(name: str, instance: Any) -> list[jsonschema.ValidationError]:
    """The schema violations, most relevant first; empty when valid."""
    if valid(name, instance):
        return []
    found = list(validator(name).iter_errors(instance))
    if not found:
        return []
    first = best_match(found)
    return [first] + [e for e in found if e is not first]


def errors(name: str, instance: Any) -> list[str]:
    """Human-readable schema violations, most relevant first; empty when valid."""
    return [describe(e) for e in violations(name, instance)]




def describe(error: jsonschema.ValidationError) -> str:
    where = error.json_path if error.absolute_path else "$"
    # anyOf/oneOf failures are clearer through their best sub-error
    if error.context:
        error = best_match(error.context)
        where = error.json_path if error.absolute_path else where
    return f"{where}: {error.message}"


def first_error(name: str, instance: Any) -> jsonschema.ValidationError | None:
    if valid(name, instance):
        return None
    return best_match(validator(name).iter_errors(instance))


_OPEN_KEYWORDS = ("additionalProperties", "unevaluatedProperties", "patternProperties")


def _close(node: Any, document: dict[str, Any], *, shut: bool = True) -> Any:
    """A copy of ``node`` where every object schema listing ``properties`` (and not saying what other
    properties may be) refuses the rest. A local ``$ref`` extended with more properties is inlined first,
    so that the extension's properties count as declared. Conditions (``if``, ``not``) stay as written: they
    select, and declare nothing. What a ``then`` or ``else`` branch declares adds to the schema it belongs to,
    which refuses the rest (``shut`` False: the branch itself refuses nothing)."""
    if isinstance(node, list):
        return [_close(item, document) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/") and "properties" in node:
        target: Any = document
        for part in ref[2:].split("/"):
            target = target[part]
        merged = dict(target)
        merged["properties"] = {**target.get("properties", {}), **node["properties"]}
        merged["required"] = sorted({*target.get("required", []), *node.get("required", [])})
        node = {**{k: v for k, v in node.items() if k not in ("$ref", "properties", "required")}, **merged}
    closed = {key: (value if key in ("const", "enum", "examples", "default", "if", "not")
                    else _close(value, document, shut=key not in ("then", "else"))) for key, value in node.items()}
    if shut and "properties" in closed and not any(k in closed for k in _OPEN_KEYWORDS):
        closed["unevaluatedProperties"] = False
    return closed


@cache
def closed_registry() -> Registry:
    resources = []
    for uri_ in registry():
        document = registry().contents(uri_)
        resources.append((uri_, Resource.from_contents(_close(document, document))))
    return Registry().with_resources(resources)


@cache
def closed_validator(name: str) -> jsonschema.protocols.Validator:
    document = closed_registry().contents(uri(name))
    cls = jsonschema.validators.validator_for(document)
    return cls(document, registry=closed_registry())


def undocumented(name: str, instance: Any) -> list[tuple[str, Any]]:
    """(JSON path, value) of every field of ``instance`` that schema ``name`` does not declare."""
    found: dict[str, Any] = {}  # path -> value, each path once
    if valid(name, instance, closed=True):
        return []
    for error in closed_validator(name).iter_errors(instance):
        for leaf in leaves(error):
            if leaf.validator == "unevaluatedProperties" and isinstance(leaf.instance, dict):
                declared = leaf.schema.get("properties", {})
                where = leaf.json_path if leaf.absolute_path else "$"
                for key, value in leaf.instance.items():
                    if key not in declared:
                        found.setdefault(f"{where}.{key}", value)
    return list(found.items())


def leaves(error: jsonschema.ValidationError) -> Iterator[jsonschema.ValidationError]:
    """``error`` and every sub-error of its anyOf/oneOf branches, depth first."""
    yield error
    for sub in error.context or ():
        yield from leaves(sub)
