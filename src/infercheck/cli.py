"""The ``infercheck`` command: ``run`` the conformance suites, ``serve`` the reference endpoint, ``compare`` targets;
the commands that send nothing (``report``, ``checks``, ``explain``, ``cases``) are ``_browse``'s, and how a command
ends when it cannot go on is ``_exit``'s. ``run``'s options are derived from the one table of settings
(``_settings``); the run itself is pytest's, with infercheck's plugin (``plugin.py``), and its report is
``reports/console.py``'s."""

from __future__ import annotations

import atexit
import gc
import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from . import _browse, _config, _settings
from ._progress import RunProgress, planned
from ._version import __version__
from .checks import baseline as _baseline
from .checks.base import INTERNAL, INTERNAL_TITLE, Outcome, Result
from .checks.catalog import kinds, registry
from .contract import profiles as _profiles
from .contract.data import data_dir
from .contract.tasks import TASKS
from .reports import console as _console
from .reports.results import EXIT_INCOMPLETE, EXIT_INTERRUPTED, summary, unrun
from .engine.target import TargetError, choose_api, open_target
from ._exit import KEYS as _KEYS
from ._exit import die as _die
from ._exit import guarded as _guarded
from ._exit import writable as _writable


def _fault_names(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    from .serve._faults import check_names

    try:
        return check_names([n for v in value for n in v.split(",") if n])
    except ValueError as exc:
        raise click.BadParameter(f"{str(exc).split(';')[0]}; see `infercheck serve --list-faults`") from None


class _Parsed(click.ParamType):
    """A setting whose kind reads its own text (a size, a shrink budget)."""

    def __init__(self, setting: _settings.Setting):
        self.setting, self.name = setting, setting.kind.words.split(" ")[0]  # what --help shows: size, string

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value
        try:
            return self.setting.parse(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


_PATHS = {"file": click.Path(dir_okay=False), "directory": click.Path(file_okay=False),
          "existing file": click.Path(exists=True, dir_okay=False)}
_TYPES = {_settings.POSITIVE_INT: click.IntRange(min=1), _settings.COUNT: click.IntRange(min=0),
          _settings.POSITIVE_NUMBER: click.FloatRange(min=0, min_open=True), _settings.NUMBER: click.FloatRange(min=0),
          _settings.INTEGER: int}


def _option(setting: _settings.Setting) -> Any:
    """``infercheck run``'s option of ``setting``."""
    kwargs: dict[str, Any] = {"help": setting.help, "envvar": list(setting.envvars), "show_envvar": True}
    if setting.kind is _settings.BOOLEAN:
        kwargs["is_flag"] = True
    elif setting.kind is _settings.STRINGS:
        kwargs.update(multiple=True, callback=_fault_names)
    elif setting.choices:
        kwargs["type"] = click.Choice(setting.choices)
    elif setting.path:
        kwargs["type"] = _PATHS[setting.path]
    elif setting.kind in _TYPES:
        kwargs["type"] = _TYPES[setting.kind]
    elif setting.kind is not _settings.STRING:
        kwargs["type"] = _Parsed(setting)
    if setting.default not in (None, (), False):
        kwargs.update(default=setting.default, show_default=setting.shown_default or True)
    if setting.metavar:
        kwargs["metavar"] = setting.metavar
    return click.option(setting.flag, setting.param or setting.name, **kwargs)


def _settings_options(command: Any) -> Any:
    for setting in reversed(_settings.where(_settings.RUN)):
        command = _option(setting)(command)
    return command


def entry() -> None:
    """The ``infercheck`` command (and ``python -m infercheck``): ``main``, in a process of its own. Its objects are
    frozen at exit, after every other exit handler, so the interpreter does not walk them all again to collect
    garbage before it ends (a run holds every answer and the property suites' strategies: a fifth of a second)."""
    atexit.register(gc.freeze)  # registered first, run last
    main()


class _Main(click.Group):
    """The command group, keeping its arguments: ``--config`` may come after the subcommand, and is read first."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["infercheck.args"] = list(args)
        return super().parse_args(ctx, args)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="infercheck")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="The configuration file [default: ./infercheck.toml, or [tool.infercheck] in pyproject.toml, "
                   "found from the working directory up; INFERCHECK_CONFIG names another, or none when empty].")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Contract tests for LLM inference endpoints."""
    if ctx.invoked_subcommand not in ("run", "compare"):
        return
    config_path = config_path or _config_after(ctx.meta.get("infercheck.args", []))
    try:
        config = _config.load(config_path)
        params = {s.name: s.param or s.name for s in _settings.where(_settings.FILE)}
        run_defaults = {params[k]: v for k, v in config.resolved(config.run, "").items()}
    except _config.ConfigError as exc:
        _die(str(exc))
    ctx.obj = config
    ctx.default_map = {"run": run_defaults}


def _config_after(args: list[str]) -> str | None:
    """``--config`` given after the subcommand (``infercheck run --config FILE``), read before it runs."""
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--config" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
    return None


_CONFIG_AFTER = click.option("--config", type=click.Path(dir_okay=False), expose_value=False,
                             help="The configuration file, as `infercheck --config FILE` gives it.")


@main.command()
@_CONFIG_AFTER
@_settings_options
@click.option("-k", "keyword", help="Only run checks whose id matches this pytest -k expression.")
@click.option("-v", "--verbose", is_flag=True, help="List every check as it runs; print internal errors' tracebacks.")
@click.option("-x", "--exitfirst", is_flag=True, help="Stop sending at the first failure (--max-failures 1).")
@_guarded
def run(keyword, verbose, exitfirst, **params):
    """Run the conformance suites against a target (default: the embedded reference endpoint)."""
    import pytest

    from .plugin import Preset

    values = {s.name: params[s.param or s.name] for s in _settings.where(_settings.RUN)}
    if exitfirst:
        values["max_failures"] = 1
    console = Console(stderr=False, highlight=False)
    if values["api_key"]:
        _KEYS.append(values["api_key"])
    try:
        values["api"], values["task"] = api, task = choose_api(values["api"], values["task"])
    except TargetError as exc:
        _die(str(exc))
    try:
        chosen = _profiles.load(values["profile"], checks=registry(), kinds=kinds)
    except _profiles.ProfileError as exc:
        _die(str(exc))
    baseline = None
    if values["baseline"]:
        try:
            baseline = _baseline.load(values["baseline"])
        except _baseline.BaselineError as exc:
            _die(str(exc))
    if values["hypothesis_profile"] not in (None, "", *HYPOTHESIS_PROFILES):  # before the endpoint starts
        _die(f"unknown hypothesis profile {values['hypothesis_profile']!r}; the suites register "
             + " and ".join(p for p in HYPOTHESIS_PROFILES if p != "default"))
    for name in ("json", "write_baseline", "junit", "markdown", "html", "allure"):
        _writable(_settings.SETTINGS[name].flag, values[name], directory=name == "allure")
    started = time.perf_counter()
    with ExitStack() as stack:
        try:
            target = open_target(stack, **{name: values[name] for name in _settings.OPENS_TARGET},
                                 faults=values["fault"], api=api, task=task)
        except TargetError as exc:
            _die(str(exc))
        faults = values["fault"]
        where = "embedded reference endpoint" if target.embedded else target.base_url
        what = f"task [cyan]{escape(task)}[/]" if api == "hf" else (
            ("TGI model" if api == "tgi" else "model") + f" [cyan]{escape(target.model)}[/]")
        console.print(f"[bold]infercheck {__version__}[/] checking [cyan]{escape(where)}[/] {what} "
                      f"profile [cyan]{escape(chosen.name)}[/]" + (f" with faults {', '.join(faults)}" if faults else ""))
        if target.tls.describe():
            console.print(f"[yellow]{escape(target.tls.describe())}[/]", soft_wrap=True)
        config = click.get_current_context().find_root().obj
        if config is not None and config.path is not None:
            console.print(f"configuration: {escape(str(config.path))}", soft_wrap=True)
        waited = max((e.waited for e in target.discovery), default=0)
        if waited:
            console.print(f"the model was loading: waited {waited:.1f} s (503 with estimated_time)")
        # Only the plugins a run needs: faster, and other installed plugins cannot change a verdict.
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        # On a terminal a progress bar replaces pytest's dots (two writers would garble each other's lines)
        bar = console.is_terminal and not verbose
        # -v: pytest's one line per check as it is decided; otherwise its dots (the bar on a terminal)
        quiet = ["-p", "no:terminal"] if bar else ["--tb=no", "-rN", "--no-header", "-v" if verbose else "-q"]
        # No cache, and no garbage collection after each test and at the end to find unraisable exceptions: the run
        # decides nothing from either, and a full collection of its answers costs a tenth of a second each time.
        # The settings go to the plugin as values (Preset), not as its options.
        args = [str(data_dir("suites")), "-p", "infercheck.plugin", *quiet, "-p", "no:cacheprovider",
                "-p", "no:unraisableexception", "-W", "ignore::pytest.PytestAssertRewriteWarning",
                "--rootdir", str(data_dir("suites")), "--confcutdir", str(data_dir("suites"))]
        plugins: list[object] = [preset := Preset(target, values)]
        if values["allure"]:
            from allure_pytest import plugin as allure_plugin  # autoloading is off: the run names what it uses

            plugins.append(allure_plugin)
            args += ["--alluredir", values["allure"]]
        if keyword:
            args += ["-k", keyword]
        with RunProgress(console, lambda: preset.state, planned(api, values["max_examples"], values["max_requests"])) if bar else ExitStack():
            code = pytest.ExitCode(pytest.main(args, plugins=plugins))
    elapsed = time.perf_counter() - started
    state = preset.state
    if state is None or (state.runner is None and not state.errors):
        if code == pytest.ExitCode.NO_TESTS_COLLECTED:
            _die(f"no check matches -k {keyword!r}; `infercheck checks` lists the checks" if keyword
                 else "no check was collected")
        _die(f"the suites did not run (pytest exit status {int(code)})")
    results = state.results
    counts = summary(results)
    interrupted = state.interrupted
    if interrupted:
        pass  # what was decided is reported, under a verdict that says the run was stopped
    elif code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) and not counts["errors"]:
        results.append(_stopped(f"pytest stopped with exit status {int(code)} ({code.name.lower()})"))
    elif code == pytest.ExitCode.TESTS_FAILED and not (counts["failed"] or counts["errors"]):
        results.append(_stopped("pytest reported failed tests for which infercheck recorded no result"))
    runner, fail_on = state.runner, values["fail_on"]
    stats = runner.stats() if runner else {"requests": 0, "completion_tokens": 0, "loading_waited_s": 0, "retried": 0}
    unwritten = list(state.unwritten)  # a report that cannot be written does not undo the verdict
    if runner and values["junit"]:
        from .reports import junit

        try:
            junit.write(values["junit"], results, state.session.target_info(), stats, fail_on=fail_on)
        except OSError as exc:
            unwritten.append(f"--junit {values['junit']}: {exc.strerror or exc}")
    if runner and (values["markdown"] or values["html"]):
        from .reports import pages
        from .reports import results as _results

        doc = _results.document(target=state.session.target_info(), results=results, stats=runner.stats(),
                                metrics=runner.metrics(), samples=runner.latency_samples(), fail_on=fail_on,
                                interrupted=interrupted, deselected=state.deselected)
        for option, markdown_path, html_path in (("--markdown", values["markdown"], None),
                                                 ("--html", None, values["html"])):
            if markdown_path or html_path:
                try:
                    pages.write(doc, markdown_path=markdown_path, html_path=html_path, fail_on=fail_on,
                                seed=state.seed)
                except OSError as exc:
                    unwritten.append(f"{option} {markdown_path or html_path}: {exc.strerror or exc}")
    written = [f"{flag} {values[name]}" for name, flag in (("json", "--json"), ("junit", "--junit"),
                                                          ("markdown", "--markdown"), ("html", "--html"),
                                                          ("allure", "--allure"),
                                                          ("write_baseline", "--write-baseline"))
               if values[name] and not any(u.startswith(f"{flag} ") for u in unwritten)]
    status = _console.summarise(console, results, stats, runner.profile.name if runner else chosen.name, elapsed,
                                verbose=verbose, seed=state.seed, metrics=runner.metrics() if runner else None,
                                fail_on=fail_on, baseline=baseline, partial=unrun(results, state.deselected),
                                interrupted=interrupted, notes=["wrote: " + ", ".join(written)] if written and runner
                                else [])
    if unwritten:  # the verdict above stands; the output asked for is missing: the command did not do its job
        click.echo("infercheck: error: cannot write " + "; ".join(unwritten), err=True)
        sys.exit(EXIT_INCOMPLETE if status != EXIT_INTERRUPTED else status)
    sys.exit(status)


def _stopped(why: str) -> Result:
    """An internal error standing for a pytest session that ended abnormally: not every check was decided."""
    return Result(INTERNAL, "session", Outcome.ERROR, "critical", INTERNAL_TITLE, f"internal error: {why}")


HYPOTHESIS_PROFILES = ("ci", "thorough", "default")  # suites/conftest.py registers the first two
@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--api-key", help="Require this bearer key.")
@click.option("--model", default=None, help="The model name to serve [default: infercheck-tiny].")
@click.option("--task", type=click.Choice(TASKS), metavar="TASK",
              help="Also serve this Hugging Face task at POST / (every task is served at /models/<task>).")
@click.option("--fault", "faults", multiple=True, callback=_fault_names, help="Plant a fault (repeatable).")
@click.option("--ttft-ms", type=click.FloatRange(min=0), default=0, show_default=True,
              help="Inject latency: the first token of an answer leaves this long after the request arrived.")
@click.option("--itl-ms", type=click.FloatRange(min=0), default=0, show_default=True,
              help="Inject latency: each next token leaves this long after the one before.")
@click.option("--list-faults", is_flag=True, help="List the fault modes and exit.")
def serve(host, port, api_key, model, task, faults, ttft_ms, itl_ms, list_faults):
    """Serve the conformant reference endpoint: OpenAI-style under /v1, TGI's native routes, and every Hugging
    Face task under /models/<task>."""
    from .serve import DEFAULT_MODEL, FAULTS, QUIRKS, create_app

    if list_faults:
        for name, description in {**FAULTS, **QUIRKS}.items():
            click.echo(f"{name:24} {description}")
        return
    import uvicorn

    click.echo(f"infercheck reference endpoint: http://{host}:{port}/v1 model {model or DEFAULT_MODEL}"
               + (f" faults {', '.join(faults)}" if faults else "")
               + (f" latency ttft {ttft_ms:g} ms itl {itl_ms:g} ms" if ttft_ms or itl_ms else ""))
    click.echo(f"  TGI: http://{host}:{port}/generate, /generate_stream, /info; tasks: http://{host}:{port}/models/<task>"
               + (f"; task {task}: POST http://{host}:{port}/" if task else ""))
    from .serve._socket import listening

    try:
        sock = listening(host, port)
        app = create_app(api_key=api_key, model=model or DEFAULT_MODEL, faults=faults, task=task, ttft_ms=ttft_ms,
                         itl_ms=itl_ms)
        uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
    except (OSError, SystemExit) as exc:
        _die(f"cannot serve on {host}:{port}: {exc}")


@main.command()
@click.argument("targets_file", required=False, type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", default="reports/comparison", show_default=True, type=click.Path(file_okay=False),
              help="Write comparison.json, comparison.md, comparison.html and each target's results and log here.")
@click.option("--seed", type=int, help="Seed of the property suites, the same for every target [default: random].")
@_CONFIG_AFTER
@click.pass_obj
@_guarded
def compare(config, targets_file, out_dir, seed):
    """Run the suites against every target of TARGETS_FILE ([targets.NAME] tables; default: those of the
    configuration file) and write them side by side. Without any, compares the embedded endpoint with itself
    under two planted faults."""
    import json
    import random

    from . import _compare
    from .reports import html, markdown

    try:
        source = _config.load(targets_file) if targets_file else config
    except _config.ConfigError as exc:
        _die(str(exc))
    if targets_file and not source.targets:
        _die(f"{targets_file}: no targets; add [targets.NAME] tables with base_url, api_key, model, profile...")
    chosen = source.targets if source is not None and source.targets else _compare.DEMO_TARGETS
    targets = [_compare.Target(name, options) for name, options in chosen.items()]
    for t in targets:
        if t.options.get("fault") and t.options.get("base_url"):
            _die(f"target {t.name}: faults are planted in the embedded endpoint only; drop its base_url")
    _writable("--out", out_dir, directory=True)
    unanswered = _compare.preflight(targets)
    if unanswered:
        _die("; ".join(unanswered) + (": nothing was run" if len(targets) > 1 else ""))
    out = Path(out_dir)
    seed = seed if seed is not None else random.getrandbits(32)
    console = Console(highlight=False)
    plan = _compare.schedule(targets)
    demo = "" if source is not None and source.targets else " (no targets file: the embedded endpoint, clean and " \
                                                             "under two planted faults)"
    console.print(f"[bold]infercheck {__version__}[/] comparing {len(targets)} targets{demo}, {plan['mode']}ly: "
                  f"{escape(plan['why'])}; property seed {seed}")

    def done(name, run):
        said = run.error if run.doc is None else _compare.comparison.build([run])["targets"][name]["verdict"]
        console.print(f"  {escape(name)}: {escape(said)}", soft_wrap=True)

    doc = _compare.compare(targets, out, seed, progress=done)
    (out / "comparison.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "comparison.md").write_text(markdown.comparison(doc), encoding="utf-8")
    (out / "comparison.html").write_text(html.page(doc), encoding="utf-8")
    _console.print_matrix(console, doc)
    console.print(f"\nwrote {out / 'comparison.json'}, {out / 'comparison.md'}, {out / 'comparison.html'}; each "
                  f"target's results and log under {out / 'targets'}")
    broken = [n for n, t in doc["targets"].items() if t["error"] or (t["summary"] or {}).get("errors")]
    if broken:
        console.print(f"[magenta bold]incomplete[/]: {', '.join(broken)} could not be checked in full; see "
                      "their logs")
        sys.exit(EXIT_INCOMPLETE)



for _command in (_browse.report, _browse.list_checks, _browse.explain, _browse.list_cases):
    main.add_command(_command)


def _seconds(ctx: click.Context, param: click.Parameter, value: str) -> float:
    from .load.document import seconds

    try:
        return seconds(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


_LOAD_SETTINGS = ("base_url", "api", "task", "api_key", "model", "profile", "timeout", "load_wait", "max_body",
                  "max_events", "max_retries", "breaker", "ca_bundle", "insecure", "fault")


def _load_options(command: Any) -> Any:
    for name in reversed(_LOAD_SETTINGS):
        command = _option(_settings.SETTINGS[name])(command)
    return command


@main.command()
@_load_options
@click.option("--users", type=click.IntRange(min=1), default=4, show_default=True,
              help="Users of the closed loop, each sending one request at a time.")
@click.option("--sweep", metavar="N,N,...", help="One step per number of users, rising (e.g. 1,4,16), the same "
                                                 "workload each; instead of --users.")
@click.option("--duration", "--step-duration", "duration", default="30s", show_default=True, callback=_seconds,
              help="How long each step sends (30s, 500ms, 2m).")
@click.option("--spawn-rate", type=click.FloatRange(min=0, min_open=True),
              help="Users started per second [default: all at once].")
@click.option("--slo", "slo_text", metavar="ttft=D,itl=D,e2e=D",
              help="What a good answer's latency is (e.g. ttft=500ms,e2e=10s): goodput counts the conformant answers "
                   "within it, and the knee is the highest step whose p95 kept it.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the load document here "
                                                                            "(schemas/load.json).")
@click.option("--markdown", "markdown_path", type=click.Path(dir_okay=False), help="Write a Markdown summary here.")
@click.option("--case", "patterns", multiple=True, metavar="PATTERN",
              help="Load only the cases whose id matches this shell-style pattern (repeatable; e.g. 'chat.*-stream').")
@click.option("--html", "html_path", type=click.Path(dir_okay=False),
              help="Write a self-contained HTML page here (charts of conformant rate, goodput and latency by users).")
@click.option("--processes", type=click.IntRange(min=1), default=1, show_default=True,
              help="Locust worker processes on this machine that send the load (one per core at most is useful).")
@click.option("--master", is_flag=True, help="Be the Locust master: wait for --expect-workers workers "
                                             "(infercheck load --worker) and write what they report.")
@click.option("--expect-workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Workers the master waits for before it starts.")
@click.option("--master-bind-host", default="*", show_default=True, help="Where the master listens for workers.")
@click.option("--master-port", type=click.IntRange(1, 65535), default=5557, show_default=True,
              help="The master's port (the master listens on it; a worker connects to it).")
@click.option("--worker", is_flag=True, help="Be a Locust worker of the master at --master-host: it sends the "
                                             "master's plan; every other option is the master's.")
@click.option("--master-host", default="127.0.0.1", show_default=True, help="The master a worker connects to.")
@_guarded
def load(users, sweep, duration, spawn_rate, slo_text, json_path, markdown_path, patterns, html_path, processes, master,
         expect_workers, master_bind_host, master_port, worker, master_host, **params):
    """Check every answer under load: USERS users (or a --sweep of levels) sending the suite's repeatable cases in a
    closed loop, each answer judged by every check that applies. Exit 0 when every step kept the contract, 1 when an
    answer broke it or went unanswered, 2 when nothing was decided, 130 on Ctrl-C."""
    from . import _load

    if worker:
        _load.work(master_host, master_port)
    if processes > 1 and master:
        _die("--processes starts its own master and workers on this machine: give it without --master")
    values = {s.name: params[s.param or s.name] for s in map(_settings.SETTINGS.get, _LOAD_SETTINGS)}
    engine = _load.Engine(processes, master, expect_workers, master_bind_host, master_port)
    _load.command(values, users=users, sweep=sweep, duration=duration, spawn_rate=spawn_rate, slo_text=slo_text,
                  json_path=json_path, markdown_path=markdown_path, engine=engine, html_path=html_path,
                  patterns=patterns)


if __name__ == "__main__":
    main()
