"""Every built-in check: importing this module registers them all, in the order below (the order ``infercheck
checks`` lists them and a run reports them). The one module that knows every check module; the registry
(``base``) knows none of them."""

from __future__ import annotations

# isort: off
from . import http, semantic, streams, tools, formats, responses, resources, hf_tasks  # noqa: F401 (registering)
# isort: on
from .base import Check, registered


def registry() -> dict[str, Check]:
    """Every registered check by id: the built-in ones, in the order of the import above, then any registered with
    :func:`~infercheck.check` since."""
    return registered()
