"""A recorded request/response pair, and its curl reproduction."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any

from . import _sse

REDACTED = "[REDACTED]"
_SECRET_HEADERS = {"authorization", "x-api-key", "api-key", "proxy-authorization", "cookie"}


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    file: str | None = None  # where ``body`` comes from when it is a file (an image, audio): curl sends the file

    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:  # a binary or malformed body: there is no JSON request to read
            return None

    def curl(self, *, stream: bool = False) -> str:
        """A runnable curl command; secrets in headers are redacted."""
        parts = ["curl"]
        if stream:
            parts.append("-N")
        if self.method != ("POST" if self.body is not None else "GET"):
            parts += ["-X", self.method]
        parts.append(shlex.quote(self.url))
        for name, value in self.headers.items():
            if name.lower() in _SECRET_HEADERS:
                scheme = value.split(" ", 1)[0] + " " if " " in value else ""
                value = scheme + REDACTED
            parts += ["-H", shlex.quote(f"{name}: {value}")]
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
        return _sse.decode(self.body)


@dataclass
class Exchange:
    """What one case sent and what came back (``response`` is None on a transport error)."""

    case_id: str
    request: Request
    response: Response | None = None
    error: str | None = None
    stream: bool = False
    sent: bool = True  # False: deliberately not sent, and ``error`` says why (budget, profile, no key)
    waited: float = 0.0  # seconds spent waiting out 503 "model is loading" answers before this response
    transient: str | None = None  # the transport error of a first attempt, confirmed away by sending again
    cut: bool = False  # the answer had begun (status line received) when the connection was lost
    transient_cut: bool = False  # ``cut``, of the first attempt that ``transient`` describes
    under_load: tuple[tuple[Exchange, ...], ...] = ()  # rounds of copies of this request sent at once

    def curl(self) -> str:
        return self.request.curl(stream=self.stream)
