"""Reading answers (streamed or not) and choosing a stop sequence from one."""

from __future__ import annotations

import json

import pytest

from infercheck import Exchange, Request, Response
from infercheck.wire.answers import read, stop_from


def _exchange(body: bytes, *, stream: bool) -> Exchange:
    return Exchange("c", Request("POST", "http://x/v1/chat/completions"), Response(200, {}, body, 0.0), stream=stream)


def test_a_stream_is_read_per_choice_with_usage_and_every_finish_reason():
    chunks = [
        {"id": "a", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}], "usage": None},
        {"id": "a", "choices": [{"index": 1, "delta": {"content": "Hi"}}], "usage": None},
        {"id": "a", "choices": [{"index": 0, "delta": {"content": "Yo"}, "finish_reason": "stop"}], "usage": None},
        {"id": "a", "choices": [{"index": 1, "delta": {}, "finish_reason": "length"}], "usage": None},
        {"id": "a", "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}},
    ]
    body = "".join(f"data: {json.dumps(c)}\r\n\r\n" for c in chunks) + ": bye\n\ndata: [DONE]\n\n"
    answer = read(_exchange(body.encode(), stream=True))
    assert answer.texts == {0: "Yo", 1: "Hi"}
    assert answer.finish == {0: ["stop"], 1: ["length"]}
    assert answer.usage["total_tokens"] == 3 and answer.ids == ["a"] * 5


def test_a_non_streamed_completion_and_chat_are_read_alike():
    completion = {"id": "x", "choices": [{"index": 0, "text": " a b", "finish_reason": "length"}]}
    chat = {"id": "y", "choices": [{"index": 0, "message": {"role": "assistant", "content": " a b"},
                                    "finish_reason": "length"}]}
    for doc in (completion, chat):
        answer = read(_exchange(json.dumps(doc).encode(), stream=False))
        assert answer.text() == " a b" and answer.finish_reason() == "length"


def test_garbage_is_read_as_no_answer():
    assert read(_exchange(b"<html>", stream=False)).documents == []
    assert read(_exchange(b"data: nope\n\n", stream=True)).texts == {}


@pytest.mark.parametrize(
    "text",
    [
        "One, two, three, four, five, six, seven, eight, nine, ten.",
        " The other day the model gave an answer to the question.",
        "Bonjour à tous, voici une réponse assez longue pour couper.",
    ],
)
def test_the_stop_word_first_occurs_past_the_first_quarter(text):
    stop = stop_from(text)
    assert stop is not None and text.find(stop) >= len(text) // 4
    assert text[: text.find(stop)].strip()  # the answer cut at it is not empty


@pytest.mark.parametrize("text", ["", "Yes.", "ok ok", "the the the the the the"])
def test_no_stop_word_from_a_short_or_repetitive_answer(text):
    assert stop_from(text) is None
