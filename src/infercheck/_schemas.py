"""The contract: JSON Schemas loaded from ``schemas/`` into a ``referencing`` registry."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match
from referencing import Registry, Resource

from ._resources import data_dir

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


def violations(name: str, instance: Any) -> list[jsonschema.ValidationError]:
    """The schema violations, most relevant first; empty when valid."""
    found = list(validator(name).iter_errors(instance))
    if not found:
        return []
    first = best_match(found)
    return [first] + [e for e in found if e is not first]


def errors(name: str, instance: Any) -> list[str]:
    """Human-readable schema violations, most relevant first; empty when valid."""
    return [describe(e) for e in violations(name, instance)]


def problem(error: jsonschema.ValidationError) -> Any:
    """A violation as a :class:`~infercheck._checks.Problem`: keyword, JSON path, offending value."""
    from ._checks import Problem

    return Problem(error.validator, error.json_path if error.absolute_path else "$", error.instance)


def describe(error: jsonschema.ValidationError) -> str:
    where = error.json_path if error.absolute_path else "$"
    # anyOf/oneOf failures are clearer through their best sub-error
    if error.context:
        error = best_match(error.context)
        where = error.json_path if error.absolute_path else where
    return f"{where}: {error.message}"


def first_error(name: str, instance: Any) -> jsonschema.ValidationError | None:
    return best_match(validator(name).iter_errors(instance))
