"""Tool calls of the reference endpoint's chat completions: which tools an answer calls, with arguments that
validate against each tool's ``parameters``, streamed as OpenAI streams them, and the tool faults planted.

The endpoint is greedy and deterministic: ``tool_choice`` "none" (or no tools) calls nothing; a named function is
called once; "required" calls the first function; "auto" calls the first function unless the conversation ends
with a tool's answer, which is then answered in words (as a model reads a tool's result and replies).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

PIECE = 6  # characters of arguments per streamed delta (each one generated token)


class ToolError(ValueError):
    """A request whose tools, tool_choice or strict schemas break a rule the schema cannot state (answered 400)."""

    def __init__(self, message: str, param: str):
        super().__init__(message)
        self.param = param


def functions(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [t["function"] for t in body.get("tools") or [] if t.get("type") == "function"]


def validate(body: dict[str, Any], faults: frozenset[str] = frozenset()) -> None:
    """What the schema cannot say: a named tool_choice names a declared function, tool_choice "required" or a named
    function comes with tools (unless the fault ``tool-choice-unchecked``), and a strict schema (a function's
    parameters, a json_schema response format) is closed and requires every property, as OpenAI requires."""
    choice, declared = body.get("tool_choice"), [f["name"] for f in functions(body)]
    if "tool-choice-unchecked" not in faults:
        if isinstance(choice, dict) and choice.get("type") == "function":
            name = choice["function"]["name"]
            if name not in declared:
                raise ToolError(f"tool_choice names the function {name!r}, which is not among tools "
                                f"({', '.join(declared) or 'none declared'}).", "tool_choice")
        if choice == "required" and not declared:
            raise ToolError("tool_choice is 'required' but no tools are declared.", "tool_choice")
    for function in functions(body):
        if function.get("strict") is True:
            _strict(function.get("parameters") or {"type": "object"}, f"function {function['name']!r}", "tools", ())
    fmt = body.get("response_format")
    wrapper = fmt.get("json_schema") if isinstance(fmt, dict) and fmt.get("type") == "json_schema" else None
    if isinstance(wrapper, dict) and wrapper.get("strict") is True:
        _strict(wrapper.get("schema") or {"type": "object"}, f"response_format {wrapper.get('name')!r}",
                "response_format", ())


def _strict(schema: Any, whose: str, param: str, context: tuple[str, ...]) -> None:
    """OpenAI's rule for strict schemas: every object sets additionalProperties false and requires every key of its
    properties (nested objects and array items too)."""
    if not isinstance(schema, dict):
        return
    where = f"Invalid schema for {whose}: In context={context!r}, "
    if schema.get("type") == "object" or "properties" in schema:
        properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        if schema.get("additionalProperties") is not False:
            raise ToolError(where + "'additionalProperties' is required to be supplied and to be false.", param)
        missing = [key for key in properties if key not in (schema.get("required") or [])]
        if missing:
            raise ToolError(where + "'required' is required to be supplied and to be an array including every key "
                            f"in properties. Missing {missing[0]!r}.", param)
        for key, sub in properties.items():
            _strict(sub, whose, param, (*context, "properties", key))
    if isinstance(schema.get("items"), dict):
        _strict(schema["items"], whose, param, (*context, "items"))


def chosen(body: dict[str, Any], faults: frozenset[str]) -> list[dict[str, Any]]:
    """The functions the answer calls, in order (none: the answer is text)."""
    declared = functions(body)
    choice = body.get("tool_choice", "auto" if declared else "none")
    if "tool-choice-ignored" in faults:  # as a server without tool_choice support: always "auto"
        choice = "auto" if declared else "none"
    if not declared or choice == "none":
        return []
    if isinstance(choice, dict):
        if choice.get("type") != "function":
            return []
        return [f for f in declared if f["name"] == choice["function"]["name"]][:1]
    last = (body.get("messages") or [{}])[-1]
    if choice == "auto" and last.get("role") == "tool":
        return []
    return declared[:1]


def value(schema: Any, name: str = "value") -> Any:
    """The simplest value that a (parameters) schema accepts: every declared property of an object, the first of an
    enum, the lower bound of a number, a word for a string. A schema it cannot read (any JSON object may come as
    ``parameters``) gets an empty object: the endpoint answers, never crashes."""
    try:
        return _value(schema, name)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError, RecursionError):
        return {}


def _value(schema: Any, name: str) -> Any:
    if not isinstance(schema, dict):
        return {}
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return _value(schema[key][0], name)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        return {key: _value(sub, key) for key, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [_value(schema.get("items") or {}, name) for _ in range(min(schema.get("minItems", 1) or 0, 64))]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + (1 if "exclusiveMinimum" in schema else 0))
        return int(low) if kind == "integer" else float(low)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    text = name if len(name) >= schema.get("minLength", 0) else name * min(schema.get("minLength", 1), 4096)
    return text[: schema["maxLength"]] if "maxLength" in schema else text


def arguments(function: dict[str, Any], faults: frozenset[str]) -> Any:
    """The arguments of a call to ``function``: a JSON string (an object with ``tool-args-object``)."""
    args = value(function.get("parameters") or {"type": "object", "properties": {}})
    if "tool-args-invalid" in faults and isinstance(args, dict):
        required = (function.get("parameters") or {}).get("required") or list(args)
        for key in required[:1]:
            args.pop(key, None)
    if "tool-args-object" in faults:
        return args
    return json.dumps(args)


def calls(body: dict[str, Any], faults: frozenset[str]) -> list[dict[str, Any]]:
    """The tool calls of one answer (empty: it answers in words)."""
    out = []
    for function in chosen(body, faults):
        name = function["name"] + ("_v2" if "tool-call-undeclared" in faults else "")
        out.append({"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
                    "function": {"name": name, "arguments": arguments(function, faults)}})
    return out


def cut(calls_: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], int, bool]:
    """The calls as far as ``limit`` tokens (pieces of arguments) allow: (calls, tokens used, cut short)."""
    used, out = 0, []
    for call in calls_:
        args = call["function"]["arguments"]
        if not isinstance(args, str):
            out.append(call)
            used += 1
            continue
        pieces = max(1, -(-len(args) // PIECE))
        if used + pieces > limit:
            keep = max(0, limit - used)
            out.append({**call, "function": {**call["function"], "arguments": args[: keep * PIECE]}})
            return out, limit, True
        out.append(call)
        used += pieces
    return out, used, False


def finish_reason(faults: frozenset[str]) -> str:
    return "stop" if "tool-finish-stop" in faults else "tool_calls"


def deltas(calls_: list[dict[str, Any]], faults: frozenset[str]) -> list[list[dict[str, Any]]]:
    """The streamed deltas of ``calls_``, one list of tool_calls items per chunk: the first of each call with its
    index, id, type and name (and no arguments yet), then its arguments in pieces, each with the call's index."""
    chunks = []
    for index, call in enumerate(calls_):
        function, args = call["function"], call["function"]["arguments"]
        args = args if isinstance(args, str) else json.dumps(args)
        head = {"index": index, "id": call["id"], "type": "function",
                "function": {"name": function["name"], "arguments": ""}}
        chunks.append([head])
        sent = ""
        for start in range(0, len(args), PIECE):
            piece = args[start:start + PIECE]
            sent += piece
            item: dict[str, Any] = {"index": index, "function": {"arguments": sent if "tool-stream-cumulative"
                                                                 in faults else piece}}
            if "tool-stream-no-index" in faults:
                del item["index"]
            chunks.append([item])
    return chunks
