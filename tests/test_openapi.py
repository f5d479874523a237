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
