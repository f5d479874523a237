"""Shared fixtures for the self-tests."""

from __future__ import annotations

from collections.abc import Iterator

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
