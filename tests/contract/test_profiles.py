"""Dialect profiles: data files that turn known, documented variations into deviations, and only those."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections import Counter

import pytest

from infercheck import Outcome, embedded, registry, resolve, run
from infercheck.checks.catalog import kinds
from infercheck.checks.base import Context, evaluate
from infercheck.contract.cases import by_id
from infercheck.contract.profiles import ProfileError, load, names
from infercheck.serve import DEFAULT_MODEL

from ..support import ROOT, SHARED
from ..support import recorded as _exchange

KEY = "sk-test-secret-0123"
REQUIRED = {"openai", "vllm", "tgi", "llamacpp", "llama-cpp-python", "transformers-serve", "sagemaker", "flexai", "strict"}


def _run(*faults: str, profile: str):
    with embedded(faults=faults, api_key=KEY) as url:
        return run(resolve(url, api_key=KEY, model=DEFAULT_MODEL), profile=profile, suites=False).results


def test_the_required_profiles_exist_and_name_real_checks_with_evidence():
    assert REQUIRED <= set(names())
    checks = set(registry())
    for name in names():
        profile = load(name)
        assert profile.name == name
        for allowance in profile.allowances:
            assert allowance.check in checks, f"{name}: {allowance.id} names unknown check {allowance.check}"
            assert allowance.reason and allowance.evidence
            assert allowance.kind, f"{name}: {allowance.id} must name the kind of problem it allows"


def test_the_default_profile_allows_only_new_response_fields_and_what_strays_from_a_schema_not_strict():
    """Strict allows nothing."""
    profile = load()
    assert profile.name == "openai" and profile.unsupported == {}
    assert [(a.id, a.check, a.kind) for a in profile.allowances] == [
        ("new-response-fields", "undocumented-fields", "undocumented"),
        *(("schema-not-strict", check, "unenforced") for check in (
            "tool-call-arguments", "tool-stream-deltas", "response-function-call", "structured-output",
            "response-structured-output")),
    ]
    strict = load("strict")
    assert strict.allowances == () and strict.unsupported == {}


def test_vendor_fields_are_deviations_under_openai_naming_each_field():
    strict = _run("extra-fields", profile="strict")
    assert {r.check for r in strict if r.outcome is Outcome.FAILED} == {"undocumented-fields"}
    default = _run("extra-fields", profile="openai")
    assert not [r for r in default if r.outcome is Outcome.FAILED]
    deviations = [r for r in default if r.outcome is Outcome.DEVIATION]
    assert deviations and {r.allowance.id for r in deviations} == {"new-response-fields"}
    assert all("$.choices[0].stop_reason" in r.message and "$.prompt_logprobs" in r.message for r in deviations)


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_the_clean_endpoint_has_no_failure_and_no_deviation_under_any_profile(name):
    results = _run(profile=name)
    outcomes = Counter(r.outcome for r in results)
    assert outcomes[Outcome.FAILED] == 0 and outcomes[Outcome.DEVIATION] == 0
    profile = load(name)
    for result in results:
        if result.outcome is Outcome.SKIPPED:  # only the features the profile says the server lacks
            assert f"profile {name!r}: the server documents no" in result.message
            assert by_id(result.case).feature in profile.unsupported


# (faults planted, profile) -> the allowances that must turn every failure into a deviation
DIALECTS = [
    (("error-code-integer",), "vllm", {"error-code-integer"}),
    (("error-flat",), "tgi", {"error-flat", "new-response-fields"}),  # error_type is a field the envelope lacks
    (("wrong-model-name",), "tgi", {"model-unused"}),
    (("completion-chatcmpl-id", "error-code-integer"), "llamacpp", {"chatcmpl-id", "error-code-integer"}),
    (("completion-message", "completion-chatcmpl-id"), "flexai",
     {"completion-message", "chatcmpl-id", "new-response-fields"}),  # `message` is undeclared in a completion
    (("sampling-random",), "vllm", {"not-batch-invariant"}),
]


@pytest.mark.parametrize(("faults", "profile", "allowances"), DIALECTS, ids=lambda v: "+".join(v) if
                         isinstance(v, tuple) else v if isinstance(v, str) else None)
def test_a_dialect_is_a_deviation_under_its_profile_and_a_failure_under_strict(faults, profile, allowances):
    strict = _run(*faults, profile="strict")
    failed = [r for r in strict if r.outcome is Outcome.FAILED]
    assert failed and not [r for r in strict if r.outcome is Outcome.DEVIATION]

    lenient = _run(*faults, profile=profile)
    deviations = [r for r in lenient if r.outcome is Outcome.DEVIATION]
    used = {r.allowance.id for r in deviations}
    assert used == allowances
    if profile != "vllm" or faults != ("sampling-random",):
        # every strict failure is now a deviation (the random fault also breaks stream-text-matches)
        assert not [r for r in lenient if r.outcome is Outcome.FAILED]
        skipped = {r.case for r in lenient if r.outcome is Outcome.SKIPPED}  # features the profile says are missing
        assert {(r.case, r.check) for r in deviations} == {(r.case, r.check) for r in failed if r.case not in skipped}
    for r in deviations:
        assert r.message.startswith(f"allowed by profile {profile!r} ({r.allowance.id}): ")
        assert "\nseen: " in r.message and r.allowance.evidence in r.message
        assert r.to_json()["allowed_by"]["id"] == r.allowance.id


def test_a_profile_does_not_hide_other_faults():
    """vLLM's integer error.code is allowed; a plain-text error body still fails under vllm."""
    results = _run("error-plain-text", profile="vllm")
    assert {r.check for r in results if r.outcome is Outcome.FAILED} == {"content-type", "response-schema"}
    assert not [r for r in results if r.outcome is Outcome.DEVIATION]


def test_recorded_flexai_response_is_a_deviation_under_flexai_only():
    exchange = _exchange("flexai-completion.json", "completions.flexai-seed")
    case, ctx = by_id("completions.flexai-seed"), Context("https://inference.example/v1", "m")
    for check_id in ("response-schema", "identity"):
        assert evaluate(registry()[check_id], case, exchange, ctx, load("openai")).outcome is Outcome.FAILED
        result = evaluate(registry()[check_id], case, exchange, ctx, load("flexai"))
        assert result.outcome is Outcome.DEVIATION, result.message


def test_recorded_vllm_error_is_a_deviation_under_vllm():
    exchange = _exchange("vllm-error.json", "errors.unknown-model")
    case, ctx = by_id("errors.unknown-model"), Context("https://inference.example/v1", "m")
    check = registry()["response-schema"]
    assert evaluate(check, case, exchange, ctx, load("openai")).outcome is Outcome.FAILED
    assert evaluate(check, case, exchange, ctx, load("vllm")).allowance.id == "error-code-integer"
    assert evaluate(check, case, exchange, ctx, load("tgi")).outcome is Outcome.FAILED


def test_tgi_documented_error_example_is_a_deviation_under_tgi(tmp_path):
    """Oracle: the example of TGI's own OpenAPI document (422, {error, error_type})."""
    spec = SHARED / "upstream" / "tgi" / "openapi.json"
    if not spec.is_file():
        pytest.skip(f"the TGI oracle is missing: {spec}")
    doc = json.loads(spec.read_text())
    example = doc["paths"]["/v1/chat/completions"]["post"]["responses"]["422"]["content"]["application/json"]["example"]
    record = {"request": {"method": "POST", "path": "/v1/chat/completions", "body": {"messages": []}},
              "response": {"status": 422, "headers": {"content-type": "application/json"}, "body": example}}
    (tmp_path / "tgi.json").write_text(json.dumps(record))
    exchange = _exchange(tmp_path / "tgi.json", "errors.empty-messages")
    case, ctx = by_id("errors.empty-messages"), Context("https://inference.example/v1", "m")
    check = registry()["response-schema"]
    assert evaluate(check, case, exchange, ctx, load("openai")).outcome is Outcome.FAILED
    assert evaluate(check, case, exchange, ctx, load("tgi")).allowance.id == "error-flat"
    assert evaluate(registry()["status-code"], case, exchange, ctx, load("openai")).outcome is Outcome.PASSED


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ('title = "x"\n', "'name' is a required property"),
        ('name = "x"\ntitle = "x"\n[[allow]]\nid = "a"\ncheck = "identity"\nreason = "r"\n', "'evidence'"),
        ('name = "x"\ntitle = "x"\nunsupported = { telepathy = "no" }\n', "telepathy"),
        ("name = [", "profile"),
        ('name = "x"\ntitle = "x"\nextends = "nope"\n', "unknown profile 'nope'"),
    ],
)
def test_a_bad_profile_file_gives_one_clear_line(tmp_path, content, says):
    path = tmp_path / "mine.toml"
    path.write_text(content)
    with pytest.raises(ProfileError) as info:
        load(str(path))
    assert says in str(info.value) and "\n" not in str(info.value)


def test_an_allowance_naming_no_check_is_one_line_with_the_nearest_name(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\ntitle = "m"\n[[allow]]\nid = "x"\ncheck = "stop-honored"\nreason = "r"\n'
                    'evidence = "e"\nkind = "stop-in-text"\n')
    with pytest.raises(ProfileError) as info:
        load(str(path), checks=registry())
    assert str(info.value) == f"profile {path}: [[allow]] 'x': no check 'stop-honored' (did you mean 'stop-honoured'?)"
    assert load(str(path)).allowances[0].check == "stop-honored"  # without the registry, nothing to hold it to
    for name in ("openai", "vllm", "llamacpp", "tgi", "strict"):  # the built-in ones name only real checks
        assert load(name, checks=registry()).name == name


def test_an_allowance_naming_a_kind_its_check_never_reports_is_one_line(tmp_path):
    path = tmp_path / "mine.toml"
    allow = '[[allow]]\nid = "x"\ncheck = "{check}"\nreason = "r"\nevidence = "e"\nkind = "{kind}"\n'
    path.write_text('name = "mine"\ntitle = "m"\n' + allow.format(check="stop-honoured", kind="stop-in-txt"))
    with pytest.raises(ProfileError) as info:
        load(str(path), checks=registry(), kinds=kinds)
    assert str(info.value) == (f"profile {path}: [[allow]] 'x': check 'stop-honoured' never reports kind "
                               "'stop-in-txt' (did you mean 'stop-in-text'?); `infercheck explain stop-honoured` "
                               "lists the kinds it reports")
    # a schema's violations are named by JSON Schema keywords, and a schema that is not strict by `unenforced`
    path.write_text('name = "mine"\ntitle = "m"\n' + allow.format(check="response-schema", kind="required")
                    + allow.format(check="structured-output", kind="unenforced").replace('"x"', '"y"'))
    assert len(load(str(path), checks=registry(), kinds=kinds).allowances) == 2
    path.write_text('name = "mine"\ntitle = "m"\n' + allow.format(check="response-schema", kind="requird"))
    with pytest.raises(ProfileError, match="never reports kind 'requird' \\(did you mean 'required'\\?\\)"):
        load(str(path), checks=registry(), kinds=kinds)
    for name in names():  # the built-in ones name only kinds their checks report
        assert load(name, checks=registry(), kinds=kinds).name == name


def test_a_check_registered_elsewhere_may_report_any_kind(monkeypatch):
    from infercheck import check, fail
    from infercheck.checks import base

    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))  # registered for this test alone

    @check("mine-kinds", title="mine", severity="low")
    def mine(case, exchange, ctx):
        fail("x", kind="made-here")

    assert kinds("mine-kinds") is None and "stop-in-text" in kinds("stop-honoured")


def test_unknown_profile_names_the_known_ones():
    with pytest.raises(ProfileError, match="unknown profile 'nope'; known: flexai, llama-cpp-python, llamacpp, openai, sagemaker, strict, tgi, transformers-serve, vllm"):
        load("nope")


def test_a_custom_profile_file_extends_a_builtin(tmp_path):
    path = tmp_path / "ours.toml"
    path.write_text('name = "ours"\ntitle = "Our gateway"\nextends = "vllm"\n'
                    '[unsupported]\nembeddings = "our gateway serves chat only"\n')
    profile = load(str(path))
    assert profile.name == "ours" and profile.unsupported == {"embeddings": "our gateway serves chat only"}
    assert {a.id for a in profile.allowances} == {a.id for a in load("vllm").allowances}


def test_tgi_plain_text_deserialize_errors_are_deviations_under_tgi_only():
    from infercheck import embedded, resolve, run

    with embedded(faults=("tgi-deserialize-text",)) as url:
        target = resolve(url.removesuffix("/v1") + "/models/text-generation", api="hf", task="text-generation")
        strict = run(target, profile="strict", suites=False).results
        tgi = run(target, profile="tgi", suites=False).results
    failed = {(r.case, r.check) for r in strict if r.outcome is Outcome.FAILED}
    assert failed == {(c, k) for c in ("text-generation.input-not-inputs", "text-generation.inputs-wrong-type",
                                        "text-generation.empty-body") for k in ("content-type", "response-schema")}
    assert not [r for r in tgi if r.outcome is Outcome.FAILED]
    assert {(r.case, r.check) for r in tgi if r.outcome is Outcome.DEVIATION} == failed
    assert {r.allowance.id for r in tgi if r.outcome is Outcome.DEVIATION} == {"deserialize-error-text",
                                                                               "deserialize-error-text-body"}


def _judge(recorded: str, case_id: str, check_id: str, profile: str, model: str = "gemma-3-270m",
           as_sent: bool = False):
    """A recorded exchange judged as the case it stands for; ``as_sent``: with the request the server really got
    (the checks of tool calls read the declared tools and tool_choice from the request)."""
    exchange = _exchange(recorded, case_id)
    case = by_id(case_id)
    if as_sent:
        case = dataclasses.replace(case, body=json.loads(exchange.request.body), twin=None)
    ctx = Context("https://inference.example/v1", model, exchanges={case_id: exchange})
    return evaluate(registry()[check_id], case, exchange, ctx, load(profile))


def test_llama_cpp_python_serving_an_unknown_model_is_a_deviation_under_its_profile_only():
    for profile in ("openai", "strict"):
        assert _judge("llama-cpp-python-unknown-model.json", "errors.unknown-model", "status-code",
                      profile).outcome is Outcome.FAILED
    result = _judge("llama-cpp-python-unknown-model.json", "errors.unknown-model", "status-code", "llama-cpp-python")
    assert result.outcome is Outcome.DEVIATION and result.allowance.id == "model-alias-unknown"


@pytest.mark.parametrize("recorded, case_id, check_id", [
    ("llama-cpp-python-n-ignored.json", "chat.n", "n-choices"),
    ("llama-cpp-python-include-usage-ignored.json", "chat.stream-usage", "stream-usage-chunk"),
    ("llama-cpp-python-max-completion-tokens-ignored.json", "chat.overrun", "max-tokens"),
])
def test_what_llama_cpp_python_silently_ignores_fails_under_its_own_profile(recorded, case_id, check_id):
    """Its profile allows none of what it accepts and ignores: a client cannot tell that from a conformant answer."""
    result = _judge(recorded, case_id, check_id, "llama-cpp-python")
    assert result.outcome is Outcome.FAILED, result.message


def test_under_the_llamacpp_profile_the_n_cases_are_sent_and_llama_servers_usage_undercount_fails():
    """The profile once declared n unsupported (from older source), so the n cases were never sent; llama-server
    serves n (issue 29), and counts one choice in usage, which its own profile does not hide."""
    assert not load("llamacpp").lacks(by_id("chat.n")) and not load("llamacpp").lacks(by_id("completions.n"))
    recorded = "llama-server-n-usage-one-choice.json"
    assert _judge(recorded, "chat.n", "n-choices", "llamacpp").outcome is Outcome.PASSED
    result = _judge(recorded, "chat.n", "usage-counts-every-choice", "llamacpp")
    assert result.outcome is Outcome.FAILED and "usage.completion_tokens is 8" in result.message, result.message


def test_transformers_serve_naming_the_model_at_its_revision_is_a_deviation_under_its_profile_only():
    args = ("transformers-serve-model-revision.json", "chat.deterministic", "model-echo")
    assert _judge(*args, "openai", model="local/gemma-3-270m").outcome is Outcome.FAILED
    result = _judge(*args, "transformers-serve", model="local/gemma-3-270m")
    assert result.outcome is Outcome.DEVIATION and result.allowance.id == "model-revision"
    # the allowance is for a revision suffix, not for any other name
    exchange = _exchange("transformers-serve-model-revision.json", "chat.deterministic")
    exchange.response.body = exchange.response.body.replace(b"local/gemma-3-270m@main", b"another-model")
    ctx = Context("https://inference.example/v1", "local/gemma-3-270m")
    assert evaluate(registry()["model-echo"], by_id("chat.deterministic"), exchange, ctx,
                    load("transformers-serve")).outcome is Outcome.FAILED


def test_a_transformers_serve_stream_without_done_fails_under_its_own_profile():
    result = _judge("transformers-serve-stream-no-done.json", "chat.deterministic-stream", "stream-done",
                    "transformers-serve", model="local/gemma-3-270m")
    assert result.outcome is Outcome.FAILED and "never sent data: [DONE]" in result.message


@pytest.mark.parametrize("recorded, case_id, check_id, allowance", [
    ("transformers-serve-model-revision.json", "chat.deterministic", "response-schema", "null-fields-left-out"),
    ("transformers-serve-stream-no-done.json", "chat.deterministic-stream", "stream-chunk-schema",
     "null-fields-left-out-stream"),
])
def test_transformers_serve_leaving_null_fields_out_is_a_deviation_under_its_profile_only(recorded, case_id, check_id,
                                                                                          allowance):
    assert _judge(recorded, case_id, check_id, "openai", model="local/gemma-3-270m").outcome is Outcome.FAILED
    result = _judge(recorded, case_id, check_id, "transformers-serve", model="local/gemma-3-270m")
    assert result.outcome is Outcome.DEVIATION and result.allowance.id == allowance, result.message


def test_the_sagemaker_model_servers_errors_are_a_deviation_under_its_profile_only():
    exchange = _exchange(ROOT / "fixtures" / "hf" / "recorded" / "sagemaker-error.json",
                         "text-classification.input-not-inputs")
    case = by_id("text-classification.input-not-inputs", "hf")
    ctx = Context("https://inference.example/invocations", "tiny-bert-classifier")
    check = registry()["response-schema"]
    assert evaluate(check, case, exchange, ctx, load("openai")).outcome is Outcome.FAILED
    result = evaluate(check, case, exchange, ctx, load("sagemaker"))
    assert result.outcome is Outcome.DEVIATION and result.allowance.id == "mms-error"
    # an error body of neither shape still fails
    exchange.response.body = b'{"message": "no"}'
    assert evaluate(check, case, exchange, ctx, load("sagemaker")).outcome is Outcome.FAILED


def test_tgi_tool_calls_as_its_own_tests_record_them():
    """TGI 3.1.2's own integration-test snapshots: what needs no allowance passes, what breaks clients fails under
    its own profile, and the extra function.description is a deviation (a failure under strict)."""
    plain, stream = "tgi-tool-call-stop.json", "tgi-tool-call-stream-no-finish.json"
    judge = functools.partial(_judge, model="tgi", as_sent=True)
    for check_id in ("tool-call-shape", "tool-call-arguments"):  # id '0', arguments a JSON string
        assert judge(plain, "chat.tools-auto", check_id, "tgi").outcome is Outcome.PASSED
    for check_id in ("tool-call-shape", "tool-stream-deltas", "tool-choice-honoured"):  # id repeated, name once
        assert judge(stream, "chat.tools-named-stream", check_id, "tgi").outcome is Outcome.PASSED
    finish = judge(plain, "chat.tools-auto", "tool-finish-reason", "tgi")
    assert finish.outcome is Outcome.FAILED and "finish_reason is 'stop'" in finish.message
    never = judge(stream, "chat.tools-named-stream", "stream-finish-once", "tgi")
    assert never.outcome is Outcome.FAILED and "0 non-null finish_reason" in never.message
    extra = judge(plain, "chat.tools-auto", "undocumented-fields", "tgi")
    assert extra.outcome is Outcome.DEVIATION and "tool_calls[0].function.description" in extra.message
    assert judge(plain, "chat.tools-auto", "undocumented-fields", "strict").outcome is Outcome.FAILED


@pytest.mark.parametrize("fault, profile, case_id, check_id", [
    # llama-server takes a named tool_choice (an object) for "auto": tools/server/utils.hpp
    ("tool-choice-ignored", "llamacpp", "chat.tools-named", "tool-choice-honoured"),
    # TGI's own snapshots (fixtures/openai/recorded/tgi-tool-call-stop.json)
    ("tool-finish-stop", "tgi", "chat.tools-auto", "tool-finish-reason"),
    # vLLM ignores store unless VLLM_ENABLE_RESPONSES_API_STORE=1
    ("responses-not-stored", "vllm", "responses.retrieve", "status-code"),
])
def test_what_a_server_does_silently_to_tools_and_responses_fails_under_its_own_profile(fault, profile, case_id,
                                                                                        check_id):
    """Each server's profile says these are NOT allowances (its description, with the evidence): a client cannot
    tell them from a conformant answer, so the profile must not turn them into deviations."""
    results = _run(fault, profile=profile)
    assert any(r.case == case_id and r.check == check_id and r.outcome is Outcome.FAILED for r in results)
    assert not [r for r in results if r.outcome is Outcome.DEVIATION and r.check == check_id]


def test_arguments_that_leave_out_a_required_property_fail_on_a_strict_tool_and_deviate_on_one_not_strict():
    """The default run plants the fault on every tool call: chat's get_time is strict in the cases, get_weather is
    not (tools-required calls only it), and a Responses function is strict unless it says strict: false."""
    results = _run("tool-args-invalid", profile="openai")
    verdicts = {(r.case, r.check): r for r in results}
    for case_id, check_id in (("chat.tools-named", "tool-call-arguments"),
                              ("responses.function", "response-function-call")):
        assert verdicts[(case_id, check_id)].outcome is Outcome.FAILED, verdicts[(case_id, check_id)].message
    loose = verdicts[("chat.tools-required", "tool-call-arguments")]
    assert loose.outcome is Outcome.DEVIATION and loose.allowance.id == "schema-not-strict"
    assert "'location' is a required property" in loose.message and "'get_weather' is not strict" in loose.message
    assert not [r for r in results if r.outcome is Outcome.DEVIATION and r.allowance.id != "schema-not-strict"]
