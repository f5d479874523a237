"""Internal errors: an exception raised by infercheck's own code during a run.

An internal error is never a verdict on the endpoint. Its result has the outcome ``error``, the run's verdict
reads INCOMPLETE, and ``infercheck run`` exits with 2. This module says what broke and where: the exception,
and the innermost frame of infercheck's own code (the library or its suites) that it passed through.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path

from ..contract.data import data_dir

_PACKAGE = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Crash:
    summary: str  # "KeyError: 'x'"
    where: str  # "infercheck/generation/positive.py:133 in strategy", or "" when no frame of ours was involved
    traceback: str  # the whole traceback, for -v and the results document


def _ours(filename: str) -> str | None:
    """``filename`` shown relative to infercheck's code, or None when it is not infercheck's."""
    path = Path(filename).resolve()
    for root, shown in ((_PACKAGE, _PACKAGE.name), (data_dir("suites"), "suites")):
        if path.is_relative_to(root):
            return f"{shown}/{path.relative_to(root).as_posix()}"
    return None


def crash(exc: BaseException) -> Crash:
    """What ``exc`` was, and the innermost frame of infercheck's code on its way."""
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        shown = _ours(frame.filename)
        if shown is not None:
            where = f"{shown}:{frame.lineno} in {frame.name}"
    summary = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return Crash(summary, where, "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
