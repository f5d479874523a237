"""The schema-guided shrinker: its candidates are valid, smaller and independent, and repeated it reaches the
request hypothesis itself would call minimal. And the property suites send their requests at once."""

from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import settings

from infercheck import embedded, resolve
from infercheck.contract import profiles as _profiles
from infercheck.contract import schemas as _schemas
from infercheck.engine import explore as _exploring
from infercheck.engine import gate as _gate
from infercheck.engine import sending as _sending
from infercheck.engine.runner import Runner
from infercheck.generation import requests as _requests
from infercheck.generation import routes as _routes
from infercheck.generation import shrink as _shrink
from infercheck.generation.routes import Property

MODEL = "infercheck-tiny"


def _shrinker(route: str) -> tuple[_shrink.Shrinker, object]:
    return _requests.shrinker(route, MODEL, ()), _schemas.validator(_routes.ROUTES[route].positive).is_valid


def _shrink_until(route: str, body: dict, fails) -> dict:
    """Greedy shrinking, one candidate at a time: the first that still fails is kept."""
    shrinker, valid = _shrinker(route)
    while True:
        kept = next((c for _, c in shrinker.candidates(body, valid) if fails(c)), None)
        if kept is None:
            return body
        body = kept


BIG = {"model": MODEL, "prompt": ["say something long", "x"], "max_tokens": 7, "n": 2,
       "temperature": 1.5, "stop": ["\n", "END"], "echo": False, "stream": False, "seed": 12345}


def test_every_candidate_is_valid_and_smaller_than_the_request():
    shrinker, valid = _shrinker("completions")
    candidates = shrinker.candidates(BIG, valid)
    assert candidates
    for edit, body in candidates:
        assert valid(body) and _shrink.size(body) < _shrink.size(BIG), (edit, body)
    assert len({_shrink.size(b) for _, b in candidates}) == len(candidates)  # each once
    bodies = [b for _, b in candidates]
    assert {k: v for k, v in BIG.items() if k != "temperature"} in bodies  # an optional field removed
    assert {**BIG, "prompt": ["x"]} in bodies  # a list item removed
    assert {**BIG, "max_tokens": 1} in bodies  # a number at its simplest


def test_removals_come_before_replacements():
    shrinker, valid = _shrinker("completions")
    ranks = [edit.rank for edit, _ in shrinker.candidates(BIG, valid)]
    assert ranks == sorted(ranks) and ranks[0] == 0


def test_what_the_failure_does_not_need_shrinks_away():
    # fails whenever several choices are asked for: n > 1, or more than one prompt
    def several(body):
        prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
        return body.get("n", 1) * len(prompts) > 1

    minimal = _shrink_until("completions", BIG, several)
    assert minimal in ({"model": MODEL, "prompt": "0", "max_tokens": 1, "n": 2},
                       {"model": MODEL, "prompt": ["0", "0"], "max_tokens": 1}), minimal


def test_a_value_the_failure_needs_shrinks_only_as_far_as_it_still_fails():
    minimal = _shrink_until("completions", BIG, lambda b: b.get("seed", 0) >= 100)
    assert minimal == {"model": MODEL, "prompt": "0", "max_tokens": 1, "seed": 100}


def test_a_chat_conversation_shrinks_to_one_user_message():
    body = {"model": MODEL, "max_tokens": 3, "messages": [
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"},
        {"role": "assistant", "content": "hi"}, {"role": "user", "content": "bye"}]}
    assert _shrink_until("chat", body, lambda b: True) == {
        "model": MODEL, "max_tokens": 1, "messages": [{"role": "user", "content": "0"}]}


def test_an_edit_whose_place_is_gone_applies_to_nothing():
    assert _shrink.Edit(("stream_options", "include_usage"), _shrink.DROP, 0).apply({"model": "m"}) is None
    assert _shrink.Edit(("prompt", 0), "0", 1).apply({"prompt": "text"}) is None
    assert _shrink.Edit(("prompt", 5), _shrink.DROP, 0).apply({"prompt": ["a"]}) is None
    body = {"prompt": ["a", "b"]}
    assert _shrink.Edit(("prompt", 0), _shrink.DROP, 0).apply(body) == {"prompt": ["b"]}
    assert body == {"prompt": ["a", "b"]}  # left alone


@pytest.mark.parametrize("faults", [(), ("index-string-with-n",)], ids=["clean", "shrinking"])
def test_the_property_suites_send_up_to_the_concurrency_at_once_never_more(monkeypatch, faults):
    """Every drawn request of every suite is sent at once, ``--concurrency`` of them in flight (and so are the
    candidates of a shrinking wave): the endpoint answers each after 50 ms, so they overlap if they may."""
    flying, peak = 0, 0
    real = _sending.send_async

    async def counted(*args, **kwargs):
        nonlocal flying, peak
        flying += 1
        peak = max(peak, flying)
        try:
            await asyncio.sleep(0.01)  # hold the slot long enough for the others to take theirs
            return await real(*args, **kwargs)
        finally:
            flying -= 1

    monkeypatch.setattr(_sending, "send_async", counted)
    with embedded(faults=faults, ttft_ms=50) as url:
        runner = Runner(resolve(url), concurrency=4, profile=_profiles.load("strict"))
        found = _exploring.run_all(runner, [Property("completions", "positive"), Property("chat", "positive")],
                                    base=settings(), max_examples=10, seed=4)
    assert peak == 4
    assert all(f.examples >= 10 for f in found)
    assert bool(faults) == bool(found[0].failures)


def test_a_stream_cut_because_another_request_arrived_is_confirmed_alone_and_not_blamed():
    """llama-cpp-python cuts a running stream when another request arrives. The suites send 8 at once, so their
    streams are cut; each is confirmed with nothing else in flight, and that answer is the one judged."""
    with embedded(faults=("streams-cut-under-load",), itl_ms=2) as url:
        runner = Runner(resolve(url), concurrency=8, profile=_profiles.load("strict"))
        found = _exploring.run_all(runner, [Property("chat", "positive"), Property("completions", "positive")],
                                    base=settings(), max_examples=20, seed=4)
    assert [r.message for f in found for r in f.failures + f.errors] == []
    confirmed = [e for e in runner.generated if e.transient is not None]
    assert confirmed and all(e.response is not None and not e.cut for e in confirmed)


def test_a_timeout_under_load_is_confirmed_alone_and_the_suites_narrow_their_concurrency(monkeypatch):
    """A single-slot server answers one POST at a time, 0.3 s each: 8 at once, the last ones wait past --timeout 1.
    Alone, each answers in time: not the request's failure. The suites confirm it alone, then send fewer at once.
    (The server drops a request whose client has left, as one that watches for disconnects does: else a
    confirmation would wait behind the abandoned ones.)"""
    from infercheck.serve import create_app

    from ..support import serve_app

    app, slot = create_app(), asyncio.Lock()
    widths = []
    narrow = _gate.Gate.narrow

    def narrowed(gate, why):
        narrow(gate, why)
        widths.append(gate.width)

    monkeypatch.setattr(_gate.Gate, "narrow", narrowed)

    async def single_slot(scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await app(scope, receive, send)
        arrived = time.monotonic()
        async with slot:
            if time.monotonic() - arrived < 1.0:  # else its client timed out and left
                await asyncio.sleep(0.3)
                await app(scope, receive, send)

    with serve_app(single_slot) as root:
        runner = Runner(resolve(root + "/v1", timeout=1.0), concurrency=8, profile=_profiles.load("strict"))
        found = _exploring.run(runner, Property("embeddings", "positive"), base=settings(), max_examples=16, seed=4)
    assert [r.message for r in found.failures + found.errors] == [] and not found.skipped
    confirmed = [e for e in runner.generated if (e.transient or "").startswith("timed out")]
    assert confirmed and all(e.response is not None and e.response.status == 200 for e in confirmed)
    assert widths and widths[0] == 4  # halved after the first timeout that answered alone
    assert runner.breaker.tripped == {}  # the breaker counted the confirmed answers, not the timeouts under load
