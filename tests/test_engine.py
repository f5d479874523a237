"""The runner: concurrency is real and bounded, a request is sent once, nothing hangs."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from infercheck import Outcome, Runner, Target
from infercheck._cases import Case
from infercheck._engine import Item, items
from infercheck._checks import registry


class Recorder:
    def __init__(self, delay: float):
        self.delay, self.in_flight, self.peak, self.seen = delay, 0, 0, []

    async def endpoint(self, request):
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        self.seen.append(await request.body())
        await asyncio.sleep(self.delay)
        self.in_flight -= 1
        return JSONResponse({})


@contextmanager
def serve(recorder: Recorder) -> Iterator[str]:
    app = Starlette(routes=[Route("/v1/{path:path}", recorder.endpoint, methods=["GET", "POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        server.should_exit = True
        thread.join(5)


def _cases(count: int, same: bool = False) -> list[Case]:
    return [Case(id=f"c{i}", title="t", route="r", method="POST", path="/x",
                 body={"n": 0 if same else i}) for i in range(count)]


@pytest.mark.parametrize(("concurrency", "expect_peak"), [(1, 1), (4, 4)])
def test_concurrency_is_bounded_and_used(concurrency, expect_peak):
    recorder = Recorder(delay=0.05)
    with serve(recorder) as url:
        runner = Runner(Target(url, model="m"), concurrency)
        runner.execute(_cases(12))
    assert recorder.peak == expect_peak
    assert len(recorder.seen) == 12


def test_identical_requests_are_sent_once():
    recorder = Recorder(delay=0)
    with serve(recorder) as url:
        runner = Runner(Target(url, model="m"))
        runner.execute(_cases(5, same=True))
        assert len(recorder.seen) == 1
        assert len({id(e) for e in runner.exchanges.values()}) == 1
        runner.execute(_cases(5, same=True))  # already recorded: nothing new is sent
        assert len(recorder.seen) == 1


def test_a_target_that_never_answers_times_out_and_fails_status_only():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()  # accepts connections, never answers
    try:
        runner = Runner(Target(f"http://127.0.0.1:{listener.getsockname()[1]}/v1", model="m", timeout=0.5))
        case = _cases(1)[0]
        results = [runner.evaluate(Item(case, chk)) for chk in registry().values() if chk.applies(case)]
    finally:
        listener.close()
    by_check = {r.check: r for r in results}
    assert by_check["status-code"].outcome is Outcome.FAILED
    assert "timed out after 0.5s" in by_check["status-code"].message
    assert {r.outcome for r in results if r.check != "status-code"} == {Outcome.SKIPPED}


def test_items_pair_each_case_with_the_checks_that_apply():
    pairs = items("openai")
    ids = {p.id for p in pairs}
    assert "chat.documented-stream/stream-chunk-schema" in ids
    assert "chat.documented-stream/response-schema" not in ids
    assert "errors.invalid-json/response-schema" in ids
    assert len(ids) == len(pairs)
