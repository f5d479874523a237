"""`infercheck run` and `infercheck serve` as a user runs them: exit codes, clear errors, results file."""

from __future__ import annotations

import json

import pytest

from infercheck.contract import schemas as _schemas

from .support import ROOT, Recorder, free_port, infercheck, serve, served


def test_embedded_default_is_conformant(tmp_path):
    out = tmp_path / "results.json"
    proc = infercheck("run", "--json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "verdict: CONFORMANT" in proc.stdout
    doc = json.loads(out.read_text())
    assert _schemas.errors("results.json", doc) == []
    assert doc["target"]["embedded"] is True
    assert doc["summary"]["failed"] == 0 and doc["summary"]["passed"] > 0
    assert doc["summary"]["deviations"] == 0
    assert (doc["verdict"], doc["exit_status"], doc["partial"], doc["interrupted"]) == ("CONFORMANT", 0, None, False)
    assert doc["metrics"]["ttft_ms"]["n"] > 0 and doc["metrics"]["e2e_ms"]["n"] > 0
    assert "time to first token (ms)" in proc.stdout
    # with no key given, only the authentication cases and key-not-echoed are skipped, and they say why
    skipped = [r for r in doc["results"] if r["outcome"] == "skipped"]
    assert skipped and all(r["case"].startswith("auth.") or r["check"] == "key-not-echoed" for r in skipped)
    assert all("API key" in r["message"] for r in skipped)


def test_a_planted_fault_fails_the_run_with_exit_1(tmp_path):
    out = tmp_path / "results.json"
    proc = infercheck("run", "--fault", "completion-message", "--json", str(out))
    assert proc.returncode == 1
    assert "NOT CONFORMANT" in proc.stdout and "curl " in proc.stdout
    failed = [r for r in json.loads(out.read_text())["results"] if r["outcome"] == "failed"]
    assert {r["check"] for r in failed} == {"response-schema"}
    assert all("'text' is a required property" in r["message"] for r in failed)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--base-url", "not a url"], "invalid base URL"),
        (["--base-url", "ftp://example.org/v1"], "invalid base URL"),
        (["--base-url", f"http://127.0.0.1:{free_port()}/v1"], "cannot reach"),
        (["--fault", "no-such-fault"], "unknown fault"),
        (["--concurrency", "0"], "concurrency"),
        (["--base-url", "http://127.0.0.1:9/v1", "--fault", "json-as-text"], "embedded"),
        (["--profile", "nope"], "unknown profile 'nope'; known: flexai, llama-cpp-python, llamacpp, openai, sagemaker, strict, tgi, transformers-serve, vllm"),
        (["--profile", "missing.toml"], "profile file missing.toml does not exist"),
        (["--max-requests", "0"], "max-requests"),
        (["--api", "hf"], "--api hf checks a task endpoint: give its task with --task"),
        (["--api", "tgi", "--task", "fill-mask"], "--task checks a Hugging Face task endpoint"),
        (["--task", "no-such-task"], "'no-such-task' is not one of"),
        (["--task", "fill-mask", "--base-url", f"http://127.0.0.1:{free_port()}/"], "cannot reach"),
        (["--api", "tgi", "--base-url", f"http://127.0.0.1:{free_port()}"], "cannot reach"),
    ],
)
def test_bad_input_gets_exit_2_and_one_clear_line(args, says):
    proc = infercheck("run", *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert says in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_a_target_answering_garbage_is_a_clear_error():
    recorder = Recorder(delay=0)  # answers {} to everything: no model list
    with serve(recorder) as url:
        proc = infercheck("run", "--base-url", url)
    assert proc.returncode == 2
    assert "did not list any model" in proc.stderr and "Traceback" not in proc.stderr




@pytest.mark.slow
def test_live_server_with_key_key_never_printed(tmp_path):
    with served("--api-key", "sk-live-zzz", "--fault", "json-as-text") as port:
        out = tmp_path / "r.json"
        proc = infercheck("run", "--base-url", f"http://127.0.0.1:{port}/v1", "--json", str(out),
                          env={"INFERCHECK_API_KEY": "sk-live-zzz"})
        wrong = infercheck("run", "--base-url", f"http://127.0.0.1:{port}/v1", "--api-key", "sk-wrong")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    failed = {r["check"] for r in json.loads(out.read_text())["results"] if r["outcome"] == "failed"}
    assert failed == {"content-type"}
    everything = proc.stdout + proc.stderr + out.read_text()
    assert "sk-live-zzz" not in everything and "Bearer $INFERCHECK_API_KEY" in everything
    assert wrong.returncode == 2 and "refused" in wrong.stderr


def test_serve_lists_faults_and_checks_are_listed():
    faults = infercheck("serve", "--list-faults").stdout
    assert "completion-message" in faults and "sse-quirks" in faults
    assert "stream-chunk-schema" in infercheck("checks").stdout


def test_ci_reports_junit_and_allure(tmp_path):
    junit, allure_dir = tmp_path / "junit.xml", tmp_path / "allure"
    proc = infercheck("run", "--fault", "status-201", "-k", "completions.documented", "--junit", str(junit),
                      "--allure", str(allure_dir))
    assert proc.returncode == 1
    xml = junit.read_text()
    assert 'failures="2"' in xml  # the documented request and its streamed twin both answer 201
    assert "completions.documented/status-code" in xml and "completions.documented-stream/status-code" in xml
    import xml.etree.ElementTree as ET

    import xmlschema

    xmlschema.XMLSchema(str(ROOT / "tests" / "data" / "junit-jenkins.xsd")).validate(str(junit))
    suite = ET.parse(junit).getroot()
    cases = suite.findall("testcase")
    assert len({c.get("name") for c in cases}) == len(cases) == int(suite.get("tests"))  # one per (case, check)
    failure = next(c for c in cases if c.get("name") == "completions.documented/status-code").find("failure")
    assert failure.get("type") == "critical" and "answered 201" in failure.get("message")
    assert "curl " in failure.text
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["severity.status-code"] == "critical" and properties["verdict"].startswith("NOT CONFORMANT")
    results = [json.loads(p.read_text()) for p in allure_dir.glob("*-result.json")]
    failed = [r for r in results if r["status"] == "failed"]
    assert len(failed) == 2 and all(any(a["name"] == "curl" for a in r["attachments"]) for r in failed)
    assert all({a["name"] for a in r["attachments"]} == {"curl", "request", "response"} for r in failed)
    labels = {(label["name"], label["value"]) for label in failed[0]["labels"]}
    assert {("severity", "critical"), ("feature", "openai completions"), ("story", "status-code")} <= labels


def test_a_profile_turns_documented_variations_into_deviations_and_keeps_exit_0(tmp_path):
    out = tmp_path / "r.json"
    proc = infercheck("run", "--fault", "error-code-integer", "--profile", "vllm", "--json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "DEVIATION error-code-integer" in proc.stdout and "evidence: vllm/entrypoints" in proc.stdout
    assert "CONFORMANT with" in proc.stdout and "allowed by profile vllm" in proc.stdout
    doc = json.loads(out.read_text())
    assert _schemas.errors("results.json", doc) == []
    assert doc["target"]["profile"] == "vllm" and doc["summary"]["deviations"] > 0


def test_max_requests_caps_the_run(tmp_path):
    out = tmp_path / "r.json"
    proc = infercheck("run", "--max-requests", "10", "--json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(out.read_text())
    assert doc["stats"]["requests"] == 10
    assert any("--max-requests 10" in r["message"] for r in doc["results"] if r["outcome"] == "skipped")


def test_the_guide_states_the_cost_of_a_default_run():
    """The getting-started guide's cost statement is the one `infercheck cases` computes from the cases."""
    cases, generated = infercheck("cases").stdout.strip().splitlines()[-2:]
    assert cases.startswith("at most 71 requests (69 without an API key) and ")
    assert generated.startswith("property suites (--max-examples 20): at most 240 generated requests")
    readme = (ROOT / "docs" / "guide" / "getting-started.md").read_text()
    assert cases in readme and generated in readme


@pytest.mark.slow
def test_the_property_suites_pass_at_the_thorough_profile(tmp_path):
    """Done-criterion of issue 4: zero failures at the thorough profile (200 generated requests a suite)."""
    out = tmp_path / "results.json"
    proc = infercheck("run", "-k", "property", "--hypothesis-profile", "thorough", "--json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(out.read_text())
    assert doc["summary"]["failed"] == 0 and doc["stats"]["requests"] > 12 * 100
    assert {r["case"] for r in doc["results"]} == {f"property.{p}" for p in (
        "completions.positive", "completions.negative", "chat.positive", "chat.negative",
        "embeddings.positive", "embeddings.negative", "chat-tools.positive", "chat-tools.negative",
        "chat-format.positive", "chat-format.negative", "responses.positive", "responses.negative")}


def test_a_seed_repeats_the_property_run_and_is_reported(tmp_path):
    def run(seed: str) -> int:
        out = tmp_path / f"{seed}.json"
        proc = infercheck("run", "-k", "completions.positive", "--seed", seed, "--max-examples", "10",
                          "--json", str(out))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"repeat this run with --seed {seed}" in proc.stdout
        doc = json.loads(out.read_text())
        assert doc["target"]["seed"] == int(seed)
        return doc["stats"]["requests"]  # (the answers sample at random; the requests do not)

    assert run("5") == run("5")  # test_properties proves the very bodies repeat


def test_an_unknown_hypothesis_profile_is_a_clear_error():
    proc = infercheck("run", "--hypothesis-profile", "nope")
    assert proc.returncode == 2
    assert "unknown hypothesis profile 'nope'" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_a_task_endpoint_is_checked_at_its_own_url_with_hf_token(tmp_path):
    with served("--api-key", "hf_live_zzz_123456", "--task", "object-detection") as port:
        out = tmp_path / "r.json"
        proc = infercheck("run", "--task", "object-detection", "--base-url", f"http://127.0.0.1:{port}",
                          "--json", str(out), env={"HF_TOKEN": "hf_live_zzz_123456"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "task object-detection" in proc.stdout and "verdict: CONFORMANT" in proc.stdout
    doc = json.loads(out.read_text())
    assert doc["target"]["api"] == "hf" and doc["target"]["task"] == "object-detection"
    assert doc["target"]["authenticated"] is True
    cases = {r["case"] for r in doc["results"]}
    assert cases and all(c.startswith("object-detection.") for c in cases)
    assert "object-detection.auth-wrong" in cases and "object-detection.raw-without-mime" in cases
    assert all(r["outcome"] == "passed" for r in doc["results"])
    assert "hf_live_zzz_123456" not in proc.stdout + out.read_text()


def test_a_task_fault_is_reported_with_a_curl_that_sends_the_file(tmp_path):
    proc = infercheck("run", "--task", "object-detection", "--fault", "hf-box-outside")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "boxes-in-image" in proc.stdout
    assert "--data-binary @" in proc.stdout and "image.jpg" in proc.stdout


def test_tgi_and_every_task_pass_against_the_embedded_endpoint(tmp_path):
    tgi = infercheck("run", "--api", "tgi")
    assert tgi.returncode == 0 and "TGI model infercheck-tiny" in tgi.stdout, tgi.stdout + tgi.stderr
    every = infercheck("run", "--task", "all", "--json", str(tmp_path / "r.json"))
    assert every.returncode == 0, every.stdout + every.stderr
    cases = [r["case"] for r in json.loads((tmp_path / "r.json").read_text())["results"]]
    from infercheck.contract.tasks import BINARY_TASKS, TASKS
    assert {c.split(".")[0] for c in cases if not c.startswith("property.")} == set(TASKS)
    # every text task has its property suites too
    assert {c.split(".")[1] for c in cases if c.startswith("property.")} == set(TASKS) - set(BINARY_TASKS)


def test_a_loading_model_is_waited_out_and_reported():
    proc = infercheck("run", "--task", "fill-mask", "--fault", "loading")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "the model was loading: waited 0.3 s" in proc.stdout
    never = infercheck("run", "--task", "fill-mask", "--fault", "loading-forever", "--load-wait", "0.5")
    assert never.returncode == 2 and "still loading its model after waiting 0.5 s" in never.stderr


@pytest.mark.slow
def test_verbose_lists_each_check_as_it_is_decided_and_a_k_run_is_partial():
    proc = infercheck("run", "-v", "-k", "chat.stop", "--max-examples", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if "chat.stop/" in line and " PASSED" in line]
    assert len(lines) >= 10 and any("chat.stop/stop-honoured" in line for line in lines)
    verdict = proc.stdout.split("verdict: ", 1)[1].replace("\n", " ")
    assert verdict.startswith("CONFORMANT (partial: ") and "deselected (-k)" in verdict


@pytest.mark.slow
def test_a_spent_budget_is_never_a_bare_conformant(tmp_path):
    out = tmp_path / "results.json"
    proc = infercheck("run", "--max-requests", "10", "--json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "verdict: CONFORMANT (partial: " in proc.stdout and "verdict: CONFORMANT\n" not in proc.stdout
    doc = json.loads(out.read_text())
    assert _schemas.errors("results.json", doc) == []
    assert doc["partial"].endswith("for a spent budget (--max-requests/--max-tokens)")
    assert doc["verdict"] == f"CONFORMANT (partial: {doc['partial']})" and doc["exit_status"] == 0


@pytest.mark.slow
def test_x_stops_at_the_first_failure_and_the_verdict_says_the_rest_was_not_run(tmp_path):
    out = tmp_path / "results.json"
    proc = infercheck("run", "-x", "--fault", "stop-ignored", "--json", str(out))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads(out.read_text())
    assert _schemas.errors("results.json", doc) == []
    assert doc["summary"]["failed"] >= 1 and doc["partial"].endswith("after the run stopped (--max-failures)")
    assert doc["verdict"] == f"NOT CONFORMANT: {doc['summary']['failed']} failed (partial: {doc['partial']})"
    assert "verdict: NOT CONFORMANT" in proc.stdout and "(partial: " in proc.stdout


@pytest.mark.slow
def test_a_model_the_endpoint_does_not_have_stops_the_run_before_it_spends_anything():
    with served() as port:
        proc = infercheck("run", "--base-url", f"http://127.0.0.1:{port}/v1", "--model", "gpt-nope")
    assert proc.returncode == 2 and proc.stdout.count("\n") <= 2, proc.stdout + proc.stderr
    assert proc.stderr.strip() == (f"infercheck: error: --model gpt-nope: not among the models "
                                   f"http://127.0.0.1:{port}/v1/models lists (infercheck-tiny), and a request "
                                   "naming it was answered 404")


def test_an_unknown_hypothesis_profile_is_one_line_before_the_endpoint_starts():
    proc = infercheck("run", "--hypothesis-profile", "nope")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == "infercheck: error: unknown hypothesis profile 'nope'; the suites register ci and thorough\n"


@pytest.mark.slow
def test_a_report_that_cannot_be_written_keeps_the_verdict_and_says_why_in_one_line(tmp_path):
    proc = infercheck("run", "-k", "chat.stop", "--html", "/proc/version", "--json", str(tmp_path / "r.json"))
    assert proc.returncode == 2 and "verdict: CONFORMANT" in proc.stdout, proc.stdout + proc.stderr
    assert proc.stderr.strip().startswith("infercheck: error: cannot write --html /proc/version: ")
    assert len(proc.stderr.strip().splitlines()) == 1 and "internal error" not in proc.stdout
    assert json.loads((tmp_path / "r.json").read_text())["verdict"].startswith("CONFORMANT")


def test_checks_are_listed_in_aligned_columns_with_the_apis_they_judge():
    proc = infercheck("checks")
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0 and lines[0].split() == ["check", "severity", "apis", "title"]
    # every row's severity and apis start in the same columns as the header's, the longest id's row too
    for column in (1, 2):
        assert {line.index(" " + line.split()[column]) + 1 for line in lines} == \
            {lines[0].index(" " + lines[0].split()[column]) + 1}
    assert any(line.split()[0] == "generate-stream-framing" and line.split()[2] == "tgi,hf" for line in lines)


def test_explain_says_what_a_check_judges_and_the_kinds_an_allowance_names():
    proc = infercheck("explain", "stop-honoured")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("stop-honoured [high]: ") and "completions.stop, chat.stop" in proc.stdout
    assert "kinds it reports (what a profile's [[allow]] kind names): stop-in-text" in proc.stdout
    assert "prove it can fail (infercheck run --fault NAME):\n" in proc.stdout
    assert "  stop-ignored: stop sequences are ignored\n" in proc.stdout
    typo = infercheck("explain", "stop-honored")
    assert typo.returncode == 2 and typo.stderr == ("infercheck: error: no check 'stop-honored' (did you mean "
                                                    "'stop-honoured'?)\n")


@pytest.mark.slow
def test_report_shows_a_results_document_as_the_run_did_failures_first(tmp_path):
    out = tmp_path / "results.json"
    run = infercheck("run", "--fault", "stop-ignored", "--fault", "created-millis", "--max-examples", "2",
                     "--json", str(out))
    assert run.returncode == 1
    shown = infercheck("report", str(out))
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert text.lstrip().startswith("FAILED [high] stop-honoured") and "kinds: stop-in-text" in text
    assert "FAILED [medium] created-recent" in text and "unique: by check" in text
    assert text.rstrip().endswith("verdict: NOT CONFORMANT: " + run.stdout.rsplit("NOT CONFORMANT: ", 1)[1].strip())


def test_cases_of_one_task():
    proc = infercheck("cases", "--task", "text-classification")
    ids = [line.split()[0] for line in proc.stdout.splitlines() if line.startswith("text-")]
    assert proc.returncode == 0 and ids and all(i.startswith("text-classification.") for i in ids)
    assert proc.stdout.rstrip().endswith(f"{len(ids)} requests at most ({len(ids) - 2} without an API key); a task "
                                         "endpoint is sent only its own task's cases")
