"""A recorded request/response pair, and its curl reproduction."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any

from . import sse as _sse

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 8  # a shorter key is not looked for in what a server says: too short to tell an echo from chance
KEY_VARIABLE = "INFERCHECK_API_KEY"  # where a curl reproduction reads the API key from
SECRET_HEADERS = {"authorization", "x-api-key", "api-key", "proxy-authorization", "cookie"}


_KEY_MARK = "\0key\0"  # where the key stood in a header, until it is written as $INFERCHECK_API_KEY


def _in_double_quotes(text: str) -> str:
    """``text`` escaped for a double-quoted shell word: only \\, ", $ and ` are special there."""
    return "".join("\\" + c if c in '\\"$`' else c for c in text)


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    file: str | None = None  # where ``body`` comes from when it is a file (an image, audio): curl sends the file
    # the API key a header carries; "" when no header carries one (the wrong key of an auth case is public: its
    # curl shows it); None when unknown: then the value of an Authorization or API-key header is taken for it
    secret: str | None = field(default=None, repr=False, compare=False)
    curl_options: tuple[str, ...] = field(default=(), compare=False)  # how curl trusts the endpoint: -k, --cacert

    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:  # a binary or malformed body: there is no JSON request to read
            return None

    def shown_headers(self) -> list[str]:
        """Each header as "Name: value" to show; where the key was, the text holds a mark that ``curl`` and
        ``text`` turn into ``$INFERCHECK_API_KEY`` (the header then reads the key from the environment)."""
        shown = []
        for name, value in self.headers.items():
            header, lower = f"{name}: {value}", name.lower()
            secret = self.secret
            if secret is None and lower in ("authorization", "x-api-key", "api-key"):
                secret = value.split(" ", 1)[1] if " " in value else value  # unknown: take the value for the key
            if secret and secret in value:
                shown.append(header.replace(secret, _KEY_MARK))
            elif lower in SECRET_HEADERS and lower != "authorization":
                shown.append(f"{name}: {REDACTED}")
            else:
                shown.append(header)
        return shown

    def text(self) -> str:
        """The request as it went out (method and URL, headers, body), the key reading ``$INFERCHECK_API_KEY``."""
        lines = [f"{self.method} {self.url}",
                 *(h.replace(_KEY_MARK, "$" + KEY_VARIABLE) for h in self.shown_headers())]
        if self.file is not None:
            lines += ["", f"(the file {self.file})"]
        elif self.body is not None:
            lines += ["", self.body.decode("utf-8", errors="replace")]
        return "\n".join(lines)

    def curl(self, *, stream: bool = False) -> str:
        """A runnable curl command. The API key is never written: the header that carries it reads it from the
        environment (``$INFERCHECK_API_KEY``), so the command still reproduces the request; other secret headers
        (a cookie, say) show as [REDACTED]. Nothing else is touched, however short or common the key: a body
        saying ``"tool_choice": "none"`` is shown as sent even when the key is ``none``."""
        parts = ["curl", *map(shlex.quote, self.curl_options)]
        if stream:
            parts.append("-N")
        if self.method != ("POST" if self.body is not None else "GET"):
            parts += ["-X", self.method]
        parts.append(shlex.quote(self.url))
        for header in self.shown_headers():
            parts += ["-H", '"' + _in_double_quotes(header).replace(_KEY_MARK, "$" + KEY_VARIABLE) + '"'
                      if _KEY_MARK in header else shlex.quote(header)]
        if self.file is not None:
            if not any(name.lower() == "content-type" for name in self.headers):
                parts += ["-H", shlex.quote("Content-Type:")]  # curl would otherwise send a form type
            parts += ["--data-binary", shlex.quote("@" + self.file)]
        elif self.body is not None:
            parts += ["--data-raw", shlex.quote(self.body.decode("utf-8", errors="replace"))]
        return " ".join(parts)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed: float  # seconds from send to the last byte
    first_byte: float | None = None  # seconds from send to the first body byte
    # (bytes of the body received so far, seconds from send) at each arrival of body bytes
    arrivals: list[tuple[int, float]] = field(default_factory=list)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def media_type(self) -> str:
        return self.content_type.split(";", 1)[0].strip().lower()

    def json(self) -> Any:
        """The parsed body; raises ValueError when it is not JSON."""
        return json.loads(self.body)

    def sse(self) -> _sse.Stream:
        """The body's SSE events, decoded once for the body (every check of a stream reads them)."""
        decoded = self.__dict__.get("_sse")
        if decoded is None or decoded[0] is not self.body:
            decoded = self.__dict__["_sse"] = (self.body, _sse.decode(self.body))
        return decoded[1]


@dataclass
class Exchange:
    """What one case sent and what came back (``response`` is None on a transport error)."""

    case_id: str
    request: Request
    response: Response | None = None
    error: str | None = None
    stream: bool = False
    sent: bool = True  # False: deliberately not sent, and ``error`` says why (budget, profile, no key)
    waited: float = 0.0  # seconds spent waiting out 503 "model is loading" and 429 answers before this response
    retries: int = 0  # times the request was sent again after such an answer
    overflow: bool = False  # the answer grew past a bound (--max-body, --max-events) and was cut there
    abandoned: bool = False  # not sent: the endpoint had stopped answering this route (``error`` says so)
    transient: str | None = None  # the transport error of a first attempt, confirmed away by sending again
    cut: bool = False  # the answer had begun (status line received) when the connection was lost
    transient_cut: bool = False  # ``cut``, of the first attempt that ``transient`` describes
    alone: bool = False  # sent with nothing else of the run in flight (a confirmation, or a run narrowed to one)
    under_load: tuple[tuple[Exchange, ...], ...] = ()  # rounds of copies of this request sent at once

    def curl(self) -> str:
        return self.request.curl(stream=self.stream)
