"""Keeping an API key out of what infercheck writes: a key a server echoed is replaced wherever it stands as a
whole word. Requests never need this: their curl reads the key from the environment."""

from __future__ import annotations

import re
from typing import Any

from .exchange import MIN_SECRET_LENGTH, REDACTED, Exchange

# Keys that local servers document as placeholders (vLLM's "EMPTY", llama.cpp's "sk-no-key-required", Ollama's
# "ollama", LM Studio's "lm-studio"): not secrets, and words a body may well contain ("tool_choice": "none").
PLACEHOLDER_KEYS = frozenset({"empty", "none", "null", "ollama", "lm-studio", "sk-no-key-required", "no-key",
                              "dummy", "test", "token", "key", "api-key", "sk-xxx", "x", "-", "abc123"})
_WORD = "A-Za-z0-9_\\-"


def _pattern(secret: str) -> re.Pattern[str]:
    # the key as a whole word only: a short key never matches inside another word ("k" in "max_tokens")
    return re.compile(f"(?<![{_WORD}]){re.escape(secret)}(?![{_WORD}])")


def redact(value: Any, secrets: list[str]) -> Any:
    """``value`` with every secret a server may have echoed replaced, inside strings, lists and dicts: each
    secret where it stands as a whole word; placeholder keys and keys shorter than MIN_SECRET_LENGTH never (they
    are not secrets, and would match ordinary text by chance). Requests never need this: their curl reads
    the key from the environment."""
    patterns = [_pattern(s) for s in secrets if len(s) >= MIN_SECRET_LENGTH and s.lower() not in PLACEHOLDER_KEYS]
    return _redact(value, patterns) if patterns else value


def _redact(value: Any, patterns: list[re.Pattern[str]]) -> Any:
    if isinstance(value, str):
        for pattern in patterns:
            value = pattern.sub(REDACTED, value)
        return value
    if isinstance(value, list):
        return [_redact(v, patterns) for v in value]
    if isinstance(value, dict):
        return {k: _redact(v, patterns) for k, v in value.items()}
    return value


def response_text(exchange: Exchange) -> str:
    """A response as it came back (status, headers, body), or the transport error; to be redacted."""
    response = exchange.response
    if response is None:
        return f"no response: {exchange.error}"
    head = [f"HTTP {response.status}", *(f"{k}: {v}" for k, v in response.headers.items())]
    return "\n".join(head) + "\n\n" + response.body.decode("utf-8", errors="replace")
