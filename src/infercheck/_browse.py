"""The ``infercheck`` commands that read what a run would do or did, sending nothing: ``checks``, ``explain`` a
check, ``cases``, and ``report`` a results document."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from ._exit import die as _die
from ._exit import guarded as _guarded
from ._exit import writable as _writable
from .checks.base import SCHEMA_KINDS, kinds_of
from .checks.catalog import registry
from .contract import profiles as _profiles
from .contract.tasks import TASKS
from .engine.target import APIS
from .generation.requests import DEFAULT_MAX_EXAMPLES, cost
from .reports import console as _console
from .reports.results import RESULTS_SCHEMA

@click.command("report")
@click.argument("results", type=click.Path(dir_okay=False))
@click.option("--markdown", "markdown_path", type=click.Path(dir_okay=False),
              help="Write the server's compatibility page here (instead of the terminal view).")
@click.option("--server", help="The server's name, the page's title [default: the target's URL].")
@click.option("--how", help="How the server was run, one line for the page's header.")
@_guarded
def report(results, markdown_path, server, how):
    """Show a results document (infercheck run --json) as the run showed it: failures grouped by cause, most
    severe first, the counts, the latency and the verdict. With --markdown, write a server's compatibility page
    instead: what it did against each check, and the evidence of every failure and deviation."""
    import json

    from .contract import schemas as _schemas
    from .reports import server_page as _server_doc

    try:
        doc = json.loads(Path(results).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        _die(f"{results}: cannot read a results document: {exc}")
    problem = next(iter(_schemas.validator(RESULTS_SCHEMA).iter_errors(doc)), None)
    if problem is not None:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in problem.absolute_path)
        _die(f"{results} is not an infercheck results document: ${where}: {problem.message}")
    if markdown_path is None:
        from .reports.results import results_of

        stats, target = doc["stats"], doc["target"]
        _console.summarise(Console(highlight=False), results_of(doc), stats, target.get("profile", "openai"),
                           float(stats.get("duration_s") or 0), verbose=False, seed=target.get("seed"),
                           metrics=doc.get("metrics"), partial=doc.get("partial"),
                           interrupted=bool(doc.get("interrupted")))
        return
    _writable("--markdown", markdown_path)
    name = server or ("the embedded reference endpoint" if doc["target"].get("embedded") else doc["target"]["base_url"])
    Path(markdown_path).write_text(_server_doc.markdown(doc, server=name, how=how), encoding="utf-8")
    click.echo(f"wrote {markdown_path}")


def _apis_of(chk) -> list[str]:
    """The APIs whose cases ``chk`` judges (the property suites' requests are cases of the OpenAI-style API)."""
    from .contract import cases as _cases

    return [api for api in APIS if any(chk.applies(case) for case in _cases.load(api))]


@click.command("checks")
def list_checks():
    """List the registered checks: id, severity, the APIs whose answers it judges, title."""
    checks = list(registry().values())
    width = max(len(chk.id) for chk in checks)
    rows = [(chk, ",".join(_apis_of(chk)) or "-") for chk in checks]
    apis = max(len(a) for _, a in rows)
    click.echo(f"{'check':{width}}  {'severity':8}  {'apis':{apis}}  title")
    for chk, api in rows:
        click.echo(f"{chk.id:{width}}  {chk.severity:8}  {api:{apis}}  {chk.title}")


@click.command("explain")
@click.argument("check_id", metavar="CHECK")
def explain(check_id):
    """What one check checks: its title, severity, the cases it judges, what it says, and the profiles that allow
    what it finds (with their kinds and evidence)."""

    checks = registry()
    chk = checks.get(check_id)
    if chk is None:
        import difflib

        near = difflib.get_close_matches(check_id, list(checks), n=1)
        _die(f"no check {check_id!r}" + (f" (did you mean {near[0]!r}?)" if near else "; `infercheck checks` lists them"))
    from .contract import cases as _cases

    click.echo(f"{chk.id} [{chk.severity}]: {chk.title}")
    from inspect import getdoc

    doc = getdoc(chk.func)
    if doc:
        click.echo("\n" + doc)
    for api in _apis_of(chk):
        judged = [case.id for case in _cases.load(api) if chk.applies(case)]
        click.echo(f"\n{api}: judges {len(judged)} case(s): " + ", ".join(judged[:10])
                   + (f" and {len(judged) - 10} more" if len(judged) > 10 else ""))
    kinds = kinds_of(chk)
    if kinds:
        click.echo("\nkinds it reports (what a profile's [[allow]] kind names): " + ", ".join(
            "the JSON Schema keywords the answer breaks (type, required, enum, ...)" if k == SCHEMA_KINDS else k
            for k in kinds))
    from .serve._faults import FAULTS, proving

    faults = proving(chk.id)
    if faults:
        click.echo("\nthe faults of the reference endpoint that prove it can fail (infercheck run --fault NAME):")
        for fault in faults:
            click.echo(f"  {fault}: {FAULTS[fault]}")
    click.echo(f"\ncode: {chk.func.__module__}.{chk.func.__qualname__}")
    allowed = [(name, a) for name in _profiles.names() for a in _profiles.load(name).allowances if a.check == chk.id]
    if allowed:
        click.echo("\nallowed by profiles (an allowance names the kind of problem it covers):")
        for name, a in allowed:
            click.echo(f"  {name}: {a.id}" + (f" (kind {a.kind})" if a.kind else "") + f": {a.reason}")
            click.echo(f"    evidence: {a.evidence}")


@click.command("cases")
@click.option("--api", type=click.Choice(APIS), default="openai", show_default=True,
              help="Whose cases: the OpenAI-style API's, TGI's, or the Hugging Face tasks'.")
@click.option("--task", type=click.Choice(TASKS), metavar="TASK",
              help="Only this Hugging Face task's cases (implies --api hf), as a run with --task sends them.")
def list_cases(api, task):
    """List the cases a run sends, and what a default run costs at most."""
    from .contract import cases as _cases

    if task is not None:
        api = "hf"
    cases = [c for c in _cases.load(api) if task is None or c.route == task]
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
    generated = cost()
    click.echo(f"property suites (--max-examples {DEFAULT_MAX_EXAMPLES}): at most {generated['requests']} "
               f"generated requests and {generated['completion_tokens']} completion tokens from a conformant endpoint; "
               f"shrinking a failure may take up to {generated['shrinking']} requests per suite")
