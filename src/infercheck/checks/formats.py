"""Checks of structured outputs (``response_format`` ``json_object`` and ``json_schema``) in chat completions.

Each check has a fault mode of the reference endpoint that it catches (``infercheck.serve._faults``) and a
self-test proving it (``tests/checks/test_faults.py``).
"""

from __future__ import annotations

import json
from typing import Any

from ..contract.cases import Case
from ..wire.exchange import Exchange
from .base import Context, check, fail, skip
from .common import answered, generation, stray, violation


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
