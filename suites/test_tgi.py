"""TGI's native API (/generate, /generate_stream, POST /, /info, /health): every applicable check over every
case in fixtures/tgi/cases.json."""

from infercheck.plugin import conformance


@conformance("tgi")
def test_tgi(infercheck_item, infercheck):
    infercheck.verify(infercheck_item)
