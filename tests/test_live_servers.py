"""Self-test over the results of the live jobs (scripts/servers/*.sh), when CI points at them.

INFERCHECK_LIVE_RESULTS names a directory holding <server>/default.json and <server>/profile.json. Without it the
tests skip: a newcomer's machine runs no real server. CI sets it after running the llama-cpp-python and llama-server
jobs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from infercheck.contract import schemas as _schemas

LIVE = os.environ.get("INFERCHECK_LIVE_RESULTS")
pytestmark = pytest.mark.skipif(not LIVE, reason="INFERCHECK_LIVE_RESULTS is not set: no live job ran")


def _doc(server: str, run: str) -> dict:
    path = Path(LIVE or ".") / server / f"{run}.json"
    assert path.is_file(), f"the live job left no {path}"
    doc = json.loads(path.read_text())
    assert _schemas.errors("results.json", doc) == []
    return doc


def _failed(doc: dict, check: str) -> list[dict]:
    return [r for r in doc["results"] if r["check"] == check and r["outcome"] == "failed"]


@pytest.mark.parametrize("server", ["llama-cpp-python", "llama-server"])
@pytest.mark.parametrize("run", ["default", "profile"])
def test_the_runs_completed_and_every_failure_carries_its_evidence(server, run):
    doc = _doc(server, run)
    assert doc["summary"]["errors"] == 0, [r["message"] for r in doc["results"] if r["outcome"] == "error"]
    assert doc["summary"]["passed"] > 100
    for result in doc["results"]:
        if result["outcome"] == "failed":
            assert result["message"] and result["curl"].startswith("curl "), result
            assert "expected" in result and "received" in result, result
            # no transport artefact is a verdict: a lost connection is confirmed before anything is blamed. A
            # request that outlived its deadline alone too is the server's slowness, and a verdict: llama-cpp-python
            # ignores max_completion_tokens and llama-server reads max_tokens -1 as no limit, so a request may run
            # into its context limit for longer than the deadline
            assert "no response" not in result["message"] or "timed out" in result["message"], result


def test_a_default_run_reports_what_llama_cpp_python_ignores_and_its_interrupted_streams_once():
    doc = _doc("llama-cpp-python", "default")
    assert any(r["case"] == "chat.n" for r in _failed(doc, "n-choices"))
    assert any(r["case"] == "chat.stream-usage" for r in _failed(doc, "stream-usage-chunk"))
    assert any("max_completion_tokens" in r["message"] for r in _failed(doc, "max-tokens"))
    interrupted = _failed(doc, "streams-under-load")
    assert [r["case"] for r in interrupted] == ["chat.concurrent-streams"]
    assert "interrupts streams under concurrent load" in interrupted[0]["message"]
    # and no case lost to a transport error: every stream check of every streamed case was decided
    streamed = {r["case"] for r in doc["results"] if r["check"] == "stream-done" and not r["case"].startswith("property.")}
    undecided = [r for r in doc["results"] if r["case"] in streamed and r["outcome"] == "skipped"
                 and "no response" in r["message"]]
    assert streamed and undecided == []


def test_nothing_fails_that_the_contract_or_the_profile_allows():
    doc = _doc("llama-cpp-python", "profile")
    assert doc["target"]["profile"] == "llama-cpp-python"
    # the unknown model is served: a deviation under the profile, with its allowance
    unknown = [r for r in doc["results"] if r["case"] == "errors.unknown-model" and r["check"] == "status-code"]
    assert [r["outcome"] for r in unknown] == ["deviation"] and unknown[0]["allowed_by"]["id"] == "model-alias-unknown"
    # embeddings are not sent: the server computes none unless started with --embedding
    assert not any(r["case"].startswith("embeddings.") and r["outcome"] == "failed" for r in doc["results"])


def _outcomes(doc: dict, case: str, check: str) -> list[str]:
    return [r["outcome"] for r in doc["results"] if r["case"] == case and r["check"] == check]


@pytest.mark.parametrize("run", ["default", "profile"])
def test_llama_server_blames_no_timeout_that_answers_alone(run):
    """Issue 29: behind a request that generates for minutes (max_tokens -1 reads as no limit), others waited for
    its slot and were reported timed out, though each answers alone in seconds. Every timeout now reported is one
    that timed out alone too, said in those words."""
    doc = _doc("llama-server", run)
    timed_out = [r for r in doc["results"] if r["outcome"] == "failed" and "no response: timed out" in r["message"]]
    assert all("again when sent alone" in r["message"] for r in timed_out), \
        [(r["case"], r["check"], r["message"][:200]) for r in timed_out]
    assert doc["stats"]["abandoned"] == 0  # no case given up behind a queue, as the breaker once did


def test_llama_servers_missing_route_is_one_failure_and_its_profile_skips_it():
    default, profile = _doc("llama-server", "default"), _doc("llama-server", "profile")
    embeddings = [r for r in default["results"] if r["case"].startswith(("embeddings.", "property.embeddings"))
                  and r["outcome"] == "failed"]
    assert len(embeddings) == 1 and "does not serve POST /v1/embeddings" in embeddings[0]["message"], embeddings
    assert "answered 501" in embeddings[0]["message"]
    assert not any(r["case"].startswith("embeddings.") and r["outcome"] != "skipped" for r in profile["results"])


def test_under_its_profile_llama_server_is_sent_n_and_its_usage_undercount_fails():
    doc = _doc("llama-server", "profile")
    assert doc["target"]["profile"] == "llamacpp"
    assert _outcomes(doc, "chat.n", "n-choices") == ["passed"]  # n is served: two choices
    undercounted = {r["case"] for r in _failed(doc, "usage-counts-every-choice")}
    assert {"chat.n", "completions.n"} & undercounted, undercounted
    # what the profile allows, each proven on this build's answers
    assert _outcomes(doc, "completions.documented", "identity") == ["deviation"]  # chatcmpl- ids on completions
    assert _outcomes(doc, "errors.unknown-model", "status-code") == ["deviation"]
    assert _outcomes(doc, "errors.missing-model", "status-code") == ["deviation"]


def test_a_default_run_reports_what_llama_server_gets_wrong():
    doc = _doc("llama-server", "default")
    assert _outcomes(doc, "responses.incomplete", "response-status") == ["failed"]  # cut at the limit, "completed"
    assert _outcomes(doc, "errors.tools-malformed", "status-code") == ["failed"]  # a 500 to a malformed tool
    assert _outcomes(doc, "errors.max-tokens-range", "status-code") == ["failed"]  # max_tokens -1 served
    assert any("sequence_number" in r["message"] for r in _failed(doc, "stream-chunk-schema"))


def test_under_load_llama_cpp_pythons_interrupted_streams_are_a_rate_that_grows_with_the_users():
    """The live job's sweep of the streamed cases at 1, 2 and 4 users (scripts/servers/llama-cpp-python.sh): alone,
    every stream ends with its finish_reason; with a second user, the server stops a running stream when another
    request arrives (interrupt_requests, on by default), and the load reports it as a rate, with an example."""
    path = Path(LIVE or ".") / "llama-cpp-python" / "load.json"
    assert path.is_file(), f"the live job left no {path}"
    doc = json.loads(path.read_text())
    assert _schemas.errors("load.json", doc) == [] and doc["workers"] == 1
    steps = {s["users"]: s for s in doc["steps"]}
    assert sorted(steps) == [1, 2, 4] and doc["verdict"]["status"] == "not_conformant" and doc["knee"]["users"] == 1

    def rate(users: int) -> float:
        return steps[users]["errors"].get("interrupted", 0) / steps[users]["requests"]

    assert steps[1]["kept_contract"] and rate(1) == 0 < rate(2) and rate(4) > 0
    assert "stream-finish-once" in steps[2]["violations"] and steps[2]["examples"]["stream-finish-once"]["curl"]
