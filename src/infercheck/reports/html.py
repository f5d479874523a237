"""The comparison as one self-contained HTML page: no network, no script; inline CSS and inline SVG.

On top, each target's verdict; then one row per check and one column per target, each cell coloured by its
outcome, the message and the curl reproduction one click away (a ``<details>``); then the latency table and a
chart of the time to first token and inter-token latency distributions per target (every sample a dot, the
median a bar, p95 a tick)."""

from __future__ import annotations

import math
from html import escape
from typing import Any

from ..checks.base import short
from ..wire.metrics import percentile
from .markdown import FIGURE_NAMES

COLOURS = {"passed": "#cdebd3", "failed": "#f6c6c6", "deviation": "#fbe7a8", "skipped": "#e8e8e8", "error": "#e2c8f0"}
CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #1d1d1f; }
h1 { margin: 0 0 4px; font-size: 22px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.meta { color: #555; margin: 0 0 16px; }
.verdicts { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border-radius: 8px; padding: 10px 14px; min-width: 200px; border: 1px solid #ccc; }
.card h3 { margin: 0 0 4px; font-size: 15px; } .card p { margin: 2px 0; }
.card.ok { background: #cdebd3; } .card.failed { background: #f6c6c6; } .card.error { background: #e2c8f0; }
table { border-collapse: collapse; } th, td { border: 1px solid #d0d0d0; padding: 4px 8px; vertical-align: top; }
th { background: #f4f4f4; text-align: left; position: sticky; top: 0; }
td.check code { font-weight: 600; } td.check .title { color: #555; font-size: 12px; max-width: 380px; }
""" + "".join(f"td.cell.{o} {{ background: {c}; }}\n" for o, c in COLOURS.items()) + """
td.cell { min-width: 110px; } td.cell summary { cursor: pointer; font-weight: 600; }
.evidence { max-width: 640px; } .evidence pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #fff;
  border: 1px solid #ccc; padding: 6px; margin: 4px 0; font-size: 12px; }
.legend span { display: inline-block; padding: 1px 8px; margin-right: 6px; border-radius: 4px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
svg { display: block; margin: 8px 0 16px; } svg text { font: 12px system-ui, sans-serif; }
"""


def _evidence(quoted: list[dict[str, Any]]) -> str:
    parts = []
    for q in quoted:
        if "more" in q:
            parts.append(f"<p>and {q['more']} more (comparison.json, and the target's results file)</p>")
            continue
        lines = [q["message"]]
        if "expected" in q:
            lines.append(f"expected: {short(q['expected'], 300)}")
        if "received" in q:
            lines.append(f"received: {short(q['received'], 300)}")
        parts.append(f"<p>case <code>{escape(q['case'])}</code> ({escape(q['outcome'])})</p>"
                     f"<pre>{escape(chr(10).join(lines))}</pre>"
                     + (f"<pre class=\"curl\">{escape(q['curl'])}</pre>" if q.get("curl") else ""))
    return "".join(parts)


def ticks(top: float) -> list[float]:
    if top <= 0:
        return [0.0]
    raw = top / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return [i * step for i in range(int(top / step) + 2)]


CHART_LEGEND = ('<p class="chart-legend">In the charts below, each <span style="color:#3b6fb6">dot</span> is one '
                'streamed answer that carried text, the black bar is the median (p50), the '
                '<span style="color:#c0392b">red tick</span> p95; point at one for its value.</p>')


def chart(title: str, series: dict[str, list[float]]) -> str:
    """A strip chart: one row per target, every sample a dot, the median a bar, p95 a tick."""
    longest = max((len(name) for name in series), default=8)
    left, row, top_pad = max(120, int(longest * 7.2) + 20), 34, 34
    width = left + 600
    values = [v for vs in series.values() for v in vs]
    height = top_pad + row * max(len(series), 1) + 30
    out = [f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
           f'<text x="0" y="16" font-weight="600">{escape(title)}</text>']
    if not values:
        out.append(f'<text x="{left}" y="{top_pad + 14}" fill="#777">no samples: no streamed answer carried text</text>')
        return "".join(out) + "</svg>"
    marks = ticks(max(values))
    span = marks[-1] or 1.0

    def x(v: float) -> float:
        return left + (width - left - 20) * v / span

    axis_y = top_pad + row * len(series) + 4
    for t in marks:
        out.append(f'<line x1="{x(t):.1f}" y1="{top_pad - 6}" x2="{x(t):.1f}" y2="{axis_y}" stroke="#e4e4e4"/>'
                   f'<text x="{x(t):.1f}" y="{axis_y + 16}" text-anchor="middle" fill="#555">{t:g}</text>')
    for i, (name, vs) in enumerate(series.items()):
        middle = top_pad + row * i + row / 2
        out.append(f'<text x="{left - 8}" y="{middle + 4:.1f}" text-anchor="end">{escape(name)}</text>')
        for j, v in enumerate(vs):
            jitter = ((j * 7919) % 17 - 8) * 0.9
            out.append(f'<circle cx="{x(v):.1f}" cy="{middle + jitter:.1f}" r="2.6" fill="#3b6fb6" '
                       f'fill-opacity="0.4"><title>{escape(name)}: {v:.2f} ms</title></circle>')
        if vs:
            p50, p95 = percentile(vs, 50), percentile(vs, 95)
            out.append(f'<line class="p50" x1="{x(p50):.1f}" y1="{middle - 12:.1f}" x2="{x(p50):.1f}" '
                       f'y2="{middle + 12:.1f}" stroke="#111" stroke-width="3"><title>p50 {p50:.2f} ms</title></line>'
                       f'<line x1="{x(p95):.1f}" y1="{middle - 8:.1f}" x2="{x(p95):.1f}" y2="{middle + 8:.1f}" '
                       f'stroke="#c0392b" stroke-width="2"><title>p95 {p95:.2f} ms</title></line>')
    out.append(f'<text x="{left - 8}" y="{axis_y + 16}" text-anchor="end" fill="#555">ms</text>')
    return "".join(out) + "</svg>"


def page(doc: dict[str, Any], *, title: str = "infercheck comparison") -> str:
    names = list(doc["targets"])
    cards = []
    for name, t in doc["targets"].items():
        kind = "error" if t.get("error") or (t.get("summary") or {}).get("errors") else (
            "failed" if t["verdict"].startswith("NOT") else "ok")
        s = t.get("summary")
        counts = (f"{s['passed']} passed, {s['failed'] + s.get('known', 0)} failed, {s['deviations']} deviations, "
                  f"{s['skipped']} skipped, {s['errors']} errors") if s else ""
        where = (t.get("target") or {}).get("base_url", "")
        cards.append(f'<div class="card {kind}" data-target="{escape(name)}"><h3>{escape(name)}</h3>'
                     f'<p class="verdict"><b>{escape(t["verdict"])}</b></p><p>{escape(counts)}</p>'
                     f'<p class="meta">{escape(where)}</p></div>')
    rows = []
    for check, cells in doc["matrix"].items():
        info = doc["checks"][check]
        tds = []
        for name in names:
            outcome = cells[name]
            quoted = doc["details"].get(check, {}).get(name)
            inner = (f"<details><summary>{outcome}</summary><div class=\"evidence\">{_evidence(quoted)}</div></details>"
                     if quoted else outcome)
            tds.append(f'<td class="cell {outcome}" data-target="{escape(name)}" data-outcome="{outcome}">{inner}</td>')
        rows.append(f'<tr data-check="{escape(check)}"><td class="check"><code>{escape(check)}</code>'
                    f'<div class="title">{escape(info["title"])}</div></td><td>{escape(info["severity"])}</td>'
                    + "".join(tds) + "</tr>")
    latency = ["<tr><th>target</th>" + "".join(f"<th>{escape(FIGURE_NAMES[f])}<br>p50 / p95 / max (n)</th>"
                                               for f in doc["figures"]) + "</tr>"]
    for name, t in doc["targets"].items():
        metrics = t.get("metrics") or {}
        cells = []
        for f in doc["figures"]:
            fig = metrics.get(f) or {}
            cells.append(f"<td class=\"num\">{fig['p50']:.1f} / {fig['p95']:.1f} / {fig['max']:.1f} ({fig['n']})</td>"
                         if fig.get("n") else "<td class=\"num\">–</td>")
        latency.append(f"<tr><th>{escape(name)}</th>" + "".join(cells) + "</tr>")
    samples = doc.get("latency_samples", {})
    legend = "".join(f'<span style="background:{c}">{o}</span>' for o, c in COLOURS.items())
    return "\n".join([
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">infercheck {escape(doc["tool"]["version"])}; property seed {doc["seed"]}; targets run '
        f'{escape(doc["schedule"]["mode"])}ly: {escape(doc["schedule"]["why"])}</p>',
        f'<section class="verdicts">{"".join(cards)}</section>',
        "<h2>Checks</h2>", f'<p class="legend">{legend} click a coloured outcome for its evidence and curl</p>',
        '<table class="matrix"><thead><tr><th>check</th><th>severity</th>'
        + "".join(f"<th>{escape(n)}</th>" for n in names) + "</tr></thead><tbody>", *rows, "</tbody></table>",
        "<h2>Latency</h2>", '<table class="latency">', *latency, "</table>", CHART_LEGEND,
        chart("time to first token (ms)", {n: samples.get(n, {}).get("ttft_ms", []) for n in names}),
        chart("inter-token latency (ms)", {n: samples.get(n, {}).get("itl_ms", []) for n in names}),
        "</body></html>",
    ]) + "\n"
