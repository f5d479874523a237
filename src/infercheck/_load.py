"""``infercheck load``'s run: the target resolved as ``run`` resolves it, the workload answered alone, one step per
level of users, a line per step as it ends, the documents written, the verdict and its exit status
(``load/document.py``). Ctrl-C ends it at once: the steps that ended are reported under a verdict that says the run
was interrupted (exit 130)."""

from __future__ import annotations

import json
import socket
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from . import _settings
from ._exit import KEYS as _KEYS
from ._exit import die as _die
from ._exit import writable as _writable
from ._version import __version__
from .checks.catalog import kinds, registry
from .contract import profiles as _profiles
from .engine.target import TargetError, choose_api, open_target
from .load import distributed as _distributed
from .load import document as _document
from .load import page as _page
from .load import workload as _workload
from .load.tally import Tally
from .reports.results import EXIT_INTERRUPTED
from .wire import aio as _aio


@dataclass(frozen=True)
class Engine:
    """Where the load is sent from: ``processes`` Locust workers on this machine (one by default), or with ``master``
    the workers that connect to this master (``expect`` of them), listening on ``bind``:``port``."""

    processes: int = 1
    master: bool = False
    expect: int = 1
    bind: str = "*"
    port: int = 5557


def command(values: dict[str, Any], *, users: int, sweep: str | None, duration: float, spawn_rate: float | None,
            slo_text: str | None, json_path: str | None, markdown_path: str | None, engine: Engine = Engine(),
            html_path: str | None = None, patterns: tuple[str, ...] = ()) -> None:
    console = Console(highlight=False, soft_wrap=True)
    if not _distributed.available():
        _die(_distributed.NEEDS)
    if values["api_key"]:
        _KEYS.append(values["api_key"])
    try:
        bounds = _document.slo(slo_text) if slo_text else {}
        steps_of = _document.levels(sweep) if sweep else [users]
        api, task = choose_api(values["api"], values["task"])
        profile = _profiles.load(values["profile"], checks=registry(), kinds=kinds)
    except (ValueError, TargetError, _profiles.ProfileError) as exc:
        _die(str(exc))
    _writable("--json", json_path)
    _writable("--markdown", markdown_path)
    _writable("--html", html_path)
    with ExitStack() as stack:
        try:
            target = open_target(stack, **{name: values[name] for name in _settings.OPENS_TARGET}, faults=values["fault"], api=api,
                                 task=task)
        except TargetError as exc:
            _die(str(exc))
        where = "embedded reference endpoint" if target.embedded else target.base_url
        faults = values["fault"]
        console.print(f"[bold]infercheck {__version__}[/] load on [cyan]{escape(where)}[/] model "
                      f"[cyan]{escape(target.model or '')}[/] profile [cyan]{escape(profile.name)}[/]"
                      + (f" with faults {', '.join(faults)}" if faults else ""))
        works = _workload.prepare(target, profile, _workload.candidates(target, profile, patterns))
        if not works:
            _die(f"no case of the {api} API that a load may repeat matches --case {' '.join(patterns)}; `infercheck "
                 "cases` lists them" if patterns else f"the {api} API has no case a load may repeat")
        steps: list[Tally] = []
        excluded: list[dict[str, str]] = []
        interrupted, fleet = False, None
        try:
            works, excluded = _alone(target, profile, works)
            console.print(f"workload: {len(works)} requests, each answered alone first"
                          + (f"; {len(excluded)} left out (broke the contract alone)" if excluded else ""))
            if not works:
                _die("every case of the workload broke the contract alone: run `infercheck run` first")
            fleet = _fleet(engine, _distributed.plan(target, values["profile"], works, slo=bounds, levels=steps_of,
                                                     duration=duration, spawn_rate=spawn_rate))
            _on_locust(console, engine, fleet, steps)
        except KeyboardInterrupt:
            interrupted = True  # the step cut short says nothing of its level: only the steps that ended are kept
        doc = _document.document(
            target={"base_url": target.base_url, "model": target.model, "embedded": target.embedded, "api": api,
                    "profile": profile.name}, workload=[w.case.id for w in works], excluded=excluded, steps=steps,
            slo_ms=bounds, step_duration=duration, spawn_rate=spawn_rate,
            workers=fleet.workers if fleet is not None else 0)
    if interrupted:
        doc["verdict"] = {"status": "interrupted", "exit": EXIT_INTERRUPTED,
                          "summary": f"INTERRUPTED: {len(steps)} step(s) ended before Ctrl-C; nothing more was "
                                     "decided"}
    _write(doc, json_path, markdown_path, html_path)
    _report(console, doc, bool(bounds))
    colour = {"conformant": "green", "not_conformant": "red"}.get(doc["verdict"]["status"], "yellow")
    console.print(f"[bold {colour}]{escape(doc['verdict']['summary'])}[/]", soft_wrap=True)
    sys.exit(doc["verdict"]["exit"])


def _report(console: Console, doc: dict[str, Any], slo: bool) -> None:
    """After the table: the knee, then per step what bounded or troubled it, and one line per check that failed."""
    knee = doc["knee"]["users"]
    if doc["steps"] and doc["verdict"]["status"] != "undecided":
        console.print(f"knee: {knee} users" if knee is not None else "knee: none (the first step broke the contract"
                      + (" or the SLO)" if slo else ")"))
    for step in doc["steps"]:
        busy, unjudged = step["load_generator"], step["internal_errors"]
        if unjudged["count"]:
            console.print(f"[magenta]internal error[/] at {step['users']} users: {unjudged['count']} answers could not "
                          f"be judged by {unjudged['example']['check']} (infercheck's own error, not the endpoint's): "
                          f"{escape(unjudged['example']['message'].splitlines()[0])}")
        if busy["saturated"]:
            console.print(f"[yellow]at {step['users']} users the load generator was the bottleneck[/]: its busiest "
                          f"worker used {busy['cpu_percent']:g} % of a core (a worker uses one), so "
                          "the figures of this step measure infercheck as much as the endpoint; add --processes or "
                          "machines")
        same = step["determinism"]
        if same["differed"]:
            console.print(f"[yellow]determinism[/] at {step['users']} users: {same['differed']} of {same['compared']} "
                          "greedy answers said something else than their request got alone (a finding, not a "
                          f"failure: temperature 0 and seed are best effort); e.g. {same['example']['case']}")
        for check, example in step["examples"].items():
            console.print(f"[red]{check}[/] ({example['severity']}) at {step['users']} users: "
                          f"{step['violations'][check]} of {step['requests']} answers; e.g. {example['case']}: "
                          f"{escape(example['message'].splitlines()[0] if example['message'] else '')}",
                          soft_wrap=True)


def _fleet(engine: Engine, plan: dict[str, Any]) -> _distributed.Fleet:
    """The master (and the workers on this machine) that will send ``plan``."""
    if engine.master:
        return _distributed.Fleet(plan, bind=engine.bind, port=engine.port, expect=engine.expect, wait=300)
    return _distributed.Fleet(plan, bind="127.0.0.1", port=_free_port(), expect=engine.processes,
                              local=engine.processes, wait=60)


def _on_locust(console: Console, engine: Engine, fleet: _distributed.Fleet, steps: list[Tally]) -> None:
    """The steps ``fleet`` sends, each appended to ``steps`` and printed as it ends."""
    if engine.master:
        console.print(f"Locust master on port {engine.port}: waiting for {engine.expect} worker(s) "
                      "(infercheck load --worker --master-host THIS-HOST)")
    try:
        with fleet:
            for tally in fleet.steps():
                if not steps:
                    console.print(f"{fleet.workers} Locust worker(s) sending\n{HEADER}")
                steps.append(tally)
                console.print(_row(tally), highlight=False)
    except _distributed.FleetError as exc:
        _die(str(exc))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def work(master_host: str, master_port: int) -> None:
    """``infercheck load --worker``: a worker of the master at ``master_host``, until it ends the load."""
    if not _distributed.available():
        _die(_distributed.NEEDS)
    try:
        sys.exit(_distributed.worker(master_host, master_port))
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)


def _alone(target, profile, works: list[_workload.Work]) -> tuple[list[_workload.Work], list[dict[str, str]]]:
    """The workload's requests each answered alone: those that kept the contract, and why the others were left out."""
    kept, left = [], []
    for work in _aio.run(_workload.alone(target, works)):
        broken = _workload.broken(_workload.judge(work, work.alone, target, profile))
        if broken:
            left.append({"case": work.case.id, "why": f"{broken[0].check}: {broken[0].message.splitlines()[0]}"})
        else:
            kept.append(work)
    return kept, left


HEADER = (f"{'users':>5}  {'requests':>8}  {'conformant':>10}  {'violations':>10}  {'errors':>6}  {'req/s':>7}  "
          f"{'goodput/s':>9}  {'TTFT p95':>8}  {'e2e p95':>8}")


def _row(tally: Tally) -> str:
    step = tally.to_json()
    rate = step["conformant_rate"]
    ttft, e2e = step["latency"]["ttft_ms"]["p95"], step["latency"]["e2e_ms"]["p95"]
    return (f"{tally.users:>5}  {tally.requests:>8}  {'-' if rate is None else f'{rate:.1%}':>10}  "
            f"{sum(tally.violations.values()):>10}  {sum(tally.errors.values()):>6}  "
            f"{step['throughput']['requests_per_s']:>7.1f}  {step['goodput']['requests_per_s']:>9.1f}  "
            f"{'-' if ttft is None else f'{ttft:.0f} ms':>8}  {'-' if e2e is None else f'{e2e:.0f} ms':>8}")


def _write(doc: dict[str, Any], json_path: str | None, markdown_path: str | None, html_path: str | None) -> None:
    try:
        if html_path:
            Path(html_path).write_text(_page.page(doc))
        if json_path:
            Path(json_path).write_text(json.dumps(doc, indent=2) + "\n")
        if markdown_path:
            Path(markdown_path).write_text(_document.markdown(doc))
    except OSError as exc:
        click.echo(f"infercheck: error: cannot write {exc.filename}: {exc.strerror or exc}", err=True)
        sys.exit(2)
