"""The reference endpoint's Hugging Face task and TGI routes, request by request (TestClient, no server)."""

from __future__ import annotations

import base64
import json
import time

import pytest
from starlette.testclient import TestClient

from infercheck.contract import schemas as _schemas
from infercheck.serve import create_app

from ..support import ROOT

MEDIA = ROOT / "fixtures" / "hf" / "media"
PNG, FLAC = (MEDIA / "image.png").read_bytes(), (MEDIA / "speech.flac").read_bytes()


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app())


def test_binary_bodies_are_read_by_their_bytes_whatever_type_they_declare(client):
    assert client.post("/models/image-classification", content=PNG).status_code == 200  # no Content-Type
    assert client.post("/models/image-classification", content=PNG,
                       headers={"content-type": "application/octet-stream"}).status_code == 200
    wrong = client.post("/models/audio-classification", content=PNG, headers={"content-type": "audio/x-flac"})
    assert wrong.status_code == 400 and "found image/png" in wrong.json()["error"]
    lying = client.post("/models/image-classification", content=PNG, headers={"content-type": "audio/flac"})
    assert lying.status_code == 400
    encoded = client.post("/models/automatic-speech-recognition",
                          json={"inputs": base64.b64encode(FLAC).decode(), "parameters": {"return_timestamps": True}})
    assert encoded.status_code == 200 and encoded.json()["chunks"][-1]["timestamp"][1] == pytest.approx(0.5)
    assert client.post("/models/image-classification", json={"inputs": "not base64!"}).status_code == 400


def test_task_errors_are_json_with_400_and_tgi_errors_carry_error_type_with_422(client):
    bad = client.post("/models/fill-mask", json={"inputs": "no mask here"})
    assert bad.status_code == 400 and _schemas.errors("hf/error.json", bad.json()) == []
    assert client.post("/models/no-such-task", json={"inputs": "x"}).status_code == 404
    tgi = client.post("/generate", json={"inputs": "Hi", "parameters": {"top_p": 1.0}})
    assert tgi.status_code == 422 and tgi.json()["error_type"] == "validation"
    assert tgi.json()["error"].startswith("Input validation error: ")
    too_long = client.post("/generate", json={"inputs": "Hi", "parameters": {"max_new_tokens": 2048}})
    assert too_long.status_code == 422 and "must be <= 2048" in too_long.json()["error"]


def test_a_served_task_answers_at_the_root_and_tgi_compat_otherwise():
    task = TestClient(create_app(task="translation"))
    assert task.post("/", json={"inputs": "Hello there"}).json() == [{"translation_text": "olleH ereht"}]
    tgi = TestClient(create_app()).post("/", json={"inputs": "Hello", "parameters": {"max_new_tokens": 2}})
    assert isinstance(tgi.json(), list) and "generated_text" in tgi.json()[0]
    with pytest.raises(ValueError, match="unknown task"):
        create_app(task="no-such-task")


def test_the_loading_quirk_answers_503_with_estimated_time_then_serves():
    client = TestClient(create_app(faults=("loading",)))
    first = client.post("/models/fill-mask", json={"inputs": "a [MASK]"})
    assert first.status_code == 503 and first.json()["estimated_time"] > 0
    assert "currently loading" in first.json()["error"]
    time.sleep(first.json()["estimated_time"])
    assert client.post("/models/fill-mask", json={"inputs": "a [MASK]"}).status_code == 200


def test_generation_is_greedy_and_return_full_text_prepends_the_prompt(client):
    body = {"inputs": "Once upon", "parameters": {"max_new_tokens": 4, "details": True}}
    one, two = (client.post("/generate", json=body).json() for _ in range(2))
    assert one == two and one["details"]["generated_tokens"] == len(one["details"]["tokens"]) == 4
    full = client.post("/generate", json={"inputs": "Once upon", "parameters": {"max_new_tokens": 4,
                                                                               "return_full_text": True}}).json()
    assert full["generated_text"] == "Once upon" + one["generated_text"]


def test_the_accept_verbatim_quirk_refuses_what_the_sagemaker_toolkit_refuses():
    """The quirk that keeps infercheck's own Accept header honest (test_faults runs every API against it)."""
    strict = TestClient(create_app(faults=("accept-verbatim",)))
    body = {"inputs": "I like you. I love you"}
    for accept in ("*/*", "application/json"):
        assert strict.post("/models/text-classification", json=body, headers={"accept": accept}).status_code == 200
    refused = strict.post("/models/text-classification", json=body,
                          headers={"accept": "application/json, text/event-stream"})  # what infercheck once sent
    assert refused.status_code == 406 and "is not supported" in refused.json()["error"]


def test_requests_carry_the_accept_header_real_clients_send():
    from infercheck.engine.target import Target

    # the openai client: Accept: application/json on every request, streams included
    assert Target("http://127.0.0.1:1/v1").headers(json_body=True) == {"Accept": "application/json",
                                                                       "Content-Type": "application/json"}
    # huggingface_hub: no Accept of its own, for task endpoints and TGI alike
    for api in ("hf", "tgi"):
        assert Target("http://127.0.0.1:1", api=api).headers(json_body=True) == {"Content-Type": "application/json"}


def test_tgi_token_events_are_numbered_from_1(client):
    response = client.post("/generate_stream", json={"inputs": "Hello", "parameters": {"max_new_tokens": 4}})
    events = [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]
    assert [e["index"] for e in events] == list(range(1, len(events) + 1)) and len(events) >= 2
