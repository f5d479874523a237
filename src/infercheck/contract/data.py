"""Where the data directories live: inside the wheel, or at the root of a checkout."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]  # src/infercheck (or site-packages/infercheck)


@cache
def data_dir(name: str) -> Path:
    """Return the directory ``name`` (schemas, fixtures, suites or profiles).

    A wheel carries them under ``infercheck/_data/``; an editable install reads
    them from the repository root, two levels above ``src/infercheck``.
    """
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parents[1] / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"infercheck data directory {name!r} is missing from this installation")
