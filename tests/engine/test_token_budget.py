"""--max-tokens: a hard ceiling on generated tokens across every suite. Each request reserves what its answer may
generate (max_tokens x n x prompts) before it is sent; the answer's own count replaces the reservation."""

from __future__ import annotations

import json

import pytest

from infercheck import Exchange, Request, Response
from infercheck.contract.cases import Case, reservation
from infercheck.engine.runner import Runner
from infercheck.engine.target import Target
from infercheck.wire.answers import generated

from ..support import infercheck

URL = "http://x/v1/chat/completions"


def _answer(status: int, body: bytes, *, stream: bool = False) -> Exchange:
    return Exchange("c", Request("POST", URL), Response(status, {}, body, 0.0), stream=stream)


def _case(route: str, body: dict) -> Case:
    return Case("c", "", route, "POST", "/chat/completions", body=body)


def test_a_request_reserves_what_its_answer_may_generate():
    assert reservation(_case("chat", {"max_tokens": 16})) == 16
    # which of two limits a server honours varies: the larger; best_of generates more than n when larger
    assert reservation(_case("chat", {"max_completion_tokens": 8, "max_tokens": 16, "n": 3})) == 48
    assert reservation(_case("completions", {"max_tokens": 4, "n": 2, "best_of": 3})) == 12
    assert reservation(_case("completions", {"max_tokens": 5, "prompt": ["a", "b"]})) == 10
    assert reservation(_case("embeddings", {"input": "a"})) == 0  # nothing is generated
    # nothing bounds these answers: no limit, or one an endpoint could read as none
    assert reservation(_case("chat", {})) is None
    assert reservation(_case("chat", {"max_tokens": -1})) is None
    assert reservation(_case("chat", {"max_tokens": "infercheck-wrong-type"})) is None
    assert reservation(_case("chat", {"max_tokens": 4, "n": 0})) is None


def test_an_answer_counts_what_it_says_else_its_text_events_else_its_reservation():
    said = {"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 7, "total_tokens": 8}}
    assert generated(_answer(200, json.dumps(said).encode()), 16) == 7
    events = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
              {"choices": [{"index": 0, "delta": {"content": "a"}}, {"index": 1, "delta": {"content": "b"}}]},
              {"choices": [{"index": 0, "delta": {"content": "c"}, "finish_reason": "length"}]}]
    stream = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    assert generated(_answer(200, stream.encode(), stream=True), 16) == 3  # the role-only event carries none
    assert generated(_answer(200, stream.encode(), stream=True), 16, echoed=1) == 2  # the first, its prompt
    assert generated(_answer(200, b'{"choices": []}'), 16) == 16  # says nothing: what it reserved
    assert generated(_answer(400, b'{"error": {}}'), 16) == 0
    assert generated(Exchange("c", Request("POST", URL), error="timed out after 3s"), 16) == 16
    assert generated(Exchange("c", Request("POST", URL), error="not sent", sent=False), 16) == 0


def test_the_ceiling_holds_reservations_until_the_answers_settle_them():
    runner = Runner(Target("http://x/v1"), max_tokens=100)
    assert runner.budget.spend(60) is None and runner.tokens_spent == 60
    refused = runner.budget.spend(50)
    assert refused == ("the token budget is spent (--max-tokens 100): its answer may generate up to 50 tokens, and "
                       "60 are generated or reserved")
    runner.budget.settle(60, _answer(200, b'{"usage": {"completion_tokens": 10}}'))
    assert runner.tokens_spent == 10 and runner.budget.spend(50) is None and runner.tokens_spent == 60
    assert "nothing bounds the tokens" in runner.budget.spend(None)
    assert runner.budget.spend(20, requests=3) is not None  # three copies at once: 60 more, past the ceiling
    assert runner.requests_sent == 2
    unlimited = Runner(Target("http://x/v1"))
    assert unlimited.budget.spend(None) is None and unlimited.budget.spend(10 ** 9) is None
    assert runner.budget.spend(0) is None  # what generates nothing is sent, spent budget or not


def test_across_cases_and_property_suites_the_count_never_passes_the_ceiling():
    from hypothesis import settings

    from infercheck.engine import explore as _exploring
    from infercheck.engine.runner import items
    from infercheck.engine.target import embedded, resolve
    from infercheck.generation import routes as _routes

    for seed in (1, 2):
        with embedded() as url:
            runner = Runner(resolve(url), max_tokens=50)
            runner.execute(dict.fromkeys(i.case for i in items("openai")))
            _exploring.run_all(runner, _routes.properties(api="openai"), base=settings(), seed=seed)
        assert 0 < runner.tokens_spent <= 50, seed
        assert runner.stats()["completion_tokens"] <= runner.tokens_spent


def test_max_tokens_must_be_positive():
    with pytest.raises(ValueError, match="max_tokens must be at least 1"):
        Runner(Target("http://x/v1"), max_tokens=0)


def test_a_run_never_passes_its_token_ceiling_and_says_what_it_skipped(tmp_path):
    out = tmp_path / "results.json"
    proc = infercheck("run", "--max-tokens", "100", "--json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(out.read_text())
    stats = doc["stats"]
    assert stats["max_tokens"] == 100 and stats["completion_tokens"] <= stats["tokens_counted"] <= 100
    skipped = [r for r in doc["results"] if r["outcome"] == "skipped" and "(--max-tokens 100)" in r["message"]]
    assert skipped, "a default run generates more than 100 tokens: some requests must have been skipped"
    # the property suites share the ceiling: a suite it cut says so beside what held, one it emptied is skipped
    assert any(r["case"].startswith("property.") and "(--max-tokens 100)" in r["message"] for r in doc["results"])
    assert f"budget: {len(skipped)} check(s) skipped because a budget was spent; {stats['tokens_counted']} " \
           "generated tokens counted against --max-tokens 100" in proc.stdout
