"""Checks of tool calls in chat completions (issue 15): the calls' shape and arguments, ``tool_choice``, the
finish reason, and the streamed deltas that build the calls.

Each check has a fault mode of the reference endpoint that it catches (``infercheck.serve._faults``, the
``tool-*`` faults) and a self-test proving it (``tests/checks/test_faults.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..contract.cases import Case
from ..wire.exchange import Exchange
from .base import Context, check, fail, skip
from .common import answered, generation, stray, violation

FORCED_FINISH = ("tool_calls", "stop")  # a forced call (required, a named function) ends with either


def _functions(case: Case) -> list[dict[str, Any]]:
    """The request's function tools' ``function`` objects that have a name."""
    tools = (case.body or {}).get("tools") if isinstance(case.body, dict) else None
    found = [tool.get("function") for tool in tools if isinstance(tool, dict)] if isinstance(tools, list) else []
    return [f for f in found if isinstance(f, dict) and isinstance(f.get("name"), str)]


def declared(case: Case) -> dict[str, Any]:
    """The request's function tools: name -> parameters schema (None when it gives none)."""
    return {function["name"]: function.get("parameters") for function in _functions(case)}


def strict(case: Case) -> set[str]:
    """The names of the request's function tools that set ``strict: true`` (the only ones bound to their schema)."""
    return {function["name"] for function in _functions(case) if function.get("strict") is True}


def choice_of(case: Case) -> str:
    """The request's tool_choice: "none", "auto", "required", or the named function's name."""
    body = case.body if isinstance(case.body, dict) else {}
    choice = body.get("tool_choice", "auto" if declared(case) else "none")
    if isinstance(choice, dict):
        return ((choice.get("function") or {}).get("name")) or "auto"
    return choice


def uses_tools(case: Case) -> bool:
    return generation(case) and bool(declared(case))


def expects_call(case: Case) -> bool:
    """A request whose answer should call a tool: tools, a tool_choice other than 'none', and (under 'auto') a
    conversation that does not end with a tool's answer (which a model reads and answers in words)."""
    if not uses_tools(case) or choice_of(case) == "none":
        return False
    messages = (case.body or {}).get("messages") or [{}]
    return choice_of(case) != "auto" or not (isinstance(messages[-1], dict) and messages[-1].get("role") == "tool")


@dataclass
class Call:
    """One tool call as the answer gave it (assembled from its deltas when streamed)."""

    id: Any = None
    type: Any = None
    name: Any = None
    arguments: Any = None
    deltas: list[dict[str, Any]] = field(default_factory=list)


def _choice_list(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """A document's choices that are objects (what else it holds is response-schema's to judge)."""
    choices = doc.get("choices")
    return [c for c in choices if isinstance(c, dict)] if isinstance(choices, list) else []


def calls(ex: Exchange) -> dict[int, list[Call]]:
    """Choice index -> its tool calls, in order. A streamed call is assembled by its index: id, type and name as
    first given, arguments concatenated; deltas without an integer index are left out (tool-stream-deltas)."""
    answer = answered(ex)
    out: dict[int, list[Call]] = {}
    if not ex.stream:
        for choice in _choice_list(answer.documents[0]):
            message = choice.get("message")
            if not isinstance(message, dict) or not isinstance(choice.get("index"), int):
                continue
            items = message.get("tool_calls")
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict):
                    function = item.get("function") if isinstance(item.get("function"), dict) else {}
                    out.setdefault(choice["index"], []).append(
                        Call(item.get("id"), item.get("type"), function.get("name"), function.get("arguments")))
        return out
    by_index: dict[int, dict[int, Call]] = {}
    for doc in answer.documents:
        for choice in _choice_list(doc):
            delta = choice.get("delta")
            if not isinstance(delta, dict) or not isinstance(choice.get("index"), int):
                continue
            items = delta.get("tool_calls")
            for item in items if isinstance(items, list) else []:
                if not isinstance(item, dict) or not isinstance(item.get("index"), int):
                    continue
                call = by_index.setdefault(choice["index"], {}).setdefault(item["index"], Call())
                call.deltas.append(item)
                function = item.get("function") if isinstance(item.get("function"), dict) else {}
                call.id = call.id if call.id is not None else item.get("id")
                call.type = call.type if call.type is not None else item.get("type")
                call.name = call.name if call.name is not None else function.get("name")
                if isinstance(function.get("arguments"), str):
                    call.arguments = (call.arguments or "") + function["arguments"]
    return {c: [calls_[i] for i in sorted(calls_)] for c, calls_ in by_index.items()}


def _choices(ex: Exchange) -> list[int]:
    """Every choice index the answer has."""
    answer = answered(ex)
    return sorted({c["index"] for d in answer.documents for c in _choice_list(d) if isinstance(c.get("index"), int)})


@check("tool-call-shape", title="Every tool call has an id, type 'function' and the name of a declared function",
       severity="high", applies=expects_call)
def tool_call_shape(case: Case, ex: Exchange, ctx: Context) -> None:
    names = declared(case)
    for index, found in calls(ex).items():
        for n, call in enumerate(found):
            where = f"choice {index}, tool call {n}"
            if not isinstance(call.id, str) or not call.id:
                fail(f"{where} has no id: {call.id!r} (a tool's answer names the call it answers by its id)",
                     expected="a non-empty string", received=_said(call.id), kind="tool-call-id")
            if call.type != "function":
                fail(f"{where} has type {call.type!r}", expected="function", received=_said(call.type),
                     kind="tool-call-type")
            if not isinstance(call.name, str) or call.name not in names:
                fail(f"{where} calls {call.name!r}, which the request did not declare", expected=sorted(names),
                     received=_said(call.name), kind="tool-call-undeclared")


@check("tool-call-arguments", title="Tool call arguments are a JSON string that validates against the tool's "
       "parameters", severity="high", applies=lambda case: expects_call(case) and not case.stream)
def tool_call_arguments(case: Case, ex: Exchange, ctx: Context) -> None:
    names, bound, answer, checked = declared(case), strict(case), answered(ex), 0
    for index, found in calls(ex).items():
        if answer.finish_reason(index) == "length":
            continue  # cut at max_tokens: its arguments may end anywhere
        for n, call in enumerate(found):
            where = f"choice {index}, tool call {n} ({call.name})"
            if not isinstance(call.name, str) or call.name not in names:
                continue  # see tool-call-shape
            if not isinstance(call.arguments, str):
                what = "missing" if call.arguments is None else f"a JSON {type(call.arguments).__name__}"
                fail(f"{where}: arguments is {what}, not a string holding JSON", expected="a string of JSON",
                     received=_said(call.arguments), kind="arguments-not-string")
            tool = f"the tool {call.name!r}"
            try:
                value = json.loads(call.arguments)
            except ValueError as exc:
                stray(call.name in bound, f"{where}: arguments is not JSON ({exc})", expected="a string of JSON",
                      received=call.arguments, kind="arguments-not-json", what=tool)
            schema = names[call.name] if names[call.name] is not None else {"type": "object"}
            broken = violation(schema, value, whose="the tool's parameters")
            if broken is not None:
                stray(call.name in bound, f"{where}: the arguments break the tool's parameters at {broken[0]}: "
                      f"{broken[1]}", expected=schema, received=_said(value), kind="arguments-invalid", what=tool)
            checked += 1
    if not checked:
        skip("the answer calls no declared tool with whole arguments; see tool-choice-honoured")


@check("tool-choice-honoured", title="tool_choice is honoured: 'none' calls nothing, 'required' calls a tool, "
       "a named function is the one called", severity="high",
       applies=lambda case: uses_tools(case) and choice_of(case) != "auto")
def tool_choice_honoured(case: Case, ex: Exchange, ctx: Context) -> None:
    choice, found = choice_of(case), calls(ex)
    for index in _choices(ex):
        names = [c.name for c in found.get(index, [])]
        if choice == "none" and names:
            fail(f"tool_choice is 'none' but choice {index} calls {names}", expected="no tool calls",
                 received=names, kind="called-despite-none")
        if choice != "none" and not names:
            fail(f"tool_choice is {choice!r} but choice {index} calls no tool", expected="a tool call",
                 received=_said(answered(ex).text(index)), kind="no-call")
        if choice not in ("none", "required") and any(name != choice for name in names):
            fail(f"tool_choice names {choice!r} but choice {index} calls {names}", expected=[choice],
                 received=names, kind="other-function")


@check("tool-finish-reason", title="An answer that calls tools finishes with 'tool_calls' (a forced call: or "
       "'stop'), one that calls none never does", severity="medium", applies=uses_tools)
def tool_finish_reason(case: Case, ex: Exchange, ctx: Context) -> None:
    answer, found, forced = answered(ex), calls(ex), choice_of(case) != "auto"
    for index in _choices(ex):
        reason = answer.finish_reason(index)
        if reason is None or reason == "length":
            continue  # see finish-reason
        if found.get(index):
            allowed = FORCED_FINISH if forced else ("tool_calls",)
            if reason not in allowed:
                fail(f"choice {index} calls {[c.name for c in found[index]]} but finish_reason is {reason!r}",
                     expected=list(allowed), received=reason, kind="not-tool-calls")
        elif reason == "tool_calls":
            fail(f"choice {index} says finish_reason 'tool_calls' but calls no tool", expected="stop",
                 received=reason, kind="tool-calls-without-calls")


@check("tool-stream-deltas", title="Streamed tool calls: each delta has its index, the first of a call its id and "
       "name, and the deltas build the same call as the non-streamed answer", severity="high",
       applies=lambda case: expects_call(case) and case.stream)
def tool_stream_deltas(case: Case, ex: Exchange, ctx: Context) -> None:
    answer = answered(ex)
    for doc in answer.documents:
        for choice in _choice_list(doc):
            delta = choice.get("delta")
            items = delta.get("tool_calls") if isinstance(delta, dict) else None
            for item in items if isinstance(items, list) else []:
                if not isinstance(item, dict) or not isinstance(item.get("index"), int):
                    fail("a tool-call delta has no integer index, so a client cannot tell which call it adds to",
                         expected="index: an integer", received=item, kind="delta-no-index")
    found, bound = calls(ex), strict(case)
    for index, built in found.items():
        for n, call in enumerate(built):
            first = call.deltas[0]
            function = first.get("function") if isinstance(first.get("function"), dict) else {}
            if not first.get("id") or not function.get("name"):
                fail(f"choice {index}: the first delta of tool call {n} lacks its id or function name",
                     expected="id and function.name in the first delta", received=first, kind="first-delta")
            reason = answer.finish_reason(index)
            if reason == "length":
                continue
            try:
                json.loads(call.arguments or "")
            except ValueError as exc:
                stray(call.name in bound, f"choice {index}: the arguments deltas of tool call {n} "
                      f"({call.name}) concatenate to text that is not JSON ({exc}), and the choice's finish_reason "
                      f"is {reason!r}, not 'length'", expected="JSON", received=_said(call.arguments),
                      kind="deltas-not-json", what=f"the tool {call.name!r}")
    if case.twin is None:
        return
    plain = calls(ctx.twin(case))
    for index in sorted(set(found) | set(plain)):
        mine, theirs = found.get(index, []), plain.get(index, [])
        if not all(isinstance(c.arguments, str) for c in theirs):
            skip("the non-streamed answer's arguments are not strings; see tool-call-arguments")
        want = [(c.name, _parsed(c.arguments)) for c in theirs]
        got = [(c.name, _parsed(c.arguments)) for c in mine]
        if want != got:
            fail(f"choice {index}: the streamed tool calls differ from the non-streamed answer to the same greedy "
                 "request", expected=want, received=got, kind="stream-calls-differ")


def _said(value: Any) -> Any:
    """What the answer gave, for a report: ``(absent)`` rather than nothing when it gave nothing."""
    return "(absent)" if value is None else value


def _parsed(arguments: Any) -> Any:
    try:
        return json.loads(arguments)
    except (TypeError, ValueError):
        return arguments

