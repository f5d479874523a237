"""How the ``infercheck`` commands end when they cannot go on: bad input is one line and exit 2 (``die``), a crash
of infercheck's own is one paragraph and exit 2 (``guarded``), never a bare traceback; the API keys of the command
are redacted from both."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import click

from . import _settings
from .checks.crash import crash
from .reports.results import EXIT_INCOMPLETE

KEYS: list[str] = []  # the API keys of this command: redacted from anything it prints about an error


def keys() -> list[str]:
    return [*KEYS, *(os.environ[v] for v in _settings.API_KEY_ENV if os.environ.get(v))]


def die(message: str) -> None:
    from .wire.redaction import redact

    click.echo(f"infercheck: error: {redact(message, keys())}", err=True)
    sys.exit(EXIT_INCOMPLETE)


def guarded(command):
    """A crash anywhere in ``command`` is an internal error: one clear paragraph and exit 2, never a bare
    traceback, and never after a verdict (the verdict is the last thing a run prints)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:
            from .wire.redaction import redact

            found = crash(exc)
            secrets = keys()
            click.echo(redact(f"infercheck: internal error: {found.summary}" + (f"\n  at {found.where}" if found.where
                                                                              else ""), secrets)
                       + "\nthe run is incomplete: nothing was decided about the endpoint", err=True)
            click.echo(redact(found.traceback.rstrip(), secrets) if kwargs.get("verbose")
                       else "  (the whole traceback: add -v)", err=True)
            sys.exit(EXIT_INCOMPLETE)

    return wrapper


def writable(option: str, path: str | None, *, directory: bool = False) -> None:
    """Output paths are checked before the run: a bad one is bad input, not a failure found after the run."""
    if path is None:
        return
    parent = Path(path).resolve() if directory else Path(path).resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        die(f"{option} {path}: cannot create {parent}: {exc.strerror or exc}")
    if not os.access(parent, os.W_OK):
        die(f"{option} {path}: {parent} is not writable")
