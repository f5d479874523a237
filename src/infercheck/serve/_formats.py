"""Structured outputs of the reference endpoint's chat completions: with ``response_format`` ``json_object`` the
content is a JSON object (the generated text under ``answer``); with ``json_schema`` it is the simplest value the
schema accepts (serve/_tools.py ``value``). The content is streamed, and counted against the token limit, in pieces
of a few characters; cut at the limit, it ends with finish_reason ``length``, as a real server's would.
"""

from __future__ import annotations

import json
from typing import Any

from ._generator import Generation
from ._tools import PIECE, value


def structured(g: Generation, body: dict[str, Any], limit: int, top: int, faults: frozenset[str]) -> Generation:
    """``g``, or the structured answer ``response_format`` asks for instead of its text (with ``top`` alternatives
    for each piece's logprobs, as the generator gives them)."""
    fmt = body.get("response_format") if isinstance(body.get("response_format"), dict) else {}
    kind = fmt.get("type")
    if kind not in ("json_object", "json_schema") or "json-mode-ignored" in faults:
        return g
    if kind == "json_schema" and "json-schema-ignored" not in faults:
        content = json.dumps(value((fmt.get("json_schema") or {}).get("schema") or {"type": "object"}))
    else:
        content = json.dumps({"answer": g.text.strip()})
    pieces = [content[i:i + PIECE] for i in range(0, len(content), PIECE)]
    finish = "stop"
    if len(pieces) > limit:
        pieces, finish = pieces[:limit], "length"
    alternatives = [[(p, -0.1)] + [(f" alt{i}", -1.0 - i) for i in range(top - 1)] if top > 0 else []
                    for p in pieces]
    return Generation(pieces, finish, len(pieces), [-0.1] * len(pieces), alternatives)
