"""Every built-in check: importing this module registers them all, in the order below (the order ``infercheck
checks`` lists them and a run reports them). The one module that knows every check module; the registry
(``base``) knows none of them."""

from __future__ import annotations

# isort: off
from . import http, semantic, streams, tools, formats, responses, resources, hf_tasks  # noqa: F401 (registering)
# isort: on
from jsonschema import Draft202012Validator

from .base import SCHEMA_KINDS, Check, kinds_of, registered

_SCHEMA_KEYWORDS = frozenset(Draft202012Validator.VALIDATORS)


def registry() -> dict[str, Check]:
    """Every registered check by id: the built-in ones, in the order of the import above, then any registered with
    :func:`~infercheck.check` since."""
    return registered()


def kinds(check: str) -> frozenset[str] | None:
    """The kinds of problem the built-in check ``check`` reports (what a profile's allowance may name: where it
    reports a schema's violations, every JSON Schema keyword), or None when any may be: a check registered elsewhere
    may make its problems in code ``kinds_of`` does not read."""
    chk = registry().get(check)
    if chk is None or not chk.func.__module__.startswith(f"{__package__}."):
        return None
    found = set(kinds_of(chk))
    return frozenset(found - {SCHEMA_KINDS}) | (_SCHEMA_KEYWORDS if SCHEMA_KINDS in found else frozenset())
