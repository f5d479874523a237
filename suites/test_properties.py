"""Property-based conformance: requests generated from the request schemas, each checked.

Test ids read ``<route>.<positive|negative>``: positive requests come from ``schemas/openai/positive/``
(``schemas/hf/positive/`` for the Hugging Face text tasks) and must be served; negative ones carry one
violation of the contract and must be refused with a 4xx error. A failure is shrunk to a minimal request.
Only the suites of the API (and task) under test run.
"""

from infercheck.plugin import properties


@properties("openai")
def test_property(infercheck_property, infercheck):
    infercheck.explore(infercheck_property)


@properties("hf")
def test_task_property(infercheck_property, infercheck):
    infercheck.explore(infercheck_property)
