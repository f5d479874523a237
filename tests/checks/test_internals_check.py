"""`no-internals-leaked` on recorded answers: what it flags, and what it must not (no false alarms)."""

from __future__ import annotations

import json

import pytest

from infercheck import registry
from infercheck.checks import base as _checks
from infercheck.contract.cases import Case
from infercheck.wire.exchange import Exchange, Request, Response

CHECK = registry()["no-internals-leaked"]
CASE = Case("c", "d", "completions", "POST", "/completions", body={})


def judged(status: int, body: dict | str, sent: dict | None = None) -> _checks.Result:
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    request = Request("POST", "http://127.0.0.1:1/v1/completions", {}, json.dumps(sent or {}).encode())
    exchange = Exchange("c", request, response=Response(status, {"content-type": "application/json"}, raw, 0.01))
    return _checks.evaluate(CHECK, CASE, exchange, _checks.Context(base_url="http://127.0.0.1:1/v1", model="m"))


@pytest.mark.parametrize(("status", "body", "sent"), [
    (500, {"error": {"message": 'Traceback (most recent call last):\n  File "/usr/lib/python3/x.py", line 3'}}, None),
    (400, {"code": 400, "type": "InternalServerException", "message": "bad input\n\tat "
           "org.pytorch.serve.wlm.WorkerThread.run(WorkerThread.java:229)"}, None),  # the SageMaker model server's Java
    (404, "model not found in C:\\Users\\svc\\models\\", None),
    (200, {"id": "cmpl-1", "object": "text_completion", "model": "/root/.cache/gemma-3-270m.gguf", "choices": []}, None),
    # a revision of another path than the one the request named
    (200, {"id": "cmpl-1", "model": "/srv/models/other@main", "choices": []}, {"model": "/srv/models/gemma"}),
])
def test_stack_traces_and_server_paths_are_flagged(status, body, sent):
    result = judged(status, body, sent)
    assert result.outcome is _checks.Outcome.FAILED, result.message
    assert "reveals" in result.message


@pytest.mark.parametrize(("status", "body", "sent"), [
    (404, {"error": {"message": "POST /v1/completions: no such route /v1/completion"}}, None),  # URL paths
    (404, {"error": {"message": "The model `/home/me/model.gguf` does not exist."}},
     {"model": "/home/me/model.gguf"}),  # the request's own value, repeated
    # transformers serve names a model served from a folder by the folder and its revision (5.19: "/srv/m@main")
    (200, {"id": "chatcmpl-1", "model": "/srv/models/gemma-3-270m@main", "choices": []},
     {"model": "/srv/models/gemma-3-270m"}),
    (200, {"id": "cmpl-1", "model": "m", "choices": [{"text": "see /etc/passwd and /usr/bin"}]}, None),  # generated
    (400, {"error": {"message": "temperature must be at most 2, got 5"}}, None),
])
def test_url_paths_echoed_values_and_generated_text_are_not_flagged(status, body, sent):
    assert judged(status, body, sent).outcome is _checks.Outcome.PASSED
