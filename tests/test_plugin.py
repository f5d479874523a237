"""Plain `pytest suites/` works through the plugin's options; settings follow CLI > env > ini."""

from __future__ import annotations

import json

import pytest

from .support import ROOT

SUITE = ROOT / "suites" / "test_openai.py"


@pytest.fixture
def suite(pytester: pytest.Pytester):
    pytester.syspathinsert(str(ROOT / "suites"))
    return pytester.copy_example(str(SUITE))


def test_the_suite_passes_against_the_embedded_default(pytester, suite, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    result = pytester.runpytest_inprocess(suite, "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert result.ret == 0 and outcomes["passed"] > 250 and "failed" not in outcomes
    # no key given: the two authentication cases are not sent; chat.concurrent-streams sends three copies at once
    result.stdout.fnmatch_lines(["infercheck: http://127.0.0.1:*/v1 model=infercheck-tiny profile=openai: 66 requests*"])


def test_failures_carry_check_expected_received_and_curl(pytester, suite):
    result = pytester.runpytest_inprocess(suite, "--infercheck-fault", "stream-chunk-object")
    assert result.parseoutcomes()["failed"] == 4  # the four streamed chat cases
    result.stdout.fnmatch_lines([
        "*[[]high[]] stream-chunk-schema: Every streamed event is JSON matching the chunk schema*",
        "*expected: openai/chat-chunk.json*",
        "*reproduce with:*",
        "*curl -N http://127.0.0.1:*/v1/chat/completions*",
    ])


def test_precedence_cli_over_env_over_ini(pytester, suite, monkeypatch, reference_url):
    out = pytester.path / "out.json"
    pytester.makeini(f"[pytest]\ninfercheck_base_url = http://127.0.0.1:9/v1\ninfercheck_json = {out}\n")
    monkeypatch.setenv("INFERCHECK_BASE_URL", reference_url)
    result = pytester.runpytest_inprocess(suite, "-k", "models")
    assert result.ret == 0 and result.parseoutcomes()["passed"] >= 6  # env beat the unreachable ini URL
    assert json.loads(out.read_text())["target"]["base_url"] == reference_url
    result = pytester.runpytest_inprocess(suite, "-k", "models", "--infercheck-base-url", "http://127.0.0.1:9/v1")
    assert result.ret == 2  # the command line beat the environment
    result.stdout.fnmatch_lines(["*infercheck: cannot reach http://127.0.0.1:9/v1*"])
