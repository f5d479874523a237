"""`infercheck compare`: three endpoints (one clean, two with different planted faults) side by side, in JSON,
Markdown and an HTML page rendered by a real headless browser (Debian's chromium, driven by Playwright)."""

from __future__ import annotations

import json
import os
import shutil
from contextlib import ExitStack
from pathlib import Path

import pytest

from infercheck import _config
from infercheck._compare import Target, schedule

from .support import ROOT, free_port, infercheck, served

CANARY = "sk-canary-targets-4b8e2f71c9"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def compared(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("comparison")
    with ExitStack() as stack:
        clean = stack.enter_context(served("--api-key", CANARY, "--fault", "echo-key"))
        no_done = stack.enter_context(served("--fault", "stream-no-done"))
        message = stack.enter_context(served("--fault", "completion-message"))
        targets = out / "targets.toml"
        targets.write_text(f"""
[targets.clean]
base_url = "http://127.0.0.1:{clean}/v1"
api_key = "${{INFERCHECK_TEST_CANARY}}"

[targets.no-done]
base_url = "http://127.0.0.1:{no_done}/v1"
profile = "openai"

[targets.message]
base_url = "http://127.0.0.1:{message}/v1"
concurrency = 4
""")
        proc = infercheck("compare", str(targets), "--out", str(out / "out"), "--seed", "7",
                          env={"INFERCHECK_TEST_CANARY": CANARY})
    return out / "out", proc


def test_the_matrix_shows_which_checks_each_target_fails(compared):
    out, proc = compared
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((out / "comparison.json").read_text())
    assert list(doc["targets"]) == ["clean", "no-done", "message"]
    assert doc["schedule"]["mode"] == "sequential" and "this machine" in doc["schedule"]["why"]
    failing = {name: {c for c, cells in doc["matrix"].items() if cells[name] == "failed"} for name in doc["targets"]}
    assert failing == {"clean": {"key-not-echoed"}, "no-done": {"stream-done"}, "message": {"response-schema"}}
    assert doc["targets"]["no-done"]["verdict"].startswith("NOT CONFORMANT")
    assert doc["targets"]["clean"]["target"]["authenticated"] is True
    for name, target in doc["targets"].items():
        assert target["metrics"]["ttft_ms"]["n"] > 0 and set(target["metrics"]) == {
            "ttft_ms", "itl_ms", "e2e_ms", "output_tokens_per_s"}
    evidence = doc["details"]["stream-done"]["no-done"][0]
    assert evidence["curl"].startswith("curl -N ") and evidence["outcome"] == "failed"
    md = (out / "comparison.md").read_text()
    assert "| `stream-done` | high | ✅ passed | ❌ **failed** | ✅ passed |" in md
    assert "time to first token (ms)" in md and "```sh" in md


def test_no_output_holds_the_key_from_the_targets_file(compared):
    out, proc = compared
    texts = [proc.stdout, proc.stderr] + [p.read_text(errors="replace") for p in out.rglob("*") if p.is_file()]
    assert not any(CANARY in text for text in texts)
    assert "$INFERCHECK_API_KEY" in (out / "targets" / "clean.json").read_text()


@pytest.mark.skipif(CHROMIUM is None and os.environ.get("CI") != "true",
                    reason="no chromium here (apt-get install chromium); CI installs it and requires this test")
def test_the_page_renders_in_headless_chromium(compared):
    from playwright.sync_api import sync_playwright

    out, _ = compared
    assert CHROMIUM is not None, "CI must have chromium: .ci/run installs Debian's package"
    shots = ROOT / "reports" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", lambda r: problems.append(f"network: {r.url}") if not r.url.startswith("file:") else None)
            page.goto((out / "comparison.html").as_uri())
            # each planted fault (the clean one's server echoes its key) fails its target: three red verdicts on top
            assert page.locator(".card.failed").count() == 3
            assert "NOT CONFORMANT" in page.locator('.card[data-target="no-done"] .verdict').inner_text()
            checks = page.locator("table.matrix tbody tr").count()
            assert checks > 20 and page.locator("td.cell").count() == 3 * checks
            failed = page.locator('tr[data-check="stream-done"] td[data-target="no-done"]')
            assert failed.get_attribute("data-outcome") == "failed"
            colour = failed.evaluate("e => getComputedStyle(e).backgroundColor")
            assert colour == "rgb(246, 198, 198)"
            passed = page.locator('tr[data-check="stream-done"] td[data-target="message"]')
            assert passed.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(205, 235, 211)"
            curl = failed.locator("pre.curl").first
            assert not curl.is_visible()  # one click away
            failed.locator("summary").click()
            assert curl.is_visible() and curl.inner_text().startswith("curl -N ")
            # a curl line wraps between its words, and inside one only when a word is wider than the box
            assert curl.evaluate("e => [getComputedStyle(e).wordBreak, getComputedStyle(e).overflowWrap]") == \
                ["normal", "anywhere"]
            assert "the black bar is the median (p50)" in page.locator("p.chart-legend").inner_text()
            assert page.locator("svg.chart").count() == 2 and page.locator("svg.chart circle").count() > 10
            page.screenshot(path=str(shots / "comparison.png"), full_page=True)
            assert problems == []
        finally:
            browser.close()


def test_targets_run_at_once_only_on_hosts_of_their_own():
    remote = [Target("a", {"base_url": "https://a.example/v1"}), Target("b", {"base_url": "https://b.example/v1"})]
    assert schedule(remote)["mode"] == "concurrent"
    assert schedule([*remote, Target("c", {"base_url": "https://a.example/other/v1"})])["mode"] == "sequential"
    assert schedule([*remote, Target("local", {"base_url": "http://localhost:8000/v1"})])["mode"] == "sequential"
    assert schedule([*remote, Target("embedded", {})])["mode"] == "sequential"


@pytest.mark.slow
def test_compare_without_a_file_shows_a_real_matrix(tmp_path):
    proc = infercheck("compare", "--out", str(tmp_path), "--seed", "3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "reference: CONFORMANT" in proc.stdout and "fault-stream-no-done: NOT CONFORMANT" in proc.stdout
    assert {p.name for p in tmp_path.iterdir()} >= {"comparison.json", "comparison.md", "comparison.html", "targets"}


@pytest.mark.parametrize("text, says", [
    ("[targets.a]\nbase_url = 3\n", "line 2: targets.a.base_url: expected a string, not 3"),
    ("[targets.a]\nbase_url = 'http://x'\nspeed = 1\n", "line 3: targets.a.speed: unknown key"),
    ("[targets.a\n", "not valid TOML"),
    ("concurrency = 2\n", "no targets"),
    ("[targets.a]\napi_key = '${INFERCHECK_TEST_UNSET}'\nbase_url = 'http://127.0.0.1:9/v1'\n",
     "INFERCHECK_TEST_UNSET is not set"),
])
def test_a_bad_targets_file_is_a_clear_error(tmp_path, text, says):
    path = tmp_path / "t.toml"
    path.write_text(text)
    proc = infercheck("compare", str(path), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and says in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_every_target_is_asked_before_any_run_starts(tmp_path):
    path = tmp_path / "t.toml"
    with served() as port:
        path.write_text(f"[targets.up]\nbase_url = 'http://127.0.0.1:{port}/v1'\n\n"
                        f"[targets.typo]\nbase_url = 'http://127.0.0.1:{port}/v1'\nmodel = 'gpt-nope'\n\n"
                        f"[targets.down]\nbase_url = 'http://127.0.0.1:{free_port()}/v1'\n\n[targets.embedded]\n")
        proc = infercheck("compare", str(path), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and proc.stdout == "" and proc.stderr.count("\n") == 1, proc.stdout + proc.stderr
    assert proc.stderr.startswith("infercheck: error: target typo: --model gpt-nope: not among the models ")
    assert "; target down: " in proc.stderr and proc.stderr.endswith(": nothing was run\n")
    assert "target up" not in proc.stderr and not (tmp_path / "out" / "targets").exists()


def test_placeholders_resolve_from_the_environment(monkeypatch):
    monkeypatch.setenv("INFERCHECK_TEST_KEY", "k-123")
    assert _config.resolve("Bearer ${INFERCHECK_TEST_KEY}!") == "Bearer k-123!"
    monkeypatch.delenv("INFERCHECK_TEST_KEY")
    with pytest.raises(_config.ConfigError, match="INFERCHECK_TEST_KEY is not set"):
        _config.resolve("${INFERCHECK_TEST_KEY}", "targets.a.api_key")


@pytest.mark.slow
def test_compare_takes_its_targets_from_the_configuration_file(tmp_path):
    import subprocess

    from .support import INFERCHECK
    from .support import clean_env as _clean_env

    (tmp_path / "infercheck.toml").write_text('max_requests = 5\n\n[targets.plain]\nmax_examples = 2\n\n'
                                              '[targets.broken]\nfault = ["status-201"]\nmax_examples = 2\n')
    proc = subprocess.run([*INFERCHECK, "compare", "--out", "out", "--seed", "1"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, env=_clean_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "out" / "comparison.json").read_text())
    assert list(doc["targets"]) == ["plain", "broken"]
    assert doc["matrix"]["status-code"] == {"plain": "passed", "broken": "failed"}
    # the top-level max_requests is a run option of this directory, not the targets': they ran in full
    assert doc["targets"]["plain"]["stats"]["requests"] > 5
