"""Checks of structured outputs (``response_format`` ``json_object`` and ``json_schema``) in chat completions.

Each check has a fault mode of the reference endpoint that it catches (``infercheck.serve._faults``) and a
self-test proving it (``tests/test_faults.py``).
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from jsonschema import Draft202012Validator

from ._cases import Case
from ._checks import Context, check, fail, skip
from ._exchange import Exchange
from ._semantic_checks import answered, generation


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


UNENFORCED = "unenforced"  # the problem kind of output that strays from a schema the request did not mark strict


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


def response_format(case: Case) -> dict[str, Any]:
    body = case.body if isinstance(case.body, dict) else {}
    fmt = body.get("response_format")
    return fmt if isinstance(fmt, dict) else {}


@check("structured-output", title="With response_format json_object or json_schema, the content is a JSON object "
       "that validates against the given schema", severity="high",
       applies=lambda case: generation(case) and case.route == "chat"
       and response_format(case).get("type") in ("json_object", "json_schema"))
def structured_output(case: Case, ex: Exchange, ctx: Context) -> None:
    answer, fmt, checked = answered(ex), response_format(case), 0
    given = fmt.get("json_schema") if fmt.get("type") == "json_schema" else None
    given = given if isinstance(given, dict) else {}
    schema = given.get("schema")
    for index, text in sorted(answer.texts.items()):
        if answer.finish_reason(index) == "length":
            continue  # cut at max_tokens: the JSON may end anywhere
        try:
            value = json.loads(text)
        except ValueError as exc:
            fail(f"choice {index}: response_format is {fmt.get('type')!r} but the content is not JSON ({exc})",
                 expected="a JSON object", received=text, kind="not-json")
        if not isinstance(value, dict):
            fail(f"choice {index}: the content is a JSON {type(value).__name__}, not an object",
                 expected="a JSON object", received=value, kind="not-object")
        broken = violation(schema, value, whose="the response_format schema") if isinstance(schema, dict) else None
        if broken is not None:
            stray(given.get("strict") is True,
                  f"choice {index}: the content breaks the response_format schema at {broken[0]}: {broken[1]}",
                  expected=schema, received=value, kind="schema-not-followed", what="the response_format")
        checked += 1
    if not checked:
        skip("no choice has whole content to read (each was cut at max_tokens, or had none)")
