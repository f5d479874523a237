"""Self-test over the results of the live jobs (scripts/servers/*.sh), when CI points at them.

INFERCHECK_LIVE_RESULTS names a directory holding <server>/default.json and <server>/profile.json. Without it the
tests skip: a newcomer's machine runs no real server. CI sets it after running the llama-cpp-python job.
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


@pytest.mark.parametrize("run", ["default", "profile"])
def test_the_llama_cpp_python_runs_completed_and_every_failure_carries_its_evidence(run):
    doc = _doc("llama-cpp-python", run)
    assert doc["summary"]["errors"] == 0, [r["message"] for r in doc["results"] if r["outcome"] == "error"]
    assert doc["summary"]["passed"] > 100
    for result in doc["results"]:
        if result["outcome"] == "failed":
            assert result["message"] and result["curl"].startswith("curl "), result
            assert "expected" in result and "received" in result, result
            # no transport artefact is a verdict: a lost connection is confirmed before anything is blamed. A
            # request that outlived its deadline is the server's slowness, and a verdict: this server ignores
            # max_completion_tokens, so a generated request may run into its context limit, or queue behind one
            # that does, for longer than the deadline
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
