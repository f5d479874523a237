"""Checks over recorded exchanges: the seed document's documented response is rejected."""

from __future__ import annotations

import json

from infercheck import Outcome, registry
from infercheck.checks.base import Context, evaluate
from infercheck.contract.cases import by_id

from ..support import ROOT
from ..support import recorded as _exchange

RECORDED = ROOT / "fixtures" / "openai" / "recorded"




def test_the_flexai_documented_response_is_rejected_for_lacking_text():
    exchange = _exchange("flexai-completion.json", "completions.flexai-seed")
    result = evaluate(registry()["response-schema"], by_id("completions.flexai-seed"), exchange,
                      Context("https://inference.example/v1", "TinyLlama/TinyLlama-1.1B-Chat-v1.0"))
    assert result.outcome is Outcome.FAILED
    assert "$.choices[0]: 'text' is a required property" in result.message
    assert "4279eecf" not in result.curl and "Bearer $INFERCHECK_API_KEY" in result.curl


def test_the_flexai_response_passes_status_and_content_type():
    """It is off the contract in its body only: the other checks must not false-alarm."""
    exchange = _exchange("flexai-completion.json", "completions.flexai-seed")
    ctx = Context("https://inference.example/v1", "m")
    for check_id in ("status-code", "content-type"):
        assert evaluate(registry()[check_id], by_id("completions.flexai-seed"), exchange, ctx).outcome is Outcome.PASSED


def test_an_overrun_case_answered_briefly_proves_nothing_about_the_limit():
    """A model that happens to answer in fewer tokens than the limit did not show the limit is enforced: skipped,
    not passed. Over the limit (llama-cpp-python ignores max_completion_tokens) is a failure."""
    exchange = _exchange("llama-cpp-python-max-completion-tokens-ignored.json", "chat.overrun")
    case, ctx = by_id("chat.overrun"), Context("https://inference.example/v1", "gemma-3-270m")
    over = evaluate(registry()["max-tokens"], case, exchange, ctx)
    assert over.outcome is Outcome.FAILED and "allowed max_completion_tokens=5" in over.message
    brief = json.loads(exchange.response.body)
    brief["choices"][0].update(message={"role": "assistant", "content": "The sea."}, finish_reason="stop")
    brief["usage"] = {"prompt_tokens": 18, "completion_tokens": 3, "total_tokens": 21}
    exchange.response.body = json.dumps(brief).encode()
    result = evaluate(registry()["max-tokens"], case, exchange, ctx)
    assert result.outcome is Outcome.SKIPPED and "never reached" in result.message
