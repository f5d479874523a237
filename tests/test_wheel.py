"""Installed from its wheel, infercheck works from any directory: its data files (schemas, fixtures, suites,
profiles) travel inside the wheel, not beside a checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest

from .support import ROOT

DATA = ("schemas", "fixtures", "suites", "profiles")


@pytest.mark.slow
def test_the_wheel_carries_its_data_and_runs_from_a_directory_of_its_own(tmp_path):
    dist, venv, elsewhere = tmp_path / "dist", tmp_path / "venv", tmp_path / "elsewhere"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(ROOT)],
                   check=True, timeout=600, stdin=subprocess.DEVNULL)
    wheel = next(dist.glob("infercheck-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for name in DATA:
        assert any(n.startswith(f"infercheck/_data/{name}/") for n in names), name
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", str(wheel)], check=True, timeout=900,
                   stdin=subprocess.DEVNULL)
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith(("OPENAI_", "INFERCHECK_", "HF_"))}

    def installed(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300,
                              stdin=subprocess.DEVNULL)

    where = installed(str(venv / "bin" / "python"), "-c",
                      "from infercheck.contract.data import data_dir; print(*(data_dir(n) for n in "
                      f"{DATA!r}), sep='\\n')")
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(str(venv)) for line in where.stdout.split()), where.stdout
    for args in (["run"], ["run", "--task", "text-classification"]):
        proc = installed(str(venv / "bin" / "infercheck"), *args)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "verdict: CONFORMANT" in proc.stdout and "errors" in proc.stdout
    # a pytest user without a checkout runs the installed suites (the plugin comes by pytest11)
    suites = installed(str(venv / "bin" / "python"), "-c", "import infercheck; print(infercheck.suites_dir())")
    assert suites.stdout.strip().startswith(str(venv)), suites.stdout + suites.stderr
    proc = installed(str(venv / "bin" / "python"), "-m", "pytest", suites.stdout.strip(), "-q", "-p",
                     "no:cacheprovider", "-k", "models", "--infercheck-max-examples", "1")
    assert proc.returncode == 0 and " passed" in proc.stdout and "infercheck: http://127.0.0.1:" in proc.stdout, \
        proc.stdout + proc.stderr
