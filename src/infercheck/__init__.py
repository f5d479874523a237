"""infercheck: contract tests for LLM inference endpoints.

The public API is small: register checks with :func:`check`, report through
:func:`fail` / :func:`skip` / :func:`deviate`, and :func:`run` every check
against a :class:`Target` without pytest. :func:`suites_dir` is where the installed suites are, for pytest.
"""

from pathlib import Path

from ._version import __version__
from .checks.base import Check, Context, Outcome, Result, check, deviate, fail, skip
from .checks.catalog import registry
from .contract.data import data_dir
from .engine.runner import Runner
from .engine.session import run
from .engine.target import Target, TargetError, embedded, resolve
from .wire.exchange import Exchange, Request, Response

__all__ = [
    "Check", "Context", "Exchange", "Outcome", "Request", "Response", "Result", "Runner", "Target",
    "TargetError", "__version__", "check", "deviate", "embedded", "fail", "registry", "resolve", "run", "skip",
    "suites_dir",
]


def suites_dir() -> Path:
    """The directory of the conformance suites this installation carries: ``pytest "$(python -c 'import
    infercheck; print(infercheck.suites_dir())')" --infercheck-base-url URL`` runs them without a checkout."""
    return data_dir("suites")
