"""The ``infercheck`` command: ``run`` the conformance suites, ``serve`` the reference endpoint, list ``checks``."""

from __future__ import annotations

import os
import sys
import time
from contextlib import ExitStack

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import _engine, _profiles, _properties
from ._checks import Outcome, registry
from ._resources import data_dir
from ._target import ALL_TASKS, APIS, DEFAULT_LOAD_WAIT, DEFAULT_TIMEOUT, TargetError, choose_api, embedded, resolve
from ._tasks import TASKS
from ._version import __version__

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


def _fault_names(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    from .serve._faults import check_names

    try:
        return check_names([n for v in value for n in v.split(",") if n])
    except ValueError as exc:
        raise click.BadParameter(f"{str(exc).split(';')[0]}; see `infercheck serve --list-faults`") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="infercheck")
def main() -> None:
    """Contract tests for LLM inference endpoints."""


@main.command()
@click.option("--base-url", envvar=["INFERCHECK_BASE_URL", "OPENAI_BASE_URL"], show_envvar=True,
              help="OpenAI-style base URL including /v1; with --api tgi the server's root; with --task the endpoint's "
                   "own URL. Omitted: the embedded reference endpoint is tested.")
@click.option("--api", type=click.Choice(APIS), envvar="INFERCHECK_API", show_envvar=True,
              help="The API to check [default: openai, or hf with --task].")
@click.option("--task", type=click.Choice([*TASKS, ALL_TASKS]), envvar="INFERCHECK_TASK", show_envvar=True,
              metavar="TASK", help=f"Check a Hugging Face task endpoint: {', '.join(TASKS)}; {ALL_TASKS} checks every "
                                   "task at <base-url>/<task> (the embedded endpoint's /models/<task>).")
@click.option("--load-wait", type=click.FloatRange(min=0), default=DEFAULT_LOAD_WAIT, show_default=True,
              envvar="INFERCHECK_LOAD_WAIT", show_envvar=True,
              help="Seconds a request may wait out 503 'model is loading' answers (their estimated_time).")
@click.option("--api-key", envvar=["INFERCHECK_API_KEY", "OPENAI_API_KEY", "HF_TOKEN"], show_envvar=True,
              help="Bearer key for the target (never printed).")
@click.option("--model", envvar="INFERCHECK_MODEL", show_envvar=True,
              help="Model to test. Default: the first id from GET /models.")
@click.option("--concurrency", type=click.IntRange(min=1), default=_engine.DEFAULT_CONCURRENCY, show_default=True,
              help="Requests in flight at once; 1 is strictly sequential.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_TIMEOUT, show_default=True,
              help="Seconds allowed for each request, streamed body included.")
@click.option("--profile", envvar="INFERCHECK_PROFILE", show_envvar=True, default=_profiles.DEFAULT, show_default=True,
              help=f"Which documented variations count as deviations: {', '.join(_profiles.names())}, "
                   "or a path to a profile .toml.")
@click.option("--max-requests", type=click.IntRange(min=1), envvar="INFERCHECK_MAX_REQUESTS", show_envvar=True,
              help="Send at most this many requests (discovery included); the cases beyond are skipped.")
@click.option("--max-examples", type=click.IntRange(min=1), envvar="INFERCHECK_MAX_EXAMPLES", show_envvar=True,
              help=f"Generated requests per property suite [default: {_properties.DEFAULT_MAX_EXAMPLES}, or the "
                   "hypothesis profile's].")
@click.option("--seed", type=int, envvar="INFERCHECK_SEED", show_envvar=True,
              help="Seed of the property suites, to repeat a run exactly [default: random, printed].")
@click.option("--hypothesis-profile", envvar="INFERCHECK_HYPOTHESIS_PROFILE", show_envvar=True,
              help="Hypothesis settings for the property suites: ci (derandomized) or thorough (200 per property).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the results document here.")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False), help="Write a JUnit XML report here.")
@click.option("--allure", "allure_dir", type=click.Path(file_okay=False), help="Write Allure results here.")
@click.option("--fault", "faults", multiple=True, callback=_fault_names,
              help="Plant a fault in the embedded endpoint (repeatable; for demonstrations and self-tests).")
@click.option("-k", "keyword", help="Only run checks whose id matches this pytest -k expression.")
@click.option("-v", "--verbose", is_flag=True, help="List every check as it runs.")
def run(base_url, api, task, load_wait, api_key, model, concurrency, timeout, profile, max_requests, max_examples, seed, hypothesis_profile,
        json_path, junit_path, allure_dir, faults, keyword, verbose):
    """Run the conformance suites against a target (default: the embedded reference endpoint)."""
    import pytest

    from .plugin import Preset

    console = Console(stderr=False, highlight=False)
    if faults and base_url:
        _die("--fault plants faults in the embedded endpoint; it cannot be used with --base-url")
    try:
        api, task = choose_api(api, task)
    except TargetError as exc:
        _die(str(exc))
    try:
        chosen = _profiles.load(profile)
    except _profiles.ProfileError as exc:
        _die(str(exc))
    started = time.perf_counter()
    with ExitStack() as stack:
        try:
            url = base_url or stack.enter_context(embedded(api_key=api_key, model=model, faults=faults, api=api,
                                                           task=task))
            target = resolve(url, api_key=api_key, model=model, timeout=timeout, api=api, task=task,
                             load_wait=load_wait)
        except TargetError as exc:
            _die(str(exc))
        target.embedded = not base_url
        where = "embedded reference endpoint" if target.embedded else target.base_url
        what = f"task [cyan]{escape(task)}[/]" if api == "hf" else (
            ("TGI model" if api == "tgi" else "model") + f" [cyan]{escape(target.model)}[/]")
        console.print(f"[bold]infercheck {__version__}[/] checking [cyan]{escape(where)}[/] {what} "
                      f"profile [cyan]{escape(chosen.name)}[/]" + (f" with faults {', '.join(faults)}" if faults else ""))
        waited = max((e.waited for e in target.discovery), default=0)
        if waited:
            console.print(f"the model was loading: waited {waited:.1f} s (503 with estimated_time)")
        # Only the plugins a run needs: faster, and other installed plugins cannot change a verdict.
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        args = [str(data_dir("suites")), "-p", "infercheck.plugin", "-q", "--tb=no", "-rN", "--no-header",
                "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning",
                "--rootdir", str(data_dir("suites")), "--confcutdir", str(data_dir("suites")),
                "--infercheck-concurrency", str(concurrency), "--infercheck-profile", profile,
                "--infercheck-api", api] + (["--infercheck-task", task] if task else [])
        if max_requests:
            args += ["--infercheck-max-requests", str(max_requests)]
        if max_examples:
            args += ["--infercheck-max-examples", str(max_examples)]
        if seed is not None:
            args += ["--infercheck-seed", str(seed)]
        if hypothesis_profile:
            args += ["--infercheck-hypothesis-profile", hypothesis_profile]
        if json_path:
            args += ["--infercheck-json", json_path]
        if junit_path:
            args += ["--junitxml", junit_path]
        if allure_dir:
            args += ["-p", "allure_pytest.plugin", "--alluredir", allure_dir]
        if keyword:
            args += ["-k", keyword]
        if verbose:
            args.append("-v")
        preset = Preset(target)
        code = pytest.main(args, plugins=[preset])
    elapsed = time.perf_counter() - started
    if preset.state is None or preset.state.runner is None:
        _die(f"the suites did not run (pytest exit status {int(code)})")
    _summarise(console, preset.state.runner, elapsed)
    if preset.state.seed is not None:
        console.print(f"property seed: {preset.state.seed} (repeat this run with --seed {preset.state.seed})")
    if code == pytest.ExitCode.OK:
        sys.exit(EXIT_OK)
    if code == pytest.ExitCode.TESTS_FAILED:
        sys.exit(EXIT_FAILED)
    _die(f"pytest stopped with exit status {int(code)}")


def _summarise(console: Console, runner: _engine.Runner, elapsed: float) -> None:
    from ._report import summary

    results = runner.results
    failures = [r for r in results if r.outcome is Outcome.FAILED]
    deviations = [r for r in results if r.outcome is Outcome.DEVIATION]
    # deviations: one paragraph per allowance, naming every result it covered
    grouped: dict[str, list] = {}
    for r in deviations:
        grouped.setdefault(r.allowance.id if r.allowance else r.check, []).append(r)
    for name, group in grouped.items():
        first = group[0]
        console.print(f"\n[yellow bold]DEVIATION[/] [bold]{escape(name)}[/] ({len(group)} result(s)): "
                      f"{escape(first.allowance.reason if first.allowance else first.message)}")
        if first.allowance:
            console.print(f"  evidence: {first.allowance.evidence}", markup=False, soft_wrap=True)
        console.print("  seen in: " + ", ".join(f"{r.case}/{r.check}" for r in group[:8])
                      + (f" and {len(group) - 8} more" if len(group) > 8 else ""), markup=False, soft_wrap=True)
        console.print("  e.g. " + first.message.split("\nseen: ", 1)[-1], markup=False, soft_wrap=True)
    for r in failures:
        console.print(f"\n[red bold]FAILED[/] {escape(f'[{r.severity}]')} [bold]{r.check}[/]: {r.title}")
        console.print(r.render().split("\n", 1)[1], markup=False, soft_wrap=True)
    counts = summary(results)
    stats = runner.stats()
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("passed", "failed", "deviations", "skipped", "requests", "completion tokens", "seconds"):
        table.add_column(column, justify="right")
    table.add_row(str(counts["passed"]), str(counts["failed"]), str(counts["deviations"]), str(counts["skipped"]),
                  str(stats["requests"]), str(stats["completion_tokens"]), f"{elapsed:.2f}")
    console.print()
    console.print(table)
    if stats["loading_waited_s"]:
        console.print(f"model loading: requests waited up to {stats['loading_waited_s']:g} s "
                      "(503 'currently loading' with estimated_time, waited out)")
    if failures:
        verdict = f"[red bold]NOT CONFORMANT[/]: {len(failures)} failed"
    elif deviations:
        verdict = (f"[green bold]CONFORMANT[/] with {len(deviations)} documented deviation(s) allowed by profile "
                   f"{escape(runner.profile.name)}")
    else:
        verdict = "[green bold]CONFORMANT[/]"
    console.print(f"verdict: {verdict}")


def _die(message: str) -> None:
    click.echo(f"infercheck: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--api-key", help="Require this bearer key.")
@click.option("--model", default=None, help="The model name to serve [default: infercheck-tiny].")
@click.option("--task", type=click.Choice(TASKS), metavar="TASK",
              help="Also serve this Hugging Face task at POST / (every task is served at /models/<task>).")
@click.option("--fault", "faults", multiple=True, callback=_fault_names, help="Plant a fault (repeatable).")
@click.option("--list-faults", is_flag=True, help="List the fault modes and exit.")
def serve(host, port, api_key, model, task, faults, list_faults):
    """Serve the conformant reference endpoint: OpenAI-style under /v1, TGI's native routes, and every Hugging
    Face task under /models/<task>."""
    from .serve import DEFAULT_MODEL, FAULTS, QUIRKS, create_app

    if list_faults:
        for name, description in {**FAULTS, **QUIRKS}.items():
            click.echo(f"{name:24} {description}")
        return
    import uvicorn

    click.echo(f"infercheck reference endpoint: http://{host}:{port}/v1 model {model or DEFAULT_MODEL}"
               + (f" faults {', '.join(faults)}" if faults else ""))
    click.echo(f"  TGI: http://{host}:{port}/generate, /generate_stream, /info; tasks: http://{host}:{port}/models/<task>"
               + (f"; task {task}: POST http://{host}:{port}/" if task else ""))
    try:
        uvicorn.run(create_app(api_key=api_key, model=model or DEFAULT_MODEL, faults=faults, task=task),
                    host=host, port=port, log_level="warning")
    except (OSError, SystemExit) as exc:
        _die(f"cannot serve on {host}:{port}: {exc}")


@main.command("checks")
def list_checks():
    """List the registered checks."""
    for chk in registry().values():
        click.echo(f"{chk.id:22} {chk.severity:9} {chk.title}")


@main.command("cases")
@click.option("--api", type=click.Choice(APIS), default="openai", show_default=True,
              help="Whose cases: the OpenAI-style API's, TGI's, or the Hugging Face tasks'.")
def list_cases(api):
    """List the cases a run sends, and what a default run costs at most."""
    from . import _cases

    cases = _cases.load(api)
    for case in cases:
        bound = _cases.token_bound(case)
        tokens = "unbounded" if bound is None else f"<= {bound} tokens" if bound else ""
        where = case.path or f"<{case.route} endpoint>"
        click.echo(f"{case.id:42} {case.method:4} {where:30} {tokens}")
    if api != "openai":
        keyless = [c for c in cases if not c.auth]
        per_task = "; a task endpoint is sent only its own task's cases" if api == "hf" else ""
        click.echo(f"\n{len(cases)} requests at most ({len(keyless)} without an API key){per_task}")
        return
    total = _cases.cost(cases)
    keyless = _cases.cost([c for c in cases if not c.auth])
    click.echo(f"\nat most {total['requests']} requests ({keyless['requests']} without an API key) and "
               f"{total['completion_tokens']} completion tokens from a conformant endpoint")
    generated = _properties.cost()
    click.echo(f"property suites (--max-examples {_properties.DEFAULT_MAX_EXAMPLES}): at most {generated['requests']} "
               f"generated requests and {generated['completion_tokens']} completion tokens from a conformant endpoint; "
               f"shrinking a failure may take up to {generated['shrinking']} requests per suite")


if __name__ == "__main__":
    main()
