"""The documentation in layers (issue 26): a short README, and the reference pages generated from the code."""

from __future__ import annotations

import importlib.util

from .support import ROOT


def _generator():
    spec = importlib.util.spec_from_file_location("docs_reference", ROOT / "scripts" / "docs_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_reference_pages_are_what_the_code_declares():
    """Every option, check and profile is in the reference, and a committed page never drifts from the code:
    after a change, `python scripts/docs_reference.py` writes them again."""
    for path, text in _generator().pages().items():
        assert path.read_text(encoding="utf-8") == text, f"{path.relative_to(ROOT)} is stale: run scripts/docs_reference.py"


def test_every_option_and_check_is_in_the_reference():
    from infercheck import _settings, registry

    options = (ROOT / "docs" / "reference" / "options.md").read_text()
    checks = (ROOT / "docs" / "reference" / "checks.md").read_text()
    assert all(f"| `{s.flag}` |" in options for s in _settings.SETTINGS.values())
    assert all(f"| `{chk}` |" in checks for chk in registry())


def test_the_readme_is_short_and_every_page_is_in_the_site():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert {p for p in pages if f": {p}\n" not in nav} == set()
