"""The tool-call checks on recorded answers: what they accept (a forced call finishing with 'stop', as OpenAI and
vLLM answer), what they catch, and answers of any shape judged without an internal error."""

from __future__ import annotations

import json

import pytest

from infercheck import Exchange, Outcome, Request, Response, registry
from infercheck.checks.base import Context, evaluate
from infercheck.contract.cases import by_id

CTX = Context("http://h/v1", "m")
TOOL_CHECKS = ("tool-call-shape", "tool-call-arguments", "tool-choice-honoured", "tool-finish-reason",
               "tool-stream-deltas")


def _plain(case_id: str, message: dict, finish: str = "tool_calls") -> tuple:
    case = by_id(case_id)
    body = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}]}
    request = Request("POST", "http://h/v1/chat/completions", body=json.dumps(case.body).encode())
    return case, Exchange(case.id, request, Response(200, {"content-type": "application/json"},
                                                     json.dumps(body).encode(), 0.1))


def _streamed(case_id: str, deltas: list, finish: str = "tool_calls") -> tuple:
    case = by_id(case_id)
    events = [{"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
               "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
    events.append({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                   "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    raw = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    request = Request("POST", "http://h/v1/chat/completions", body=json.dumps(case.body).encode())
    return case, Exchange(case.id, request, Response(200, {"content-type": "text/event-stream"}, raw.encode(), 0.1),
                          stream=True)


def _verdict(check: str, case, exchange, ctx: Context = CTX):
    return evaluate(registry()[check], case, exchange, ctx)


def _call(name: str, arguments) -> dict:
    return {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}


def test_a_forced_call_may_finish_with_stop_but_an_auto_one_may_not():
    """OpenAI and vLLM answer finish_reason 'stop' when tool_choice forces the call (vLLM's serving_chat says
    'tool_calls' only when tools were called under 'auto'); under 'auto' a call must say 'tool_calls'."""
    named = _plain("chat.tools-named", {"role": "assistant", "content": None,
                                        "tool_calls": [_call("get_time", '{"timezone": "Europe/Paris"}')]}, "stop")
    assert _verdict("tool-finish-reason", *named).outcome is Outcome.PASSED
    auto = _plain("chat.tools-auto", {"role": "assistant", "content": None,
                                      "tool_calls": [_call("get_weather", '{"location": "Paris"}')]}, "stop")
    result = _verdict("tool-finish-reason", *auto)
    assert result.outcome is Outcome.FAILED and result.expected == ["tool_calls"] and result.received == "stop"
    words = _plain("chat.tools-none", {"role": "assistant", "content": "Sunny."}, "tool_calls")
    assert _verdict("tool-finish-reason", *words).outcome is Outcome.FAILED


def test_arguments_are_a_json_string_that_fits_the_parameters():
    good = _plain("chat.tools-required", {"role": "assistant", "content": None,
                                          "tool_calls": [_call("get_weather", '{"location": "Paris"}')]})
    assert _verdict("tool-call-arguments", *good).outcome is Outcome.PASSED
    for arguments, words in (({"location": "Paris"}, "not a string"), ('{"location": ', "not JSON"),
                             ('{"unit": "celsius"}', "'location' is a required property"),
                             ('{"location": "Paris", "unit": "kelvin"}', "'kelvin' is not one of")):
        bad = _plain("chat.tools-required", {"role": "assistant", "content": None,
                                             "tool_calls": [_call("get_weather", arguments)]})
        result = _verdict("tool-call-arguments", *bad)
        assert result.outcome is Outcome.FAILED and words in result.message, (arguments, result.message)
    cut = _plain("chat.tools-required", {"role": "assistant", "content": None,
                                         "tool_calls": [_call("get_weather", '{"loca')]}, "length")
    assert _verdict("tool-call-arguments", *cut).outcome is Outcome.SKIPPED  # cut at max_tokens: not judged


def test_a_named_choice_must_call_that_function_and_none_must_call_nothing():
    other = _plain("chat.tools-named", {"role": "assistant", "content": None,
                                        "tool_calls": [_call("get_weather", '{"location": "Paris"}')]})
    result = _verdict("tool-choice-honoured", *other)
    assert result.outcome is Outcome.FAILED and result.expected == ["get_time"]
    words = _plain("chat.tools-required", {"role": "assistant", "content": "I cannot call tools."}, "stop")
    assert _verdict("tool-choice-honoured", *words).outcome is Outcome.FAILED
    called = _plain("chat.tools-none", {"role": "assistant", "content": None,
                                        "tool_calls": [_call("get_time", "{}")]})
    assert _verdict("tool-choice-honoured", *called).outcome is Outcome.FAILED


def test_streamed_deltas_build_the_call_the_non_streamed_answer_makes():
    head = {"index": 0, "id": "call_9", "type": "function", "function": {"name": "get_time", "arguments": ""}}
    pieces = [{"index": 0, "function": {"arguments": '{"timezone"'}},
              {"index": 0, "function": {"arguments": ': "Europe/Paris"}'}}]
    plain = _plain("chat.tools-named", {"role": "assistant", "content": None,
                                        "tool_calls": [_call("get_time", '{"timezone": "Europe/Paris"}')]})
    ctx = Context("http://h/v1", "m", exchanges={"chat.tools-named": plain[1]})
    good = _streamed("chat.tools-named-stream", [{"role": "assistant"}, {"tool_calls": [head]},
                                                 *({"tool_calls": [p]} for p in pieces)])
    assert _verdict("tool-stream-deltas", *good, ctx).outcome is Outcome.PASSED
    assert _verdict("tool-call-shape", *good, ctx).outcome is Outcome.PASSED
    no_head = _streamed("chat.tools-named-stream", [{"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}])
    assert "first delta" in _verdict("tool-stream-deltas", *no_head, ctx).message
    other = _streamed("chat.tools-named-stream", [{"tool_calls": [head]},
                                                  {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}])
    result = _verdict("tool-stream-deltas", *other, ctx)
    assert result.outcome is Outcome.FAILED and "differ from the non-streamed" in result.message


@pytest.mark.parametrize("message", [
    {"role": "assistant", "content": None, "tool_calls": {"id": "x"}},
    {"role": "assistant", "content": None, "tool_calls": 7},
    {"role": "assistant", "content": None, "tool_calls": [{"id": 1, "type": "fn", "function": {"name": {"a": 1}}}]},
    {"role": "assistant", "content": None, "tool_calls": [{"function": "get_time"}, None, "x"]},
    {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function",
                                                           "function": {"name": ["get_time"], "arguments": 3}}]},
], ids=["dict", "int", "name-object", "junk-items", "name-list"])
def test_answers_of_any_shape_get_a_verdict_never_an_internal_error(message):
    for case_id in ("chat.tools-named", "chat.tools-auto", "chat.tools-none"):
        case, exchange = _plain(case_id, message)
        for check in TOOL_CHECKS:
            if registry()[check].applies(case):
                assert _verdict(check, case, exchange).outcome is not Outcome.ERROR, (check, case_id)
    weird = [{"tool_calls": [{"index": 0, "function": "get_time", "id": 5}]}, {"tool_calls": "x"},
             {"tool_calls": [{"index": {"a": 1}}]}]
    case, exchange = _streamed("chat.tools-named-stream", weird)
    for check in TOOL_CHECKS:
        if registry()[check].applies(case):
            assert _verdict(check, case, exchange).outcome is not Outcome.ERROR, check


@pytest.mark.parametrize("parameters", [{"$ref": "#/nowhere"}, {"type": 12}, {"properties": {"a": {"minimum": "x"}}}],
                         ids=["unresolvable-ref", "type-number", "minimum-string"])
def test_a_tools_schema_jsonschema_cannot_apply_skips_the_check(parameters):
    """The request's own schema is not the endpoint's fault: tool-call-arguments skips, saying why."""
    import dataclasses

    case = by_id("chat.tools-required")
    body = json.loads(json.dumps(case.body))
    body["tools"][0]["function"]["parameters"] = parameters
    case = dataclasses.replace(case, body=body)
    _, exchange = _plain("chat.tools-required", {"role": "assistant", "content": None,
                                                 "tool_calls": [_call("get_weather", '{"a": 1}')]})
    result = _verdict("tool-call-arguments", case, exchange)
    assert result.outcome is Outcome.SKIPPED and "not a JSON Schema this check can apply" in result.message
