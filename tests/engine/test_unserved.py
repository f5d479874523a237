"""A route the endpoint does not serve is one finding (issue 29): the status check of its first valid case says so,
and every other failure of the route, its cases' and its property suites', is skipped with that reason."""

from __future__ import annotations

import json

from infercheck import Outcome, embedded, resolve, run
from infercheck.checks.base import Result
from infercheck.contract.cases import Case
from infercheck.engine.unserved import judge, survey
from infercheck.wire.exchange import Exchange, Request, Response


def test_a_route_answered_404_to_every_request_is_one_failure_and_its_suites_are_skipped():
    with embedded(faults=("responses-not-served",)) as url:
        runner = run(resolve(url), max_examples=3, seed=2)
    failed = [r for r in runner.results if r.outcome is Outcome.FAILED]
    assert len(failed) == 1, [(r.case, r.check, r.message) for r in failed]
    assert (failed[0].case, failed[0].check) == ("responses.text", "status-code")
    assert failed[0].message.startswith("the endpoint does not serve POST /v1/responses: every request to it (")
    assert "answered 404" in failed[0].message and failed[0].curl.startswith("curl ")
    responses = [r for r in runner.results if r.case.startswith(("responses.", "property.responses."))
                 and r is not failed[0]]
    skipped = [r for r in responses if r.outcome is Outcome.SKIPPED]
    assert skipped and all("see responses.text/status-code" in r.message for r in skipped
                           if "not served" in r.message)
    assert any(r.case.startswith("property.responses.") and "POST /v1/responses is not served" in r.message
               for r in skipped)
    assert not [r for r in runner.results if r.outcome is Outcome.ERROR]


def _case(id: str, status: tuple = (200,)) -> Case:
    return Case(id, "t", "responses", "POST", "/responses", body={}, status=status)


def _answered(case: Case, status: int) -> Exchange:
    request = Request("POST", "http://h/v1/responses", body=b"{}")
    return Exchange(case.id, request, Response(status, {"content-type": "application/json"}, b"{}", 0.01))


def test_only_one_refusal_of_every_request_and_valid_ones_among_them_is_a_route_not_served():
    valid, invalid = _case("a"), _case("b", ("4xx",))
    assert list(survey([valid, invalid], {"a": _answered(valid, 404), "b": _answered(invalid, 404)})) == \
        ["POST /v1/responses"]
    # served (the valid one answered), refused two ways, or only invalid requests refused: no route-level finding
    assert survey([valid, invalid], {"a": _answered(valid, 200), "b": _answered(invalid, 404)}) == {}
    assert survey([valid, invalid], {"a": _answered(valid, 404), "b": _answered(invalid, 400)}) == {}
    assert survey([invalid], {"b": _answered(invalid, 404)}) == {}
    assert survey([valid], {"a": _answered(valid, 500)}) == {}  # a crash is a failure of its own, each time
    assert survey([valid], {"a": _answered(valid, 404)}) == {}  # one request: a response not stored answers 404 too


def test_passes_stay_and_failures_of_other_routes_are_untouched():
    valid, again = _case("a"), _case("c")
    unserved = survey([valid, again], {"a": _answered(valid, 404), "c": _answered(again, 404)})
    assert list(unserved) == ["POST /v1/responses"]
    passed = Result("content-type", "a", Outcome.PASSED, "high", "t")
    assert judge(passed, _answered(valid, 404), unserved).outcome is Outcome.PASSED
    elsewhere = Exchange("x", Request("POST", "http://h/v1/chat/completions", body=b"{}"),
                         Response(404, {}, b"{}", 0.01))
    other = Result("status-code", "x", Outcome.FAILED, "critical", "t", "answered 404")
    assert judge(other, elsewhere, unserved).outcome is Outcome.FAILED


def test_the_clean_endpoint_has_every_route_served():
    with embedded() as url:
        runner = run(resolve(url), suites=False)
    assert runner.unserved == {} and not [r for r in runner.results if "is not served" in r.message]


def test_a_feature_refused_with_a_400_naming_it_is_one_failure_and_its_suite_is_skipped():
    with embedded(faults=("tools-refused",)) as url:
        runner = run(resolve(url), max_examples=3, seed=2)
    failed = [r for r in runner.results if r.outcome is Outcome.FAILED]
    assert len(failed) == 1, [(r.case, r.check, r.message) for r in failed]
    assert failed[0].check == "status-code" and failed[0].message.startswith(
        "the endpoint refuses tools on POST /v1/chat/completions: every request carrying it (")
    assert "answered 400 naming it" in failed[0].message and "--enable-auto-tool-choice" in failed[0].message
    assert list(runner.unserved) == ["POST /v1/chat/completions with tools"]  # tools, not tool_choice too
    skipped = [r for r in runner.results if r.outcome is Outcome.SKIPPED and "tools is refused" in r.message]
    assert any(r.case.startswith("property.chat-tools.") for r in skipped)
    assert all(f"see {failed[0].case}/status-code" in r.message for r in skipped)
    # chat without tools is still judged: its passes stay
    assert any(r.case == "chat.documented" and r.outcome is Outcome.PASSED for r in runner.results)


def _chat(id: str, body: dict, status: tuple = (200,)) -> Case:
    return Case(id, "t", "openai", "POST", "/chat/completions", body=body, status=status)


def _answer(case: Case, status: int, said: bytes = b"{}") -> Exchange:
    request = Request("POST", "http://h/v1/chat/completions", body=json.dumps(case.body).encode())
    return Exchange(case.id, request, Response(status, {"content-type": "application/json"}, said, 0.01))


def test_a_feature_is_refused_only_when_every_request_carrying_it_is_refused_naming_it_and_others_served():
    plain, tools, more = _chat("p", {"messages": []}), _chat("t", {"tools": []}), _chat("u", {"tools": [], "n": 2})
    said = b'{"error": {"message": "\\"auto\\" tool choice requires --enable-auto-tool-choice"}}'
    assert list(survey([plain, tools, more], {"p": _answer(plain, 200), "t": _answer(tools, 400, said),
                                              "u": _answer(more, 400, said)})) == \
        ["POST /v1/chat/completions with tools"]
    # one of them served; the refusal not naming it; nothing without it served; one request only: no finding
    assert survey([plain, tools, more], {"p": _answer(plain, 200), "t": _answer(tools, 200),
                                         "u": _answer(more, 400, said)}) == {}
    assert survey([plain, tools, more], {"p": _answer(plain, 200), "t": _answer(tools, 400, b"bad request"),
                                         "u": _answer(more, 400, said)}) == {}
    assert survey([plain, tools, more], {"p": _answer(plain, 500), "t": _answer(tools, 400, said),
                                         "u": _answer(more, 400, said)}) == {}
    assert survey([plain, tools], {"p": _answer(plain, 200), "t": _answer(tools, 400, said)}) == {}
    # a field's name inside another word is no naming: "n" is not in "requires an option"
    two = _chat("v", {"n": 2})
    assert survey([plain, two, more], {"p": _answer(plain, 200), "v": _answer(two, 400, b"requires an option"),
                                       "u": _answer(more, 400, b"requires an option")}) == {}
