"""``infercheck compare``: the same suites against several targets, and their results side by side.

Each target is checked by its own ``infercheck run`` in a child process (its own pytest session, its own event
loop, its own embedded endpoint when it has no URL), with the same property seed, so every target is sent the
same generated requests. The child's environment holds no infercheck or OpenAI variable but the target's own key
(as ``INFERCHECK_API_KEY``, never on a command line) and no configuration file: one target's settings never leak
into another's run.

Targets run concurrently only when none is on this machine and no two share a host: targets on this machine
(the embedded endpoint, a local server) compete with each other and with infercheck for the same cores, and two
targets behind one host may share its capacity, so running them at once would distort each other's latency
figures; then they run one after another.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import _config, _settings
from .engine.target import TargetError, resolve
from .reports import comparison

# `infercheck compare` without a file: the embedded endpoint against itself under two planted faults
DEMO_TARGETS: dict[str, dict[str, Any]] = {
    "reference": {},
    "fault-stream-no-done": {"fault": ["stream-no-done"]},
    "fault-completion-message": {"fault": ["completion-message", "error-flat"]},
}
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0", ""}



@dataclass
class Target:
    name: str
    options: dict[str, Any] = field(default_factory=dict)  # placeholders unresolved

    @property
    def host(self) -> str | None:
        url = self.options.get("base_url")
        return urlsplit(url).hostname or "" if isinstance(url, str) else None


def schedule(targets: list[Target]) -> dict[str, str]:
    """Whether the targets run at once or one after another, and why."""
    hosts = [t.host for t in targets]
    if len(targets) < 2:
        return {"mode": "sequential", "why": "one target"}
    local = [t.name for t, h in zip(targets, hosts) if h is None or h in _LOCAL_HOSTS or
             _config.resolve(t.options.get("base_url", "")).startswith("${")]
    if local:
        return {"mode": "sequential", "why": f"{', '.join(local)} {'runs' if len(local) == 1 else 'run'} on this "
                                             "machine, where targets compete for the same cores and would distort "
                                             "each other's latency"}
    if len(set(hosts)) < len(hosts):
        return {"mode": "sequential", "why": "two targets share a host, whose capacity they would share"}
    return {"mode": "concurrent", "why": "every target is on a host of its own, away from this machine"}


def _resolved(target: Target) -> dict[str, Any]:
    """The target's options, their placeholders resolved from the environment (a ConfigError names one unset)."""
    return {k: _config.resolve(v, f"targets.{target.name}.{k}") for k, v in target.options.items()}


# what resolving a target takes, of its settings
_RESOLVING = ("api_key", "model", "timeout", "api", "task", "load_wait", "max_body", "max_events", "max_retries",
              "breaker", "ca_bundle", "insecure")


def preflight(targets: list[Target]) -> list[str]:
    """Before any run starts: whether each target with a URL answers as its run needs (``resolve``: it answers,
    lists its models, has the one asked for), all at once; one line for each that does not. A target that cannot be
    checked is found in seconds, not after the others' runs."""
    def problem(target: Target) -> str | None:
        if not target.options.get("base_url"):
            return None  # the embedded endpoint, started by its own run
        try:
            options = _resolved(target)
            given = {k: _settings.SETTINGS[k].parse(options[k]) for k in _RESOLVING if options.get(k) is not None}
            resolve(_settings.SETTINGS["base_url"].parse(options["base_url"]), **given)
        except (TargetError, ValueError, _config.ConfigError) as exc:
            return f"target {target.name}: {exc}"
        return None

    with ThreadPoolExecutor(max(1, len(targets))) as pool:
        return [p for p in pool.map(problem, targets) if p is not None]


def command(target: Target, json_path: Path, seed: int, *, python: str = sys.executable) -> tuple[list[str], dict]:
    """The child ``infercheck run`` of a target, and its environment (the key only there)."""
    options = _resolved(target)
    args = [python, "-m", "infercheck.cli", "run", "--json", str(json_path), "--seed", str(seed)]
    for setting in _settings.where(_settings.TARGET):
        value = options.get(setting.name)
        if value is None or setting.name == "api_key":  # the key goes by the environment, never a command line
            continue
        if setting.kind is _settings.BOOLEAN:
            args += [setting.flag] if value else []
        elif setting.kind is _settings.STRINGS:
            args += [part for item in value for part in (setting.flag, item)]
        else:
            args += [setting.flag, str(value)]
    keys = _settings.SETTINGS["api_key"].envvars
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("INFERCHECK_", "OPENAI_")) and k not in (*keys, "PYTEST_ADDOPTS")}
    env["INFERCHECK_CONFIG"] = ""  # the child reads no configuration file: this target's options are all it has
    env["NO_COLOR"] = "1"
    if options.get("api_key"):
        env["INFERCHECK_API_KEY"] = options["api_key"]
    return args, env


def run_one(target: Target, out: Path, seed: int) -> comparison.Run:
    json_path = out / "targets" / f"{target.name}.json"
    log_path = out / "targets" / f"{target.name}.log"
    json_path.unlink(missing_ok=True)
    try:
        args, env = command(target, json_path, seed)
    except _config.ConfigError as exc:
        return comparison.Run(target.name, None, str(exc), 2)
    proc = subprocess.run(args, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    log_path.write_text(proc.stdout + proc.stderr, encoding="utf-8")
    if proc.returncode in (0, 1) and json_path.is_file():
        return comparison.Run(target.name, json.loads(json_path.read_text(encoding="utf-8")), None, proc.returncode)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    why = next((line.removeprefix("infercheck: error: ") for line in lines if line.startswith("infercheck:")),
               lines[-1] if lines else f"the run ended with exit status {proc.returncode}")
    if json_path.is_file():  # an incomplete run (internal errors) still wrote its results
        return comparison.Run(target.name, json.loads(json_path.read_text(encoding="utf-8")), why, proc.returncode)
    return comparison.Run(target.name, None, why, proc.returncode)


def compare(targets: list[Target], out: Path, seed: int,
            progress: Callable[[str, comparison.Run], None] = lambda name, run: None) -> dict[str, Any]:
    (out / "targets").mkdir(parents=True, exist_ok=True)
    plan = schedule(targets)
    if plan["mode"] == "concurrent":
        with ThreadPoolExecutor(len(targets)) as pool:
            runs = list(pool.map(lambda t: run_one(t, out, seed), targets))
        for run in runs:
            progress(run.name, run)
    else:
        runs = []
        for target in targets:
            runs.append(run_one(target, out, seed))
            progress(target.name, runs[-1])
    return comparison.build(runs, seed=seed, schedule=plan)
