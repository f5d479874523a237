"""A run's Markdown summary (``--markdown``) and HTML page (``--html``), from the same results document as
``--json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import comparison, html, markdown


def write(doc: dict[str, Any], *, markdown_path: str | None = None, html_path: str | None = None,
          fail_on: str = "failed", seed: int | None = None) -> None:
    if markdown_path:
        Path(markdown_path).write_text(markdown.run_summary(doc, fail_on=fail_on), encoding="utf-8")
    if html_path:
        name = "embedded" if doc["target"]["embedded"] else doc["target"]["model"]
        page = comparison.build([comparison.Run(name, doc)], seed=seed,
                                schedule={"mode": "sequential", "why": "one target"})
        Path(html_path).write_text(html.page(page, title=f"infercheck: {name}"), encoding="utf-8")
