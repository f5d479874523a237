"""The ``infercheck`` command: ``run`` the conformance suites, ``serve`` the reference endpoint, list ``checks``."""

from __future__ import annotations

import atexit
import functools
import gc
import os
import re
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import _baseline, _config, _engine, _profiles, _properties
from ._checks import INTERNAL, INTERNAL_TITLE, Outcome, Result, registry
from ._crash import crash
from ._progress import RunProgress
from ._report import EXIT_FAILED, EXIT_INCOMPLETE, EXIT_OK, FAIL_ON, RESULTS_SCHEMA, summary, verdict
from ._resources import data_dir
from ._target import (ALL_TASKS, APIS, DEFAULT_BREAKER, DEFAULT_LOAD_WAIT, DEFAULT_TIMEOUT, TargetError, choose_api,
                      embedded, resolve)
from ._transport import DEFAULT_MAX_BODY, DEFAULT_MAX_EVENTS, DEFAULT_MAX_RETRIES, parse_size
from ._tasks import TASKS
from ._version import __version__



def _fault_names(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    from .serve._faults import check_names

    try:
        return check_names([n for v in value for n in v.split(",") if n])
    except ValueError as exc:
        raise click.BadParameter(f"{str(exc).split(';')[0]}; see `infercheck serve --list-faults`") from None


def _shrink_budget(value: str) -> str:
    try:
        _properties.parse_shrink_budget(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


class _Size(click.ParamType):
    name = "size"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        try:
            return parse_size(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _guarded(command):
    """A crash anywhere in ``command`` is an internal error: one clear paragraph and exit 2, never a bare
    traceback, and never after a verdict (the verdict is the last thing a run prints)."""

    @functools.wraps(command)
    def guarded(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:
            from ._report import redact

            found = crash(exc)
            keys = _keys()
            click.echo(redact(f"infercheck: internal error: {found.summary}" + (f"\n  at {found.where}" if found.where
                                                                              else ""), keys)
                       + "\nthe run is incomplete: nothing was decided about the endpoint", err=True)
            click.echo(redact(found.traceback.rstrip(), keys) if kwargs.get("verbose")
                       else "  (the whole traceback: add -v)", err=True)
            sys.exit(EXIT_INCOMPLETE)

    return guarded


def _writable(option: str, path: str | None, *, directory: bool = False) -> None:
    """Output paths are checked before the run: a bad one is bad input, not a failure found after the run."""
    if path is None:
        return
    parent = Path(path).resolve() if directory else Path(path).resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _die(f"{option} {path}: cannot create {parent}: {exc.strerror or exc}")
    if not os.access(parent, os.W_OK):
        _die(f"{option} {path}: {parent} is not writable")


# keys of the configuration file -> parameters of `infercheck run`
_RUN_PARAMS = {"json": "json_path", "junit": "junit_path", "allure": "allure_dir", "markdown": "markdown_path",
               "html": "html_path", "baseline": "baseline_path"}


def entry() -> None:
    """The ``infercheck`` command (and ``python -m infercheck``): ``main``, in a process of its own. Its objects are
    frozen at exit, after every other exit handler, so the interpreter does not walk them all again to collect
    garbage before it ends (a run holds every answer and the property suites' strategies: a fifth of a second)."""
    atexit.register(gc.freeze)  # registered first, run last
    main()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="infercheck")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="The configuration file [default: ./infercheck.toml, or [tool.infercheck] in pyproject.toml, "
                   "found from the working directory up; INFERCHECK_CONFIG names another, or none when empty].")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Contract tests for LLM inference endpoints."""
    if ctx.invoked_subcommand not in ("run", "compare"):
        return
    try:
        config = _config.load(config_path)
        run_defaults = {_RUN_PARAMS.get(k, k): v for k, v in config.resolved(config.run, "").items()}
    except _config.ConfigError as exc:
        _die(str(exc))
    ctx.obj = config
    ctx.default_map = {"run": run_defaults}


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
@click.option("--max-body", type=_Size(), default=str(DEFAULT_MAX_BODY), show_default="8MiB", envvar="INFERCHECK_MAX_BODY",
              show_envvar=True, help="Bytes of one answer read at most (e.g. 8MiB, 500k); a longer one is cut there and "
                                     "fails.")
@click.option("--max-events", type=click.IntRange(min=1), default=DEFAULT_MAX_EVENTS, show_default=True,
              envvar="INFERCHECK_MAX_EVENTS", show_envvar=True,
              help="Events of one streamed answer read at most; a longer stream is cut there and fails.")
@click.option("--max-retries", type=click.IntRange(min=0), default=DEFAULT_MAX_RETRIES, show_default=True,
              envvar="INFERCHECK_MAX_RETRIES", show_envvar=True,
              help="Times one request answered 429 is sent again, after its Retry-After (within --load-wait).")
@click.option("--breaker", type=click.IntRange(min=0), default=DEFAULT_BREAKER, show_default=True,
              envvar="INFERCHECK_BREAKER", show_envvar=True,
              help="Requests in a row to one route that time out or are refused before the rest of that route's "
                   "requests are not sent (each then fails: the endpoint stopped answering); 0: never.")
@click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False), envvar="INFERCHECK_CA_BUNDLE", show_envvar=True,
              help="Verify the endpoint's TLS certificate against the CAs in this PEM file alone (a private CA).")
@click.option("--insecure", is_flag=True, envvar="INFERCHECK_INSECURE", show_envvar=True,
              help="Do not verify the endpoint's TLS certificate (the report says so; curl commands carry -k).")
@click.option("--profile", envvar="INFERCHECK_PROFILE", show_envvar=True, default=_profiles.DEFAULT, show_default=True,
              help=f"Which documented variations count as deviations: {', '.join(_profiles.names())}, "
                   "or a path to a profile .toml.")
@click.option("--max-requests", type=click.IntRange(min=1), envvar="INFERCHECK_MAX_REQUESTS", show_envvar=True,
              help="Send at most this many requests (discovery included); the cases beyond are skipped.")
@click.option("--max-tokens", type=click.IntRange(min=1), envvar="INFERCHECK_MAX_TOKENS", show_envvar=True,
              help="Generate at most this many completion tokens in all (counted from usage or the stream; each "
                   "request reserves its max_tokens x n first): a hard ceiling; the requests beyond are skipped.")
@click.option("--max-examples", type=click.IntRange(min=1), envvar="INFERCHECK_MAX_EXAMPLES", show_envvar=True,
              help=f"Generated requests per property suite [default: {_properties.DEFAULT_MAX_EXAMPLES}, or the "
                   "hypothesis profile's].")
@click.option("--shrink-budget", envvar="INFERCHECK_SHRINK_BUDGET", show_envvar=True,
              default=f"{_properties.DEFAULT_SHRINK_BUDGET[0]}:{_properties.DEFAULT_SHRINK_BUDGET[1]:g}", show_default=True,
              callback=lambda ctx, param, value: _shrink_budget(value),
              help="After a property suite's first failure, at most REQUESTS:SECONDS more of it (shrinking); 0 "
                   "shrinks nothing.")
@click.option("--seed", type=int, envvar="INFERCHECK_SEED", show_envvar=True,
              help="Seed of the property suites, to repeat a run exactly [default: random, printed].")
@click.option("--hypothesis-profile", envvar="INFERCHECK_HYPOTHESIS_PROFILE", show_envvar=True,
              help="Hypothesis settings for the property suites: ci (derandomized) or thorough (200 per property).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the results document here.")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False), help="Write a JUnit XML report here.")
@click.option("--allure", "allure_dir", type=click.Path(file_okay=False), help="Write Allure results here.")
@click.option("--markdown", "markdown_path", type=click.Path(dir_okay=False),
              help="Write a Markdown summary here (verdict, counts, latency, failures with their curl), fit for "
                   "$GITHUB_STEP_SUMMARY.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False),
              help="Write the run as a self-contained HTML page here (the comparison page, for one target).")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="failed", show_default=True, envvar="INFERCHECK_FAIL_ON",
              show_envvar=True, help="Which outcomes give exit 1: failures, failures and deviations, or none. "
                                     "Internal errors always give exit 2.")
@click.option("--baseline", "baseline_path", type=click.Path(dir_okay=False), envvar="INFERCHECK_BASELINE",
              show_envvar=True, help="Report the failures this baseline records as known (not failing the run), "
                                     "and those of them that now pass.")
@click.option("--write-baseline", "write_baseline", type=click.Path(dir_okay=False),
              help="Write this run's failures (by case and check, each with a reason to fill in) to a baseline.")
@click.option("--fault", "faults", multiple=True, callback=_fault_names,
              help="Plant a fault in the embedded endpoint (repeatable; for demonstrations and self-tests).")
@click.option("-k", "keyword", help="Only run checks whose id matches this pytest -k expression.")
@click.option("-v", "--verbose", is_flag=True, help="List every check as it runs; print internal errors' tracebacks.")
@_guarded
def run(base_url, api, task, load_wait, api_key, model, concurrency, timeout, max_body, max_events, max_retries,
        breaker, ca_bundle, insecure, profile, max_requests, max_tokens, max_examples, shrink_budget, seed,
        hypothesis_profile, json_path, junit_path, allure_dir, markdown_path, html_path, fail_on, baseline_path,
        write_baseline, faults, keyword, verbose):
    """Run the conformance suites against a target (default: the embedded reference endpoint)."""
    import pytest

    from .plugin import Preset

    console = Console(stderr=False, highlight=False)
    if api_key:
        _KEYS.append(api_key)
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
    if baseline_path:
        try:
            baseline = _baseline.load(baseline_path)
        except _baseline.BaselineError as exc:
            _die(str(exc))
    _writable("--json", json_path)
    _writable("--write-baseline", write_baseline)
    _writable("--junit", junit_path)
    _writable("--markdown", markdown_path)
    _writable("--html", html_path)
    _writable("--allure", allure_dir, directory=True)
    started = time.perf_counter()
    with ExitStack() as stack:
        try:
            url = base_url or stack.enter_context(embedded(api_key=api_key, model=model, faults=faults, api=api,
                                                           task=task))
            target = resolve(url, api_key=api_key, model=model, timeout=timeout, api=api, task=task,
                             load_wait=load_wait, max_body=max_body, max_events=max_events, max_retries=max_retries,
                             breaker=breaker, ca_bundle=ca_bundle, insecure=insecure)
        except TargetError as exc:
            _die(str(exc))
        target.embedded = not base_url
        where = "embedded reference endpoint" if target.embedded else target.base_url
        what = f"task [cyan]{escape(task)}[/]" if api == "hf" else (
            ("TGI model" if api == "tgi" else "model") + f" [cyan]{escape(target.model)}[/]")
        console.print(f"[bold]infercheck {__version__}[/] checking [cyan]{escape(where)}[/] {what} "
                      f"profile [cyan]{escape(chosen.name)}[/]" + (f" with faults {', '.join(faults)}" if faults else ""))
        if target.tls.describe():
            console.print(f"[yellow]{escape(target.tls.describe())}[/]", soft_wrap=True)
        waited = max((e.waited for e in target.discovery), default=0)
        if waited:
            console.print(f"the model was loading: waited {waited:.1f} s (503 with estimated_time)")
        # Only the plugins a run needs: faster, and other installed plugins cannot change a verdict.
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        # On a terminal a progress bar replaces pytest's dots (two writers would garble each other's lines)
        bar = console.is_terminal and not verbose
        quiet = ["-p", "no:terminal"] if bar else ["-q", "--tb=no", "-rN", "--no-header"]
        # No cache, and no garbage collection after each test and at the end to find unraisable exceptions: the run
        # decides nothing from either, and a full collection of its answers costs a tenth of a second each time
        args = [str(data_dir("suites")), "-p", "infercheck.plugin", *quiet, "-p", "no:cacheprovider",
                "-p", "no:unraisableexception", "-W", "ignore::pytest.PytestAssertRewriteWarning",
                "--rootdir", str(data_dir("suites")), "--confcutdir", str(data_dir("suites")),
                "--infercheck-concurrency", str(concurrency), "--infercheck-profile", profile,
                "--infercheck-api", api] + (["--infercheck-task", task] if task else [])
        if max_requests:
            args += ["--infercheck-max-requests", str(max_requests)]
        if max_tokens:
            args += ["--infercheck-max-tokens", str(max_tokens)]
        if max_examples:
            args += ["--infercheck-max-examples", str(max_examples)]
        if seed is not None:
            args += ["--infercheck-seed", str(seed)]
        args += ["--infercheck-shrink-budget", shrink_budget]
        if hypothesis_profile:
            args += ["--infercheck-hypothesis-profile", hypothesis_profile]
        if json_path:
            args += ["--infercheck-json", json_path]
        if baseline_path:
            args += ["--infercheck-baseline", baseline_path]
        if write_baseline:
            args += ["--infercheck-write-baseline", write_baseline]
        plugins: list[object] = [preset := Preset(target)]
        if allure_dir:
            from allure_pytest import plugin as allure_plugin  # autoloading is off: the run names what it uses

            plugins.append(allure_plugin)
            args += ["--alluredir", allure_dir]
        if keyword:
            args += ["-k", keyword]
        if verbose:
            args.append("-v")
        with RunProgress(console, lambda: preset.state, _planned(api, max_examples)) if bar else ExitStack():
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
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) and not counts["errors"]:
        results.append(_stopped(f"pytest stopped with exit status {int(code)} ({code.name.lower()})"))
    elif code == pytest.ExitCode.TESTS_FAILED and not (counts["failed"] or counts["errors"]):
        results.append(_stopped("pytest reported failed tests for which infercheck recorded no result"))
    stats = state.runner.stats() if state.runner else {"requests": 0, "completion_tokens": 0, "loading_waited_s": 0, "retried": 0}
    metrics = state.runner.metrics() if state.runner else None
    if state.runner and junit_path:
        from ._outputs import junit

        junit.write(junit_path, results, state.target_info(), stats, fail_on=fail_on)
    if state.runner and (markdown_path or html_path):
        _write_pages(state, results, markdown_path, html_path, fail_on)
    status = _summarise(console, results, stats, state.runner.profile.name if state.runner else chosen.name,
                        elapsed, verbose=verbose, seed=state.seed, metrics=metrics, fail_on=fail_on,
                        baseline=baseline if baseline_path else None)
    sys.exit(status)


def _planned(api: str, max_examples: int | None) -> int:
    """At most how many requests a run sends (the cases, and the property suites at their default size)."""
    from . import _cases

    cases = _cases.cost(_cases.load(api))["requests"] if api == "openai" else len(_cases.load(api))
    generated = _properties.cost(max_examples or _properties.DEFAULT_MAX_EXAMPLES)["requests"] if api == "openai" else 0
    return cases + generated


def _write_pages(state, results: list[Result], markdown_path: str | None, html_path: str | None,
                 fail_on: str) -> None:
    """The run's Markdown summary and HTML page, from the same results document as --json."""
    from . import _report
    from ._outputs import comparison, html, markdown

    doc = _report.document(target=state.target_info(), results=results, stats=state.runner.stats(),
                           metrics=state.runner.metrics(), samples=state.runner.latency_samples())
    if markdown_path:
        Path(markdown_path).write_text(markdown.run_summary(doc, fail_on=fail_on), encoding="utf-8")
    if html_path:
        name = "embedded" if doc["target"]["embedded"] else doc["target"]["model"]
        page = comparison.build([comparison.Run(name, doc)], seed=state.seed,
                                schedule={"mode": "sequential", "why": "one target"})
        Path(html_path).write_text(html.page(page, title=f"infercheck: {name}"), encoding="utf-8")


def _stopped(why: str) -> Result:
    """An internal error standing for a pytest session that ended abnormally: not every check was decided."""
    return Result(INTERNAL, "session", Outcome.ERROR, "critical", INTERNAL_TITLE, f"internal error: {why}")


def _summarise(console: Console, results: list[Result], stats: dict, profile: str, elapsed: float, *,
               verbose: bool, seed: int | None, metrics: dict | None = None, fail_on: str = "failed",
               baseline: _baseline.Baseline | None = None) -> int:
    """Print internal errors, deviations, failures, the table and the verdict; return the exit status."""
    failures = [r for r in results if r.outcome is Outcome.FAILED]
    deviations = [r for r in results if r.outcome is Outcome.DEVIATION]
    _print_errors(console, [r for r in results if r.outcome is Outcome.ERROR], verbose=verbose)
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
    # failures: one paragraph per check and message; the same failure of many cases (a stopped endpoint, one
    # timeout after another) names the other cases instead of repeating itself
    same: dict[tuple[str, str], list[Result]] = {}
    for r in failures:
        same.setdefault((r.check, r.message), []).append(r)
    for group in same.values():
        r = group[0]
        console.print(f"\n[red bold]FAILED[/] {escape(f'[{r.severity}]')} [bold]{r.check}[/]: {r.title}")
        console.print(r.render().split("\n", 1)[1], markup=False, soft_wrap=True)
        if len(group) > 1:
            others = [o.case for o in group[1:]]
            console.print(f"  the same failure in {len(others)} more case(s): " + ", ".join(others[:8])
                          + (f" and {len(others) - 8} more" if len(others) > 8 else ""), markup=False, soft_wrap=True)
    if baseline is not None:
        known = [r for r in results if r.outcome is Outcome.KNOWN]
        if known:
            console.print(f"\n[cyan bold]KNOWN[/] {len(known)} failure(s) recorded in baseline {escape(baseline.path)}: "
                          + ", ".join(f"{r.case}/{r.check}" for r in known[:8])
                          + (f" and {len(known) - 8} more" if len(known) > 8 else ""), soft_wrap=True)
        fixed = baseline.fixed(results)
        if fixed:
            console.print(f"\n[green bold]FIXED[/] {len(fixed)} failure(s) of baseline {escape(baseline.path)} now pass "
                          "(remove them from it): " + ", ".join(f"{c}/{k}" for c, k in fixed), soft_wrap=True)
    counts = summary(results)
    columns = ["passed", "failed", "errors", "deviations", "skipped"] + (["known"] if counts["known"] else [])
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False, collapse_padding=True)
    for column in (*columns, "requests", "completion tokens", "seconds"):
        table.add_column(column, justify="right")
    table.add_row(*(str(counts[c]) for c in columns), str(stats["requests"]), str(stats["completion_tokens"]),
                  f"{elapsed:.2f}")
    console.print()
    console.print(table)
    if metrics and any(figure["n"] for figure in metrics.values()):
        console.print()
        console.print(_latency_table(metrics))
    if stats["loading_waited_s"]:
        console.print(f"model loading: requests waited up to {stats['loading_waited_s']:g} s "
                      "(503 'currently loading' with estimated_time, waited out)")
    if stats.get("resent_after_wait"):
        console.print(f"waiting: {stats['resent_after_wait']} request(s) sent again after a 503 'loading' or 429 "
                      f"'rate limited' answer, {stats['waited_s']:g} s waited in all; checks judged the final answers",
                      soft_wrap=True)
    if stats.get("abandoned"):
        console.print(f"circuit breaker: {stats['abandoned']} case(s) not sent: the endpoint had stopped answering "
                      "their route (--breaker)", soft_wrap=True)
    spent = [r for r in results if r.outcome is Outcome.SKIPPED and "budget is spent (--max-" in r.message]
    if spent or "max_tokens" in stats:
        tokens = (f"; {stats['tokens_counted']} generated tokens counted against --max-tokens {stats['max_tokens']}"
                  if "max_tokens" in stats else "")
        console.print(f"budget: {len(spent)} check(s) skipped because a budget was spent{tokens}", soft_wrap=True)
    if stats.get("retried"):
        console.print(f"transport: {stats['retried']} request(s) got no answer (a lost connection, or a generated "
                      "request's timeout while others were in flight) or a stream that ended before its finish_reason "
                      "while others were in flight, and were sent again, alone, on a fresh connection; the second "
                      "answers were judged", soft_wrap=True)
    if seed is not None:
        console.print(f"property seed: {seed} (repeat this run with --seed {seed})")
    text, status = verdict(counts, fail_on)
    label, colon, rest = text.partition(":")
    if status == EXIT_OK and deviations and label == "CONFORMANT":
        rest = f" with {len(deviations)} documented deviation(s) allowed by profile {profile}"
    colour = {EXIT_OK: "green", EXIT_FAILED: "red"}.get(status, "magenta")
    if label == "NOT CONFORMANT" and status == EXIT_OK:
        colour, rest = "yellow", rest + " (exit 0: --fail-on never)"
    console.print(f"verdict: [{colour} bold]{escape(label)}[/]{escape(colon + rest)}")
    return status


def _latency_table(metrics: dict) -> Table:
    """The latency figures: p50, p95, max and samples of each (src/infercheck/_metrics.py defines them)."""
    from ._outputs.markdown import FIGURE_NAMES

    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False, collapse_padding=True)
    table.add_column("latency")
    for column in ("p50", "p95", "max", "samples"):
        table.add_column(column, justify="right")
    for name, figure in metrics.items():
        cells = ["-" if figure[k] is None else f"{figure[k]:.1f}" for k in ("p50", "p95", "max")]
        table.add_row(FIGURE_NAMES.get(name, name), *cells, str(figure["n"]))
    return table


_INTERNAL = re.compile(r"internal error (?:in )?(?P<what>.*?): (?P<cause>.*)", re.S)


def _print_errors(console: Console, errors: list[Result], *, verbose: bool) -> None:
    """Internal errors, one paragraph per distinct exception and place, naming every suite or check it broke."""
    grouped: dict[str, list[tuple[str, Result]]] = {}
    for r in errors:
        parsed = _INTERNAL.match(r.message)
        what, cause = (parsed["what"], parsed["cause"]) if parsed else (r.case, r.message)
        grouped.setdefault(cause, []).append((what or r.case, r))
    for cause, group in grouped.items():
        console.print(f"\n[magenta bold]INTERNAL ERROR[/] {escape(cause.rstrip())}", soft_wrap=True)
        named = [what for what, _ in group]
        console.print("  in: " + ", ".join(named[:6]) + (f" and {len(named) - 6} more" if len(named) > 6 else ""),
                      markup=False, soft_wrap=True)
        first = group[0][1]
        if verbose and first.traceback:
            console.print(first.traceback.rstrip(), markup=False, soft_wrap=True)
        elif first.traceback:
            console.print("  (the whole traceback: add -v)", markup=False)
_KEYS: list[str] = []  # the API keys of this command: redacted from anything it prints about an error


def _keys() -> list[str]:
    return [*_KEYS, *(os.environ[v] for v in ("INFERCHECK_API_KEY", "OPENAI_API_KEY", "HF_TOKEN") if os.environ.get(v))]


def _die(message: str) -> None:
    from ._report import redact

    click.echo(f"infercheck: error: {redact(message, _keys())}", err=True)
    sys.exit(EXIT_INCOMPLETE)


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
@click.pass_obj
@_guarded
def compare(config, targets_file, out_dir, seed):
    """Run the suites against every target of TARGETS_FILE ([targets.NAME] tables; default: those of the
    configuration file) and write them side by side. Without any, compares the embedded endpoint with itself
    under two planted faults."""
    import json
    import random

    from . import _compare
    from ._outputs import html, markdown

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
    _print_matrix(console, doc)
    console.print(f"\nwrote {out / 'comparison.json'}, {out / 'comparison.md'}, {out / 'comparison.html'}; each "
                  f"target's results and log under {out / 'targets'}")
    broken = [n for n, t in doc["targets"].items() if t["error"] or (t["summary"] or {}).get("errors")]
    if broken:
        console.print(f"[magenta bold]incomplete[/]: {', '.join(broken)} could not be checked in full; see "
                      "their logs")
        sys.exit(EXIT_INCOMPLETE)


_STYLE = {"passed": "green", "failed": "red bold", "deviation": "yellow", "skipped": "dim", "error": "magenta bold"}


def _print_matrix(console: Console, doc: dict) -> None:
    """The checks on which the targets differ or fail, a column per target."""
    names = list(doc["targets"])
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("check")
    for name in names:
        table.add_column(name)
    shown = 0
    for check, cells in doc["matrix"].items():
        outcomes = [cells[n] for n in names]
        if all(o in ("passed", "skipped") for o in outcomes):
            continue
        shown += 1
        table.add_row(check, *(f"[{_STYLE[o]}]{o}[/]" for o in outcomes))
    console.print()
    if shown:
        console.print(table)
    total = len(doc["matrix"])
    console.print(f"{total - shown} of {total} checks passed (or were skipped) on every target")


@main.command("report")
@click.argument("results", type=click.Path(dir_okay=False))
@click.option("--markdown", "markdown_path", required=True, type=click.Path(dir_okay=False),
              help="Write the page here.")
@click.option("--server", required=True, help="The server's name, the page's title.")
@click.option("--how", help="How the server was run, one line for the page's header.")
@_guarded
def report(results, markdown_path, server, how):
    """Turn a results document (infercheck run --json) into a server's compatibility page in Markdown: what it
    did against each check, and the evidence of every failure and deviation."""
    import json

    from . import _schemas, _server_doc

    try:
        doc = json.loads(Path(results).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        _die(f"{results}: cannot read a results document: {exc}")
    problem = next(iter(_schemas.validator(RESULTS_SCHEMA).iter_errors(doc)), None)
    if problem is not None:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in problem.absolute_path)
        _die(f"{results} is not an infercheck results document: ${where}: {problem.message}")
    _writable("--markdown", markdown_path)
    Path(markdown_path).write_text(_server_doc.markdown(doc, server=server, how=how), encoding="utf-8")
    click.echo(f"wrote {markdown_path}")


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
