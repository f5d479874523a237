"""Latency figures of a run, from the requests it sent (no extra request is made for them).

Every figure is taken from the clock readings the transport makes as body bytes arrive, never after parsing:
an SSE event's time is the arrival of the bytes that complete it.

- ``ttft_ms``: time to first token, from sending the request to the first stream event that carries generated
  text (empty content events, such as the role-only first chunk, do not count: AIPerf and GuideLLM ignore them
  too). Streamed answers only.
- ``itl_ms``: inter-token latency, one sample per streamed answer with at least two content events: the mean
  gap between its consecutive content events, ``(last - first) / (events - 1)``. AIPerf and GuideLLM divide
  ``(e2e - ttft)`` by ``output tokens - 1``; infercheck counts content events (AIPerf's inter-chunk latency)
  and ends at the last content event, because it has no tokenizer and the trailing finish, usage and
  ``[DONE]`` events carry no token.
- ``e2e_ms``: end-to-end latency, from sending the request to its last byte, of every answered (2xx)
  request that generated text, streamed or not.
- ``output_tokens_per_s``: per request, output tokens / e2e latency (LLMPerf's request output throughput):
  the tokens from ``usage.completion_tokens`` (TGI: ``details.generated_tokens``), else the number of
  content events of a stream.

Each figure reports p50, p95 and max (linear interpolation between closest ranks, as numpy's default) and
its number of samples ``n``; with no sample, the statistics are null.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from . import answers as _answers
from .exchange import Exchange

FIGURES = ("ttft_ms", "itl_ms", "e2e_ms", "output_tokens_per_s")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def statistics(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None, "n": 0}
    return {"p50": round(percentile(values, 50), 3), "p95": round(percentile(values, 95), 3),
            "max": round(max(values), 3), "n": len(values)}


def content_times(exchange: Exchange) -> list[float]:
    """Seconds from send at which each stream event carrying generated text arrived."""
    response = exchange.response
    if response is None or not response.arrivals:
        return []
    stream = response.sse()
    times, arrivals, at = [], response.arrivals, 0
    for event, end in zip(stream.events, stream.ends):
        while at < len(arrivals) - 1 and arrivals[at][0] < end:
            at += 1
        try:
            doc = json.loads(event.data)
        except ValueError:
            continue
        if _answers.event_text(doc):
            times.append(arrivals[at][1])
    return times


def _generated(exchange: Exchange) -> bool:
    """Whether a non-streamed answer carries generated text (a completion, a chat message, TGI's text, a response's
    output)."""
    doc = _answers.document(exchange)
    if isinstance(doc, list) and doc:  # Hugging Face text generation answers a list of {generated_text}
        doc = doc[0]
    if not isinstance(doc, dict):
        return False
    if doc.get("object") == "response":  # the Responses API: a message, or a function call
        return bool(doc.get("output"))
    return bool(isinstance(doc.get("generated_text"), str) or any(_answers.read(exchange).texts.values()))


def figures(exchanges: Iterable[Exchange]) -> dict[str, dict[str, float | int | None]]:
    return {name: statistics(values) for name, values in samples(exchanges).items()}


def samples(exchanges: Iterable[Exchange]) -> dict[str, list[float]]:
    """Every sample of every figure, in the order the exchanges come."""
    samples: dict[str, list[float]] = {name: [] for name in FIGURES}
    for exchange in exchanges:
        response = exchange.response
        if response is None or not (200 <= response.status < 300):
            continue
        if exchange.stream:
            times = content_times(exchange)
            if not times:
                continue
            samples["ttft_ms"].append(times[0] * 1000)
            if len(times) > 1:
                samples["itl_ms"].append((times[-1] - times[0]) / (len(times) - 1) * 1000)
            tokens = _answers.completion_tokens(exchange) or len(times)
        elif _generated(exchange):
            tokens = _answers.completion_tokens(exchange)
        else:
            continue
        samples["e2e_ms"].append(response.elapsed * 1000)
        if tokens and response.elapsed > 0:
            samples["output_tokens_per_s"].append(tokens / response.elapsed)
    return samples


def empty() -> dict[str, Any]:
    return figures(())
