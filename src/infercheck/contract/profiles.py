"""Dialect profiles: which known, documented variations count as deviations rather than failures.

A profile is a TOML file in ``profiles/`` (or any path given to ``--profile``),
described by ``schemas/profile.json``. Checks never branch on a profile: a
failing check names its problems (:class:`~infercheck._checks.Problem`), and
the active profile either allows every one of them, turning the failure into
a deviation that says what it saw and why it is not a failure, or it does not.
A profile may also declare features the server documents it lacks; the cases
that need them are skipped with the profile's reason.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
import tomllib
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from . import schemas as _schemas
from .cases import Case
from .data import data_dir

DEFAULT = "openai"
PROFILE_SCHEMA = "profile.json"


class ProfileError(ValueError):
    """A profile that cannot be used: unknown name, unreadable file, or not matching its schema."""


@dataclass(frozen=True)
class Allowance:
    id: str
    check: str
    reason: str
    evidence: str
    kind: str | None = None
    path: str | None = None
    found: dict[str, Any] | None = None
    cases: tuple[str, ...] = ()

    def applies(self, check: str, case: Case) -> bool:
        return self.check == check and (not self.cases or any(fnmatch.fnmatchcase(case.id, c) for c in self.cases))

    def matches(self, problem: Any) -> bool:
        if self.kind is not None and problem.kind != self.kind:
            return False
        if self.path is not None and not _path_pattern(self.path).fullmatch(problem.path):
            return False
        if self.found is not None:
            return jsonschema.Draft202012Validator(self.found).is_valid(problem.value)
        return True

    def explain(self, profile: str) -> str:
        return f"allowed by profile {profile!r} ({self.id}): {self.reason} [evidence: {self.evidence}]"

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "reason": self.reason, "evidence": self.evidence}


@cache
def _path_pattern(pattern: str) -> re.Pattern[str]:
    """``$.choices[*].text`` -> a regex where ``[*]`` stands for any array index."""
    return re.compile(re.escape(pattern).replace(re.escape("[*]"), r"\[\d+\]"))


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    allowances: tuple[Allowance, ...] = ()
    unsupported: dict[str, str] = field(default_factory=dict)  # feature -> the documented reason
    source: str = ""

    def allows(self, check: str, case: Case, problems: Iterable[Any]) -> Allowance | None:
        """The allowance covering every problem (combined when several are needed), or None."""
        problems = list(problems)
        if not problems:
            return None
        used: list[Allowance] = []
        for problem in problems:
            match = next((a for a in self.allowances if a.applies(check, case) and a.matches(problem)), None)
            if match is None:
                return None
            if match not in used:
                used.append(match)
        if len(used) == 1:
            return used[0]
        return Allowance(
            id=" + ".join(a.id for a in used), check=check,
            reason="; ".join(a.reason for a in used), evidence="; ".join(a.evidence for a in used),
        )

    def lacks(self, case: Case) -> str | None:
        """Why ``case`` is skipped under this profile, or None when it runs."""
        if case.feature and case.feature in self.unsupported:
            return f"profile {self.name!r}: the server documents no {case.feature} support: {self.unsupported[case.feature]}"
        return None


def names() -> list[str]:
    return sorted(p.stem for p in data_dir("profiles").glob("*.toml"))


def load(name_or_path: str | None = None, *, checks: Collection[str] = (),
         kinds: Callable[[str], Collection[str] | None] | None = None) -> Profile:
    """A built-in profile by name, or a profile file by path. With ``checks`` (the registered check ids), an
    allowance naming another check is an error (a typo would otherwise never apply, without a word); with ``kinds``
    (a check id -> the kinds of problem it reports, None: any), so is an allowance naming a kind its check never
    reports."""
    profile = _load(name_or_path or DEFAULT, ())
    for allowance in profile.allowances if checks else ():
        where = f"profile {profile.source}: [[allow]] {allowance.id!r}"
        if allowance.check not in checks:
            near = difflib.get_close_matches(allowance.check, list(checks), n=1)
            raise ProfileError(f"{where}: no check {allowance.check!r}"
                               + (f" (did you mean {near[0]!r}?)" if near else "; `infercheck checks` lists them"))
        reported = kinds(allowance.check) if kinds is not None and allowance.kind is not None else None
        if reported is not None and allowance.kind not in reported:
            near = difflib.get_close_matches(allowance.kind, sorted(reported), n=1)
            raise ProfileError(f"{where}: check {allowance.check!r} never reports kind {allowance.kind!r}"
                               + (f" (did you mean {near[0]!r}?)" if near else "")
                               + f"; `infercheck explain {allowance.check}` lists the kinds it reports")
    return profile


def _load(name_or_path: str, seen: tuple[str, ...]) -> Profile:
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = data_dir("profiles") / f"{name_or_path}.toml"
        if not path.is_file():
            raise ProfileError(f"unknown profile {name_or_path!r}; known: {', '.join(names())} (or a path to a .toml file)")
    elif not path.is_file():
        raise ProfileError(f"profile file {name_or_path} does not exist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"profile {path}: {exc}") from None
    problems = _schemas.errors(PROFILE_SCHEMA, data)
    if problems:
        raise ProfileError(f"profile {path}: {problems[0]}")
    name = data.get("name", path.stem)
    allowances: list[Allowance] = []
    unsupported: dict[str, str] = {}
    parent = data.get("extends")
    if parent:
        if parent in seen:
            raise ProfileError(f"profile {path}: extends {parent!r} in a cycle")
        base = _load(parent, (*seen, name))
        allowances += base.allowances
        unsupported.update(base.unsupported)
    for entry in data.get("allow", []):
        checks = [entry["check"]] if isinstance(entry["check"], str) else entry["check"]
        allowances += [Allowance(
            id=entry["id"], check=check, reason=entry["reason"], evidence=entry["evidence"],
            kind=entry.get("kind"), path=entry.get("path"), found=entry.get("found"),
            cases=tuple(entry.get("cases", ())),
        ) for check in checks]  # an entry naming several checks: one allowance per check, under the entry's id
    unsupported.update(data.get("unsupported", {}))
    return Profile(name, data.get("title", name), tuple(allowances), unsupported, str(path))
