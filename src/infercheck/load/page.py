"""A load as one self-contained HTML page (``infercheck load --html``): no network, no script; inline CSS and SVG.

On top, the verdict and the knee; then two charts against the load (users): the conformant rate and goodput, and
the p50 and p95 latency of conformant answers (TTFT and e2e); then the table of steps, and each check that failed
with its first example and its curl one click away."""

from __future__ import annotations

from html import escape
from typing import Any

from ..reports.html import CSS, ticks

_LOAD_CSS = """
.card.conformant { background: #cdebd3; } .card.not_conformant { background: #f6c6c6; }
.card.undecided, .card.interrupted { background: #e2c8f0; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #fff; border: 1px solid #ccc; padding: 6px;
  font-size: 12px; max-width: 900px; }
"""
_COLOURS = ("#3b6fb6", "#c0392b", "#2e8b57", "#8e44ad")


def line_chart(title: str, levels: list[int], series: dict[str, list[float | None]], unit: str) -> str:
    """An SVG chart of ``series`` (name -> one value per level, None where there is none) against ``levels``, the
    levels evenly spaced."""
    width, height, left, bottom, top_pad = 560, 236, 56, 28, 28
    values = [v for line in series.values() for v in line if v is not None]
    axis = ticks(max(values, default=0.0)) or [0.0]
    top = axis[-1] or 1.0
    inner_w, inner_h = width - left - 16, height - bottom - top_pad

    def x(i: int) -> float:
        return left + (inner_w * i / (len(levels) - 1) if len(levels) > 1 else inner_w / 2)

    def y(v: float) -> float:
        return top_pad + inner_h * (1 - v / top)

    parts = [f'<svg width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
             f'<text x="{left}" y="14" font-weight="600">{escape(title)} ({escape(unit)})</text>']
    for tick in axis:
        parts.append(f'<line x1="{left}" x2="{width - 16}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#eee"/>'
                     f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:g}</text>')
    for i, level in enumerate(levels):
        parts.append(f'<text x="{x(i):.1f}" y="{height - 8}" text-anchor="middle">{level}</text>')
    for (name, line), colour in zip(series.items(), _COLOURS):
        points = [(x(i), y(v)) for i, v in enumerate(line) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for (px, py), v in zip(points, [v for v in line if v is not None]):
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5" fill="{colour}"><title>{escape(name)}: '
                         f'{v:g}</title></circle>')
    legend = " ".join(f'<span style="color:{c}">&#9679; {escape(n)}</span>' for n, c in zip(series, _COLOURS))
    return "".join(parts) + f'</svg><p class="legend">{legend}; users along the bottom</p>'


def page(doc: dict[str, Any]) -> str:
    verdict, steps = doc["verdict"], doc["steps"]
    levels = [s["users"] for s in steps]
    knee = doc["knee"]["users"]
    out = [f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>infercheck load</title>"
           f"<style>{CSS}{_LOAD_CSS}</style></head><body>",
           "<h1>infercheck load</h1>",
           f'<p class="meta">{escape(str(doc["target"].get("base_url")))}, model '
           f'<code>{escape(str(doc["target"].get("model")))}</code>, profile {escape(doc["target"]["profile"])}; '
           f'{len(doc["workload"]["cases"])} requests in the mix, {doc["step_duration_s"]:g} s a step, '
           f'{doc["workers"]} Locust worker(s)</p>',
           f'<div class="card {escape(verdict["status"])}"><h3>{escape(verdict["summary"])}</h3>'
           f'<p>knee: {knee if knee is not None else "none"}'
           + (" users" if knee is not None else "") + "</p></div>"]
    if steps:
        out.append(line_chart("conformant answers and goodput a second", levels, {
            "answers a second": [s["throughput"]["requests_per_s"] for s in steps],
            "conformant within the SLO (goodput)": [s["goodput"]["requests_per_s"] for s in steps]}, "per second"))
        out.append(line_chart("latency of conformant answers", levels, {
            f"{name} {q}": [s["latency"][f"{name}_ms"][q] for s in steps]
            for name in ("ttft", "e2e") for q in ("p50", "p95")}, "ms"))
    out.append("<h2>Steps</h2><table><tr><th>users</th><th>requests</th><th>conformant</th><th>violations</th>"
               "<th>errors</th><th>req/s</th><th>goodput/s</th><th>determinism</th></tr>")
    for s in steps:
        rate = "-" if s["conformant_rate"] is None else f"{s['conformant_rate']:.1%}"
        errors = ", ".join(f"{k} {v}" for k, v in s["errors"].items()) or "0"
        same = s["determinism"]
        out.append(f'<tr><td class="num">{s["users"]}</td><td class="num">{s["requests"]}</td>'
                   f'<td class="num">{rate}</td><td class="num">{sum(s["violations"].values())}</td>'
                   f'<td>{escape(errors)}</td><td class="num">{s["throughput"]["requests_per_s"]:g}</td>'
                   f'<td class="num">{s["goodput"]["requests_per_s"]:g}</td>'
                   f'<td class="num">{same["differed"]} of {same["compared"]} differed</td></tr>')
    out.append("</table>")
    shown: set[str] = set()
    for s in steps:
        for check, example in s["examples"].items():
            if check in shown:
                continue
            shown.add(check)
            out.append(f'<h2><code>{escape(check)}</code> ({escape(example["severity"])}): '
                       f'{escape(example["title"])}</h2><p>first seen at {s["users"]} users: '
                       f'{s["violations"][check]} of {s["requests"]} answers; case <code>{escape(example["case"])}'
                       f'</code></p><pre>{escape(example["message"])}</pre><details><summary>reproduce with curl'
                       f'</summary><pre>{escape(example["curl"])}</pre></details>')
    return "\n".join(out) + "</body></html>\n"
