"""The terminal report of ``infercheck run`` and ``infercheck compare``: internal errors, deviations and failures,
each cause one paragraph; the counts, the latency figures, what the budgets and the breaker did; the verdict."""

from __future__ import annotations

import re

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..checks.base import SEVERITIES, Outcome, Result
from ..checks.baseline import Baseline
from .markdown import FIGURE_NAMES
from .results import EXIT_FAILED, EXIT_OK, summary, verdict


def summarise(console: Console, results: list[Result], stats: dict, profile: str, elapsed: float, *,
               verbose: bool, seed: int | None, metrics: dict | None = None, fail_on: str = "failed",
               baseline: Baseline | None = None, partial: str | None = None, interrupted: bool = False,
               notes: list[str] | None = None) -> int:
    """Print internal errors, deviations, failures, the table and the verdict; return the exit status."""
    failures = [r for r in results if r.outcome is Outcome.FAILED]
    deviations = [r for r in results if r.outcome is Outcome.DEVIATION]
    print_errors(console, [r for r in results if r.outcome is Outcome.ERROR], verbose=verbose)
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
    # failures: one block per cause (check, kinds and message but for its numbers), the most severe and the most
    # shared first; one example with its curl, the other cases named on one line
    causes = by_cause(failures)
    for group in causes:
        r = group[0]
        shared = f" ({len(group)} cases)" if len(group) > 1 else ""
        console.print(f"\n[red bold]FAILED[/] {escape(f'[{r.severity}]')} [bold]{r.check}[/]: {r.title}{shared}")
        console.print(r.render().split("\n", 1)[1], markup=False, soft_wrap=True)
        if len(group) > 1:
            others = list(dict.fromkeys(o.case for o in group[1:]))
            console.print(f"  the same cause in {len(others)} more case(s): " + ", ".join(others[:8])
                          + (f" and {len(others) - 8} more" if len(others) > 8 else ""), markup=False, soft_wrap=True)
    if len(causes) > 1:
        console.print(f"\n{len(failures)} failure(s), {len(causes)} unique: by check", soft_wrap=True)
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False, collapse_padding=True)
        for column in ("check", "severity", "failures", "causes"):
            table.add_column(column, justify="left" if column in ("check", "severity") else "right")
        per: dict[str, list[list[Result]]] = {}
        for group in causes:
            per.setdefault(group[0].check, []).append(group)
        for check, groups in per.items():
            table.add_row(check, groups[0][0].severity, str(sum(len(g) for g in groups)), str(len(groups)))
        console.print(table)
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
        console.print(latency_table(metrics))
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
        console.print(f"transport: {stats['retried']} request(s) got no answer (a lost connection, or a timeout while "
                      "others were in flight) or a stream that ended before its finish_reason "
                      "while others were in flight, and were sent again, alone, on a fresh connection; the second "
                      "answers were judged", soft_wrap=True)
    if stats.get("narrowed"):
        console.print(f"concurrency: narrowed {stats['narrowed']} time(s) from {stats['concurrency']} to as few as "
                      f"{stats['concurrency_lowest']} (a request that timed out under load was answered alone: the "
                      f"endpoint serves fewer at once), {stats['concurrency_end']} at the end; its timeouts under load "
                      "were not blamed on it", soft_wrap=True)
        if stats.get("concurrency_changes"):
            console.print(f"  first: {stats['concurrency_changes'][0]}", soft_wrap=True)
    if seed is not None:
        console.print(f"property seed: {seed} (repeat this run with --seed {seed})")
    for note in notes or ():  # what the run wrote, just above the verdict
        console.print(note, soft_wrap=True, markup=False, highlight=False)
    text, status = verdict(counts, fail_on, partial=partial, interrupted=interrupted)
    label, colon, rest = text.partition(":")
    if status == EXIT_OK and deviations and label.startswith("CONFORMANT"):
        label, _, after = label.partition(" ")
        rest = f" with {len(deviations)} documented deviation(s) allowed by profile {profile}" + (
            f" {after}" if after else "")
    colour = {EXIT_OK: "green", EXIT_FAILED: "red"}.get(status, "magenta")
    if label == "NOT CONFORMANT" and status == EXIT_OK:
        colour, rest = "yellow", rest + " (exit 0: --fail-on never)"
    console.print(f"verdict: [{colour} bold]{escape(label)}[/]{escape(colon + rest)}")
    return status


_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def cause(result: Result) -> tuple[str, tuple[str, ...], str]:
    """What makes two failures one: their check, their kinds, and their message's first line but for its numbers
    (a timestamp, a count, a port differ from case to case; the fault does not)."""
    return result.check, result.kinds, _NUMBER.sub("N", result.message.split("\n", 1)[0])


def by_cause(failures: list[Result]) -> list[list[Result]]:
    """``failures`` grouped by ``cause``: the most severe first, then the most shared."""
    groups: dict[tuple, list[Result]] = {}
    for r in failures:
        groups.setdefault(cause(r), []).append(r)
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(groups.values(), key=lambda g: (rank.get(g[0].severity, len(rank)), -len(g)))


def latency_table(metrics: dict) -> Table:
    """The latency figures: p50, p95, max and samples of each (src/infercheck/_metrics.py defines them)."""
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False, collapse_padding=True)
    table.add_column("latency")
    for column in ("p50", "p95", "max", "samples"):
        table.add_column(column, justify="right")
    for name, figure in metrics.items():
        cells = ["-" if figure[k] is None else f"{figure[k]:.1f}" for k in ("p50", "p95", "max")]
        table.add_row(FIGURE_NAMES.get(name, name), *cells, str(figure["n"]))
    return table


_INTERNAL = re.compile(r"internal error (?:in )?(?P<what>.*?): (?P<cause>.*)", re.S)


def print_errors(console: Console, errors: list[Result], *, verbose: bool) -> None:
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


_STYLE = {"passed": "green", "failed": "red bold", "deviation": "yellow", "skipped": "dim", "error": "magenta bold"}


def print_matrix(console: Console, doc: dict) -> None:
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
