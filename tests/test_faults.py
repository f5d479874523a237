"""Every check can fail: each fault mode of the reference endpoint is caught by exactly the checks
mapped to it here, every registered check is in the map, and the clean endpoint passes everything.

The runs use the `strict` profile, where nothing is a deviation (`tests/test_profiles.py` covers
what the other profiles allow).

The runs use an API key, so that the authentication cases and ``key-not-echoed`` run too.
"""

from __future__ import annotations

import pytest

from infercheck import Outcome, embedded, registry, resolve, run
from infercheck.serve import DEFAULT_MODEL, FAULTS, QUIRKS

KEY = "sk-test-secret-0123"

# fault -> the checks that must fail with it planted (and no other check may fail)
CATCHES = {
    "completion-message": {"response-schema", "undocumented-fields"},
    "json-as-text": {"content-type"},
    "stream-as-json": {"content-type"},
    "stream-chunk-object": {"stream-chunk-schema"},
    # the broken event is the first token, so the streamed text loses it too
    "stream-not-json": {"stream-chunk-schema", "stream-done", "stream-text-matches"},
    "status-201": {"status-code"},
    "models-no-object": {"response-schema"},
    "error-plain-text": {"content-type", "response-schema"},
    "error-code-integer": {"response-schema"},
    "error-flat": {"response-schema", "undocumented-fields"},  # error_type is not in the envelope
    "unknown-model-200": {"status-code"},
    "extra-fields": {"undocumented-fields"},
    "usage-total-off": {"usage-arithmetic"},
    "ignore-max-tokens": {"max-tokens"},
    "finish-stop-at-limit": {"finish-reason-length"},
    # null is neither 'length' (cut at the limit) nor 'stop' (a stop sequence hit)
    "finish-reason-null": {"finish-reason", "response-schema", "finish-reason-length", "stop-honoured"},
    "n-ignored": {"n-choices"},
    "validation-ignored": {"status-code"},  # the invalid cases get 200
    "invalid-500": {"status-code"},
    # n-choices reads the indices too: "0" is not 0
    "index-string-with-n": {"n-choices", "response-schema"},
    "stop-ignored": {"stop-honoured"},
    "sampling-random": {"determinism", "stream-text-matches"},
    "constant-id": {"id-distinct"},
    "completion-chatcmpl-id": {"identity"},
    "created-millis": {"created-recent"},
    "wrong-model-name": {"model-echo"},
    # the streamed text is not null, so it no longer equals the non-streamed one
    "null-content": {"chat-message", "stream-text-matches"},
    "stream-no-done": {"stream-done"},
    "stream-id-changes": {"stream-single-id"},
    "stream-no-role": {"stream-first-role"},
    "stream-finish-twice": {"stream-finish-once"},
    "stream-usage-missing": {"stream-usage-chunk"},
    "stream-usage-off": {"usage-stream-agrees"},
    "stream-text-differs": {"stream-text-matches"},
    "models-list-other": {"models-lists-model"},
    "model-retrieve-other": {"model-retrieve-agrees"},
    "embeddings-ragged": {"embeddings-shape"},
    "echo-key": {"key-not-echoed"},
    "auth-ignored": {"status-code"},
    "validation-lenient": {"status-code"},
    "validation-500": {"status-code"},
}


def _run(*faults: str, profile: str = "strict"):
    with embedded(faults=faults, api_key=KEY) as url:
        return run(resolve(url, api_key=KEY, model=DEFAULT_MODEL), profile=profile).results


def test_every_check_has_a_fault_that_it_catches():
    caught = set().union(*CATCHES.values())
    assert set(registry()) <= caught, f"checks with no fault proving them: {set(registry()) - caught}"


def test_every_fault_is_in_the_map():
    assert set(CATCHES) == set(FAULTS)


def test_the_clean_endpoint_passes_everything_with_no_deviation_and_no_skip():
    results = _run()
    assert len(results) > 300
    assert [r for r in results if r.outcome is not Outcome.PASSED] == []


@pytest.mark.parametrize("quirk", sorted(QUIRKS))
def test_legal_quirks_pass_everything(quirk: str):
    results = _run(quirk)
    assert [r for r in results if r.outcome is not Outcome.PASSED] == []


@pytest.mark.parametrize("fault", sorted(CATCHES))
def test_fault_is_caught_by_its_checks_and_no_other(fault: str):
    results = _run(fault)
    failed = {r.check for r in results if r.outcome is Outcome.FAILED}
    assert failed == CATCHES[fault]
    for result in results:
        if result.outcome is Outcome.FAILED:
            assert result.message and result.curl.startswith("curl ")
            assert result.expected is not None
            assert KEY not in result.curl
