"""A run that breaks inside says so: an exception from infercheck's own code is an internal error, never a pass
and never a verdict on the endpoint. `infercheck run` prints INCOMPLETE and exits 2; the counts agree with pytest.

Each test plants an exception in infercheck's code in a fresh interpreter, then runs the real command there.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from infercheck.checks import base as _checks
from infercheck.contract import schemas as _schemas
from infercheck.contract.cases import Case
from infercheck.reports import results as _report
from infercheck.wire.exchange import Exchange, Request, Response

from .support import infercheck, served

# Planted in infercheck's code: the only caller of _schemas.undocumented is the check undocumented-fields.
IN_A_CHECK = "import infercheck.contract.schemas as m; m.undocumented = lambda *a: {}['planted']"
# The original defect: the property machinery's strategy library cannot be imported.
IN_THE_PROPERTIES = "import sys; sys.modules['hypothesis_jsonschema'] = None"
IN_COLLECTION = "import infercheck.plugin as m; m.items = lambda *a, **k: 1 / 0"
IN_THE_WRITER = "import infercheck.reports.results as m; m.write = lambda *a: [][0]"
IN_THE_CLI = "import infercheck.reports.console as m; m.summarise = lambda *a, **k: None.verdict"


def planted(plant: str, *args: str) -> subprocess.CompletedProcess:
    """`infercheck ARGS` in a fresh interpreter whose infercheck code was first broken by ``plant``."""
    code = f"{plant}\nimport sys\nfrom infercheck.cli import main\nsys.argv = ['infercheck', *sys.argv[1:]]\nmain()"
    return infercheck(*args, command=[sys.executable, "-c", code])


def table(stdout: str) -> dict[str, int]:
    """The summary table's counts."""
    lines = stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.split()[:3] == ["passed", "failed", "errors"])
    names = ["passed", "failed", "errors", "deviations", "skipped"]
    return dict(zip(names, map(int, lines[head + 1].split()[:5])))


def pytest_line(stdout: str) -> dict[str, int]:
    """pytest's closing line: '1 failed, 10 passed, 3 errors in 0.2s'."""
    line = next(line for line in stdout.splitlines() if re.search(r"\d+ (passed|failed|errors?) ", line))
    return {("errors" if w.startswith("error") else w): int(n) for n, w in re.findall(r"(\d+) (\w+)", line)}


def assert_incomplete(proc: subprocess.CompletedProcess, errors: int | None = None) -> None:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "CONFORMANT" not in out  # neither CONFORMANT nor NOT CONFORMANT: nothing was decided
    verdict = re.search(r"verdict: INCOMPLETE: (\d+) internal error\(s\)", proc.stdout)
    assert verdict, out
    if errors is not None:
        assert int(verdict.group(1)) == errors


def test_an_exception_in_a_check_is_an_internal_error_named_with_its_frame(tmp_path):
    out = tmp_path / "r.json"
    proc = planted(IN_A_CHECK, "run", "-k", "undocumented-fields", "--json", str(out))
    counts = table(proc.stdout)
    assert counts["errors"] > 0 and counts["failed"] == 0
    assert_incomplete(proc, counts["errors"])
    # pytest saw each broken test as an error, and the table counts every one of them
    assert pytest_line(proc.stdout)["errors"] == counts["errors"]
    assert "INTERNAL ERROR KeyError: 'planted'" in proc.stdout
    assert "at infercheck/checks/http.py:" in proc.stdout and " in undocumented_fields" in proc.stdout
    assert "in: check undocumented-fields" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr and "add -v" in proc.stdout
    doc = json.loads(out.read_text())
    assert _schemas.errors("results.json", doc) == []
    errors = [r for r in doc["results"] if r["outcome"] == "error"]
    assert len(errors) == doc["summary"]["errors"] == counts["errors"]
    assert all(r["check"] == "undocumented-fields" and "Traceback (most recent call last)" in r["traceback"]
               for r in errors)


def test_verbose_prints_the_whole_traceback():
    proc = planted(IN_A_CHECK, "run", "-k", "models.list and undocumented-fields", "-v")
    assert_incomplete(proc, 1)
    assert "Traceback (most recent call last)" in proc.stdout and "KeyError: 'planted'" in proc.stdout


def test_a_broken_property_machinery_is_incomplete_not_conformant(tmp_path):
    """The defect a fresh machine met: six property suites crashed, and the run said CONFORMANT (there are twelve
    now)."""
    out = tmp_path / "r.json"
    proc = planted(IN_THE_PROPERTIES, "run", "--json", str(out))
    assert_incomplete(proc, 12)
    assert pytest_line(proc.stdout)["errors"] == 12
    assert "INTERNAL ERROR ModuleNotFoundError: import of hypothesis_jsonschema halted" in proc.stdout
    assert "at infercheck/generation/positive.py:" in proc.stdout and " in strategy" in proc.stdout
    assert "in: property suite completions.positive, property suite completions.negative" in proc.stdout
    doc = json.loads(out.read_text())
    assert doc["summary"]["errors"] == 12 and doc["summary"]["failed"] == 0
    assert {r["case"] for r in doc["results"] if r["outcome"] == "error"} == {
        f"property.{route}.{polarity}" for route in ("completions", "chat", "embeddings", "chat-tools", "chat-format",
                                                     "responses")
        for polarity in ("positive", "negative")}


def test_internal_errors_and_contract_failures_are_both_reported():
    proc = planted(IN_A_CHECK, "run", "--fault", "completion-message", "-k", "completions.documented and not stream")
    counts = table(proc.stdout)
    assert counts["failed"] > 0 and counts["errors"] > 0
    assert_incomplete(proc, counts["errors"])
    assert f"; {counts['failed']} failed" in proc.stdout and "FAILED [high] response-schema" in proc.stdout


@pytest.mark.parametrize(("plant", "says"), [
    (IN_COLLECTION, "ZeroDivisionError: division by zero"),
    (IN_THE_WRITER, "IndexError: list index out of range"),
])
def test_suites_that_cannot_be_collected_and_a_failing_writer_are_internal_errors(tmp_path, plant, says):
    proc = planted(plant, "run", "-k", "models.list", "--json", str(tmp_path / "r.json"))
    assert_incomplete(proc)
    assert f"INTERNAL ERROR {says}" in proc.stdout


def test_a_crash_in_the_command_itself_is_one_clear_error_and_exit_2():
    proc = planted(IN_THE_CLI, "run", "-k", "models.list")
    assert proc.returncode == 2
    assert "infercheck: internal error: AttributeError: 'NoneType' object has no attribute 'verdict'" in proc.stderr
    assert "the run is incomplete" in proc.stderr and "Traceback" not in proc.stderr
    assert "verdict:" not in proc.stdout


def test_an_internal_error_never_shows_the_key(tmp_path):
    """An exception's message may carry anything, the key included: it is redacted like every result."""
    leak = ("import infercheck.engine.runner as m\n"
            "m.Runner.evaluate = lambda self, item: (_ for _ in ()).throw(RuntimeError('with ' + self.target.api_key))")
    out = tmp_path / "r.json"
    with served("--api-key", "sk-internal-zzz") as port:
        proc = planted(leak, "run", "--base-url", f"http://127.0.0.1:{port}/v1", "--api-key", "sk-internal-zzz",
                       "-k", "models.list", "--json", str(out), "-v")
    assert_incomplete(proc)
    assert "RuntimeError: with [REDACTED]" in proc.stdout
    assert "sk-internal-zzz" not in proc.stdout + proc.stderr + out.read_text()


def test_a_bad_output_path_is_refused_before_the_run(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = infercheck("run", "--json", str(blocker / "r.json"))
    assert proc.returncode == 2 and "--json" in proc.stderr and "cannot create" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- the same rules, in the library ----------------------------------------------------------------------


def test_evaluate_turns_an_exception_from_a_check_into_an_error_result():
    def broken(case, exchange, ctx):
        raise ValueError("bad")

    chk = _checks.Check("broken", "A broken check", "high", broken, lambda case: True)
    case = Case("c", "d", "completions", "POST", "/completions", body={})
    exchange = Exchange("c", Request("POST", "http://127.0.0.1:1/v1/completions", {}, b"{}"),
                        response=Response(200, {"content-type": "application/json"}, b"{}", 0.01))
    result = _checks.evaluate(chk, case, exchange, _checks.Context(base_url="http://x", model="m"))
    assert result.outcome is _checks.Outcome.ERROR
    assert result.message.startswith("internal error in check broken: ValueError: bad")
    assert "test_internal_errors.py" not in result.message  # not infercheck's code: no frame named
    assert "Traceback (most recent call last)" in result.traceback
    assert result.to_json()["outcome"] == "error"


@pytest.mark.parametrize(("counts", "expected"), [
    ({"failed": 0, "errors": 0}, ("CONFORMANT", 0)),
    ({"failed": 2, "errors": 0}, ("NOT CONFORMANT: 2 failed", 1)),
    ({"failed": 0, "errors": 1}, ("INCOMPLETE: 1 internal error(s)", 2)),
    ({"failed": 3, "errors": 2}, ("INCOMPLETE: 2 internal error(s); 3 failed", 2)),
])
def test_the_verdict_and_the_exit_status_follow_the_counts(counts, expected):
    assert _report.verdict({"passed": 5, "deviations": 0, "skipped": 0, **counts}) == expected
