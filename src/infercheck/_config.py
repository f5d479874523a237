"""One configuration file for every front end: ``infercheck.toml``, or ``[tool.infercheck]`` in ``pyproject.toml``.

Found in the working directory or the nearest parent that has either (``infercheck.toml`` first), or named by
``--config`` / ``INFERCHECK_CONFIG`` (set to an empty value: no file at all). Read by ``infercheck run``,
``infercheck compare`` and the pytest plugin alike, under one precedence: command line > environment > file >
default. Run options sit at the top level; ``[targets.NAME]`` tables name the targets ``infercheck compare``
runs. String values may hold ``${ENV_VAR}`` placeholders, resolved when used and never written anywhere resolved.
A bad file is a ``ConfigError`` naming the file, the line, the key and what was expected.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _settings

FILE, PYPROJECT = "infercheck.toml", "pyproject.toml"

# the keys each part of the file may hold, from the one table of settings
RUN_KEYS = {s.name: s for s in _settings.where(_settings.FILE)}
TARGET_KEYS = {s.name: s for s in _settings.where(_settings.TARGET)}
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(ValueError):
    pass


@dataclass
class Config:
    path: Path | None = None
    run: dict[str, Any] = field(default_factory=dict)  # top-level run options, placeholders unresolved
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)  # [targets.NAME], placeholders unresolved

    def resolved(self, values: dict[str, Any], where: str) -> dict[str, Any]:
        return {k: resolve(v, f"{where}.{k}", self.path) for k, v in values.items()}


def resolve(value: Any, key: str = "", path: Path | None = None) -> Any:
    """``value`` with each ``${ENV_VAR}`` replaced by the variable's value; an unset variable is an error."""
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(f"{path or 'configuration'}: {key} refers to ${{{name}}}, but the environment "
                              f"variable {name} is not set")
        return os.environ[name]

    return _PLACEHOLDER.sub(one, value)


def find(start: Path | None = None) -> Path | None:
    """The file to read: $INFERCHECK_CONFIG if set (empty: none), else the nearest infercheck.toml, or
    pyproject.toml with a [tool.infercheck] table, from ``start`` up."""
    named = os.environ.get("INFERCHECK_CONFIG")
    if named is not None:
        return Path(named) if named else None
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / FILE).is_file():
            return directory / FILE
        pyproject = directory / PYPROJECT
        if pyproject.is_file() and re.search(r"^\[tool\.infercheck(\.|\])", pyproject.read_text(errors="replace"),
                                             re.M):
            return pyproject
    return None


def _line(text: str, key: str, table: str | None) -> int | None:
    """The line where ``key`` is set (inside ``table`` when given), for error messages."""
    lines = text.splitlines()
    start = 0
    if table:
        header = re.compile(r"^\s*\[\s*" + r"\s*\.\s*".join(re.escape(p) for p in table.split(".")) + r"\s*\]\s*$")
        start = next((i + 1 for i, line in enumerate(lines) if header.match(line)), 0)
    pattern = re.compile(r"^\s*" + re.escape(key) + r"\s*=")
    for i in range(start, len(lines)):
        if i > start and table and lines[i].lstrip().startswith("["):
            break
        if pattern.match(lines[i]):
            return i + 1
    return None


def load(path: Path | str | None = None) -> Config:
    """The configuration in ``path`` (default: the file ``find`` finds; none: an empty configuration)."""
    path = Path(path) if path is not None else find()
    if path is None:
        return Config()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    prefix = ""
    if path.name == PYPROJECT:
        doc = doc.get("tool", {}).get("infercheck", {})
        prefix = "tool.infercheck"
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: [{prefix}] must be a table")

    def bad(key: str, table: str | None, why: str) -> ConfigError:
        line = _line(text, key, table)
        where = f"{path}" + (f", line {line}" if line else "")
        return ConfigError(f"{where}: {(table + '.') if table else ''}{key}: {why}")

    config = Config(path)
    for key, value in doc.items():
        if key == "targets":
            continue
        if key not in RUN_KEYS:
            raise bad(key, prefix or None, f"unknown key; expected one of {', '.join(RUN_KEYS)}, or [targets.NAME]")
        if not RUN_KEYS[key].kind.accepts(value):
            raise bad(key, prefix or None, f"expected a {RUN_KEYS[key].kind.words}, not {value!r}")
        config.run[key] = value
    targets = doc.get("targets", {})
    if not isinstance(targets, dict):
        raise bad("targets", prefix or None, "expected tables [targets.NAME]")
    for name, table in targets.items():
        where = ".".join(p for p in (prefix, "targets", name) if p)
        if not isinstance(table, dict):
            raise bad(name, ".".join(p for p in (prefix, "targets") if p) or None, "expected a table [targets.NAME]")
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise ConfigError(f"{path}: [{where}]: a target's name may hold only letters, digits, '.', '_' and '-'")
        for key, value in table.items():
            if key not in TARGET_KEYS:
                raise bad(key, where, f"unknown key; expected one of {', '.join(TARGET_KEYS)}")
            if not TARGET_KEYS[key].kind.accepts(value):
                raise bad(key, where, f"expected a {TARGET_KEYS[key].kind.words}, not {value!r}")
        config.targets[name] = dict(table)
    return config
