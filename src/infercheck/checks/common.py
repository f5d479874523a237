"""What several check modules need: which cases generate text, reading an answer or skipping, a violation of a
schema the request gave, and how output that strays from it fails. The check modules import this module and
``base``, never each other."""

from __future__ import annotations

from typing import Any, NoReturn

import jsonschema
from jsonschema import Draft202012Validator

from ..contract import cases as _cases
from ..contract.cases import Case
from ..wire import answers as _answers
from ..wire.answers import Answer
from ..wire.exchange import Exchange
from .base import UNENFORCED, Problem, fail, skip

GENERATION_ROUTES = ("completions", "chat")


def generation(case: Case) -> bool:
    return case.route in GENERATION_ROUTES and case.expects_success


def plain(case: Case) -> bool:
    return generation(case) and not case.stream


def include_usage(case: Case) -> bool:
    return bool(((case.body or {}).get("stream_options") or {}).get("include_usage"))


def answered(ex: Exchange) -> Answer:
    """The answer of a successful exchange; skips (see status-code) otherwise."""
    status = ex.response.status
    if not 200 <= status < 300:
        skip(f"answered {status}; see status-code")
    answer = _answers.read(ex)
    if not answer.documents:
        skip("the answer has no JSON to read; see response-schema")
    return answer


def prompt_count(ex: Exchange) -> int:
    """How many prompts the request sent (a completions prompt may be a list of prompts)."""
    return _cases.prompt_count((ex.request.json() or {}).get("prompt"))


def schema_problem(error: jsonschema.ValidationError) -> Problem:
    """A schema violation as a :class:`~infercheck.checks.base.Problem`: keyword, JSON path, offending value."""
    return Problem(error.validator, error.json_path if error.absolute_path else "$", error.instance)


def violation(schema: Any, value: Any, *, whose: str) -> tuple[str, str] | None:
    """Where ``value`` first breaks a schema the request itself gave (a tool's parameters, a response format), and
    how: (path, message), or None. A schema jsonschema cannot apply (not a schema, a $ref it cannot resolve) skips
    the check, saying so: the request's schema is not the endpoint's fault."""
    try:
        error = next(Draft202012Validator(schema).iter_errors(value), None)
    except Exception as exc:  # SchemaError, an unresolvable $ref, a keyword of the wrong type...
        skip(f"{whose}: not a JSON Schema this check can apply ({exc})")
    if error is None:
        return None
    return "/".join(map(str, error.absolute_path)) or "(the top)", error.message


def stray(strict: bool, message: str, *, kind: str, expected: Any, received: Any, what: str) -> NoReturn:
    """Fail on output that strays from a schema the request gave (``what`` gave it: the tool, the response format).
    Only a strict schema binds the model (``strict: true``; a Responses function tool is strict unless it says
    ``strict: false``, OpenAI's function-calling guide). Without it the contract lets the model stray: a tool call's
    arguments "do not always" parse as JSON "and may hallucinate parameters" (openapi.yaml), and a response format's
    schema is followed "exactly" only when strict. The problem's kind is then ``unenforced``, which the profiles
    allow as a deviation (``--profile strict`` does not); when ``strict``, it keeps ``kind``. (A response format's
    content that is not a JSON object is not such a matter: both formats promise one, strict or not.)"""
    if not strict:
        message += f" ({what} is not strict, and the contract lets a model stray from a schema that is not)"
        kind = UNENFORCED
    fail(message, expected=expected, received=received, kind=kind)
