"""Latency figures: which event counts as a token, where the clock is read, and the figures of a real run."""

from __future__ import annotations

import json

import pytest

from infercheck import embedded, resolve, run
from infercheck.wire import metrics as _metrics
from infercheck.wire.exchange import Exchange, Request, Response
from infercheck.wire.sse import decode


def streamed(events: list[object], times: list[float], *, elapsed: float = 1.0) -> Exchange:
    """An answered stream whose i-th event arrived, alone, at times[i] seconds."""
    parts = [f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n".encode() for e in events]
    body, arrivals, total = b"", [], 0
    for part, at in zip(parts, times):
        total += len(part)
        body += part
        arrivals.append((total, at))
    return Exchange("c", Request("POST", "http://x/v1/chat/completions"), stream=True,
                    response=Response(200, {"content-type": "text/event-stream"}, body, elapsed, times[0], arrivals))


def chat(content: str | None, **extra: object) -> dict:
    delta = {} if content is None else {"content": content}
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": None}], **extra}


def test_sse_events_know_where_they_end_in_bytes():
    body = "\ufeffdata: é\n\n: comment\r\ndata: b\r\n\r\ndata: unterminated".encode()
    stream = decode(body)
    assert [e.data for e in stream.events] == ["é", "b"]
    assert stream.ends == [len("\ufeffdata: é\n\n".encode()), len("\ufeffdata: é\n\n: comment\r\ndata: b\r\n\r\n".encode())]


def test_ttft_is_the_first_event_with_text_and_itl_the_mean_gap_between_text_events():
    ex = streamed([chat("", role="assistant"), chat("Hel"), chat(None), chat("lo"), chat(" there"),
                   {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                    "usage": {"completion_tokens": 6}}, "[DONE]"],
                  [0.010, 0.050, 0.055, 0.060, 0.080, 0.090, 0.091], elapsed=0.1)
    assert [round(t, 3) for t in _metrics.content_times(ex)] == [0.05, 0.06, 0.08]
    figures = _metrics.figures([ex])
    assert figures["ttft_ms"] == {"p50": 50.0, "p95": 50.0, "max": 50.0, "n": 1}
    assert figures["itl_ms"]["p50"] == pytest.approx(15.0)  # (80 - 50) / 2
    assert figures["e2e_ms"]["p50"] == pytest.approx(100.0)
    assert figures["output_tokens_per_s"]["p50"] == pytest.approx(60.0)  # usage's 6 tokens in 0.1 s


def test_events_that_arrive_together_share_the_time_their_last_byte_came():
    parts = [f"data: {json.dumps(chat(w))}\n\n".encode() for w in ("a", "b", "c")]
    body = b"".join(parts)
    ex = Exchange("c", Request("POST", "http://x"), stream=True,
                  response=Response(200, {}, body, 0.5, 0.1, [(len(parts[0]) - 5, 0.1), (len(body), 0.3)]))
    assert _metrics.content_times(ex) == [0.3, 0.3, 0.3]  # the first event's last bytes came with the rest


def test_tgi_tokens_count_but_special_ones_do_not_and_streams_without_usage_count_events():
    events = [{"index": 1, "token": {"text": "<s>", "special": True}},
              {"index": 2, "token": {"text": "Hi", "special": False}},
              {"index": 3, "token": {"text": "!", "special": False}, "generated_text": "Hi!"}]
    figures = _metrics.figures([streamed(events, [0.01, 0.02, 0.04], elapsed=0.05)])
    assert figures["ttft_ms"]["p50"] == pytest.approx(20.0)
    assert figures["output_tokens_per_s"]["p50"] == pytest.approx(40.0)  # 2 content events in 0.05 s


def test_a_streamed_response_times_its_deltas_and_counts_the_output_tokens_its_last_event_gives():
    where = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    events = [{"type": "response.created", "sequence_number": 0, "response": {"usage": None}},
              {"type": "response.output_text.delta", "sequence_number": 1, **where, "delta": "Hel"},
              {"type": "response.output_text.delta", "sequence_number": 2, **where, "delta": "lo"},
              {"type": "response.output_text.done", "sequence_number": 3, **where, "text": "Hello"},
              {"type": "response.completed", "sequence_number": 4,
               "response": {"object": "response", "usage": {"input_tokens": 3, "output_tokens": 5, "total_tokens": 8}}}]
    figures = _metrics.figures([streamed(events, [0.01, 0.03, 0.05, 0.06, 0.1], elapsed=0.1)])
    assert figures["ttft_ms"]["p50"] == pytest.approx(30.0) and figures["itl_ms"]["p50"] == pytest.approx(20.0)
    assert figures["output_tokens_per_s"]["p50"] == pytest.approx(50.0)  # the terminal event's 5 tokens in 0.1 s


def test_only_answered_generations_are_sampled():
    error = streamed([chat("x")], [0.01])
    error.response.status = 400
    lost = Exchange("c", Request("POST", "http://x"), stream=True, error="timed out after 1s")
    models = Exchange("m", Request("GET", "http://x/v1/models"),
                      response=Response(200, {}, json.dumps({"object": "list", "data": []}).encode(), 0.01))
    completion = Exchange("g", Request("POST", "http://x/v1/completions"),
                          response=Response(200, {}, json.dumps({"choices": [{"index": 0, "text": "hi"}],
                                                                 "usage": {"completion_tokens": 2}}).encode(), 0.2))
    figures = _metrics.figures([error, lost, models, completion])
    assert figures["ttft_ms"]["n"] == 0 and figures["ttft_ms"]["p50"] is None
    assert figures["e2e_ms"] == {"p50": 200.0, "p95": 200.0, "max": 200.0, "n": 1}
    assert figures["output_tokens_per_s"]["p50"] == pytest.approx(10.0)


def test_percentiles_interpolate_between_ranks():
    values = [float(v) for v in range(1, 101)]
    assert _metrics.percentile(values, 50) == pytest.approx(50.5)
    assert _metrics.percentile(values, 95) == pytest.approx(95.05)
    assert _metrics.statistics([3.0]) == {"p50": 3.0, "p95": 3.0, "max": 3.0, "n": 1}


def test_injected_latency_is_never_undercut_and_reaches_the_figures():
    """The reference endpoint holds tokens back to its schedule; the figures see at least that much. (How close
    they come is benchmarks/latency.py's to measure, not a timed unit test's.)"""
    with embedded(ttft_ms=30, itl_ms=5) as url:
        runner = run(resolve(url), concurrency=4, suites=False)
    figures = runner.metrics()
    assert figures["ttft_ms"]["n"] >= 5 and figures["itl_ms"]["n"] >= 5
    assert figures["ttft_ms"]["p50"] >= 30 and figures["e2e_ms"]["p50"] >= 30
    # each stream's last token leaves no earlier than its schedule; a late first one shortens the mean gap a little
    assert figures["itl_ms"]["p50"] >= 4


def test_injected_latency_paces_the_responses_api_too():
    """`serve --ttft-ms --itl-ms` held chat and completions to the schedule but let /v1/responses answer at once
    (issue 26: 0.002 s against 0.54 s, an output tokens/s p95 of 9215 at 30 ms between tokens)."""
    import time

    import httpx

    body = {"model": "infercheck-tiny", "input": "Count from one to twenty, in words:", "max_output_tokens": 16}
    with embedded(ttft_ms=30, itl_ms=20) as url:
        started = time.perf_counter()
        answer = httpx.post(f"{url}/responses", json=body, timeout=10)
        plain = time.perf_counter() - started
        started = time.perf_counter()
        streamed = httpx.post(f"{url}/responses", json={**body, "stream": True}, timeout=10)
        stream = time.perf_counter() - started
    tokens = answer.json()["usage"]["output_tokens"]
    # the stream is held to one step per event that carries text, however many tokens each carries
    events = [json.loads(line[5:]) for line in streamed.content.splitlines() if line.startswith(b"data:")]
    deltas = sum(1 for e in events if e.get("type") == "response.output_text.delta" and e.get("delta"))
    assert tokens >= 2 and deltas >= 2 and streamed.status_code == 200
    assert plain >= 0.030 + (tokens - 1) * 0.020 and stream >= 0.030 + (deltas - 1) * 0.020
