"""Property-based conformance: requests generated from the request schemas, each checked.

Test ids read ``<route>.<positive|negative>``: positive requests come from
``schemas/openai/positive/`` and must be served; negative ones carry one violation of the
contract and must be refused with a 4xx error envelope. A failure is shrunk to a minimal request.
"""

from infercheck.plugin import properties


@properties("openai")
def test_property(infercheck_property, infercheck):
    infercheck.explore(infercheck_property)
