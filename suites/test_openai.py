"""OpenAI-style conformance: every applicable check over every case in fixtures/openai/cases.json.

Test ids read ``<case>/<check>``, e.g. ``chat.documented-stream/stream-chunk-schema``.
"""

from infercheck.plugin import conformance


@conformance("openai")
def test_conformance(infercheck_item, infercheck):
    infercheck.verify(infercheck_item)
