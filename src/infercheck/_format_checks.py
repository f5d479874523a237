"""Checks of structured outputs (``response_format`` ``json_object`` and ``json_schema``) in chat completions.

Each check has a fault mode of the reference endpoint that it catches (``infercheck.serve._faults``) and a
self-test proving it (``tests/test_faults.py``).
"""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from ._cases import Case
from ._checks import Context, check, fail, skip
from ._exchange import Exchange
from ._semantic_checks import answered, generation


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
    schema = ((fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" else None)
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
        if isinstance(schema, dict):
            try:
                error = next(Draft202012Validator(schema).iter_errors(value), None)
            except SchemaError as exc:
                skip(f"the response_format schema is no JSON Schema this check can apply ({exc.message})")
            if error is not None:
                path = "/".join(map(str, error.absolute_path)) or "(the content)"
                fail(f"choice {index}: the content breaks the response_format schema at {path}: {error.message}",
                     expected=schema, received=value, kind="schema-not-followed")
        checked += 1
    if not checked:
        skip("no choice has whole content to read (each was cut at max_tokens, or had none)")
