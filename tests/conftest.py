"""Shared fixtures for the self-tests."""

from __future__ import annotations

import importlib.metadata
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from infercheck import embedded


@pytest.fixture(scope="session")
def reference_url() -> Iterator[str]:
    """A clean reference endpoint, shared by the tests that only read from it."""
    with embedded() as url:
        yield url


@pytest.fixture(scope="session")
def keyed_url() -> Iterator[str]:
    """A clean reference endpoint that requires the key ``sk-test-secret``."""
    with embedded(api_key="sk-test-secret") as url:
        yield url


def pytest_sessionfinish(session: pytest.Session) -> None:
    """With INFERCHECK_IMPORTED set (CI's lowest-versions step, which leaves the slow tests out), each test process
    writes there the distributions whose modules it imported: .ci/imported.py then shows that the tests that ran
    imported every dependency pyproject.toml declares."""
    out = os.environ.get("INFERCHECK_IMPORTED")
    if not out:
        return
    owners = importlib.metadata.packages_distributions()
    used = {dist for name in list(sys.modules) for dist in owners.get(name.partition(".")[0], ())}
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / f"{os.getpid()}.txt").write_text("".join(f"{dist}\n" for dist in sorted(used)))
