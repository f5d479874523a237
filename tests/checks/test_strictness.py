"""A schema the request gave binds the model only when strict: output that strays from a schema that is not strict
is a deviation under the default profile (the contract tells clients to expect it), and a failure under strict and
whenever the schema was strict. Chat's tools and both APIs' response formats are strict only with ``strict: true``; a
Responses function tool is strict unless it says ``strict: false`` (OpenAI's function-calling guide)."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest

from infercheck import Outcome, registry
from infercheck.checks.base import Context, evaluate
from infercheck.contract.profiles import load

from .test_responses import _plain as _responses_plain
from .test_responses import _response
from .test_tools import _call, _plain, _streamed

CTX = Context("http://h/v1", "m")
OPENAI, STRICT = load("openai"), load("strict")


def _with(case, edit):
    """The case with its body edited by ``edit`` (which changes a deep copy in place)."""
    body = copy.deepcopy(case.body)
    edit(body)
    return dataclasses.replace(case, body=body)


def _mark(where: dict, strict) -> None:
    """Give ``where`` (a tool, its function, a format) that strict, or none at all when ``strict`` is None."""
    where.pop("strict", None)
    if strict is not None:
        where["strict"] = strict


def _chat_tool(name: str, strict):
    def edit(body):
        for tool in body["tools"]:
            if tool["function"]["name"] == name:
                _mark(tool["function"], strict)
    return edit


def _responses_tool(strict):
    def edit(body):
        for tool in body["tools"]:
            _mark(tool, strict)
    return edit


def _chat_format(strict):
    return lambda body: _mark(body["response_format"]["json_schema"], strict)


def _text_format(strict):
    return lambda body: _mark(body["text"]["format"], strict)


def _judge(check: str, case, exchange):
    """(outcome under openai, outcome under strict, the openai result)."""
    mine = evaluate(registry()[check], case, exchange, CTX, OPENAI)
    return mine.outcome, evaluate(registry()[check], case, exchange, CTX, STRICT).outcome, mine


def _tool_answer(case_id: str, name: str, arguments):
    return _plain(case_id, {"role": "assistant", "content": None, "tool_calls": [_call(name, arguments)]})


def _responses_call(arguments: str):
    call = {"id": "fc_1", "type": "function_call", "call_id": "call_1", "name": "get_time", "arguments": arguments,
            "status": "completed"}
    return _responses_plain("responses.function", _response([call]))


def _responses_text(text: str):
    message = {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
               "content": [{"type": "output_text", "text": text, "annotations": []}]}
    return _responses_plain("responses.json-schema", _response([message]))


# (check, the recorded answer that strays, how the request's schema is made strict, not strict, or left alone)
STRAYS = {
    "chat arguments off the parameters": ("tool-call-arguments", lambda: _tool_answer(
        "chat.tools-required", "get_weather", '{"unit": "celsius"}'), _chat_tool("get_weather", True),
        _chat_tool("get_weather", None)),
    "chat arguments not JSON": ("tool-call-arguments", lambda: _tool_answer(
        "chat.tools-required", "get_weather", '{"location": '), _chat_tool("get_weather", True),
        _chat_tool("get_weather", False)),
    "chat streamed arguments not JSON": ("tool-stream-deltas", lambda: _streamed("chat.tools-named-stream", [
        {"role": "assistant", "content": None, "tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                                                "function": {"name": "get_time", "arguments": ""}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"timezone": '}}]}]),
        _chat_tool("get_time", True), _chat_tool("get_time", None)),
    "Responses arguments off the parameters": ("response-function-call", lambda: _responses_call('{"zone": "UTC"}'),
                                               _responses_tool(None), _responses_tool(False)),
    "Responses arguments not JSON": ("response-function-call", lambda: _responses_call('{"timezone'),
                                     _responses_tool(True), _responses_tool(False)),
    "chat content off the schema": ("structured-output", lambda: _plain("chat.json-schema", {
        "role": "assistant", "content": json.dumps({"colors": "red"})}, "stop"), _chat_format(True),
        _chat_format(False)),
    "Responses output off the schema": ("response-structured-output", lambda: _responses_text(json.dumps({
        "colors": "red"})), _text_format(True), _text_format(None)),
}


@pytest.mark.parametrize("name", STRAYS)
def test_output_off_a_schema_not_strict_is_a_deviation_and_off_a_strict_one_a_failure(name):
    check, answer, strict, loose = STRAYS[name]
    case, exchange = answer()
    outcome, under_strict, result = _judge(check, _with(case, strict), exchange)
    assert (outcome, under_strict) == (Outcome.FAILED, Outcome.FAILED), result.message
    assert "is not strict" not in result.message
    outcome, under_strict, result = _judge(check, _with(case, loose), exchange)
    assert (outcome, under_strict) == (Outcome.DEVIATION, Outcome.FAILED), result.message
    assert result.allowance.id == "schema-not-strict"
    assert "is not strict, and the contract lets a model stray from a schema that is not" in result.message


def test_a_responses_function_is_strict_unless_it_says_strict_false():
    """OpenAI's function-calling guide: a Responses request that omits strict is made strict; chat's is not."""
    case, exchange = _responses_call('{"zone": "UTC"}')
    assert _judge("response-function-call", _with(case, _responses_tool(None)), exchange)[0] is Outcome.FAILED
    assert _judge("response-function-call", _with(case, _responses_tool(False)), exchange)[0] is Outcome.DEVIATION
    case, exchange = _tool_answer("chat.tools-required", "get_weather", '{"unit": "celsius"}')
    assert _judge("tool-call-arguments", _with(case, _chat_tool("get_weather", None)), exchange)[0] \
        is Outcome.DEVIATION


def test_what_every_schema_promises_fails_strict_or_not():
    """Arguments that are not a string, and a response format's content that is not a JSON object, are not the
    model straying from a schema: the contract promises both whatever strict says."""
    case, exchange = _tool_answer("chat.tools-required", "get_weather", {"location": "Paris"})
    outcome, _, result = _judge("tool-call-arguments", _with(case, _chat_tool("get_weather", False)), exchange)
    assert outcome is Outcome.FAILED and "not a string holding JSON" in result.message
    for content in ("Red, yellow and blue.", "[1, 2]"):
        case, exchange = _plain("chat.json-schema", {"role": "assistant", "content": content}, "stop")
        outcome, _, result = _judge("structured-output", _with(case, _chat_format(False)), exchange)
        assert outcome is Outcome.FAILED, (content, result.message)


def test_a_stream_whose_arguments_break_off_says_its_finish_reason():
    case, exchange = STRAYS["chat streamed arguments not JSON"][1]()
    result = _judge("tool-stream-deltas", case, exchange)[2]
    assert result.outcome is Outcome.FAILED  # get_time is strict in the case itself
    assert "finish_reason is 'tool_calls', not 'length'" in result.message
