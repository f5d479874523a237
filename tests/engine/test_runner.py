"""The runner: concurrency is real and bounded, a request is sent once, nothing hangs."""

from __future__ import annotations

import asyncio
import socket

import pytest

from infercheck import Outcome, Runner, Target, embedded, resolve, run
from infercheck.checks import base as _checks
from infercheck.checks.catalog import registry
from infercheck.contract.cases import Case, by_id
from infercheck.engine.runner import Item, items
from infercheck.engine.target import WRONG_KEY
from infercheck.reports.results import unrun
from infercheck.wire.answers import read

from ..support import Recorder, serve, serve_app


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


def test_max_requests_caps_what_is_sent_and_skips_the_rest_with_the_reason():
    recorder = Recorder(delay=0)
    with serve(recorder) as url:
        runner = Runner(Target(url, model="m"), max_requests=3)
        runner.execute(_cases(5))
    assert len(recorder.seen) == 3
    assert runner.stats()["requests"] == 3
    skipped = [e for e in runner.exchanges.values() if not e.sent]
    assert [e.case_id for e in skipped] == ["c3", "c4"]  # in case order: the first cases get the budget
    result = _checks.evaluate(registry()["status-code"], _cases(5)[4], runner.exchanges["c4"], runner.context)
    assert result.outcome is Outcome.SKIPPED and "--max-requests 3" in result.message


def test_max_requests_counts_discovery(reference_url):
    target = resolve(reference_url)
    runner = run(target, max_requests=5, suites=False)
    assert runner.stats()["requests"] == 5
    assert not [r for r in runner.results if r.outcome is Outcome.FAILED]


def test_max_failures_stops_sending_once_reached_and_the_rest_is_not_run():
    with embedded(faults=("stop-ignored",)) as url:
        whole = run(resolve(url), seed=1, max_examples=5)
        first = run(resolve(url), seed=1, max_examples=5, max_failures=1)
    failed = [r for r in first.results if r.outcome is Outcome.FAILED]
    assert failed and {r.check for r in failed} <= {r.check for r in whole.results if r.outcome is Outcome.FAILED}
    assert first.stats()["requests"] < whole.stats()["requests"]
    stopped = [r for r in first.results if r.outcome is Outcome.SKIPPED and "--max-failures 1" in r.message]
    assert stopped and all("the run stopped after 1 failure(s)" in r.message for r in stopped)
    assert unrun(first.results).endswith(f"{len(stopped)} after the run stopped (--max-failures)")
    assert unrun(whole.results) is None  # the whole run ran every check (none needs a key it lacks here)


def test_a_repeat_case_is_sent_again_even_when_identical():
    recorder = Recorder(delay=0)
    first = Case(id="a", title="t", route="r", method="POST", path="/x", body={"same": 1})
    again = Case(id="b", title="t", route="r", method="POST", path="/x", body={"same": 1}, repeat=True, twin="a")
    with serve(recorder) as url:
        runner = Runner(Target(url, model="m"))
        runner.execute([first, again])
    assert len(recorder.seen) == 2 and runner.exchanges["a"] is not runner.exchanges["b"]


def test_auth_cases_are_not_sent_without_a_key(reference_url):
    runner = run(resolve(reference_url), suites=False)
    auth = [r for r in runner.results if r.case.startswith("auth.")]
    assert auth and {r.outcome for r in auth} == {Outcome.SKIPPED}
    assert all("no API key was given" in r.message for r in auth)
    assert runner.stats()["requests"] == 66  # 63 distinct requests, and three copies of chat.concurrent-streams


def test_auth_cases_send_no_key_and_a_wrong_key(keyed_url):
    runner = run(resolve(keyed_url, api_key="sk-test-secret"), suites=False)
    assert "Authorization" not in runner.exchanges["auth.no-key"].request.headers
    wrong = runner.exchanges["auth.wrong-key"].request.headers["Authorization"]
    assert wrong == f"Bearer {WRONG_KEY}" and "sk-test-secret" not in wrong
    assert {r.outcome for r in runner.results if r.case.startswith("auth.")} == {Outcome.PASSED}


def test_a_derived_stop_case_is_skipped_when_its_source_gave_no_text():
    recorder = Recorder(delay=0)  # answers {} to everything: no text to take a stop sequence from
    source = by_id("completions.deterministic")
    derived = by_id("completions.stop")
    with serve(recorder) as url:
        runner = Runner(Target(url, model="m"))
        runner.execute([derived])  # the source is sent first, by itself
    assert runner.exchanges[source.id].sent and not runner.exchanges[derived.id].sent
    assert "needs a text answer from completions.deterministic" in runner.exchanges[derived.id].error


def test_a_derived_retrieval_is_skipped_when_its_source_gave_no_id_and_asks_for_the_id_it_gave(reference_url):
    recorder = Recorder(delay=0)  # answers {} to everything: no id to retrieve a response by
    with serve(recorder) as url:
        runner = Runner(Target(url, model="m"))
        runner.execute([by_id("responses.retrieve")])
    assert "responses.text has no id to ask for it by" in runner.exchanges["responses.retrieve"].error
    runner = Runner(Target(reference_url, model="infercheck-tiny"))
    runner.execute([by_id("responses.retrieve")])
    made = runner.exchanges["responses.text"].response.json()["id"]
    retrieved = runner.exchanges["responses.retrieve"]
    assert retrieved.request.url.endswith(f"/responses/{made}") and retrieved.response.json()["id"] == made


def test_the_derived_stop_sequence_comes_from_the_first_answer(reference_url):
    runner = Runner(resolve(reference_url))
    runner.execute([by_id("chat.stop")])
    first = read(runner.exchanges["chat.deterministic"]).text()
    stop = runner.exchanges["chat.stop"].request.json()["stop"]
    assert len(stop) == 1 and stop[0] in first and first.index(stop[0]) > 0
    assert read(runner.exchanges["chat.stop"]).text() == first[: first.index(stop[0])]


def test_copies_sent_at_once_respect_concurrency_and_the_request_budget():
    """chat.concurrent-streams sends its copies only when they may all be in flight and the budget pays for them;
    otherwise streams-under-load says why it decided nothing."""
    case = by_id("chat.concurrent-streams")
    with embedded(faults=("streams-cut-under-load",)) as url:
        for kwargs in ({"concurrency": 1}, {"max_requests": 3}):
            runner = Runner(resolve(url), **kwargs)
            runner.execute([case])
            exchange = runner.exchanges[case.id]
            assert exchange.response is not None and exchange.under_load == ()
            result = runner.evaluate(Item(case, registry()["streams-under-load"]))
            assert result.outcome is Outcome.SKIPPED and "--concurrency 1" in result.message
        runner = Runner(resolve(url), concurrency=2)
        runner.execute([case])
        assert [len(r) for r in runner.exchanges[case.id].under_load] == [2, 2]  # two rounds, both cut
        assert runner.evaluate(Item(case, registry()["streams-under-load"])).outcome is Outcome.FAILED


def test_copies_that_time_out_wait_for_the_endpoint_and_are_sent_again():
    """A single-slot server still generating what other requests gave up on answers the copies too late: they time
    out and say nothing about interruption. The run waits until the endpoint answers the request alone in time and
    sends the copies again, once: they meet an idle endpoint, which then shows that it stops running streams (here
    as llama-cpp-python does, ending them with [DONE] before their finish_reason)."""
    from infercheck.serve import create_app

    app = create_app(faults=("streams-ended-under-load",))
    posts = {"n": 0}

    async def busy(scope, receive, send):  # the 2nd to 4th POSTs (the first copies) stall past the deadline
        if scope["type"] == "http" and scope["method"] == "POST":
            posts["n"] += 1
            if 2 <= posts["n"] <= 4:
                await asyncio.sleep(3)
        await app(scope, receive, send)

    case = by_id("chat.concurrent-streams")
    with serve_app(busy) as url:
        target = resolve(url + "/v1")
        target.timeout = 1.0
        runner = Runner(target, concurrency=3)
        runner.execute([case])
    rounds = runner.exchanges[case.id].under_load
    assert [len(r) for r in rounds] == [3, 3]  # the timed-out round made void, then two rounds, both interrupted
    assert len(runner.waits) >= 4  # the void round, and the request alone that found the endpoint idle
    result = runner.evaluate(Item(case, registry()["streams-under-load"]))
    assert result.outcome is Outcome.FAILED and "the stream ended before its finish_reason" in result.message
    assert runner.stats()["requests"] == len(runner.sent())


def test_copies_that_time_out_are_slowness_not_interrupted_streams():
    """Only a copy that lost its connection, or whose stream ended before its finish_reason, counts as interrupted;
    copies that ran out of time say nothing about interruption (and are not sent a second time, which would cost
    the deadline again)."""
    from infercheck import Exchange, Request, Response
    from infercheck.checks.base import Context, evaluate

    case = by_id("chat.concurrent-streams")
    request = Request("POST", "http://h/v1/chat/completions", body=b"{}")
    alone = Exchange(case.id, request, Response(200, {"content-type": "text/event-stream"}, b"data: [DONE]\n\n", 0.1),
                     stream=True)

    def copy(error: str | None) -> Exchange:
        return Exchange(case.id, request, None if error else alone.response, error=error, stream=True)

    slow = "timed out after 60s"
    cut = "RemoteProtocolError: peer closed connection (after status 200 and 40 bytes of the body)"
    check, ctx = registry()["streams-under-load"], Context("http://h/v1", "m")
    for rounds, outcome in ((((copy(None), copy(slow), copy(slow)),), Outcome.SKIPPED),
                            (((copy(cut), copy(None), copy(None)), (copy(None),) * 3), Outcome.PASSED),
                            (((copy(cut), copy(cut), copy(None)), (copy(None), copy(cut), copy(None))), Outcome.FAILED)):
        alone.under_load = rounds
        result = evaluate(check, case, alone, ctx)
        assert result.outcome is outcome, (rounds, result.message)
    assert "2 of 3 interrupted" in result.message and "round 2: 1 of 3 interrupted" in result.message
    # a stream that ends well framed ([DONE]) before its finish_reason was interrupted too: llama-cpp-python stops a
    # running stream that way when another request arrives
    chunk = b'data: {"choices": [{"index": 0, "delta": {"content": "one"}, "finish_reason": null}]}\n\n'
    ended = Exchange(case.id, request, Response(200, {"content-type": "text/event-stream"}, chunk + b"data: [DONE]\n\n",
                                                0.1), stream=True)
    alone.under_load = ((ended, copy(None), copy(None)), (copy(None), ended, copy(None)))
    result = evaluate(check, case, alone, ctx)
    assert result.outcome is Outcome.FAILED and "1 of 3 interrupted (the stream ended before its finish_reason)" \
        in result.message
