"""What bounds a run, shared by every part of it: the request and token budgets, and the circuit breaker."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from ..contract import cases as _cases
from ..contract.cases import Case
from ..wire import answers as _answers
from ..wire.exchange import Exchange, Request
from ..wire.transport import silent


def request_key(request: Request) -> tuple[str, str, bytes | None, str | None]:
    """What makes two requests the same request: sent once, answered once."""
    return (request.method, request.url, request.body, request.headers.get("Authorization"))


def route_of(request: Request) -> str:
    """What the circuit breaker counts by: the method and path of a request (``POST /v1/chat/completions``)."""
    return f"{request.method} {httpx.URL(request.url).path}"


@dataclass
class Budget:
    """The budgets every part of a run shares: ``max_requests`` requests (discovery included) and ``max_tokens``
    generated tokens (a hard ceiling: each request reserves what its answer may generate until it is answered);
    None: no bound."""

    max_requests: int | None = None
    max_tokens: int | None = None
    sent: int = 0  # requests sent so far
    tokens: int = 0  # generated tokens counted, and reserved by requests not answered yet
    stopped: str | None = None  # why nothing more is sent (--max-failures reached), once it is so

    def __post_init__(self) -> None:
        if self.max_requests is not None and self.max_requests < 1:
            raise ValueError("max_requests must be at least 1")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")

    def spend(self, tokens: int | None = 0, requests: int = 1) -> str | None:
        """Take ``requests`` requests, and ``tokens`` generated tokens at most (None: nothing bounds them); why not,
        when that would pass a budget. The tokens are reserved until ``settle``."""
        if self.stopped is not None:
            return self.stopped
        if self.max_requests is not None and self.sent + requests > self.max_requests:
            return f"the request budget is spent (--max-requests {self.max_requests})"
        if self.max_tokens is not None:
            if tokens is None:
                return (f"nothing bounds the tokens its answer may generate (no valid max_tokens), and --max-tokens "
                        f"{self.max_tokens} is a hard ceiling")
            if tokens and self.tokens + tokens * requests > self.max_tokens:
                return (f"the token budget is spent (--max-tokens {self.max_tokens}): its answer may generate up to "
                        f"{tokens * requests} tokens, and {self.tokens} are generated or reserved")
            self.tokens += tokens * requests
        self.sent += requests
        return None

    def settle(self, reserved: int | None, exchange: Exchange) -> None:
        """Replace what a request reserved of the token budget with what its answer generated."""
        if self.max_tokens is not None:
            asked = exchange.request.json()
            echoed = _cases.prompt_count(asked.get("prompt")) if isinstance(asked, dict) and asked.get("echo") is True \
                else 0
            self.tokens += _answers.generated(exchange, reserved or 0, echoed) - (reserved or 0)


@dataclass
class Breaker:
    """The circuit breaker: once ``limit`` requests in a row to one route (method and path) went unanswered (timed
    out, refused, or dropped before a status line), the endpoint has stopped answering that route, and the rest
    of its requests are not sent. 0: never."""

    limit: int
    streaks: dict[str, int] = field(default_factory=dict)
    tripped: dict[str, str] = field(default_factory=dict)  # route -> why it was given up
    last: dict[str, Exchange] = field(default_factory=dict)  # route -> the unanswered request that tripped it

    def record(self, exchange: Exchange) -> None:
        if not exchange.sent:
            return
        route = route_of(exchange.request)
        if not silent(exchange):
            self.streaks[route] = 0
            return
        streak = self.streaks[route] = self.streaks.get(route, 0) + 1
        if self.limit and streak >= self.limit and route not in self.tripped:
            self.last[route] = exchange
            self.tripped[route] = (f"the endpoint stopped answering {route}: {streak} requests in a row went "
                                   f"unanswered (the last: {exchange.error}), so the rest were not sent (--breaker)")

    def why(self, request: Request) -> str | None:
        return self.tripped.get(route_of(request))

    def abandon(self, case: Case, request: Request) -> Exchange | None:
        """The exchange standing for ``case``'s request when its route was given up, else None."""
        why = self.why(request)
        if why is None:
            return None
        return Exchange(case.id, request, error=why, stream=case.stream, sent=False, abandoned=True)
