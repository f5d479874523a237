"""One configuration file for every front end, under one precedence: command line > environment > file > default."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from infercheck import _config
from infercheck.contract.data import data_dir

from .support import INFERCHECK, infercheck
from .support import clean_env as _clean_env


def requests_sent(path) -> int:
    return json.loads(path.read_text())["stats"]["requests"]


@pytest.mark.slow
def test_run_takes_the_file_under_the_environment_under_the_command_line(tmp_path):
    (tmp_path / "infercheck.toml").write_text('max_requests = 10\njson = "from-file.json"\n')

    def run(*args, env=None):
        return subprocess.run([*INFERCHECK, "run", *args], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120, env={**_clean_env(), **(env or {})})

    assert run().returncode == 0
    assert requests_sent(tmp_path / "from-file.json") == 10
    assert run(env={"INFERCHECK_MAX_REQUESTS": "12"}).returncode == 0
    assert requests_sent(tmp_path / "from-file.json") == 12
    assert run("--max-requests", "14", "--json", "flag.json", env={"INFERCHECK_MAX_REQUESTS": "12"}).returncode == 0
    assert requests_sent(tmp_path / "flag.json") == 14
    (tmp_path / "infercheck.toml").unlink()
    assert run("--json", "default.json").returncode == 0
    assert requests_sent(tmp_path / "default.json") > 14  # the default: no cap




def test_pyproject_tool_infercheck_is_read_and_infercheck_toml_wins(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.infercheck]\nmax_requests = 9\n')
    sub = tmp_path / "deeper"
    sub.mkdir()
    config = _config.load(_config.find(sub))
    assert config.path == tmp_path / "pyproject.toml" and config.run == {"max_requests": 9}
    (tmp_path / "infercheck.toml").write_text("max_requests = 3\n")
    assert _config.load(_config.find(sub)).run == {"max_requests": 3}


@pytest.mark.slow
def test_the_pytest_plugin_reads_the_same_file_and_the_environment_wins(tmp_path):
    (tmp_path / "infercheck.toml").write_text('max_requests = 10\njson = "r.json"\n')
    command = [sys.executable, "-m", "pytest", str(data_dir("suites")), "-p", "infercheck.plugin", "-q",
               "-p", "no:cacheprovider", "--rootdir", str(tmp_path)]
    env = {**_clean_env(), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    proc = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert requests_sent(tmp_path / "r.json") == 10
    proc = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**env, "INFERCHECK_MAX_REQUESTS": "11"})
    assert requests_sent(tmp_path / "r.json") == 11


@pytest.mark.parametrize("text, says", [
    ("max_request = 3\n", "infercheck.toml, line 1: max_request: unknown key; expected one of base_url"),
    ("\n\ntimeout = -1\n", "infercheck.toml, line 3: timeout: expected a positive number, not -1"),
    ("concurrency = 'eight'\n", "line 1: concurrency: expected a positive integer, not 'eight'"),
    ("model = \n", "not valid TOML"),
    ("[targets.a]\nfault = 'x'\n", "line 2: targets.a.fault: expected a list of strings"),
    ("insecure = 'yes'\n", "line 1: insecure: expected a boolean (true or false), not 'yes'"),
])
def test_a_bad_file_is_one_clear_line_and_exit_2(tmp_path, text, says):
    (tmp_path / "infercheck.toml").write_text(text)
    proc = subprocess.run([*INFERCHECK, "run"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env=_clean_env())
    assert proc.returncode == 2 and says in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_named_file_and_an_empty_infercheck_config(tmp_path):
    named = tmp_path / "ci.toml"
    named.write_text("max_requests = 5\n")
    proc = infercheck("--config", str(named), "run", "--json", str(tmp_path / "r.json"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert requests_sent(tmp_path / "r.json") == 5
    # the run says which file it read and what it wrote
    assert f"configuration: {named}\n" in proc.stdout and f"wrote: --json {tmp_path / 'r.json'}\n" in proc.stdout
    # --config after the subcommand is the same file
    proc = infercheck("run", f"--config={named}", "--json", str(tmp_path / "r.json"))
    assert proc.returncode == 0 and requests_sent(tmp_path / "r.json") == 5, proc.stdout + proc.stderr
    missing = infercheck("run", "--config", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and missing.stderr.startswith(f"infercheck: error: {tmp_path / 'nope.toml'}: ")
    (tmp_path / "infercheck.toml").write_text("max_requests = 'bad'\n")
    proc = subprocess.run([*INFERCHECK, "run", "-k", "models.list"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env={**_clean_env(), "INFERCHECK_CONFIG": ""})
    assert proc.returncode == 0, proc.stderr  # an empty INFERCHECK_CONFIG: no file is read
    assert "configuration:" not in proc.stdout


def test_a_session_without_conformance_tests_never_reads_the_file(tmp_path):
    """The plugin loads in every pytest session of a project (pytest11): a bad infercheck.toml must not break
    the project's other tests."""
    (tmp_path / "infercheck.toml").write_text("timeout = -1\n")
    (tmp_path / "test_other.py").write_text("def test_other():\n    assert 1 + 1 == 2\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60, env=_clean_env())
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout + proc.stderr
