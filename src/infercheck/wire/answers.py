"""Reading answers: the text, usage, finish reasons and ids of a completion, streamed or not.

These are lenient readers for the semantic checks: malformed parts are left out
(the schema checks report them), so one broken field does not hide the rest.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .exchange import Exchange
from .transport import lost


@dataclass
class Answer:
    """What a completion (or chat completion) said, whether streamed or not."""

    texts: dict[int, str] = field(default_factory=dict)  # choice index -> text
    finish: dict[int, list[str]] = field(default_factory=dict)  # choice index -> every non-null finish_reason
    usage: dict[str, Any] | None = None
    ids: list[str] = field(default_factory=list)  # every id seen (one per chunk when streamed)
    documents: list[dict[str, Any]] = field(default_factory=list)  # the body, or the JSON chunks

    def text(self, index: int = 0) -> str | None:
        return self.texts.get(index)

    def finish_reason(self, index: int = 0) -> str | None:
        reasons = self.finish.get(index) or []
        return reasons[-1] if reasons else None


def document(exchange: Exchange) -> Any:
    """The JSON body of a non-streamed answer, or None."""
    if exchange.response is None:
        return None
    try:
        return exchange.response.json()
    except ValueError:
        return None


def chunks(exchange: Exchange) -> list[dict[str, Any]]:
    """The JSON objects of a stream's data events ([DONE] and non-JSON left out)."""
    if exchange.response is None:
        return []
    out = []
    for event in exchange.response.sse().events:
        try:
            value = json.loads(event.data)
        except ValueError:
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


def _piece(choice: dict[str, Any]) -> str | None:
    """The text a choice (or a chunk's choice) carries: ``text``, ``message.content`` or ``delta.content``."""
    if isinstance(choice.get("text"), str):
        return choice["text"]
    for key in ("message", "delta"):
        part = choice.get(key)
        if isinstance(part, dict) and isinstance(part.get("content"), str):
            return part["content"]
    return None


DELTA_EVENTS = ("response.output_text.delta", "response.function_call_arguments.delta")  # a streamed response's


def event_text(doc: Any) -> str:
    """The generated text one stream event carries ("" when none): every choice's ``text`` or
    ``delta.content`` (OpenAI-style), a TGI token event's non-special ``token.text``, or a streamed response's
    output text or function-call arguments delta."""
    if not isinstance(doc, dict):
        return ""
    if doc.get("type") in DELTA_EVENTS:
        return doc["delta"] if isinstance(doc.get("delta"), str) else ""
    token = doc.get("token")
    if isinstance(token, dict):
        return token["text"] if isinstance(token.get("text"), str) and not token.get("special") else ""
    choices = doc.get("choices")
    pieces = [_piece(c) for c in choices if isinstance(c, dict)] if isinstance(choices, list) else []
    return "".join(p for p in pieces if p)


def documents(exchange: Exchange) -> list[dict[str, Any]]:
    """The JSON objects of an answer: the stream's chunks, or the body (empty when it is not an object)."""
    if exchange.stream:
        return chunks(exchange)
    doc = document(exchange)
    return [doc] if isinstance(doc, dict) else []


def completion_tokens(exchange: Exchange) -> int:
    """Tokens a successful answer says it generated (see ``said_tokens``), 0 when it does not say."""
    return said_tokens(exchange) or 0


def said_tokens(exchange: Exchange) -> int | None:
    """Tokens a successful answer says it generated, or None when it does not say (or did not succeed): usage's
    completion_tokens, a response's output_tokens (a streamed response's in the response its last event carries),
    TGI's details.generated_tokens."""
    response = exchange.response
    if response is None or not (200 <= response.status < 300):
        return None
    for doc in reversed(documents(exchange)):
        usage, details = doc.get("usage"), doc.get("details")
        if isinstance(doc.get("response"), dict):
            usage = doc["response"].get("usage")
        if isinstance(usage, dict):
            for name in ("completion_tokens", "output_tokens"):
                if isinstance(usage.get(name), int):
                    return usage[name]
        if isinstance(details, dict) and isinstance(details.get("generated_tokens"), int):
            return details["generated_tokens"]
    return None


def generated(exchange: Exchange, reserved: int, echoed: int = 0) -> int:
    """What an answer counts against the token budget: the tokens it says it generated; for a stream that does
    not say, its events that carry text (one token each, as servers stream), but the ``echoed`` prompts' (a
    completion asked to echo streams each prompt first, in an event of its own); an error answer, none; for any
    other (an answer that says nothing, a request cut or unanswered: the endpoint may have generated),
    ``reserved``."""
    response = exchange.response
    if response is not None and not (200 <= response.status < 300):
        return 0
    said = said_tokens(exchange)
    if said is not None:
        return said
    if response is not None and exchange.stream and not exchange.cut:
        return max(sum(_tokens_in(doc) for doc in documents(exchange)) - echoed, 0)
    return reserved if exchange.sent else 0


def _tokens_in(event: dict[str, Any]) -> int:
    """The tokens one stream event carries: a TGI token event one, a streamed response's delta one, an
    OpenAI-style chunk one per choice with text."""
    if isinstance(event.get("token"), dict) or event.get("type") in DELTA_EVENTS:
        return 1
    choices = event.get("choices")
    return sum(1 for c in choices if isinstance(c, dict) and _piece(c)) if isinstance(choices, list) else 0


def read(exchange: Exchange) -> Answer:
    answer = Answer()
    answer.documents = documents(exchange)
    for doc in answer.documents:
        if isinstance(doc.get("id"), str):
            answer.ids.append(doc["id"])
        if isinstance(doc.get("usage"), dict):
            answer.usage = doc["usage"]
        for choice in doc.get("choices") or []:
            if not isinstance(choice, dict) or not isinstance(choice.get("index", 0), int):
                continue
            index = choice.get("index", 0)
            piece = _piece(choice)
            if piece is not None or index not in answer.texts:
                answer.texts[index] = answer.texts.get(index, "") + (piece or "")
            if choice.get("finish_reason") is not None:
                answer.finish.setdefault(index, []).append(choice["finish_reason"])
    return answer


def ended_early(exchange: Exchange) -> bool:
    """A completion stream (chat or text) that ended before any of its choices got a finish_reason, its framing
    whole or not: what a server that stops a running stream when another request arrives sends. llama-cpp-python
    (``interrupt_requests``, on by default) writes ``data: [DONE]`` and stops, or closes the connection before that
    is flushed. Not a stream cut at a bound of infercheck's (``--max-events``), nor one that sent no JSON."""
    if not exchange.stream or exchange.response is None or exchange.overflow \
            or not 200 <= exchange.response.status < 300 \
            or not exchange.request.url.split("?")[0].endswith("/completions"):
        return False
    answer = read(exchange)
    return any("choices" in doc for doc in answer.documents) and not any(answer.finish.values())


def interrupted(exchange: Exchange) -> bool:
    """An answer another request may have stopped: its connection lost (before or after the status line), or its
    stream ended before its finish_reason (a server that stops a running stream for another request)."""
    return lost(exchange) or ended_early(exchange)


_WORD = re.compile(r"[A-Za-z][A-Za-z']{2,}")


def stop_from(text: str) -> str | None:
    """A stop sequence for a second request: a word that first occurs in the middle of ``text``.

    The word must not occur in the first quarter, so the answer cut at it is non-empty.
    """
    words = [(m.start(), m.group()) for m in _WORD.finditer(text)]
    if len(words) < 3:
        return None
    quarter = max(1, len(text) // 4)
    middle = len(words) // 2
    for start, word in words[middle:] + words[1:middle]:
        if start >= quarter and text.find(word) == start:
            return word
    return None
