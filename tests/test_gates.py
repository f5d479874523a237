"""CI gates: --fail-on, baselines, and the API key in no output of any kind."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from infercheck.contract import schemas as _schemas

from .support import ROOT, infercheck, served


@pytest.mark.slow
def test_a_baseline_of_a_runs_own_failures_passes_it_and_one_more_fault_fails_it(tmp_path):
    baseline = tmp_path / "baseline.json"
    first = infercheck("run", "--fault", "completion-message", "--seed", "1", "--write-baseline", str(baseline))
    assert first.returncode == 1, first.stdout + first.stderr
    known = json.loads(baseline.read_text())["known"]
    assert known and all(set(k) == {"case", "check", "reason"} and k["reason"] == "" for k in known)
    assert {k["check"] for k in known} == {"response-schema"}

    out = tmp_path / "r.json"
    again = infercheck("run", "--fault", "completion-message", "--seed", "1", "--baseline", str(baseline),
                       "--json", str(out))
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"verdict: NO NEW FAILURES: {len(known)} known failure(s) from the baseline" in again.stdout
    doc = json.loads(out.read_text())
    assert _schemas.errors("results.json", doc) == []
    assert doc["summary"]["known"] == len(known) and doc["summary"]["failed"] == 0

    worse = infercheck("run", "--fault", "completion-message", "--fault", "status-201", "--seed", "1",
                       "--baseline", str(baseline))
    assert worse.returncode == 1 and "NOT CONFORMANT" in worse.stdout and f"and {len(known)} known" in worse.stdout

    fixed = infercheck("run", "--seed", "1", "--baseline", str(baseline))
    assert fixed.returncode == 0 and "FIXED" in fixed.stdout and "now pass" in fixed.stdout


def test_fail_on_chooses_what_fails_the_run():
    never = infercheck("run", "--fault", "status-201", "-k", "status-code", "--fail-on", "never")
    assert never.returncode == 0, never.stdout + never.stderr
    assert "NOT CONFORMANT" in never.stdout and "--fail-on never" in never.stdout
    deviations = ("run", "--fault", "error-code-integer", "--profile", "vllm", "-k", "response-schema")
    assert infercheck(*deviations).returncode == 0
    strict = infercheck(*deviations, "--fail-on", "deviation")
    assert strict.returncode == 1 and "deviation(s) (--fail-on deviation)" in strict.stdout


@pytest.mark.parametrize("content, says", [
    ("not json", "not JSON"),
    ('{"known": []}', "not an infercheck baseline"),
    ('{"format": "infercheck-baseline/1", "known": [{"case": 1}]}', "known[0] must be an object"),
])
def test_a_bad_baseline_is_one_clear_line_and_exit_2(tmp_path, content, says):
    path = tmp_path / "b.json"
    path.write_text(content)
    proc = infercheck("run", "--baseline", str(path))
    assert proc.returncode == 2 and says in proc.stderr and "Traceback" not in proc.stderr
    assert infercheck("run", "--baseline", str(tmp_path / "missing.json")).returncode == 2


CANARY = "sk-canary-7f3a9c2e5d1b"


def everything_written(proc, *paths: Path) -> str:
    texts = [proc.stdout, proc.stderr]
    for path in paths:
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        texts += [f.read_text(errors="replace") for f in files]
    return "\n".join(texts)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["flag", "environment"])
def test_the_canary_key_is_in_no_output_even_when_the_server_echoes_it(tmp_path, how):
    outputs = {"--json": tmp_path / "r.json", "--junit": tmp_path / "j.xml", "--allure": tmp_path / "allure",
               "--write-baseline": tmp_path / "b.json"}
    args = [a for option, path in outputs.items() for a in (option, str(path))]
    with served("--api-key", CANARY, "--fault", "echo-key") as port:
        key = ["--api-key", CANARY] if how == "flag" else []
        env = {"INFERCHECK_API_KEY": CANARY} if how == "environment" else {}
        proc = infercheck("run", "--base-url", f"http://127.0.0.1:{port}/v1", *key, *args, "-v", env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "key-not-echoed" in proc.stdout  # the server did echo it, and that was reported
    written = everything_written(proc, *outputs.values())
    assert CANARY not in written
    assert "$INFERCHECK_API_KEY" in written and "[REDACTED]" in written  # the echo, where it was quoted


@pytest.mark.slow
@pytest.mark.parametrize("key", ["k", "none", "EMPTY", "sk-no-key-required"])
def test_a_short_or_dummy_key_corrupts_nothing(tmp_path, key):
    out = tmp_path / "r.json"
    with served("--api-key", key, "--fault", "status-201") as port:
        proc = infercheck("run", "--base-url", f"http://127.0.0.1:{port}/v1", "--api-key", key, "--json", str(out))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "[REDACTED]" not in proc.stdout + out.read_text()
    failed = [r for r in json.loads(out.read_text())["results"] if r["outcome"] == "failed"]
    assert failed
    for result in failed:
        argv = shlex.split(result["curl"])
        assert "Authorization: Bearer $INFERCHECK_API_KEY" in argv
        if "--data-raw" in argv:
            json.loads(argv[argv.index("--data-raw") + 1])  # the body reproduces exactly: still JSON
    assert any('"max_tokens": ' in r["curl"] for r in failed)


def test_the_example_workflow_uses_the_action_with_inputs_it_declares():
    import yaml

    workflow = yaml.safe_load((ROOT / "examples" / "github-actions" / "infercheck.yml").read_text())
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    steps = workflow["jobs"]["conformance"]["steps"]
    used = next(s for s in steps if s.get("uses", "").startswith("infercheck/infercheck@"))
    assert set(used["with"]) <= set(action["inputs"]) and used["with"]["profile"] == "llama-cpp-python"
    # every input reaches the action's script, and the script reads every one it is given
    run = next(s for s in action["runs"]["steps"] if s.get("id") == "run")
    assert {f"INPUT_{name.upper().replace('-', '_')}" for name in action["inputs"] if name != "python-version"} == \
        set(run["env"])
    script = (ROOT / "scripts" / "action.sh").read_text()
    assert all(f"${{{name}" in script for name in run["env"])
    assert any(s.get("uses", "").startswith("actions/upload-artifact") for s in action["runs"]["steps"])


@pytest.mark.slow
def test_the_actions_script_checks_the_embedded_endpoint_and_reports_to_the_job(tmp_path):
    import os
    import subprocess
    import sys

    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs"
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(outputs),
           "INFERCHECK_SKIP_INSTALL": "1", "PYTHON": sys.executable, "INPUT_ARGS": "--max-examples 2",
           "INPUT_REPORTS": str(tmp_path / "reports"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "action.sh")], env=env, capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert outputs.read_text() == "verdict=CONFORMANT\nexit-status=0\n"
    assert summary.read_text().startswith("## infercheck: CONFORMANT")
    assert {p.name for p in (tmp_path / "reports").iterdir()} == {"results.json", "junit.xml", "infercheck.html",
                                                                  "summary.md"}


def test_an_error_quoting_what_the_target_answered_never_shows_the_key():
    """A target whose model list echoes the key: the one-line error quotes the start of its body."""
    from starlette.responses import PlainTextResponse

    from .support import Recorder, serve

    class Echo(Recorder):
        async def endpoint(self, request):
            return PlainTextResponse("no models for " + request.headers.get("authorization", ""))

    with serve(Echo(delay=0)) as url:
        proc = infercheck("run", "--base-url", url, "--api-key", CANARY)
    assert proc.returncode == 2 and "did not list any model" in proc.stderr
    assert CANARY not in proc.stdout + proc.stderr and "[REDACTED]" in proc.stderr
