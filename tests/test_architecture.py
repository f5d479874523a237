"""The layers are folders, and stay so (issue 25): the import-linter contracts of pyproject.toml hold, they fail on a
planted import circle or an import against the layers, and no module of the library outgrows one clear job."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .support import ROOT

LINT = Path(sys.executable).parent / "lint-imports"
LIBRARY = ROOT / "src" / "infercheck"
MAX_LINES = 500


def lint(path: Path | None = None) -> subprocess.CompletedProcess:
    """`lint-imports` over the library, or over a copy of it at ``path`` (a folder holding ``infercheck``)."""
    env = {"PATH": str(LINT.parent), "PYTHONPATH": str(path) if path else str(LIBRARY.parent),
           "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([str(LINT), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=120)


def test_the_import_contracts_hold():
    proc = lint()
    assert proc.returncode == 0 and "0 broken" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize("module, planted, broken", [
    ("checks/base.py", "from . import catalog", "No import circle"),  # the registry importing its checks back
    ("contract/schemas.py", "from ..checks import base", "The layers"),  # data access reaching into the checks
    ("checks/tools.py", "from . import formats", "none knows another"),  # one check module importing another
    ("serve/_native.py", "from . import _app", "never import the app"),
    ("engine/sending.py", "from ..reports import console", "The layers"),  # engine and reports know nothing of each other
])
def test_the_contracts_fail_on_a_planted_import(tmp_path, module, planted, broken):
    copy = tmp_path / "infercheck"
    shutil.copytree(LIBRARY, copy)
    with (copy / module).open("a") as f:
        f.write(f"\n\ndef _planted():\n    {planted}  # noqa\n")
    proc = lint(tmp_path)
    assert proc.returncode != 0, proc.stdout
    broken_lines = [line for line in proc.stdout.splitlines() if "BROKEN" in line]
    assert len(broken_lines) >= 1 and broken in proc.stdout, proc.stdout


def test_no_module_is_over_500_lines():
    sizes = {str(p.relative_to(LIBRARY)): len(p.read_text(encoding="utf-8").splitlines())
             for p in LIBRARY.rglob("*.py")}
    assert sizes and not {name: n for name, n in sizes.items() if n > MAX_LINES}
