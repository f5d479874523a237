"""The Python API runs what the command runs (issue 25): the cases and the property suites, at once."""

from __future__ import annotations

import json

from infercheck import Outcome, embedded, resolve, run


def test_run_checks_the_cases_and_explores_the_property_suites():
    with embedded() as url:
        runner = run(resolve(url), max_examples=3, seed=7)
    suites = {r.case for r in runner.results if r.case.startswith("property.")}
    assert {"property.chat.positive", "property.chat.negative", "property.responses.positive"} <= suites
    assert any(r.case == "chat.documented" for r in runner.results)
    assert runner.seed == 7 and runner.generated
    assert not [r for r in runner.results if r.outcome in (Outcome.FAILED, Outcome.ERROR)]


def test_run_without_suites_checks_the_cases_only_and_a_seed_repeats_the_suites():
    with embedded() as url:
        cases_only = run(resolve(url), suites=False)
        first = run(resolve(url), max_examples=3, seed=11)
        again = run(resolve(url), max_examples=3, seed=11)
    assert not cases_only.generated and cases_only.seed is None
    assert not any(r.case.startswith("property.") for r in cases_only.results)

    def bodies(runner):
        return sorted(json.dumps(e.request.json(), sort_keys=True) for e in runner.generated)

    assert first.generated and bodies(first) == bodies(again)


def test_run_chooses_and_keeps_a_seed_when_none_is_given():
    with embedded() as url:
        runner = run(resolve(url), max_examples=2)
    assert isinstance(runner.seed, int)
