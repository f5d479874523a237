"""The built-in checks. Each one has a fault mode of the reference endpoint that it catches
(``infercheck.serve._faults``) and a self-test proving it (``tests/checks/test_faults.py``)."""

from __future__ import annotations

import json
import re

import httpx

from ..contract import schemas as _schemas
from ..contract.cases import Case
from ..wire import answers as _answers
from ..wire.exchange import Exchange
from .base import Context, Problem, check, fail, skip
from .common import schema_problem

_MAX_LISTED = 5


def _excerpt(body: bytes, limit: int = 300) -> str:
    text = body.decode("utf-8", errors="replace")
    return text if len(text) <= limit else text[:limit] + "..."


def not_json(body: bytes) -> str:
    """Why a body that should be JSON is not, in words: not UTF-8 (where), an HTML page (its title), or else
    not JSON."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"the body is not valid UTF-8 (byte 0x{body[exc.start]:02x} at offset {exc.start}), so it is not JSON"
    title = re.search(r"<title[^>]*>(.*?)</title>", text[:4096], re.I | re.S)
    if re.match(r"\s*(<!doctype html|<html)", text[:200], re.I):
        return ("the body is an HTML page" + (f" ({title[1].strip()!r})" if title else "")
                + ", as a proxy or gateway in front of the endpoint sends, not JSON")
    return "the body is not JSON"


def _is_success(status: int) -> bool:
    return 200 <= status < 300


@check(
    "status-code",
    title="HTTP status is the one the contract gives",
    severity="critical",
    needs_response=False,
)
def status_code(case: Case, ex: Exchange, ctx: Context) -> None:
    if ex.abandoned:
        fail(f"not sent: {ex.error}", expected=list(case.status), received="not sent: the endpoint had stopped "
             "answering")
    if ex.response is None:
        alone = ""
        if (ex.transient or "").startswith("timed out") and (ex.error or "").startswith("timed out"):
            alone = (" under load, and again when sent alone with nothing else in flight: the endpoint cannot answer "
                     "it in time")
        elif ex.alone and (ex.error or "").startswith("timed out"):
            alone = ", sent alone with nothing else in flight: the endpoint cannot answer it in time"
        fail(f"no response: {ex.error}{alone}", expected=list(case.status), received=f"no response ({ex.error})")
    if not case.accepts(ex.response.status):
        want = " or ".join(map(str, case.status))
        status = ex.response.status
        waited = ""
        if status == 429:
            waited = (f" (rate limited: still 429 after {ex.retries} retries and {ex.waited:g} s waited; "
                      "--max-retries, --load-wait)")
        elif ex.waited:
            waited = f" (after waiting {ex.waited:g} s for the model to load: --load-wait)"
        why = not_json(ex.response.body[:4096])
        if ex.response.media_type == "text/html" or why.startswith("the body is an HTML page"):
            waited += f": {why}"
        fail(
            f"{case.method} {case.path or httpx.URL(ex.request.url).path} answered {status}, "
            f"expected {want}{waited}",
            expected=list(case.status),
            received={"status": ex.response.status, "body": _excerpt(ex.response.body)},
            problems=[Problem("status", "$", ex.response.status)],
        )


def _has_body(case: Case) -> bool:
    """Whether the contract gives the answer a body (every OpenAI-style answer has one; TGI's /health has none)."""
    return case.api == "openai" or bool(case.schema or case.chunk_schema) or not case.expects_success


@check("content-type", title="Content-Type matches the body", severity="high", applies=_has_body)
def content_type(case: Case, ex: Exchange, ctx: Context) -> None:
    response = ex.response
    if case.stream and _is_success(response.status):
        expected = "text/event-stream"
    else:
        expected = "application/json"
    if response.media_type != expected:
        fail(
            f"Content-Type is {response.content_type or 'missing'!r}, expected {expected}",
            expected=expected,
            received=response.content_type or None,
            problems=[Problem("media-type", "$", response.media_type)],
        )


@check(
    "response-schema",
    title="Response body validates against its schema",
    severity="high",
    applies=lambda case: case.schema is not None or not case.expects_success,
)
def response_schema(case: Case, ex: Exchange, ctx: Context) -> None:
    response = ex.response
    if _is_success(response.status):
        if case.schema is None:
            skip(f"answered {response.status} where an error was expected; see status-code")
        name = case.schema
    else:
        name = case.error_schema
    try:
        body = response.json()
    except ValueError:
        fail(
            f"{not_json(response.body)}; expected a document matching {name}",
            expected=name,
            received=_excerpt(response.body),
            problems=[Problem("not-json", "$", _excerpt(response.body))],
        )
    violations = _schemas.violations(name, body)
    if violations:
        problems = [_schemas.describe(v) for v in violations]
        fail(
            f"body does not match {name}: " + "; ".join(problems[:_MAX_LISTED])
            + (f" (+{len(problems) - _MAX_LISTED} more)" if len(problems) > _MAX_LISTED else ""),
            expected=name,
            received=body,
            problems=[schema_problem(v) for v in violations],
        )


@check(
    "stream-chunk-schema",
    title="Every streamed event is JSON matching the chunk schema",
    severity="high",
    applies=lambda case: case.stream and case.chunk_schema is not None,
)
def stream_chunk_schema(case: Case, ex: Exchange, ctx: Context) -> None:
    response = ex.response
    if not _is_success(response.status):
        skip(f"answered {response.status}, no stream to check; see status-code")
    events = [e for e in response.sse().events if e.data != "[DONE]"]
    if not events:
        fail("the stream carried no data events", expected=case.chunk_schema, received=_excerpt(response.body))
    problems: dict[str, list[int]] = {}  # problem -> the events that have it
    found_all: list[Problem] = []  # every violation of every event, for a profile to recognise
    bad_event = None
    for number, event in enumerate(events, start=1):
        try:
            chunk = json.loads(event.data)
        except ValueError:
            found, violations = ["data is not JSON"], [Problem("not-json", "$", _excerpt(event.data.encode()))]
        else:
            errors = _schemas.violations(case.chunk_schema, chunk)  # most relevant first
            found = [_schemas.describe(errors[0])] if errors else []
            violations = [schema_problem(v) for v in errors]
        if found:
            problems.setdefault(found[0], []).append(number)
            found_all += violations
            bad_event = bad_event or event.data
    if problems:
        broken = sum(len(numbers) for numbers in problems.values())
        fail(
            f"{broken} of {len(events)} events break {case.chunk_schema}: "
            + "; ".join(f"{_numbers(numbers)}: {problem}" for problem, numbers in list(problems.items())[:_MAX_LISTED]),
            expected=case.chunk_schema,
            received=bad_event,
            problems=found_all,
        )


def _numbers(numbers: list[int]) -> str:
    if len(numbers) == 1:
        return f"event {numbers[0]}"
    if numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"events {numbers[0]}-{numbers[-1]}"
    return "events " + ", ".join(map(str, numbers[:8])) + ("..." if len(numbers) > 8 else "")


@check(
    "undocumented-fields",
    title="The response carries no field the contract does not declare",
    severity="low",
    # OpenAI-style only: Hugging Face pipelines add fields by design (token-classification's index, for one)
    applies=lambda case: case.api == "openai" and (case.schema is not None or case.chunk_schema is not None
                                                   or not case.expects_success),
)
def undocumented_fields(case: Case, ex: Exchange, ctx: Context) -> None:
    response = ex.response
    if _is_success(response.status):
        name = case.chunk_schema if case.stream else case.schema
        if name is None:
            skip(f"answered {response.status} where an error was expected; see status-code")
    else:
        name = case.error_schema
    if case.stream and _is_success(response.status):
        documents = _answers.chunks(ex)
    else:
        try:
            documents = [response.json()]
        except ValueError:
            skip("the body is not JSON; see response-schema")
    found: dict[str, object] = {}  # path, indices generalised -> an example value
    for document in documents:
        for path, value in _schemas.undocumented(name, document):
            found.setdefault(re.sub(r"\[\d+\]", "[0]", path), value)
    if found:
        fail(
            f"{len(found)} field(s) {name} does not declare: {', '.join(found)}",
            expected=f"only the fields of {name}",
            received={path: _excerpt(json.dumps(value).encode(), 80) for path, value in found.items()},
            problems=[Problem("undocumented", path, value) for path, value in found.items()],
        )
