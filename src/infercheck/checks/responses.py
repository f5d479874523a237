"""Checks of the Responses API (``POST /v1/responses``, ``GET /v1/responses/{id}``): the Response object's status,
usage, function calls and structured output, and how a streamed response is framed and built.

Each check has a fault mode of the reference endpoint that it catches (``infercheck.serve._faults``) and a
self-test proving it (``tests/checks/test_faults.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..contract.cases import Case
from ..wire import answers as _answers
from ..wire.exchange import Exchange
from .base import Context, check, fail, skip
from .common import stray, violation

TERMINAL = ("response.completed", "response.incomplete", "response.failed")
FINISHED = ("completed", "incomplete")  # what a synchronous response's status may be once it is answered


def created(case: Case) -> bool:
    """A successful POST /responses."""
    return case.route == "responses" and case.method == "POST" and case.expects_success


@dataclass
class Streamed:
    """A streamed response's events, in order: (the SSE event name, the data parsed; non-JSON data left out)."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    done_marker: bool = False  # a data: [DONE] came last (chat's end of stream; not part of this contract)

    @property
    def final(self) -> dict[str, Any] | None:
        """The response the terminal event carries (the last one's, if several), or None."""
        for _, data in reversed(self.events):
            if data.get("type") in TERMINAL and isinstance(data.get("response"), dict):
                return data["response"]
        return None


def streamed(ex: Exchange) -> Streamed:
    status = ex.response.status
    if not 200 <= status < 300:
        skip(f"answered {status}; see status-code")
    out = Streamed()
    events = ex.response.sse().events
    if events and events[-1].data == "[DONE]":
        out.done_marker, events = True, events[:-1]
    for event in events:
        try:
            data = json.loads(event.data)
        except ValueError:
            continue  # stream-chunk-schema reports it
        if isinstance(data, dict):
            out.events.append((event.event, data))
    if not out.events:
        skip("the stream carried no JSON event to read; see stream-chunk-schema")
    return out


def response_of(ex: Exchange) -> dict[str, Any]:
    """The Response object an answer gives: the body, or a stream's terminal event's; skips when there is none."""
    status = ex.response.status
    if not 200 <= status < 300:
        skip(f"answered {status}; see status-code")
    if ex.stream:
        found = streamed(ex).final
        if found is None:
            skip("the stream has no terminal event carrying the response; see response-stream-framing")
        return found
    body = _answers.document(ex)
    if not isinstance(body, dict):
        skip("the answer is not a JSON object; see response-schema")
    return body


def texts(response: dict[str, Any]) -> dict[tuple[int, int], str]:
    """(output index, content index) -> the text of every output_text part of the response's messages."""
    found = {}
    for i, item in enumerate(response.get("output") or []):
        if isinstance(item, dict) and item.get("type") == "message":
            for j, part in enumerate(item.get("content") or []):
                if isinstance(part, dict) and part.get("type") == "output_text" and isinstance(part.get("text"), str):
                    found[(i, j)] = part["text"]
    return found


def calls(response: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for item in response.get("output") or [] if isinstance(item, dict)
            and item.get("type") == "function_call"]


def _body(case: Case) -> dict[str, Any]:
    return case.body if isinstance(case.body, dict) else {}


def _cut(response: dict[str, Any]) -> bool:
    return response.get("status") == "incomplete"


@check("response-status", title="A response is completed, or incomplete with the reason (max_output_tokens when cut "
       "there)", severity="high", applies=created)
def response_status(case: Case, ex: Exchange, ctx: Context) -> None:
    response = response_of(ex)
    status, details = response.get("status"), response.get("incomplete_details")
    if status is None:
        skip("the response has no status; see response-schema")
    if status not in FINISHED:
        fail(f"the answered response says status {status!r}: a response answered in full is completed or "
             "incomplete", expected=list(FINISHED), received=status, kind="unfinished")
    reason = details.get("reason") if isinstance(details, dict) else None
    if status == "incomplete" and reason is None:
        fail("status is 'incomplete' but incomplete_details gives no reason", expected="incomplete_details.reason",
             received=details, kind="no-reason")
    if status == "completed" and details is not None:
        fail("status is 'completed' but incomplete_details is set", expected=None, received=details,
             kind="details-when-completed")
    limit, used = case.limit, _output_tokens(response)
    if "overrun" in case.tags and status == "completed" and limit is not None and used is not None and used >= limit:
        fail(f"generation reached max_output_tokens ({used} of {limit} tokens) and was cut, but status says "
             "'completed'", expected={"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}},
             received={"status": status, "incomplete_details": details}, kind="cut-completed")
    if reason == "max_output_tokens" and limit is not None and used is not None and used < limit:
        fail(f"incomplete_details says max_output_tokens, but only {used} of {limit} tokens were generated",
             expected=f"{limit} output tokens", received=used, kind="reason-wrong")


def _output_tokens(response: dict[str, Any]) -> int | None:
    usage = response.get("usage")
    value = usage.get("output_tokens") if isinstance(usage, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@check("response-usage", title="usage.total_tokens is input_tokens + output_tokens, and output_tokens is within "
       "max_output_tokens", severity="high", applies=created)
def response_usage(case: Case, ex: Exchange, ctx: Context) -> None:
    usage = response_of(ex).get("usage")
    if not isinstance(usage, dict):
        skip("the response reports no usage")
    numbers = [usage.get(k) for k in ("input_tokens", "output_tokens", "total_tokens")]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in numbers):
        skip(f"usage is not three integers: {usage}; see response-schema")
    given, made, total = numbers
    if given + made != total:
        fail(f"total_tokens {total} != input_tokens {given} + output_tokens {made}", expected=given + made,
             received=total, kind="arithmetic")
    if case.limit is not None and made > case.limit:
        fail(f"{made} output tokens, beyond max_output_tokens {case.limit}", expected=f"at most {case.limit}",
             received=made, kind="over-limit")


def _tools(case: Case) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in _body(case).get("tools") or [] if isinstance(t, dict) and t.get("type") == "function"
            and isinstance(t.get("name"), str)}


@check("response-function-call", title="Function calls are output items with a call_id, a declared name and "
       "arguments as a JSON string valid for the tool, as tool_choice asks", severity="high",
       applies=lambda case: created(case) and bool(_body(case).get("tools")))
def response_function_call(case: Case, ex: Exchange, ctx: Context) -> None:
    response, declared = response_of(ex), _tools(case)
    found = calls(response)
    choice = _body(case).get("tool_choice", "auto")
    named = choice.get("name") if isinstance(choice, dict) else None
    if choice == "none" and found:
        fail(f"tool_choice is 'none' but the response calls {[c.get('name') for c in found]}",
             expected="no function_call item", received=found, kind="called-under-none")
    if (choice == "required" or named) and not found:
        fail(f"tool_choice is {json.dumps(choice)} but the response calls no function",
             expected=f"a function_call item{f' for {named}' if named else ''}", received=response.get("output"),
             kind="not-called")
    for call in found:
        name = call.get("name")
        if not isinstance(call.get("call_id"), str) or not call["call_id"]:
            fail(f"the call of {name!r} has no call_id to answer it by", expected="a non-empty call_id",
                 received=call, kind="no-call-id")
        if name not in declared:
            fail(f"the response calls {name!r}, which is not among the tools ({', '.join(declared)})",
                 expected=sorted(declared), received=name, kind="undeclared")
        if named and name != named:
            fail(f"tool_choice names {named!r} but the response calls {name!r}", expected=named, received=name,
                 kind="other-called")
        arguments = call.get("arguments")
        if not isinstance(arguments, str):
            fail(f"the arguments of {name!r} are a JSON {type(arguments).__name__}, not a string holding JSON",
                 expected="a JSON string", received=arguments, kind="arguments-not-string")
        if _cut(response) or call.get("status") == "incomplete":
            continue  # cut at max_output_tokens: the arguments may end anywhere
        # a Responses function is strict unless it says strict: false (Chat Completions' are not unless it says true)
        bound, tool = declared[name].get("strict") is not False, f"the tool {name!r}"
        try:
            value = json.loads(arguments)
        except ValueError as exc:
            stray(bound, f"the arguments of {name!r} are not JSON ({exc})", expected="JSON", received=arguments,
                  kind="arguments-not-json", what=tool)
        parameters = declared[name].get("parameters")
        broken = violation(parameters, value, whose=f"the parameters of {name}") if isinstance(parameters, dict) \
            else None
        if broken is not None:
            stray(bound, f"the arguments of {name!r} break its parameters at {broken[0]}: {broken[1]}",
                  expected=parameters, received=value, kind="arguments-invalid", what=tool)


def _format(case: Case) -> dict[str, Any]:
    text = _body(case).get("text")
    fmt = text.get("format") if isinstance(text, dict) else None
    return fmt if isinstance(fmt, dict) else {}


@check("response-structured-output", title="With text.format json_object or json_schema, the output text is a JSON "
       "object that validates against the given schema", severity="high",
       applies=lambda case: created(case) and _format(case).get("type") in ("json_object", "json_schema"))
def response_structured_output(case: Case, ex: Exchange, ctx: Context) -> None:
    response, fmt = response_of(ex), _format(case)
    if _cut(response):
        skip("the response was cut (incomplete): its JSON may end anywhere")
    found = texts(response)
    if not found:
        skip("the response has no output text; see response-schema")
    text = "".join(found.values())
    try:
        value = json.loads(text)
    except ValueError as exc:
        fail(f"text.format is {fmt.get('type')!r} but the output text is not JSON ({exc})", expected="a JSON object",
             received=text, kind="not-json")
    if not isinstance(value, dict):
        fail(f"the output text is a JSON {type(value).__name__}, not an object", expected="a JSON object",
             received=value, kind="not-object")
    schema = fmt.get("schema") if fmt.get("type") == "json_schema" else None
    broken = violation(schema, value, whose="the text.format schema") if isinstance(schema, dict) else None
    if broken is not None:
        stray(fmt.get("strict") is True, f"the output text breaks the text.format schema at {broken[0]}: {broken[1]}",
              expected=schema, received=value, kind="schema-not-followed", what="the text.format")


def stream_of(case: Case) -> bool:
    return created(case) and case.stream


@check("response-stream-framing", title="Each streamed event is named by its type and numbered in order, from "
       "response.created to one terminal event, last", severity="high", applies=stream_of)
def response_stream_framing(case: Case, ex: Exchange, ctx: Context) -> None:
    events = streamed(ex).events
    for number, (name, data) in enumerate(events, start=1):
        if name != data.get("type"):
            said = ("is a plain 'message' event (no event: line, or event: message)" if name == "message"
                    else f"says event: {name!r}")
            fail(f"event {number} {said}, but its data's type is {data.get('type')!r}", expected=data.get("type"),
                 received=name, kind="event-name")
    numbers = [data.get("sequence_number") for _, data in events]
    for number, value in enumerate(numbers, start=1):
        if not isinstance(value, int) or isinstance(value, bool):
            fail(f"event {number} ({events[number - 1][1].get('type')!r}) has no integer sequence_number: streamed "
                 "events are numbered in order", expected="an integer sequence_number",
                 received="none" if value is None else value, kind="sequence")
    for number, (before, after) in enumerate(zip(numbers, numbers[1:]), start=2):
        if after <= before:
            fail(f"event {number}: sequence_number {after!r} follows {before!r}: the numbers must increase",
                 expected=f"more than {before!r}", received=after, kind="sequence")
    first = events[0][1].get("type")
    if first != "response.created":
        fail(f"the first event is {first!r}, not response.created", expected="response.created", received=first,
             kind="created-first")
    terminal = [number for number, (_, data) in enumerate(events, start=1) if data.get("type") in TERMINAL]
    if not terminal:
        fail(f"no terminal event ({', '.join(TERMINAL)}): the stream ended after {events[-1][1].get('type')!r}",
             expected="one terminal event, last", received=[d.get("type") for _, d in events[-3:]],
             kind="no-terminal")
    if len(terminal) > 1 or terminal[0] != len(events):
        fail(f"{len(terminal)} terminal event(s), at event(s) {terminal} of {len(events)}",
             expected="exactly one terminal event, last", received=[events[n - 1][1].get("type") for n in terminal],
             kind="terminal-not-last")


@check("response-stream-events-agree", title="A streamed response's deltas build its .done events and its final "
       "output, under the item and content indexes their added events gave", severity="high", applies=stream_of)
def response_stream_events_agree(case: Case, ex: Exchange, ctx: Context) -> None:
    stream = streamed(ex)
    items: dict[int, str] = {}  # output index -> the item id its output_item.added gave
    parts: set[tuple[int, int]] = set()  # (output index, content index) of every content_part.added
    built: dict[tuple[str, Any, Any], str] = {}  # (what, output index, content index) -> the deltas so far
    done: dict[tuple[str, Any, Any], str] = {}  # the same -> the .done events' text
    for number, (_, data) in enumerate(stream.events, start=1):
        kind, index, at = str(data.get("type")), data.get("output_index"), data.get("content_index")
        if not all(v is None or isinstance(v, int) for v in (index, at)):
            continue  # an index that is not a number: stream-chunk-schema reports it
        item = data.get("item") if isinstance(data.get("item"), dict) else {}
        if kind == "response.output_item.added":
            items[index] = item.get("id")
        elif kind == "response.output_item.done" and index in items and item.get("id") != items[index]:
            fail(f"event {number}: output item {index} is done with id {item.get('id')!r} but was added as "
                 f"{items[index]!r}", expected=items[index], received=item.get("id"), kind="item-id")
        elif kind == "response.content_part.added":
            parts.add((index, at))
        if kind in ("response.output_text.delta", "response.output_text.done", "response.function_call_arguments.delta",
                    "response.function_call_arguments.done", "response.content_part.added"):
            if index not in items:
                fail(f"event {number} ({kind}) names output_index {index!r}, which no output_item.added began",
                     expected=sorted(items), received=index, kind="index-unknown")
            if data.get("item_id") != items[index]:
                fail(f"event {number} ({kind}) names item {data.get('item_id')!r}, but output item {index} is "
                     f"{items[index]!r}", expected=items[index], received=data.get("item_id"), kind="item-id")
        if kind.startswith("response.output_text.") and (index, at) not in parts:
            fail(f"event {number} ({kind}) names content_index {at!r} of output item {index}, which no "
                 "content_part.added began", expected=sorted(j for i, j in parts if i == index), received=at,
                 kind="index-unknown")
        what = "text" if kind.startswith("response.output_text.") else "arguments"
        if kind in ("response.output_text.delta", "response.function_call_arguments.delta"):
            key = (what, index, at if what == "text" else None)
            built[key] = built.get(key, "") + str(data.get("delta", ""))
        elif kind in ("response.output_text.done", "response.function_call_arguments.done"):
            done[(what, index, at if what == "text" else None)] = str(data.get(what, ""))
    for key, whole in done.items():
        if built.get(key, "") != whole:
            fail(f"the {key[0]} deltas of output item {key[1]} build {built.get(key, '')!r}, but its .done event says "
                 f"{whole!r}", expected=whole, received=built.get(key, ""), kind="deltas-differ")
    final = stream.final
    if final is None:
        skip("the deltas agree with their .done events; no terminal event carries the final response to compare "
             "(see response-stream-framing)")
    for (i, j), text in texts(final).items():
        if ("text", i, j) in built and built[("text", i, j)] != text:
            fail(f"output item {i} part {j}: the deltas build {built[('text', i, j)]!r}, but the final response "
                 f"says {text!r}", expected=text, received=built[("text", i, j)], kind="final-differs")
    for i, item in enumerate(final.get("output") or []):
        key = ("arguments", i, None)
        if isinstance(item, dict) and item.get("type") == "function_call" and key in built \
                and built[key] != item.get("arguments"):
            fail(f"output item {i}: the argument deltas build {built[key]!r}, but the final response says "
                 f"{item.get('arguments')!r}", expected=item.get("arguments"), received=built[key],
                 kind="final-differs")


@check("response-stream-matches", title="A streamed response's output equals the non-streamed output of the same "
       "greedy request", severity="high", applies=lambda case: stream_of(case) and case.twin is not None)
def response_stream_matches(case: Case, ex: Exchange, ctx: Context) -> None:
    plain = response_of(ctx.twin(case))
    final = response_of(ex)
    if _cut(plain) != _cut(final):
        fail(f"the streamed response is {final.get('status')!r}, the plain one {plain.get('status')!r}",
             expected=plain.get("status"), received=final.get("status"), kind="status-differs")
    mine, theirs = _output(final), _output(plain)
    if mine != theirs:
        fail("the streamed output differs from the non-streamed output of the same temperature-0 request",
             expected=theirs, received=mine, kind="output-differs")


def _output(response: dict[str, Any]) -> list[Any]:
    """What a response says, ids left out: each message's texts, each function call's name and arguments."""
    said: list[Any] = []
    for item in response.get("output") or []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "message":
            said.append(["message", [p.get("text") for p in item.get("content") or [] if isinstance(p, dict)]])
        elif item.get("type") == "function_call":
            arguments = item.get("arguments")
            try:
                arguments = json.loads(arguments) if isinstance(arguments, str) else arguments
            except ValueError:
                pass
            said.append(["function_call", item.get("name"), arguments])
    return said


@check("response-retrieve-agrees", title="GET /responses/{id} gives back the response as it was answered",
       severity="high", applies=lambda case: case.route == "responses" and case.derive is not None
       and "id" in case.derive)
def response_retrieve_agrees(case: Case, ex: Exchange, ctx: Context) -> None:
    got = response_of(ex)
    source = ctx.exchanges.get(case.derive["from"])
    if source is None or source.response is None:
        skip(f"needs the answer to {case.derive['from']}, which has none")
    made = response_of(source)
    for name in ("id", "status"):
        if got.get(name) != made.get(name):
            fail(f"the stored response's {name} is {got.get(name)!r}, but it was answered with {made.get(name)!r}",
                 expected=made.get(name), received=got.get(name), kind=f"{name}-differs")
    if _output(got) != _output(made):
        fail("the stored response's output differs from the output it was answered with", expected=_output(made),
             received=_output(got), kind="output-differs")
