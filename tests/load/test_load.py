"""`infercheck load` as a user runs it: every answer checked under load by Locust's workers, the document it writes
(schemas/load.json), its verdict and exit status; the faults that show only under load found by it and missed by an
idle run. The commands run in processes of their own (marked slow) but the master and its two workers, which CI's
lowest-versions step runs against the lowest Locust allowed."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from infercheck.checks.base import Outcome
from infercheck.contract import schemas as _schemas
from infercheck.engine.session import run
from infercheck.engine.target import embedded, resolve
from infercheck.load import document as _document
from infercheck.load.tally import Tally
from infercheck.serve._faults import UNDER_LOAD

from ..support import INFERCHECK, infercheck


def _load(tmp_path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / "load.json"
    proc = infercheck("load", "--json", str(out), *args)
    doc = json.loads(out.read_text()) if out.exists() else {}
    if doc:
        assert _schemas.errors("load.json", doc) == []
    return proc, doc


@pytest.mark.slow
def test_a_conformant_endpoint_keeps_the_contract_under_load(tmp_path):
    md, page = tmp_path / "load.md", tmp_path / "load.html"
    proc, doc = _load(tmp_path, "--users", "4", "--duration", "1s", "--markdown", str(md), "--html", str(page))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    html = page.read_text()
    assert "CONFORMANT UNDER LOAD" in html and html.count("<svg") == 2 and "<script" not in html
    step, = doc["steps"]
    assert step["users"] == 4 and step["requests"] > len(doc["workload"]["cases"]) >= 20
    assert step["checked"] == step["conformant"] == step["requests"] and step["conformant_rate"] == 1
    assert step["violations"] == {} and step["errors"] == {} and doc["workload"]["excluded"] == []
    assert step["latency"]["ttft_ms"]["n"] > 0 and step["latency"]["e2e_ms"]["p99"] is not None
    assert step["goodput"]["good"] == step["requests"]  # no SLO: every conformant answer is good
    assert doc["knee"] == {"users": 4}
    assert 0 < step["load_generator"]["cpu_percent"] <= 200  # the worker's own CPU use, measured over the step
    assert doc["verdict"]["status"] == "conformant" and doc["verdict"]["exit"] == 0
    assert "CONFORMANT UNDER LOAD" in proc.stdout and "knee: 4 users" in proc.stdout
    assert "| 4 |" in md.read_text()


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(UNDER_LOAD))
def test_a_fault_under_load_is_found_by_load_and_missed_by_an_idle_run(tmp_path, fault):
    with embedded(faults=(fault,)) as url:  # an idle run: the cases, at the run's default concurrency
        results = run(resolve(url), suites=False).results
    assert results and not [r.render() for r in results if r.outcome in (Outcome.FAILED, Outcome.ERROR)]
    md = tmp_path / "load.md"
    proc, doc = _load(tmp_path, "--fault", fault, "--sweep", "2,24", "--duration", "1.5s", "--markdown", str(md))
    idle, loaded = doc["steps"]
    assert idle["kept_contract"] and idle["violations"] == {}
    assert idle["determinism"]["compared"] > 0 and idle["determinism"]["differed"] == 0  # no false alarm
    if not UNDER_LOAD[fault]:  # a finding, not a violation: greedy answers that differ under load
        assert proc.returncode == 0 and loaded["kept_contract"] and loaded["determinism"]["differed"] > 0, proc.stdout
        assert "determinism at 24 users" in proc.stdout and "Determinism at 24 users" in md.read_text()
        return
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert doc["knee"] == {"users": 2}
    assert UNDER_LOAD[fault] <= set(loaded["violations"]) and not loaded["kept_contract"]
    assert loaded["conformant"] < loaded["requests"]
    for check in UNDER_LOAD[fault]:
        example = loaded["examples"][check]
        assert example["curl"].startswith("curl ") and example["curl"] in md.read_text()
        assert f"{check} ({example['severity']}) at 24 users" in proc.stdout
    assert doc["verdict"]["status"] == "not_conformant" and "from 24 users" in doc["verdict"]["summary"]


@pytest.mark.slow
def test_errors_under_load_are_500s_counted_as_errors_and_status_code_violations(tmp_path):
    proc, doc = _load(tmp_path, "--fault", "errors-under-load", "--sweep", "2,24", "--duration", "1.5s")
    loaded = doc["steps"][1]
    assert set(loaded["violations"]) == {"status-code"} and loaded["errors"]["5xx"] > 0
    assert "answered 500" in loaded["examples"]["status-code"]["message"]


@pytest.mark.slow
def test_an_answer_swapped_under_load_is_cross_talk(tmp_path):
    proc, doc = _load(tmp_path, "--fault", "answers-swapped-under-load", "--sweep", "2,24", "--duration", "1.5s")
    example = doc["steps"][1]["examples"]["cross-talk"]
    assert "was answered with the text" in example["message"] and example["kinds"] == ["another-request"]


@pytest.mark.slow
def test_a_greedy_answer_that_varies_under_load_is_a_finding_with_an_example_not_a_failure(tmp_path):
    proc, doc = _load(tmp_path, "--fault", "greedy-varies-under-load", "--sweep", "2,24", "--duration", "1.5s")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    same = doc["steps"][1]["determinism"]
    assert 0 < same["differed"] <= same["compared"] and same["example"]["alone"] != same["example"]["under_load"]
    assert sorted(same["example"]["alone"].split()) == sorted(same["example"]["under_load"].split())
    assert "determinism at 24 users" in proc.stdout and "a finding, not a failure" in proc.stdout


@pytest.mark.slow
def test_a_case_that_breaks_the_contract_alone_is_left_out_of_the_load(tmp_path):
    proc, doc = _load(tmp_path, "--fault", "stream-chunk-object", "--users", "2", "--duration", "0.5s")
    excluded = {e["case"]: e["why"] for e in doc["workload"]["excluded"]}
    assert excluded and all(why.startswith("stream-chunk-schema: ") for why in excluded.values())
    assert set(excluded).isdisjoint(doc["workload"]["cases"]) and doc["workload"]["cases"]
    assert proc.returncode == 0 and doc["steps"][0]["violations"] == {}  # what is left keeps the contract
    assert "left out" in doc["verdict"]["summary"] and "infercheck run" in doc["verdict"]["summary"]


@pytest.mark.slow
def test_an_slo_decides_goodput_and_the_knee_not_the_exit_status(tmp_path):
    proc, doc = _load(tmp_path, "--users", "2", "--duration", "0.5s", "--slo", "e2e=1ms,ttft=10s")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    step, = doc["steps"]
    assert doc["slo"] == {"e2e_ms": 1.0, "ttft_ms": 10000.0}
    assert step["kept_contract"] and step["kept_slo"] is False and step["goodput"]["good"] < step["conformant"]
    assert doc["knee"] == {"users": None} and "knee: none" in proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize("args, said", [
    (("--sweep", "4,2"), "a sweep is rising numbers of users"),
    (("--slo", "ttfb=1s"), "an SLO is ttft=DURATION"),
    (("--duration", "soon"), "is not a duration"),
    (("--users", "0"), "--users"),
    (("--case", "chat.no-such-*"), "matches --case chat.no-such-*"),
])
def test_bad_input_is_one_clear_error_and_exit_2(tmp_path, args, said):
    proc, doc = _load(tmp_path, *args)
    assert proc.returncode == 2 and said in proc.stderr and "Traceback" not in proc.stderr and not doc


@pytest.mark.slow
def test_ctrl_c_ends_the_load_at_once_and_says_it_was_interrupted(tmp_path):
    out = tmp_path / "load.json"
    proc = subprocess.Popen([*INFERCHECK, "load", "--sweep", "1,2", "--duration", "60s", "--json", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(6)
    proc.send_signal(signal.SIGINT)
    started = time.monotonic()
    stdout, stderr = proc.communicate(timeout=30)
    assert time.monotonic() - started < 5 and proc.returncode == 130, stdout + stderr
    doc = json.loads(out.read_text())
    assert _schemas.errors("load.json", doc) == [] and doc["steps"] == []  # the step cut short says nothing
    assert doc["verdict"]["status"] == "interrupted" and "INTERRUPTED" in stdout and "Traceback" not in stderr


def test_the_knee_is_the_highest_level_up_to_which_every_step_kept_contract_and_slo():
    def step(users: int, *, broken: bool = False, slow: bool = False) -> Tally:
        tally = Tally(users, {"e2e_ms": 100.0})
        tally.requests, tally.conformant = 10, 10 - broken
        tally.violations = {"status-code": 1} if broken else {}
        tally.samples["e2e_ms"] = [500.0 if slow else 50.0] * 10
        return tally

    assert _document.knee([step(1), step(4), step(16, slow=True), step(64)]) == 4
    assert _document.knee([step(1), step(4, broken=True), step(16)]) == 1
    assert _document.knee([step(1, slow=True)]) is None
    assert _document.verdict([step(1), Tally(4)], [])["status"] == "undecided"
    busy, idle = step(1), step(1)
    busy.cpu, idle.cpu = [40.0, 95.5], [40.0, 60.0]  # two workers each: the busiest one decides
    assert busy.saturated and busy.to_json()["load_generator"] == {"cpu_percent": 95.5, "saturated": True}
    assert not idle.saturated and not Tally(1).saturated
    assert _document.verdict([step(1), step(4, broken=True)], [])["exit"] == 1


def test_an_answer_infercheck_could_not_judge_is_never_a_violation_nor_conformant():
    from infercheck.checks.base import Result
    from infercheck.wire.exchange import Exchange, Request, Response

    exchange = Exchange("chat.documented", Request("POST", "http://x/v1/chat/completions", {}, b"{}"),
                        Response(200, {"content-type": "application/json"}, b"{}", 0.01))
    crash = Result("response-schema", "chat.documented", Outcome.ERROR, "critical", "t", "internal error in check")
    tally = Tally(2)
    tally.add(exchange, [crash])
    assert (tally.internal, tally.violations, tally.conformant, tally.kept_contract) == (1, {}, 0, False)
    said = _document.verdict([tally], [])
    assert said["status"] == "undecided" and said["exit"] == 2 and "could not be judged" in said["summary"]
    failing = Result("status-code", "chat.documented", Outcome.FAILED, "critical", "t", "answered 500")
    tally.add(exchange, [failing])
    assert _document.verdict([tally], [])["status"] == "not_conformant"
    assert tally.to_json()["internal_errors"]["example"]["check"] == "response-schema"


def _port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_locust_master_and_two_workers_on_loopback_find_a_fault_under_load(tmp_path):
    """The load on Locust's master and workers: each worker sends and checks its users' answers, the master adds
    the tallies up and writes the same document as one process does."""
    port, out = str(_port()), tmp_path / "load.json"
    master = subprocess.Popen([*INFERCHECK, "load", "--fault", "errors-under-load", "--sweep", "2,24", "--duration",
                               "2s", "--master", "--expect-workers", "2", "--master-bind-host", "127.0.0.1",
                               "--master-port", port, "--json", str(out)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    workers = [subprocess.Popen([*INFERCHECK, "load", "--worker", "--master-port", port], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    stdout, stderr = master.communicate(timeout=120)
    assert all(w.wait(timeout=30) == 0 for w in workers)
    assert master.returncode == 1, stdout + stderr
    doc = json.loads(out.read_text())
    assert _schemas.errors("load.json", doc) == [] and doc["workers"] == 2
    idle, loaded = doc["steps"]
    assert idle["kept_contract"] and idle["requests"] > 0 and idle["checked"] == idle["requests"]
    assert set(loaded["violations"]) == {"status-code"} and loaded["errors"]["5xx"] == loaded["violations"][
        "status-code"]
    assert doc["knee"] == {"users": 2} and "2 Locust worker(s) sending" in stdout


@pytest.mark.slow
def test_processes_send_the_load_from_locust_workers_on_this_machine(tmp_path):
    proc, doc = _load(tmp_path, "--users", "4", "--duration", "1s", "--processes", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert doc["workers"] == 2 and doc["steps"][0]["conformant"] == doc["steps"][0]["requests"] > 0
    both, _ = _load(tmp_path, "--processes", "2", "--master")
    assert both.returncode == 2 and "without --master" in both.stderr
