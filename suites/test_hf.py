"""Hugging Face task endpoints: every applicable check over every case in fixtures/hf/cases.json.

Only the task under test runs (``--task``); test ids read ``<task>.<case>/<check>``.
"""

from infercheck.plugin import conformance


@conformance("hf")
def test_task(infercheck_item, infercheck):
    infercheck.verify(infercheck_item)
