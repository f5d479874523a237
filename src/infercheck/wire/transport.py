"""Sending one request and recording the exchange, always under a deadline."""

from __future__ import annotations

import asyncio
import email.utils
import errno
import re
import ssl
import time
from dataclasses import dataclass, field
from functools import cache

import httpx

from .exchange import Exchange, Request, Response

DEFAULT_MAX_BODY = 8 * 1024 * 1024  # bytes of one answer: far above any conformant one, far below a hostile one
DEFAULT_MAX_EVENTS = 20_000  # events of one streamed answer (a stream of 4096 tokens sends about 4100)
DEFAULT_MAX_RETRIES = 3  # re-sends of one request answered 429 (rate limited)
DEFAULT_RATE_WAIT = 1.0  # seconds to wait on a 429 that says nothing of when to come back


_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000 ** 2, "mb": 1000 ** 2, "mib": 1024 ** 2,
          "g": 1000 ** 3, "gb": 1000 ** 3, "gib": 1024 ** 3}


def parse_size(text: str) -> int:
    """Bytes from ``8MiB``, ``500k``, ``1048576``: a positive size."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not found or found[2].lower() not in _UNITS:
        raise ValueError(f"{text!r} is not a size (bytes, or with a unit: 500k, 8MiB, 1GB)")
    size = int(float(found[1]) * _UNITS[found[2].lower()])
    if size < 1:
        raise ValueError(f"{text!r}: a size must be at least one byte")
    return size


class TlsError(ValueError):
    """A CA bundle that cannot be used: missing, unreadable, or holding no certificate."""


@dataclass(frozen=True)
class Tls:
    """How the endpoint's certificate is verified: against the default trust store (certifi's, as httpx does),
    against the CAs of ``ca_bundle`` alone (``--ca-bundle``, for a private CA), or not at all (``--insecure``)."""

    ca_bundle: str | None = None
    insecure: bool = False

    def __post_init__(self) -> None:
        if self.ca_bundle is not None and self.insecure:
            raise TlsError("a CA bundle and insecure contradict each other: verify against the bundle, or not at all")
        if self.ca_bundle is not None:
            _context(self.ca_bundle)  # a bad bundle is a clear error before any request

    def verify(self) -> ssl.SSLContext:
        """The SSL context of every client of a run: made once (httpx would load the trust store again for each
        client, 30 ms each: a load's every user, a run's every copy sent at once has a client of its own)."""
        return _insecure() if self.insecure else _context(self.ca_bundle) if self.ca_bundle else _trusted()

    def curl_options(self) -> tuple[str, ...]:
        """What curl needs to reproduce a request over the same trust: ``-k``, or ``--cacert PATH``."""
        return ("-k",) if self.insecure else ("--cacert", self.ca_bundle) if self.ca_bundle else ()

    def describe(self) -> str | None:
        """The report's line on TLS when verification is not the default, else None."""
        if self.insecure:
            return "TLS certificates were not verified (--insecure)"
        if self.ca_bundle:
            return f"TLS certificates were verified against the CA bundle {self.ca_bundle} alone (--ca-bundle)"
        return None


@cache
def _trusted() -> ssl.SSLContext:
    return httpx.create_ssl_context()  # as an httpx client with verify=True makes it (certifi, SSL_CERT_FILE)


@cache
def _insecure() -> ssl.SSLContext:
    return httpx.create_ssl_context(verify=False)


@cache
def _context(ca_bundle: str) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=ca_bundle)
    except FileNotFoundError:
        raise TlsError(f"CA bundle {ca_bundle}: no such file") from None
    except (OSError, ssl.SSLError) as exc:
        raise TlsError(f"CA bundle {ca_bundle}: not a PEM file of CA certificates ({exc})") from None


@dataclass(frozen=True)
class Bounds:
    """What one request may cost: ``timeout`` seconds in all (streamed body included), ``max_body`` bytes of
    answer, ``max_events`` stream events, and at most ``patience`` seconds waiting out 503 "model is loading"
    and 429 "rate limited" answers (the latter re-sent at most ``max_retries`` times); and ``tls``, how its
    connection's certificate is verified."""

    timeout: float
    patience: float
    max_body: int = DEFAULT_MAX_BODY
    max_events: int = DEFAULT_MAX_EVENTS
    max_retries: int = DEFAULT_MAX_RETRIES
    tls: Tls = field(default_factory=Tls)


def open_client(bounds: Bounds, connections: int = 1, *, keep_alive: bool = True) -> httpx.AsyncClient:
    """The client every request is sent on: ``connections`` at most, the per-request timeouts, the TLS trust."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections if keep_alive else 0)
    return httpx.AsyncClient(limits=limits, timeout=client_timeout(bounds.timeout), verify=bounds.tls.verify())


class _Overflow(Exception):
    """An answer grew past one of its bounds: it is cut there."""


def client_timeout(seconds: float) -> httpx.Timeout:
    """Per-request timeouts: connecting gets at most 10 s of the budget."""
    return httpx.Timeout(seconds, connect=min(seconds, 10.0))


def lost(exchange: Exchange) -> bool:
    """A transport failure (no response, and not a timeout: a retry would cost the whole deadline again) that
    must be confirmed before it is blamed on the request: a dropped keep-alive connection, a stream cut by
    another request's arrival, a reset after an earlier error."""
    return exchange.sent and exchange.response is None and not timed_out(exchange) and not exchange.overflow


def silent(exchange: Exchange) -> bool:
    """The endpoint stopped answering this request: it timed out (a stall in the middle of the body included),
    the connection was refused or dropped before a status line came back, or it was still rate limited (429)
    after every retry. What the circuit breaker counts; a property suite's search stops at one."""
    if exchange.response is not None:
        return exchange.response.status == 429
    return exchange.sent and not exchange.overflow and (timed_out(exchange) or not exchange.cut)


def timed_out(exchange: Exchange) -> bool:
    return exchange.response is None and (exchange.error or "").startswith("timed out")


ENDED_EARLY = "the stream ended before its finish_reason"


async def confirm(first: Exchange, bounds: Bounds, *, timeouts: bool = False, ended: bool = False) -> Exchange:
    """``first``, or, when it is a transport failure to confirm (with ``timeouts``, a timeout too; with ``ended``,
    the caller found its stream ended early, as a server that stops a running stream for another request ends it),
    the answer to its request sent again on a fresh connection of its own. That answer is the one judged; it records
    the first attempt's error. Never a third attempt: a failure twice over is the server's."""
    if not (lost(first) or (timeouts and timed_out(first)) or ended):
        return first
    async with open_client(bounds, keep_alive=False) as fresh:
        again = await send_async(fresh, first.case_id, first.request, bounds, stream=first.stream)
    again.transient = first.error or ENDED_EARLY
    again.transient_cut = first.cut or (ended and first.response is not None)
    return again


def _describe(exc: Exception, deadline: float) -> str:
    """What went wrong, in words: the behaviour first, the library's own words after it."""
    if isinstance(exc, _Overflow):
        return str(exc)
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        return f"timed out after {deadline:g}s"
    if isinstance(exc, httpx.ConnectError):
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):
            return (f"the endpoint's TLS certificate could not be verified ({exc}): for a private CA give "
                    "--ca-bundle PATH; --insecure skips verification")
        return f"connection failed ({exc or type(exc).__name__})"
    said = str(exc) or type(exc).__name__
    chain, cause = [], exc
    while cause is not None and len(chain) < 8:  # httpx's error wraps httpcore's, which wraps the OS error
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    if any(isinstance(c, ConnectionResetError) or getattr(c, "errno", None) == errno.ECONNRESET for c in chain) \
            or "reset by peer" in said:
        return f"the endpoint reset the connection ({type(exc).__name__}: connection reset by peer)"
    if isinstance(exc, httpx.RemoteProtocolError):
        if "incomplete" in said or "without sending complete" in said or "peer closed" in said:
            return f"the connection closed before the answer was complete ({said})"
        if "chunk" in said.lower():
            return f"the answer's chunked encoding is malformed ({said})"
        return f"the answer breaks HTTP/1.1 framing ({said})"
    if isinstance(exc, httpx.DecodingError):
        return f"the answer's content encoding cannot be decoded ({said})"
    return f"{type(exc).__name__}: {said}"


def loading_estimate(response: Response) -> float | None:
    """The ``estimated_time`` of a 503 "model is loading" answer (Hugging Face), else None."""
    if response.status != 503:
        return None
    try:
        estimate = response.json().get("estimated_time")
    except (ValueError, AttributeError):
        return None
    return float(estimate) if isinstance(estimate, (int, float)) and not isinstance(estimate, bool) else None


_RESET = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m(?!s))?(?:(?P<s>\d+(?:\.\d+)?)s)?(?:(?P<ms>\d+)ms)?$")


def _seconds(value: str) -> float | None:
    """A wait as servers write it: seconds (``Retry-After: 2``, ``x-ratelimit-reset-requests: 1.5``), an HTTP
    date (``Retry-After``), or a duration (``6m0s``, ``20ms``: OpenAI's ``x-ratelimit-reset-*``)."""
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    found = _RESET.match(value)
    if found and any(found.groupdict().values()):
        parts = {k: float(v) for k, v in found.groupdict().items() if v}
        return parts.get("h", 0) * 3600 + parts.get("m", 0) * 60 + parts.get("s", 0) + parts.get("ms", 0) / 1000
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def rate_limit_wait(response: Response) -> float | None:
    """How long a 429 answer asks to wait (``Retry-After``, else the longest ``x-ratelimit-reset-*``), the
    default wait when it does not say; None for any other answer."""
    if response.status != 429:
        return None
    headers = {k.lower(): v for k, v in response.headers.items()}
    if "retry-after" in headers and (wait := _seconds(headers["retry-after"])) is not None:
        return wait
    resets = [w for k, v in headers.items() if k.startswith("x-ratelimit-reset") and (w := _seconds(v)) is not None]
    return max(resets) if resets else DEFAULT_RATE_WAIT


async def send_async(client: httpx.AsyncClient, case_id: str, request: Request, bounds: Bounds, *,
                     stream: bool = False) -> Exchange:
    """Send ``request`` within ``bounds``. One mechanism waits out both kinds of "not now" answer and sends the
    request again: a 503 "model is loading" (its estimated_time) and a 429 "rate limited" (its Retry-After or
    x-ratelimit-reset-*, at most ``max_retries`` times). Each wait is at least 0.1 s and all of them together at
    most ``patience`` seconds; past that, the last answer is the one judged. ``exchange.waited`` and
    ``exchange.retries`` say what was spent; checks see only the final answer."""
    waited, retries = 0.0, 0
    while True:
        exchange = await _send_once(client, case_id, request, bounds, stream=stream)
        exchange.waited, exchange.retries = waited, retries
        response = exchange.response
        if response is None or waited >= bounds.patience:
            return exchange
        pause = loading_estimate(response)
        if pause is not None:  # loading: wait what is left of the patience at most, then ask again
            pause = min(max(pause, 0.1), bounds.patience - waited)
        else:
            pause = rate_limit_wait(response)
            if pause is None or retries >= bounds.max_retries or pause > bounds.patience - waited:
                return exchange  # a 429 past the bounds is the answer judged
            pause = max(pause, 0.1)
        await asyncio.sleep(pause)
        waited += pause
        retries += 1


def _events(tail: bytes, chunk: bytes) -> int:
    """Stream events ended in ``chunk`` (by a blank line), ``tail`` being the last bytes before it."""
    text = (tail + chunk).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return text.count(b"\n\n") - tail.replace(b"\r\n", b"\n").replace(b"\r", b"\n").count(b"\n\n")


async def _send_once(client: httpx.AsyncClient, case_id: str, request: Request, bounds: Bounds, *, stream: bool
                     ) -> Exchange:
    deadline = bounds.timeout
    exchange = Exchange(case_id, request, stream=stream)
    start = time.perf_counter()
    wire: list[float] = []  # when the request began to go out (httpcore's first trace: connecting, or sending)

    async def trace(name: str, info: dict) -> None:
        if not wire:
            wire.append(time.perf_counter())

    status, body = None, bytearray()
    arrivals: list[tuple[int, float]] = []  # (bytes received so far, clock), read as the bytes arrive
    try:
        async with asyncio.timeout(deadline):
            async with client.stream(request.method, request.url, headers=request.headers, content=request.body,
                                     extensions={"trace": trace}) as r:
                status = r.status_code
                events, tail = 0, b""
                counting = r.headers.get("content-type", "").startswith("text/event-stream")
                async for chunk in r.aiter_bytes():
                    if len(body) + len(chunk) > bounds.max_body:
                        raise _Overflow(f"the answer grew past {bounds.max_body} bytes (--max-body): cut there")
                    arrivals.append((len(body) + len(chunk), time.perf_counter()))
                    body += chunk
                    if counting:
                        events += _events(tail, chunk)
                        tail = bytes(body[-3:])
                        if events > bounds.max_events:
                            raise _Overflow(f"the stream sent more than {bounds.max_events} events "
                                            f"(--max-events): cut there")
                end = time.perf_counter()
                # Times count from the moment the request began to go out on the wire, not from when the client
                # library began to build it (about half a millisecond earlier): that is when the endpoint's
                # clock can start too.
                origin = wire[0] if wire else start
                exchange.response = Response(
                    r.status_code, dict(r.headers), bytes(body), end - origin,
                    arrivals[0][1] - origin if arrivals else None, [(n, t - origin) for n, t in arrivals],
                )
    except Exception as exc:
        exchange.error = _describe(exc, deadline)
        exchange.overflow = isinstance(exc, _Overflow)
        if status is not None:  # the answer had begun: the connection was cut in the middle of its body
            exchange.cut = True
            exchange.error += f" (after status {status} and {len(body)} bytes of the body)"
    return exchange
