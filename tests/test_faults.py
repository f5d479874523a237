"""Every check can fail: each fault mode of the reference endpoint is caught by exactly the checks
mapped to it here, every registered check is in the map, and the clean endpoint passes everything."""

from __future__ import annotations

import pytest

from infercheck import Outcome, embedded, registry, resolve, run
from infercheck.serve import FAULTS

# fault -> the checks that must fail with it planted (and no other check may fail)
CATCHES = {
    "completion-message": {"response-schema"},
    "json-as-text": {"content-type"},
    "stream-as-json": {"content-type"},
    "stream-chunk-object": {"stream-chunk-schema"},
    "stream-not-json": {"stream-chunk-schema"},
    "status-201": {"status-code"},
    "models-no-object": {"response-schema"},
    "error-plain-text": {"content-type", "response-schema"},
    "unknown-model-200": {"status-code"},
}


def _run(*faults: str):
    with embedded(faults=faults) as url:
        return run(resolve(url)).results


def test_every_check_has_a_fault_that_it_catches():
    caught = set().union(*CATCHES.values())
    assert set(registry()) <= caught, f"checks with no fault proving them: {set(registry()) - caught}"


def test_every_fault_is_in_the_map():
    assert set(CATCHES) == set(FAULTS)


def test_the_clean_endpoint_passes_everything():
    results = _run()
    assert results
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
