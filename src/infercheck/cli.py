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

from . import _engine
from ._checks import Outcome, registry
from ._resources import data_dir
from ._target import DEFAULT_TIMEOUT, TargetError, embedded, resolve
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
              help="OpenAI-style base URL including /v1. Omitted: the embedded reference endpoint is tested.")
@click.option("--api-key", envvar=["INFERCHECK_API_KEY", "OPENAI_API_KEY"], show_envvar=True,
              help="Bearer key for the target (never printed).")
@click.option("--model", envvar="INFERCHECK_MODEL", show_envvar=True,
              help="Model to test. Default: the first id from GET /models.")
@click.option("--concurrency", type=click.IntRange(min=1), default=_engine.DEFAULT_CONCURRENCY, show_default=True,
              help="Requests in flight at once; 1 is strictly sequential.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_TIMEOUT, show_default=True,
              help="Seconds allowed for each request, streamed body included.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the results document here.")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False), help="Write a JUnit XML report here.")
@click.option("--allure", "allure_dir", type=click.Path(file_okay=False), help="Write Allure results here.")
@click.option("--fault", "faults", multiple=True, callback=_fault_names,
              help="Plant a fault in the embedded endpoint (repeatable; for demonstrations and self-tests).")
@click.option("-k", "keyword", help="Only run checks whose id matches this pytest -k expression.")
@click.option("-v", "--verbose", is_flag=True, help="List every check as it runs.")
def run(base_url, api_key, model, concurrency, timeout, json_path, junit_path, allure_dir, faults, keyword, verbose):
    """Run the conformance suites against a target (default: the embedded reference endpoint)."""
    import pytest

    from .plugin import Preset

    console = Console(stderr=False, highlight=False)
    if faults and base_url:
        _die("--fault plants faults in the embedded endpoint; it cannot be used with --base-url")
    started = time.perf_counter()
    with ExitStack() as stack:
        try:
            url = base_url or stack.enter_context(embedded(api_key=api_key, model=model, faults=faults))
            target = resolve(url, api_key=api_key, model=model, timeout=timeout)
        except TargetError as exc:
            _die(str(exc))
        target.embedded = not base_url
        where = "embedded reference endpoint" if target.embedded else target.base_url
        console.print(f"[bold]infercheck {__version__}[/] checking [cyan]{where}[/] model [cyan]{target.model}[/]"
                      + (f" with faults {', '.join(faults)}" if faults else ""))
        # Only the plugins a run needs: faster, and other installed plugins cannot change a verdict.
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        args = [str(data_dir("suites")), "-p", "infercheck.plugin", "-q", "--tb=no", "-rN", "--no-header",
                "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning",
                "--rootdir", str(data_dir("suites")), "--confcutdir", str(data_dir("suites")),
                "--infercheck-concurrency", str(concurrency)]
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
    for r in failures + deviations:
        colour = "red" if r.outcome is Outcome.FAILED else "yellow"
        console.print(f"\n[{colour} bold]{r.outcome.value.upper()}[/] {escape(f'[{r.severity}]')} [bold]{r.check}[/]: {r.title}")
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
    verdict = "[green bold]CONFORMANT[/]" if not failures else f"[red bold]NOT CONFORMANT[/]: {len(failures)} failed"
    console.print(f"verdict: {verdict}")


def _die(message: str) -> None:
    click.echo(f"infercheck: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--api-key", help="Require this bearer key.")
@click.option("--model", default=None, help="The model name to serve [default: infercheck-tiny].")
@click.option("--fault", "faults", multiple=True, callback=_fault_names, help="Plant a fault (repeatable).")
@click.option("--list-faults", is_flag=True, help="List the fault modes and exit.")
def serve(host, port, api_key, model, faults, list_faults):
    """Serve the conformant reference endpoint (OpenAI-style, under /v1)."""
    from .serve import DEFAULT_MODEL, FAULTS, QUIRKS, create_app

    if list_faults:
        for name, description in {**FAULTS, **QUIRKS}.items():
            click.echo(f"{name:24} {description}")
        return
    import uvicorn

    click.echo(f"infercheck reference endpoint: http://{host}:{port}/v1 model {model or DEFAULT_MODEL}"
               + (f" faults {', '.join(faults)}" if faults else ""))
    try:
        uvicorn.run(create_app(api_key=api_key, model=model or DEFAULT_MODEL, faults=faults),
                    host=host, port=port, log_level="warning")
    except (OSError, SystemExit) as exc:
        _die(f"cannot serve on {host}:{port}: {exc}")


@main.command("checks")
def list_checks():
    """List the registered checks."""
    for chk in registry().values():
        click.echo(f"{chk.id:22} {chk.severity:9} {chk.title}")


if __name__ == "__main__":
    main()
