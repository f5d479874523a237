"""The property suites: what they generate, and that they catch faults with a minimal reproduction.

The generators are checked against the contract on many generated requests; the explorations run
against the reference endpoint, clean (no failure) and with the faults the property suites exist for
(each caught, shrunk to a minimal request, reported once per distinct failure, with a curl).
"""

from __future__ import annotations

import json
import shlex

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infercheck import Outcome, embedded, resolve
from infercheck.contract import profiles as _profiles
from infercheck.contract import schemas as _schemas
from infercheck.engine import explore as _exploring
from infercheck.engine.runner import Runner
from infercheck.generation import negative as _negative
from infercheck.generation import positive as _positive
from infercheck.generation import requests as _requests
from infercheck.generation import routes as _routes
from infercheck.generation.negative import Mutation
from infercheck.generation.routes import ROUTES, Property

MODEL = "infercheck-tiny"
# derandomized: a generator property is checked on the same 150 requests every run, so CI never flakes
ENOUGH = settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck),
                  derandomize=True)


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_positive_requests_are_valid_against_the_contract(route: str):
    contract = _schemas.validator(ROUTES[route].contract)

    @ENOUGH
    @given(_positive.positive(route, MODEL))
    def check(body):
        assert body.get("model", MODEL) == MODEL and ("model" in body) == (ROUTES[route].api == "openai")
        assert not list(contract.iter_errors(body)), body

    check()


def _strict_schemas(node):
    """The JSON Schemas a request marks strict: (the schema, where it is), for every ``strict: true``."""
    if isinstance(node, list):
        return [found for item in node for found in _strict_schemas(item)]
    if not isinstance(node, dict):
        return []
    found = [(node.get("schema", node.get("parameters")), node)] if node.get("strict") is True else []
    return found + [item for value in node.values() for item in _strict_schemas(value)]


@pytest.mark.parametrize("route", ["chat-tools", "chat-format", "responses"])
def test_strict_schemas_are_generated_closed_and_wholly_required(route: str):
    """OpenAI refuses a strict schema that leaves a property optional (so does the reference endpoint: the
    reference-endpoint self-test); the generator sends strict schemas, and only such as are served."""
    strict, json_object = [], []

    @ENOUGH
    @given(_positive.positive(route, MODEL))
    def check(body):
        for schema, where in _strict_schemas(body):
            assert schema["additionalProperties"] is False and set(schema["required"]) == set(schema["properties"])
            strict.append(where)
        fmt = (body.get("text") or {}).get("format") or {}
        if fmt.get("type") == "json_object":  # OpenAI refuses it unless the input says JSON
            assert "JSON" in body["instructions"]
            json_object.append(fmt)

    check()
    assert strict and (json_object or route != "responses")


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_negative_requests_break_the_contract_where_they_say(route: str):
    contract = _schemas.validator(ROUTES[route].contract)
    kinds = set()

    @ENOUGH
    @given(_negative.negative(route, MODEL))
    def check(drawn):
        body, mutation, _ = drawn
        kinds.add(mutation.kind)
        assert list(contract.iter_errors(body)), (body, mutation)
        assert _negative.breaks(route, body, mutation)

    check()
    # task payloads keep their ranges in optional parameters, which a short search may not reach; the tool and
    # format suites break only their own fields, which have no ranges but enums
    ranged = ROUTES[route].api == "openai" and not ROUTES[route].fields
    assert {"missing", "wrong-type"} | ({"out-of-range"} if ranged else set()) <= kinds
    if ROUTES[route].fields:
        assert "unknown-enum" in kinds


def test_a_profile_lacking_a_feature_takes_it_out_of_the_requests():
    tgi = _profiles.load("tgi")  # documents no n
    assert "n" not in _positive.positive_schema("completions", MODEL, tgi.unsupported)["properties"]
    assert "n" in _positive.positive_schema("completions", MODEL)["properties"]


def test_sites_reach_required_fields_ranges_enums_and_message_fields():
    chat = {site.path: site for site in _negative.sites("chat")}
    assert chat[("model",)].required and chat[("messages",)].required
    assert chat[("messages", 0, "role")].required
    assert any(m.kind == "unknown-enum" for m in _negative.mutations(chat[("messages", 0, "role")]))
    assert any(m.kind == "unknown-enum" for m in _negative.mutations(chat[("response_format", "type")]))
    temperature = _negative.mutations(chat[("temperature",)])
    assert {m.value for m in temperature if m.kind == "out-of-range"} == {-0.5, 2.5}
    n = _negative.mutations(chat[("n",)])
    assert {m.value for m in n if m.kind == "out-of-range"} == {0}  # never 129: a lenient server would pay


def test_a_mutation_says_where_and_what():
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    role = Mutation("unknown-enum", ("messages", 0, "role"), "bogus")
    assert role.apply(body) == {"model": "m", "messages": [{"role": "bogus", "content": "hi"}]}
    assert body["messages"][0]["role"] == "user"  # the original is left alone
    assert str(role) == '$.messages[0].role = "bogus" (unknown-enum)'
    assert str(Mutation("missing", ("model",))) == "$.model removed"
    assert Mutation("missing", ("messages", 3, "role")).apply(body) is None  # nothing there to change


# -- explorations against the reference endpoint ----------------------------------------------------------


def _explore(prop: Property, *faults: str, examples: int = 20, seed: int = 4, max_requests: int | None = None):
    with embedded(faults=faults) as url:
        if ROUTES[prop.route].api == "hf":
            target = resolve(url.removesuffix("/v1") + "/models", api="hf", task="all")
        else:
            target = resolve(url)
        runner = Runner(target, profile=_profiles.load("strict"), max_requests=max_requests)
        found = _exploring.run(runner, prop, base=settings(), max_examples=examples, seed=seed)
        return found, runner


def _broken(case: str) -> str:
    """The top-level field a negative case broke: ``property.chat.negative[$.tools[0].type = ...]`` -> ``tools``."""
    return case.split("[$.", 1)[1].split(" ", 1)[0].split("[")[0].split(".")[0]


def _body(result) -> dict:
    words = shlex.split(result.curl)
    return json.loads(words[words.index("--data-raw") + 1])


@pytest.mark.parametrize("prop", _routes.properties(), ids=str)
def test_the_clean_endpoint_passes_every_property(prop: Property):
    found, runner = _explore(prop, seed=11)
    assert found.failures == [] and found.skipped is None
    # some generated requests repeat (an optional field is absent in half the draws, a number is one of its
    # boundaries in half); more of the small task payloads do ({} once inputs is removed)
    assert found.examples >= 20 and found.requests >= (10 if ROUTES[prop.route].api == "openai" else 5)
    passed = {r.check for r in found.results if r.outcome is Outcome.PASSED}
    assert {"status-code", "content-type"} <= passed
    if prop.polarity == "positive" and prop.route in ("completions", "chat"):
        assert {"usage-arithmetic", "max-tokens", "finish-reason", "n-choices"} <= passed
    if prop.polarity == "positive" and ROUTES[prop.route].api == "hf":
        assert "response-schema" in passed
    # the checks the tool, format and Responses suites exist for are the ones they apply
    if prop.polarity == "positive" and prop.route in EXERCISED:
        assert EXERCISED[prop.route] <= passed, EXERCISED[prop.route] - passed
    assert len(runner.generated) == found.requests


EXERCISED = {
    "chat-tools": {"tool-call-shape", "tool-call-arguments", "tool-choice-honoured", "tool-finish-reason",
                   "tool-stream-deltas", "response-schema", "stream-chunk-schema"},
    "chat-format": {"structured-output", "response-schema", "stream-chunk-schema"},
    "responses": {"response-schema", "response-status", "response-usage", "response-stream-framing",
                  "response-stream-events-agree", "stream-chunk-schema"},
}


# each suite catches a fault of the reference endpoint that its own fields exist for, shrunk to a minimal request
@pytest.mark.parametrize(("route", "polarity", "fault", "check"), [
    ("chat-tools", "positive", "tool-args-invalid", "tool-call-arguments"),
    ("chat-tools", "positive", "tool-choice-ignored", "tool-choice-honoured"),
    ("chat-tools", "positive", "tool-stream-cumulative", "tool-stream-deltas"),
    ("chat-tools", "negative", "validation-ignored", "status-code"),
    ("chat-format", "positive", "json-schema-ignored", "structured-output"),
    ("chat-format", "negative", "validation-ignored", "status-code"),
    ("responses", "positive", "responses-usage-off", "response-usage"),
    ("responses", "positive", "responses-sequence-reset", "response-stream-framing"),
    ("responses", "negative", "validation-ignored", "status-code"),
])
def test_the_tool_format_and_responses_suites_catch_their_faults(route: str, polarity: str, fault: str, check: str):
    found, _ = _explore(Property(route, polarity), fault, examples=40)
    caught = [r for r in found.failures if r.check == check]
    assert caught, [(r.case, r.check) for r in found.failures]
    for result in caught:
        assert "the request below is minimal" in result.message
        body = _body(result)
        assert f"/v1{ROUTES[route].path} " in result.curl
        if polarity == "positive":
            assert _positive.servable(route)(body) and body["model"] == MODEL
        else:  # the violation is in the suite's own fields
            fields = ROUTES[route].fields or _schemas.schema(ROUTES[route].contract)["properties"]
            assert _broken(result.case) in fields


@pytest.mark.parametrize("seed", [2, 4])
def test_an_index_of_the_wrong_type_for_some_inputs_is_caught_and_shrunk(seed: int):
    found, _ = _explore(Property("completions", "positive"), "index-string-with-n", seed=seed)
    reports = {r.case: r for r in found.failures if r.check in ("response-schema", "stream-chunk-schema")}
    assert reports and all("$.choices[0].index" in r.message for r in reports.values())
    for result in reports.values():
        assert "the request below is minimal" in result.message
        assert result.curl.startswith("curl ") and "/v1/completions" in result.curl
        # shrunk: only what makes it fail is left (several choices), each value at its simplest
        body = _body(result)
        assert body in ({"model": MODEL, "prompt": ["0", "0"], "max_tokens": 1},
                        {"model": MODEL, "prompt": "0", "max_tokens": 1, "n": 2},
                        {"model": MODEL, "prompt": ["0"], "max_tokens": 1, "n": 2}) or (
            body.pop("stream") is True and body in ({"model": MODEL, "prompt": ["0", "0"], "max_tokens": 1},
                                                     {"model": MODEL, "prompt": "0", "max_tokens": 1, "n": 2}))
    # one report per check and distinct failure, however many generated requests showed it
    assert len(found.failures) == len({(r.case, r.check) for r in found.failures})


def test_invalid_requests_served_with_200_are_caught_once_per_kind_of_violation():
    found, _ = _explore(Property("chat", "negative"), "validation-ignored", examples=40)
    by_case: dict[str, set[str]] = {}
    for result in found.failures:
        by_case.setdefault(result.case, set()).add(result.check)
    assert by_case and all("status-code" in checks for checks in by_case.values())
    kinds = [(case.rsplit("(", 1)[-1].rstrip(")]") if "(" in case else "missing", frozenset(checks))
             for case, checks in by_case.items()]
    # one report per kind of violation (and per set of failed checks: a stream also fails content-type),
    # however many fields and generated values showed it. Which kinds the search reaches within its budget
    # depends on hypothesis's exploration order, which changes between its versions: at least two, each once.
    assert len(kinds) == len(set(kinds)) and len({kind for kind, _ in kinds}) >= 2, kinds
    for result in found.failures:
        body = _body(result)
        assert "the request below is minimal" in result.message
        assert "answered 200" in result.message or result.check != "status-code"
        # everything but the violation shrank away: the simplest conversation, one token
        assert set(body) <= {"model", "messages", "max_tokens", "max_completion_tokens", "stream",
                             _broken(result.case)}
        if "messages" in body and "messages" not in result.case:
            assert body["messages"] == [{"role": "user", "content": "0"}]
    assert any("fields:" in r.message for r in found.failures)  # the other fields it was seen at


def test_invalid_requests_answered_500_are_caught_with_a_minimal_curl():
    found, _ = _explore(Property("completions", "negative"), "invalid-500", examples=30)
    assert found.failures
    for result in found.failures:
        assert result.check == "status-code" and "answered 500" in result.message
        body = _body(result)
        assert set(body) <= {"model", "prompt", "max_tokens", _broken(result.case)}, (result.case, body)


def test_the_shared_request_budget_stops_the_search():
    found, runner = _explore(Property("embeddings", "positive"), max_requests=5)
    assert found.requests == 4  # discovery took one of the five
    assert runner.stats()["requests"] == 5


def test_no_budget_left_skips_the_property():
    found, _ = _explore(Property("embeddings", "positive"), max_requests=1)
    assert found.skipped and "budget" in found.skipped


def test_a_profile_that_lacks_the_route_skips_it():
    with embedded() as url:
        runner = Runner(resolve(url), profile=_profiles.load("tgi"))
        found = _exploring.run(runner, Property("embeddings", "positive"), base=settings(), max_examples=5)
    assert found.skipped and "embeddings" in found.skipped and found.requests == 0


def test_a_profile_of_ones_own_without_tools_skips_the_tool_suites_and_cases(tmp_path):
    """A deployment that serves no tools on purpose (vLLM without --enable-auto-tool-choice, llama-server without
    --jinja) says so in a profile of its own: the tool suites and the tool cases are then not sent."""
    from infercheck.contract.cases import load

    ours = tmp_path / "ours.toml"
    ours.write_text('name = "ours"\ntitle = "ours"\ndescription = "no tools"\nextends = "openai"\n'
                    '[unsupported]\ntools = "started without --enable-auto-tool-choice"\n')
    profile = _profiles.load(str(ours))
    with embedded() as url:
        runner = Runner(resolve(url), profile=profile)
        found = _exploring.run_all(runner, [Property("chat-tools", "positive"), Property("chat-tools", "negative")],
                                    base=settings(), max_examples=5)
        tool_cases = [c for c in load("openai") if c.feature == "tools"]
        runner.execute(tool_cases)
    assert all(f.skipped and "--enable-auto-tool-choice" in f.skipped and f.requests == 0 for f in found)
    assert tool_cases and all(not runner.exchanges[c.id].sent for c in tool_cases)


def test_the_same_seed_sends_the_same_requests():
    def bodies(seed: int) -> list[bytes]:  # sent at once: they are answered in any order
        _, runner = _explore(Property("completions", "positive"), examples=10, seed=seed)
        return sorted(e.request.body for e in runner.generated)

    assert bodies(7) == bodies(7)
    assert bodies(7) != bodies(8)


def test_a_generated_stream_is_checked_as_a_stream():
    case = _requests.case_for(Property("chat", "positive"), {"model": MODEL, "stream": True})
    assert case.stream and case.schema is None and case.chunk_schema == "openai/chat-chunk.json"
    negative = _requests.case_for(Property("chat", "negative"), {"stream": True},
                                    Mutation("missing", ("model",)))
    assert not negative.stream and negative.status == ("4xx",)
    assert negative.id == "property.chat.negative[$.model removed]"


@given(st.sampled_from(_routes.properties()))
@settings(max_examples=6, database=None)
def test_property_ids_name_route_and_polarity(prop):
    route, polarity = prop.id.split(".")
    assert route in ROUTES and polarity in ("positive", "negative")


# -- Hugging Face tasks ------------------------------------------------------------------------------------


def test_malformed_task_payloads_answered_500_are_caught_per_kind_with_a_minimal_curl():
    found, _ = _explore(Property("text-classification", "negative"), "hf-malformed-500", examples=30)
    cases = {r.case for r in found.failures if r.check == "status-code"}
    assert "property.text-classification.negative[$.inputs removed]" in cases
    removed = next(r for r in found.failures if r.case.endswith("[$.inputs removed]"))
    assert _body(removed) == {} and "/models/text-classification" in removed.curl
    assert "answered 500, expected 4xx" in removed.message


def test_shifted_spans_shrink_to_a_one_letter_input():
    found, _ = _explore(Property("token-classification", "positive"), "hf-span-shifted")
    [result] = [r for r in found.failures if r.check == "spans-in-input"]
    assert _body(result) == {"inputs": "A"}


def test_a_generation_past_max_new_tokens_shrinks_to_the_smallest_detailed_request():
    found, _ = _explore(Property("text-generation", "positive"), "hf-generate-overrun")
    [result] = [r for r in found.failures if r.check == "max-new-tokens"]
    assert _body(result) == {"inputs": "A", "parameters": {"max_new_tokens": 1, "details": True}}


def test_a_transport_failure_is_confirmed_before_it_is_kept_and_shrunk():
    """A dropped connection is no answer to shrink towards: the request is sent again, alone, on a fresh
    connection, and that answer is judged (and memoised). The quirk cuts the first attempt at every request."""
    found, runner = _explore(Property("completions", "positive"), "transport-flaky", examples=5)
    assert found.examples > 0 and not found.failures and not found.errors
    assert runner.generated and all(e.transient is not None and e.response is not None for e in runner.generated)
    assert runner.stats()["retried"] >= len(runner.generated)


def test_a_wrong_type_is_a_json_type_the_field_does_not_allow():
    """12345 in an integer field is out of range, not a wrong type: each mutation is labelled by what it breaks."""
    by_field = {site.path: _negative.mutations(site) for site in _negative.sites("completions")}
    logprobs = [m for m in by_field[("logprobs",)] if m.kind == "wrong-type"]
    assert logprobs and 12345 not in [m.value for m in logprobs]
    assert 12345 in [m.value for m in by_field[("model",)] if m.kind == "wrong-type"]  # a string field


def test_a_failure_the_unmutated_request_shares_is_not_blamed_on_the_violation():
    """A negative request that fails is sent again without its violation; when that fails too, the failure is the
    request's own, never the broken field's. (Against transformers serve, a 500 caused by a two-prompt list was
    reported as `$.logprobs = 6 (out-of-range)`.) Here the server answers 201 to every POST and ignores
    validation: whatever negative request fails first, the request without its violation fails the same way."""
    found, _ = _explore(Property("completions", "negative"), "validation-ignored", "status-201", examples=20)
    assert found.failures
    assert all(r.case == "property.completions.positive" for r in found.failures), [r.case for r in found.failures]
    assert all("not the violation's failure: found while sending $." in r.message for r in found.failures)


def test_numeric_fields_draw_their_boundaries():
    """A valid frequency_penalty of -1.0 answered 500 by a real server went unseen in 20 draws over [-2, 2]."""
    assert _positive.boundaries({"type": ["number", "null"], "minimum": -2, "maximum": 2}) == [-2, 2, 0, 1, -1]
    assert _positive.boundaries({"type": "integer", "minimum": 1, "maximum": 8}) == [1, 8]
    assert _positive.boundaries({"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 1}) == [1]
    assert _positive.boundaries({"type": "string"}) == []
    bodies = _draws(_positive.positive("chat", MODEL), 300)
    assert any(b.get("frequency_penalty") == -2 for b in bodies) and any(b.get("temperature") == 0 for b in bodies)


def test_chat_requests_bound_their_answer_with_either_documented_field():
    """max_completion_tokens is drawn as often as max_tokens (a server that ignores it is caught by max-tokens),
    and never both at once."""
    bodies = _draws(_positive.positive("chat", MODEL), 200)
    limits = [tuple(k for k in ("max_tokens", "max_completion_tokens") if k in b) for b in bodies]
    assert set(limits) == {("max_tokens",), ("max_completion_tokens",)}


def _draws(strategy, count: int) -> list[dict]:
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hsettings

    seen: list[dict] = []

    @hsettings(max_examples=count, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw(body):
        seen.append(body)

    draw()
    return seen


def test_a_request_failure_both_suites_meet_is_reported_once():
    """The positive suite and the negative one (which reports a request's own failure under the positive suite)
    shrink to the same minimal request: the second report of it is dropped."""
    with embedded(faults=("validation-ignored", "status-201")) as url:
        runner = Runner(resolve(url), profile=_profiles.load("strict"))
        positive = _exploring.run(runner, Property("completions", "positive"), base=settings(), max_examples=10,
                                   seed=4)
        negative = _exploring.run(runner, Property("completions", "negative"), base=settings(), max_examples=10,
                                   seed=4)
    assert positive.failures
    keys = [(r.case, r.check, r.curl) for r in runner.results if r.outcome is Outcome.FAILED]
    assert len(keys) == len(set(keys))
    assert not {(r.case, r.check, r.curl) for r in negative.failures} & {(r.case, r.check, r.curl)
                                                                          for r in positive.failures}


def test_hypothesis_parses_source_on_one_thread_only(monkeypatch):
    """hypothesis parses Python source (to describe a lambda, to format a traceback, to find a module's constants),
    which CPython 3.11 cannot do in two threads at once (SystemError: AST constructor recursion depth mismatch, seen
    as an internal error of whole runs). Drawing and shrinking's candidates run on the one drawing thread: every
    source hypothesis parses while a suite is drawn, sent and shrunk is parsed there."""
    import ast
    import sys
    import threading

    parse, threads = ast.parse, []

    def watched(*args, **kwargs):
        frame = sys._getframe(1)
        while frame is not None and "hypothesis" not in frame.f_code.co_filename:
            frame = frame.f_back
        if frame is not None:
            threads.append(threading.current_thread().name)
        return parse(*args, **kwargs)

    monkeypatch.setattr(ast, "parse", watched)
    found, _ = _explore(Property("chat-tools", "negative"), "validation-ignored", examples=10)
    assert found.failures and not found.errors and "is minimal" in found.failures[0].message  # it was shrunk
    assert threads and {name.rsplit("_", 1)[0] for name in threads} == {"infercheck-draw"}, set(threads)
