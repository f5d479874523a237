"""Markdown for people reading a pull request or a CI job: a run's summary (``infercheck run --markdown``, fit
for ``$GITHUB_STEP_SUMMARY``) and a comparison (``comparison.md``)."""

from __future__ import annotations

from typing import Any

from ..checks.base import SEVERITIES, short
from .results import doc_verdict

FIGURE_NAMES = {"ttft_ms": "time to first token (ms)", "itl_ms": "inter-token latency (ms)",
                "e2e_ms": "end-to-end latency (ms)", "output_tokens_per_s": "output tokens/s per request"}
_SYMBOL = {"passed": "✅ passed", "failed": "❌ **failed**", "deviation": "⚠️ deviation", "skipped": "➖ skipped",
           "error": "💥 **error**"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def figure(f: dict[str, Any] | None) -> str:
    if not f or not f.get("n"):
        return "–"
    return f"{_number(f['p50'])} / {_number(f['p95'])} / {_number(f['max'])} (n={f['n']})"


def _fence(text: str, language: str = "") -> list[str]:
    fence = "````" if "```" in text else "```"
    return [fence + language, text, fence]


def _evidence(result: dict[str, Any]) -> list[str]:
    lines = [result["message"]]
    if result.get("kinds"):
        lines.append(f"kinds: {', '.join(result['kinds'])}")
    if "expected" in result:
        lines.append(f"expected: {short(result['expected'], 300)}")
    if "received" in result:
        lines.append(f"received: {short(result['received'], 300)}")
    out = _fence("\n".join(lines))
    if result.get("curl"):
        out += ["", "reproduce with:", "", *_fence(result["curl"], "sh")]
    return out


def latency_table(metrics: dict[str, Any] | None) -> list[str]:
    rows = ["| latency | p50 | p95 | max | samples |", "|---|---:|---:|---:|---:|"]
    for name, label in FIGURE_NAMES.items():
        f = (metrics or {}).get(name) or {"p50": None, "p95": None, "max": None, "n": 0}
        rows.append(f"| {label} | {_number(f['p50'])} | {_number(f['p95'])} | {_number(f['max'])} | {f['n']} |")
    return rows


def run_summary(doc: dict[str, Any], *, fail_on: str = "failed") -> str:
    """One run: the verdict, the counts, the latency, every failure with its curl, the deviations."""
    target, summary, stats = doc["target"], doc["summary"], doc["stats"]
    said, status = doc_verdict(doc, fail_on)
    where = "the embedded reference endpoint" if target.get("embedded") else f"`{target['base_url']}`"
    out = [f"## infercheck: {said}", "",
           f"{where}, model `{target['model']}`, API `{target['api']}`, profile `{target.get('profile', 'openai')}`"
           + (f"; {target['tls']}" if target.get("tls") else "") + f"; exit status {status}.", "",
           "| passed | failed | known | deviations | skipped | internal errors | requests | completion tokens |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|",
           f"| {summary['passed']} | {summary['failed']} | {summary.get('known', 0)} | {summary['deviations']} | "
           f"{summary['skipped']} | {summary['errors']} | {stats['requests']} | {stats['completion_tokens']} |", ""]
    out += latency_table(doc.get("metrics"))
    for outcome, heading in (("error", "Internal errors"), ("failed", "Failures"), ("deviation", "Deviations"),
                             ("known", "Known failures (baseline)")):
        rank = {s: i for i, s in enumerate(SEVERITIES)}  # the most severe first
        chosen = sorted((r for r in doc["results"] if r["outcome"] == outcome),
                        key=lambda r: rank.get(r["severity"], len(rank)))
        if not chosen:
            continue
        out += ["", f"### {heading} ({len(chosen)})", ""]
        for r in chosen:
            out += ["<details>", f"<summary>[{r['severity']}] <code>{r['check']}</code> on <code>{r['case']}</code>: "
                    f"{_html_text(r['title'])}</summary>", "", *_evidence(r), "", "</details>"]
    return "\n".join(out) + "\n"


def _html_text(text: str) -> str:
    import html

    return html.escape(text, quote=False)


def comparison(doc: dict[str, Any]) -> str:
    """The matrix, the latency table and the evidence of every cell that did not pass."""
    names = list(doc["targets"])
    out = ["# infercheck comparison", "",
           f"infercheck {doc['tool']['version']}; property seed {doc['seed']}; targets run "
           f"{doc['schedule']['mode']}ly: {doc['schedule']['why']}.", "",
           "| target | verdict | passed | failed | deviations | skipped | errors | requests |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    for name, t in doc["targets"].items():
        s, st = t.get("summary"), t.get("stats")
        counts = (f"{s['passed']} | {s['failed'] + s.get('known', 0)} | {s['deviations']} | {s['skipped']} | "
                  f"{s['errors']} | {st['requests']}") if s else "– | – | – | – | – | –"
        out.append(f"| **{_cell(name)}** | {_cell(t['verdict'])} | {counts} |")
    out += ["", "## Checks", "", "| check | severity | " + " | ".join(_cell(n) for n in names) + " |",
            "|---|---|" + "---|" * len(names)]
    for check, cells in doc["matrix"].items():
        info = doc["checks"][check]
        out.append(f"| `{check}` | {info['severity']} | " + " | ".join(_SYMBOL[cells[n]] for n in names) + " |")
    out += ["", "## Latency", "", "p50 / p95 / max (samples)", "",
            "| target | " + " | ".join(FIGURE_NAMES[f] for f in doc["figures"]) + " |",
            "|---|" + "---:|" * len(doc["figures"])]
    for name, t in doc["targets"].items():
        metrics = t.get("metrics") or {}
        out.append(f"| **{_cell(name)}** | " + " | ".join(figure(metrics.get(f)) for f in doc["figures"]) + " |")
    if doc["details"]:
        out += ["", "## What failed, and how to reproduce it", ""]
        for check, cells in doc["details"].items():
            for name, quoted in cells.items():
                shown = [q for q in quoted if "case" in q]
                more = next((q["more"] for q in quoted if "more" in q), 0)
                out += ["<details>", f"<summary><b>{_html_text(name)}</b>: <code>{check}</code> "
                        f"{shown[0]['outcome']} on {len(shown) + more} result(s)</summary>", ""]
                for q in shown:
                    out += [f"case `{q['case']}` ({q['outcome']})", "", *_evidence(q), ""]
                if more:
                    out += [f"and {more} more (see comparison.json and the target's results file)", ""]
                out.append("</details>")
    return "\n".join(out) + "\n"
