"""jsonschema-rs answers "is it valid?" before python-jsonschema says what is wrong (contract/schemas.py): it must
never find valid what python-jsonschema finds invalid, over the open schemas (with python-jsonschema's format
checkers) and the closed ones (undocumented fields). The instances: every answer of the reference endpoint to the
cases, and each of them broken one way at a time (a field dropped, a value of another type, a field added, a
format broken)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from infercheck.contract import cases as _cases
from infercheck.contract import schemas as _schemas
from infercheck.engine.session import run
from infercheck.engine.target import resolve
from infercheck.wire import answers as _answers

WRONG = (None, 12345, "not-a-date", [], {})


def _mutations(doc: Any, depth: int = 0) -> Iterator[Any]:
    yield doc
    if depth > 1:
        return
    if isinstance(doc, dict):
        for key in doc:
            dropped = {k: v for k, v in doc.items() if k != key}
            yield dropped
            for wrong in WRONG:
                yield {**doc, key: wrong}
            for inner in _mutations(doc[key], depth + 1):
                yield {**doc, key: inner}
        yield {**doc, "undocumented_field": 1}
    elif isinstance(doc, list) and doc:
        for inner in _mutations(doc[0], depth + 1):
            yield [inner, *copy.deepcopy(doc[1:])]


@pytest.fixture(scope="module")
def answers(reference_url) -> list[tuple[str, Any]]:
    cases = {case.id: case for case in _cases.load("openai")}
    found = []
    for case_id, exchange in run(resolve(reference_url), suites=False).exchanges.items():
        case = cases.get(case_id)
        if case is None or exchange.response is None or exchange.response.status >= 300:
            continue
        if case.stream and case.chunk_schema:  # a stream's first, middle and last events
            events = _answers.documents(exchange)
            found += [(case.chunk_schema, doc) for doc in {id(d): d for d in (events[:1] + events[len(events) // 2:
                      len(events) // 2 + 1] + events[-1:])}.values()]
        elif case.schema and (doc := _answers.document(exchange)) is not None:
            found.append((case.schema, doc))
    assert len(found) > 50
    return found


def test_jsonschema_rs_never_finds_valid_what_python_jsonschema_finds_invalid(answers):
    checked = disagreed = invalid = 0
    for schema, doc in answers:
        for instance in _mutations(doc):
            for closed in (False, True):
                fast = _schemas.valid(schema, instance, closed=closed)
                slow = list((_schemas.closed_validator(schema) if closed else _schemas.validator(schema))
                            .iter_errors(instance))
                checked += 1
                invalid += bool(slow)
                assert not (fast and slow), (schema, closed, instance, [e.message for e in slow])
                disagreed += not fast and not slow
    # the fast path is taken: most valid instances are valid to both; and the instances were often invalid
    assert invalid > checked / 4 and disagreed < (checked - invalid) / 10, (checked, invalid, disagreed)
