"""One send path (issue 25): the cases and every property suite send through ``Sender.send``, under one gate, one
breaker and one budget, with one rule of confirmation; and a load that is meant to be one can send without it."""

from __future__ import annotations

import asyncio

from hypothesis import settings
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from infercheck import Outcome, Target, embedded, registry, resolve
from infercheck.checks.base import evaluate
from infercheck.contract.cases import Case, by_id
from infercheck.engine import sending as _sending
from infercheck.engine.gate import Gate
from infercheck.engine.limits import Breaker, Budget
from infercheck.engine.runner import Runner, items
from infercheck.engine.session import Session
from infercheck.generation.routes import Property
from infercheck.wire.transport import open_client

from ..support import serve_app


def test_the_cases_and_the_suites_send_through_one_function(monkeypatch):
    """Every request a session sends, but discovery, confirmations and the copies sent at once, is an exchange that
    ``Sender.send`` returned, for the cases' lane and the suites' alike."""
    returned, lanes = set(), set()
    real = _sending.Sender.send

    async def send(self, case, request, lane, **kwargs):
        exchange = await real(self, case, request, lane, **kwargs)
        returned.add(id(exchange))
        lanes.add("suite" if lane.stops else "cases")
        return exchange

    monkeypatch.setattr(_sending.Sender, "send", send)
    with embedded() as url:
        runner = Runner(resolve(url), concurrency=4)
        wanted = [i for i in items("openai") if i.case.route in ("chat", "models")]
        Session(runner, base=settings(), max_examples=5, seed=3).start(
            wanted, [Property("chat", "positive"), Property("completions", "negative")])
    copies = {id(c) for e in runner.exchanges.values() for round_ in e.under_load for c in round_}
    sent = [e for e in runner.sent() if e not in runner.target.discovery and id(e) not in copies]
    assert lanes == {"cases", "suite"}
    assert len(runner.generated) >= 10 and any(e.case_id.startswith("chat.") for e in sent)
    assert all(id(e) in returned for e in sent), [e.case_id for e in sent if id(e) not in returned]


def _slow_once(delay: float, times: int = 1):
    """An app whose first ``times`` POSTs answer after ``delay`` seconds, and every later one at once."""
    seen = []

    async def answer(request):
        seen.append(request.url.path)
        if len(seen) <= times:
            await asyncio.sleep(delay)
        return JSONResponse({"object": "list", "data": []})

    return Starlette(routes=[Route("/v1/{path:path}", answer, methods=["POST"])]), seen


def _case() -> Case:
    return Case(id="c", title="t", route="r", method="POST", path="/x", body={"n": 1})


def test_a_case_that_times_out_under_load_is_confirmed_alone_and_the_gate_narrows():
    """The one rule, for the cases too: a timeout met while others could be in flight is sent again alone before it
    is blamed; when that answers in time, the answer is judged and the run narrows its concurrency."""
    app, seen = _slow_once(3)
    with serve_app(app) as root:
        runner = Runner(Target(root + "/v1", model="m", timeout=0.5), concurrency=8)

        async def go() -> int:
            gate = Gate(runner.concurrency)
            async with runner.sending(gate) as sender:
                await runner.send_async([_case()], sender)
            return gate.width

        width = asyncio.run(go())
    exchange = runner.exchanges["c"]
    assert len(seen) == 2 and exchange.response is not None and exchange.response.status == 200
    assert exchange.transient == "timed out after 0.5s"
    assert width == 4
    assert runner.breaker.streaks.get("POST /v1/x") == 0  # the breaker counted the confirmed answer


def test_a_case_that_times_out_alone_too_is_the_finding_said_in_those_words():
    app, seen = _slow_once(3, times=2)
    with serve_app(app) as root:
        runner = Runner(Target(root + "/v1", model="m", timeout=0.5), concurrency=8)
        runner.execute([_case()])
    result = evaluate(registry()["status-code"], _case(), runner.exchanges["c"], runner.context)
    assert len(seen) == 2 and result.outcome is Outcome.FAILED
    assert result.message == ("no response: timed out after 0.5s under load, and again when sent alone with nothing "
                              "else in flight: the endpoint cannot answer it in time")


def test_without_confirmation_a_timeout_stands_as_it_came():
    app, seen = _slow_once(3)
    with serve_app(app) as root:
        target = Target(root + "/v1", model="m", timeout=0.5)

        async def go():
            gate = Gate(8)
            async with open_client(target.bounds, 8) as client:
                sender = _sending.Sender(target.bounds, gate, Budget(), Breaker(5), client, confirming=False)
                return await sender.send(_case(), Runner(target).request_for(_case()), _sending.Lane()), gate.width

        exchange, width = asyncio.run(go())
    assert len(seen) == 1 and exchange.response is None and exchange.error == "timed out after 0.5s"
    assert exchange.transient is None and width == 8


def test_a_request_is_refused_by_the_breaker_the_lane_the_caller_and_the_budget_in_that_order():
    target = Target("http://127.0.0.1:9/v1", model="m")
    case, request = _case(), Runner(target).request_for(_case())

    async def refused(breaker: Breaker, lane: _sending.Lane, refusal, budget: Budget):
        async with open_client(target.bounds) as client:
            sender = _sending.Sender(target.bounds, Gate(2), budget, breaker, client)
            return await sender.send(case, request, lane, refusal=refusal)

    tripped = Breaker(1)
    tripped.tripped["POST /v1/x"] = "the endpoint stopped answering POST /v1/x"
    stopped = _sending.Lane(stops=True)
    stopped.unanswered = "timed out after 1s"
    spent = Budget(max_requests=1, sent=1)
    for breaker, lane, refusal, says in ((tripped, stopped, lambda: "mine", "stopped answering"),
                                         (Breaker(5), stopped, lambda: "mine", "went unanswered (timed out after 1s)"),
                                         (Breaker(5), _sending.Lane(), lambda: "mine", "mine"),
                                         (Breaker(5), _sending.Lane(), None, "--max-requests 1")):
        exchange = asyncio.run(refused(breaker, lane, refusal, spent))
        assert not exchange.sent and says in exchange.error, exchange.error
        assert exchange.abandoned is (breaker is tripped)
    assert spent.sent == 1  # nothing refused was paid for


def test_a_derived_case_still_waits_for_its_source_through_the_one_path():
    with embedded() as url:
        runner = Runner(resolve(url))
        runner.execute([by_id("completions.stop")])
    assert runner.exchanges["completions.deterministic"].sent and runner.exchanges["completions.stop"].sent


def test_a_timeout_behind_a_request_that_hangs_is_still_confirmed_and_answers():
    """llama-server's cascade (issue 29): one request generates for minutes and holds a slot; another, sent beside it,
    times out waiting. The first times out alone too (the finding); the second, confirmed alone after it, answers,
    and is judged by that answer. Before, once the first was confirmed unanswered, nothing else was confirmed."""
    calls = []

    async def answer(request):
        calls.append(request.url.path)
        if request.url.path.endswith("/hang") or calls.count(request.url.path) == 1:
            await asyncio.sleep(3)
        return JSONResponse({"object": "list", "data": []})

    hang = Case(id="hang", title="t", route="r", method="POST", path="/hang", body={"n": 1})
    slow = Case(id="slow", title="t", route="r", method="POST", path="/slow", body={"n": 2})
    with serve_app(Starlette(routes=[Route("/v1/{path:path}", answer, methods=["POST"])])) as root:
        runner = Runner(Target(root + "/v1", model="m", timeout=0.5), concurrency=8)
        runner.execute([hang, slow])
    assert runner.exchanges["hang"].response is None and runner.exchanges["hang"].transient == "timed out after 0.5s"
    answered = runner.exchanges["slow"]
    assert answered.response is not None and answered.response.status == 200, answered.error
    assert answered.transient == "timed out after 0.5s" and calls.count("/v1/slow") == 2


def test_after_two_requests_time_out_alone_too_no_more_timeouts_are_confirmed():
    """An endpoint that answers no POST: two confirmations time out alone, and the third timeout is blamed as it came
    (it would cost the deadline again); the breaker counts it, for the endpoint was shown to hang."""

    async def never(request):
        await asyncio.sleep(5)
        return JSONResponse({})

    cases = [Case(id=f"c{i}", title="t", route="r", method="POST", path="/x", body={"n": i}) for i in range(3)]
    with serve_app(Starlette(routes=[Route("/v1/{path:path}", never, methods=["POST"])])) as root:
        runner = Runner(Target(root + "/v1", model="m", timeout=0.4, breaker=3), concurrency=8)
        runner.execute(cases)
    confirmed = [c.id for c in cases if runner.exchanges[c.id].transient is not None]
    assert len(confirmed) == 2 and all(runner.exchanges[c.id].response is None for c in cases)
    assert runner.breaker.streaks["POST /v1/x"] == 3 and "POST /v1/x" in runner.breaker.tripped


def test_a_narrowed_gate_grows_back_one_slot_per_width_answered_in_a_row_and_says_so():
    async def go() -> Gate:
        gate = Gate(8)
        async with gate.alone():
            gate.narrow("c timed out under load and was answered alone in 1.2 s")
            gate.narrow("d timed out under load and was answered alone in 0.9 s")
        for _ in range(3):
            gate.answered(True)
        gate.answered(False)  # a timeout starts the count again
        for _ in range(2 + 3 + 4 + 5 + 6 + 7 + 99):
            gate.answered(True)
        return gate

    gate = asyncio.run(go())
    assert gate.width == 8 and gate.lowest == 2 and gate.narrowed == 2
    assert gate.changes[:3] == ["8 -> 4: c timed out under load and was answered alone in 1.2 s",
                                "4 -> 2: d timed out under load and was answered alone in 0.9 s",
                                "2 -> 3: 2 requests in a row answered in time"]
    assert gate.changes[-1] == "7 -> 8: 7 requests in a row answered in time" and len(gate.changes) == 8
    assert gate._free == 8  # every slot it grew back can be taken


def test_the_run_says_its_concurrency_narrowed():
    app, seen = _slow_once(3)
    with serve_app(app) as root:
        runner = Runner(Target(root + "/v1", model="m", timeout=0.5), concurrency=8)
        runner.execute([_case()])
    stats = runner.stats()
    assert (stats["concurrency"], stats["concurrency_lowest"], stats["narrowed"]) == (8, 4, 1)
    assert stats["concurrency_changes"] == ["8 -> 4: c timed out under load and was answered alone in 0.0 s"]


def test_a_timeout_of_a_run_of_one_at_a_time_says_it_was_sent_alone():
    app, seen = _slow_once(3)
    with serve_app(app) as root:
        runner = Runner(Target(root + "/v1", model="m", timeout=0.5), concurrency=1)
        runner.execute([_case()])
    result = evaluate(registry()["status-code"], _case(), runner.exchanges["c"], runner.context)
    assert len(seen) == 1 and result.outcome is Outcome.FAILED  # not sent again: nothing else was in flight
    assert result.message == ("no response: timed out after 0.5s, sent alone with nothing else in flight: the "
                              "endpoint cannot answer it in time")
