"""Every check can fail: each fault mode of the reference endpoint is caught by exactly the checks
mapped to it here, every registered check is in the map, and the clean endpoint passes everything.

Each run checks all three APIs of one endpoint: OpenAI-style (/v1), TGI (the root) and every Hugging Face
task (/models/<task>).

The runs use the `strict` profile, where nothing is a deviation (`tests/contract/test_profiles.py` covers
what the other profiles allow).

The runs use an API key, so that the authentication cases and ``key-not-echoed`` run too.
"""

from __future__ import annotations

import pytest

from infercheck import Outcome, embedded, registry, resolve, run
from infercheck.engine.target import TargetError
from infercheck.serve import DEFAULT_MODEL, FAULTS, QUIRKS
from infercheck.serve._faults import CATCHES, HOSTILE, UNDER_LOAD

KEY = "sk-test-secret-0123"

LOAD_WAIT = 0.5  # seconds a request may wait out 503 "loading" in these runs


def _run_all(*faults: str, profile: str = "strict"):
    """(results of every API, the target errors met while resolving)."""
    results, errors = [], []
    with embedded(faults=faults, api_key=KEY) as url:
        root = url.removesuffix("/v1")
        for base, api, task in ((url, "openai", None), (root, "tgi", None), (root + "/models", "hf", "all")):
            try:
                target = resolve(base, api_key=KEY, model=DEFAULT_MODEL if api == "openai" else None, api=api,
                                 task=task, load_wait=LOAD_WAIT)
            except TargetError as exc:
                errors.append(str(exc))
                continue
            results += run(target, profile=profile, suites=False).results
    return results, errors


def _run(*faults: str, profile: str = "strict"):
    results, errors = _run_all(*faults, profile=profile)
    assert errors == []
    return results


def test_every_check_has_a_fault_that_it_catches():
    caught = set().union(*CATCHES.values())
    assert set(registry()) <= caught, f"checks with no fault proving them: {set(registry()) - caught}"


def test_every_fault_is_in_the_map():
    """The hostile behaviours are not contract violations of one check each: tests/wire/test_hostile.py runs them; the
    faults that show only under load are tests/load/test_load.py's."""
    assert set(CATCHES) == set(FAULTS) - set(HOSTILE) - set(UNDER_LOAD)


def test_the_clean_endpoint_passes_everything_with_no_deviation_and_no_skip():
    results = _run()
    assert len(results) > 300
    assert [r for r in results if r.outcome is not Outcome.PASSED] == []


# rate-limited waits out Retry-After: 1, longer than these runs' --load-wait: tests/wire/test_hostile.py runs it
@pytest.mark.parametrize("quirk", sorted(set(QUIRKS) - {"rate-limited"}))
def test_legal_quirks_pass_everything(quirk: str):
    results = _run(quirk)
    assert [r for r in results if r.outcome is not Outcome.PASSED] == []


def test_a_model_that_never_loads_is_waited_for_within_the_bound_and_reported():
    results, errors = _run_all("loading-forever")
    assert errors == [f"{errors[0].split(' was ')[0]} was still loading its model after waiting 0.5 s (--load-wait)"]
    assert "/models/text-classification" in errors[0]
    loading = [r for r in results if r.check == "status-code" and r.outcome is Outcome.FAILED]
    assert loading and all("after waiting 0.5 s for the model to load" in r.message for r in loading)


def test_a_model_that_loads_is_waited_for_and_then_passes():
    with embedded(faults=("loading",), api_key=KEY) as url:
        target = resolve(url.removesuffix("/v1") + "/models/fill-mask", api="hf", task="fill-mask", api_key=KEY)
        runner = run(target, profile="strict", suites=False)
    assert 0.2 <= target.discovery[0].waited <= 1
    assert [r for r in runner.results if r.outcome is not Outcome.PASSED] == []


@pytest.mark.parametrize("fault", sorted(CATCHES))
def test_fault_is_caught_by_its_checks_and_no_other(fault: str):
    results = _run_all(fault)[0] if fault == "loading-forever" else _run(fault)
    failed = {r.check for r in results if r.outcome is Outcome.FAILED}
    assert failed == CATCHES[fault]
    for result in results:
        if result.outcome is Outcome.FAILED:
            assert result.message and result.curl.startswith("curl ")
            assert result.expected is not None
            assert KEY not in result.curl


# each Hugging Face task -> a fault that its own cases catch (the "each task has at least one fault mode")
TASK_FAULTS = {
    "text-generation": "hf-generate-overrun",
    "text-classification": "hf-scores-unsorted",
    "token-classification": "hf-span-shifted",
    "fill-mask": "hf-token-str-camel",
    "question-answering": "hf-span-shifted",
    "summarization": "hf-summary-as-generated",
    "translation": "hf-translation-key",
    "zero-shot-classification": "hf-zero-shot-foreign-label",
    "feature-extraction": "hf-vectors-ragged",
    "sentence-similarity": "hf-similarity-short",
    "automatic-speech-recognition": "hf-binary-needs-mime",
    "audio-classification": "hf-score-logit",
    "image-classification": "hf-top-k-ignored",
    "object-detection": "hf-box-outside",
}


def test_every_task_has_a_fault():
    from infercheck.contract.tasks import TASKS

    assert set(TASK_FAULTS) == set(TASKS) and set(TASK_FAULTS.values()) <= set(FAULTS)


@pytest.mark.parametrize("task", sorted(TASK_FAULTS))
def test_each_task_endpoint_alone_catches_its_fault_and_passes_clean(task: str):
    for faults in ((), (TASK_FAULTS[task],)):
        with embedded(faults=faults, api_key=KEY) as url:
            target = resolve(url.removesuffix("/v1") + f"/models/{task}", api="hf", task=task, api_key=KEY)
            results = run(target, profile="strict", suites=False).results
        assert results and all(r.case.startswith(f"{task}.") for r in results)
        failed = [r for r in results if r.outcome is Outcome.FAILED]
        assert bool(failed) == bool(faults), [r.render() for r in failed]


def test_the_reference_endpoint_page_counts_the_faults():
    from ..support import ROOT

    readme = (ROOT / "docs" / "design" / "reference-endpoint.md").read_text()
    hf = [f for f in FAULTS if f.startswith(("hf-", "tgi-", "loading"))]
    assert f"lists its {len(FAULTS) - len(HOSTILE)} fault modes" in readme
    assert f"and {len(HOSTILE)} hostile behaviours" in readme and f"({len(hf)} of them in the task and TGI" in readme
