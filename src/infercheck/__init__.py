"""infercheck: contract tests for LLM inference endpoints.

The public API is small: register checks with :func:`check`, report through
:func:`fail` / :func:`skip` / :func:`deviate`, and :func:`run` every check
against a :class:`Target` without pytest.
"""

from ._checks import Check, Context, Outcome, Result, check, deviate, fail, registry, skip
from ._engine import Runner, run
from ._exchange import Exchange, Request, Response
from ._target import Target, TargetError, embedded, resolve
from ._version import __version__

__all__ = [
    "Check", "Context", "Exchange", "Outcome", "Request", "Response", "Result", "Runner", "Target",
    "TargetError", "__version__", "check", "deviate", "embedded", "fail", "registry", "resolve", "run", "skip",
]
