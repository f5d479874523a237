"""The reference endpoint's own OpenAPI document, assembled from schemas/ (issue 4 builds on it)."""

from __future__ import annotations

import json
import re

import httpx
import schemathesis
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from infercheck import _openapi


def test_the_document_stands_alone_every_ref_resolving_inside_it():
    doc = _openapi.document(model="m", server="http://127.0.0.1:1")
    text = json.dumps(doc)
    assert "https://infercheck.dev" not in text  # no reference leaves the document
    resolver = Registry().with_resource("urn:doc", Resource(doc, DRAFT202012)).resolver("urn:doc")
    refs = set(re.findall(r'"\$ref": "([^"]+)"', text))
    assert len(refs) > 20
    for ref in refs:
        resolver.lookup(ref)


def test_schemathesis_loads_every_operation():
    schema = schemathesis.openapi.from_dict(_openapi.document(model="m", server="http://127.0.0.1:1"))
    found = {(op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations()}
    assert found == {(m.upper(), p) for p, m, *_ in _openapi.OPERATIONS}


def test_the_reference_endpoint_serves_its_document_with_its_model(reference_url):
    root = reference_url.removesuffix("/v1")
    doc = httpx.get(root + "/openapi.json", timeout=5).json()
    assert doc["openapi"] == "3.1.0" and doc["servers"] == [{"url": root}]
    request = doc["components"]["schemas"]["openai.chat-request"]
    assert request["properties"]["model"] == {"const": "infercheck-tiny"}


def test_a_wrong_method_gets_405_with_allow(reference_url):
    """Found by schemathesis (ST204): RFC 9110 requires Allow on a 405."""
    response = httpx.request("TRACE", reference_url + "/completions", timeout=5)
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert response.json()["error"]["code"] == "method_not_allowed"


# Schemathesis over the served document, both generation modes and every default check. The module
# runs in a pytester session so that a planted fault can be shown to make it fail.
_SCHEMATHESIS_RUN = '''
import os
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from infercheck import embedded

@pytest.fixture(scope="module")
def api():
    faults = tuple(f for f in os.environ.get("ST_FAULTS", "").split(",") if f)
    with embedded(faults=faults) as url:
        schema = schemathesis.openapi.from_url(url.removesuffix("/v1") + "/openapi.json")
        schema.config.generation.update(modes=list(GenerationMode), max_examples=int(os.environ["ST_EXAMPLES"]))
        yield schema

schema = schemathesis.pytest.from_fixture("api")

@schema.parametrize()
@settings(suppress_health_check=list(HealthCheck), deadline=None, database=None, derandomize=True)
def test_api(case):
    case.call_and_validate()
'''


def _schemathesis(pytester, monkeypatch, faults: str = "", examples: int = 60):
    monkeypatch.setenv("ST_FAULTS", faults)
    monkeypatch.setenv("ST_EXAMPLES", str(examples))
    pytester.makepyfile(test_st=_SCHEMATHESIS_RUN)
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")


def test_schemathesis_finds_no_failure_on_the_reference_endpoint(pytester, monkeypatch):
    """The served document states the endpoint's own limits (max_tokens, dimensions) and the contract's
    cross-field rules (best_of >= n, top_logprobs needs logprobs), so valid data is accepted, invalid
    data refused, every response matches, streams included."""
    result = _schemathesis(pytester, monkeypatch)
    output = result.stdout.str()
    assert result.ret == 0, output
    assert "5 subtests passed" in output  # the five operations, each over generated data


def test_schemathesis_catches_an_endpoint_that_accepts_invalid_data(pytester, monkeypatch):
    result = _schemathesis(pytester, monkeypatch, faults="validation-lenient", examples=30)
    assert result.ret != 0
    assert "Schema-violating request accepted" in result.stdout.str()
