"""Hostile and slow endpoints: every behaviour ends within its bounds, is named in words, and exits 1.

Each behaviour is a fault mode of the reference endpoint (serve/_hostile.py) that meets every POST. The whole run
goes through the command, in a process of its own, as a user runs it: ``--timeout 3``. The subprocess timeout is
a guard against a hang, not a speed target (benchmarks/hostile.py measures time and memory).
"""

from __future__ import annotations

import email.utils
import json
import subprocess
import sys
import time

import pytest

from infercheck import registry
from infercheck.checks import base as _checks
from infercheck.contract.cases import Case
from infercheck.engine.limits import Breaker
from infercheck.wire.exchange import Exchange, Request, Response
from infercheck.wire.transport import _events, _seconds, parse_size, rate_limit_wait, silent

# behaviour -> words the report must use for it
HOSTILE = {
    "post-hang": ["timed out after 3s", "the endpoint stopped answering POST /v1/chat/completions"],
    "stall-mid-body": ["timed out after 3s (after status 200 and"],
    "stream-endless": ["the stream sent more than 20000 events (--max-events): cut there"],
    "body-huge": ["the answer grew past 8388608 bytes (--max-body): cut there"],
    "utf8-invalid": ["the body is not valid UTF-8 (byte 0xff at offset 13)"],
    "connection-reset": ["the endpoint reset the connection"],
    "content-length-long": ["the connection closed before the answer was complete", "expected 1000"],
    "chunked-malformed": ["the answer's chunked encoding is malformed"],
    "proxy-502-html": ["answered 502", "the body is an HTML page ('502 Bad Gateway')"],
    "rate-limited-forever": ["answered 429", "rate limited: still 429 after 3 retries"],
}


def _run(*args: str, guard: float = 240) -> tuple[subprocess.CompletedProcess, float]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "infercheck", "run", "--timeout", "3", "--max-examples", "5",
                           "--seed", "1", *args], capture_output=True, text=True, timeout=guard)
    return done, time.perf_counter() - started


@pytest.mark.parametrize("behaviour", HOSTILE)
def test_a_hostile_endpoint_is_reported_in_words_with_exit_1(behaviour: str, tmp_path):
    done, _ = _run("--fault", behaviour, "--json", str(tmp_path / "results.json"))
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr and "INTERNAL ERROR" not in done.stdout
    for words in HOSTILE[behaviour]:
        assert words in done.stdout, (words, done.stdout[-3000:])
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["summary"]["failed"] > 0 and doc["summary"]["errors"] == 0
    failed = {r["check"] for r in doc["results"] if r["outcome"] == "failed"}
    assert failed & {"status-code", "response-schema"}
    # every failure carries the curl that reproduces it, the abandoned ones included
    assert all(r["curl"].startswith("curl ") for r in doc["results"] if r["outcome"] == "failed")


def test_a_never_answering_endpoint_is_given_up_route_by_route(tmp_path):
    done, _ = _run("--fault", "post-hang", "--json", str(tmp_path / "results.json"))
    doc = json.loads((tmp_path / "results.json").read_text())
    abandoned = [r for r in doc["results"] if r["outcome"] == "failed" and r["message"].startswith("not sent: ")]
    assert abandoned and all("stopped answering" in r["message"] for r in abandoned)
    assert doc["stats"]["abandoned"] > 0
    # one paragraph for many cases: the terminal names the others instead of repeating the failure
    assert "the same cause in" in done.stdout
    assert done.stdout.count("the endpoint stopped answering POST /v1/chat/completions") <= 3


def test_a_rate_limit_that_ends_is_waited_out_and_hides_nothing(tmp_path):
    """The first two POSTs to each path are answered 429 with Retry-After: 1: waited out, the run is conformant,
    and the report counts what was waited."""
    done, _ = _run("--fault", "rate-limited", "--json", str(tmp_path / "results.json"))
    assert done.returncode == 0, done.stdout[-3000:]
    stats = json.loads((tmp_path / "results.json").read_text())["stats"]
    assert stats["resent_after_wait"] >= 2 and stats["waited_s"] >= 2
    assert "sent again after a 503 'loading' or 429 'rate limited' answer" in done.stdout


def test_a_rate_limit_does_not_hide_a_violation(tmp_path):
    """Retries never hide a violation: the checks see the final answer, which still breaks the contract."""
    done, _ = _run("--fault", "rate-limited", "--fault", "usage-total-off", "-k", "usage")
    assert done.returncode == 1 and "usage-arithmetic" in done.stdout


# -- units --------------------------------------------------------------------------------------------------


def test_waits_are_read_as_servers_write_them():
    assert _seconds("2") == 2 and _seconds("1.5") == 1.5
    assert _seconds("6m0s") == 360 and _seconds("20ms") == 0.02 and _seconds("1h2m3s") == 3723
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= _seconds(later) <= 31
    assert _seconds(email.utils.formatdate(time.time() - 30, usegmt=True)) == 0
    assert _seconds("soon") is None


def test_a_429_says_how_long_to_wait():
    def answer(status: int, **headers: str) -> Response:
        return Response(status, headers, b"{}", 0.0)

    assert rate_limit_wait(answer(429, **{"Retry-After": "3"})) == 3
    assert rate_limit_wait(answer(429, **{"x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "6m0s"})) == 360
    assert rate_limit_wait(answer(429)) == 1.0  # says nothing: the default wait
    assert rate_limit_wait(answer(503, **{"Retry-After": "3"})) is None


def test_sizes():
    assert parse_size("8MiB") == 8 * 1024 * 1024 and parse_size("500k") == 500_000 and parse_size("1024") == 1024
    for bad in ("", "lots", "-1", "0", "5 parsecs"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_stream_events_are_counted_across_chunk_boundaries():
    stream = b"data: 1\n\ndata: 2\r\n\r\ndata: 3\r\rdata: 4\n\n"
    for cut in range(1, len(stream)):
        head, tail = stream[:cut], stream[cut:]
        assert _events(b"", head) + _events(head[-3:], tail) == 4, cut


def _exchange(error: str | None = "timed out after 3s", status: int | None = None) -> Exchange:
    request = Request("POST", "http://h/v1/chat/completions", body=b"{}")
    response = Response(status, {}, b"{}", 0.1) if status else None
    return Exchange("c", request, response, error=None if status else error)


def test_the_breaker_counts_unanswered_requests_in_a_row_per_route():
    breaker = Breaker(3)
    for _ in range(2):
        breaker.record(_exchange())
    breaker.record(_exchange(status=200))  # an answer: the streak starts again
    for _ in range(2):
        breaker.record(_exchange())
    assert not breaker.tripped
    breaker.record(_exchange("connection failed (refused)"))
    [why] = breaker.tripped.values()
    assert "POST /v1/chat/completions: 3 requests in a row went unanswered" in why
    assert silent(_exchange(status=429)) and not silent(_exchange(status=500))
    assert not Breaker(0).tripped  # 0: never
    never = Breaker(0)
    for _ in range(10):
        never.record(_exchange())
    assert not never.tripped


def test_an_abandoned_case_fails_its_status_check_with_its_curl():
    breaker = Breaker(1)
    breaker.record(_exchange())
    case = Case("chat.x", "x", "chat", "POST", "/chat/completions", body={}, status=(200,))
    exchange = breaker.abandon(case, _exchange().request)
    context = _checks.Context(base_url="http://h/v1", model="m")
    status = _checks.evaluate(registry()["status-code"], case, exchange, context)
    assert status.outcome is _checks.Outcome.FAILED and "stopped answering" in status.message
    assert status.curl.startswith("curl ")
    schema = _checks.evaluate(registry()["content-type"], case, exchange, context)
    assert schema.outcome is _checks.Outcome.SKIPPED
