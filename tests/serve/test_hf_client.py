"""The reference endpoint's Hugging Face routes, driven by the real ``huggingface_hub.InferenceClient``.

The client is what users call Inference Endpoints and TGI with: if it parses every answer, the reference
endpoint's shapes are the ones deployed servers send. The media fixtures are checked to be real files too.
"""

from __future__ import annotations

from collections.abc import Iterator

import huggingface_hub as hub
import pytest

from infercheck import embedded
from infercheck.contract import media as _media

from ..support import ROOT

KEY = "hf_test_key_0123456789"
MEDIA = ROOT / "fixtures" / "hf" / "media"


@pytest.fixture(scope="module")
def root() -> Iterator[str]:
    with embedded(api_key=KEY) as url:
        yield url.removesuffix("/v1")


def _client(root: str, task: str | None = None, token: str = KEY):
    url = f"{root}/models/{task}" if task else root
    return hub.InferenceClient(model=url, token=token, provider="hf-inference")


def test_text_tasks(root):
    labels = _client(root, "text-classification").text_classification("I like you. I love you")
    assert [x.label for x in labels] and labels[0].score >= labels[-1].score
    entities = _client(root, "token-classification").token_classification("My name is Sarah Jessica Parker")
    assert {e.word for e in entities} <= {"My", "Sarah", "Jessica", "Parker"} and entities
    fills = _client(root, "fill-mask").fill_mask("The answer to the universe is [MASK].", top_k=2)
    assert len(fills) == 2 and fills[0].token_str in fills[0].sequence
    answer = _client(root, "question-answering").question_answering(
        question="What is my name?", context="My name is Clara and I live in Berkeley.")
    assert "My name is Clara and I live in Berkeley."[answer.start:answer.end] == answer.answer
    assert _client(root, "summarization").summarization("The tower is 324 metres tall, as tall as a building.") \
        .summary_text.startswith("The tower")
    assert _client(root, "translation").translation("My name is Wolfgang").translation_text
    zero = _client(root, "zero-shot-classification").zero_shot_classification(
        "I want my money back", candidate_labels=["refund", "faq"])
    assert sorted(x.label for x in zero) == ["faq", "refund"] and abs(sum(x.score for x in zero) - 1) < 1e-3
    assert _client(root, "feature-extraction").feature_extraction("Today is a sunny day").shape == (1, 16)
    scores = _client(root, "sentence-similarity").sentence_similarity(
        "A happy person", other_sentences=["A happy dog", "A sunny day"])
    assert len(scores) == 2


def test_binary_tasks_from_files_sent_raw_and_base64(root):
    flac, wav, png, jpg = (str(MEDIA / name) for name in ("speech.flac", "speech.wav", "image.png", "image.jpg"))
    assert _client(root, "automatic-speech-recognition").automatic_speech_recognition(flac).text
    assert len(_client(root, "audio-classification").audio_classification(wav, top_k=2)) == 2  # base64 in JSON
    assert _client(root, "image-classification").image_classification(png)
    for detection in _client(root, "object-detection").object_detection(jpg, threshold=0.1):
        assert 0 <= detection.box.xmin <= detection.box.xmax <= 32 and 0 <= detection.box.ymin <= detection.box.ymax <= 24


def test_text_generation_plain_detailed_and_streamed(root):
    client = _client(root, "text-generation")
    out = client.text_generation("The answer to the universe is", max_new_tokens=5, details=True)
    assert out.details.generated_tokens == len(out.details.tokens) <= 5
    tokens = list(client.text_generation("The answer to the universe is", max_new_tokens=5, stream=True))
    assert "".join(tokens) == client.text_generation("The answer to the universe is", max_new_tokens=5)
    tgi = _client(root)  # a TGI server: its root
    assert tgi.text_generation("The answer to the universe is", max_new_tokens=5) == "".join(tokens)


def test_a_wrong_token_is_refused_with_401(root):
    with pytest.raises(hub.errors.HfHubHTTPError) as raised:
        _client(root, "fill-mask", token="hf_wrong").fill_mask("The answer is [MASK].")
    assert raised.value.response.status_code == 401


def test_the_media_fixtures_are_real_files():
    import soundfile
    from PIL import Image

    for name in ("speech.flac", "speech.wav"):
        info = soundfile.info(str(MEDIA / name))
        assert info.samplerate == 16000 and abs(info.duration - 0.5) < 1e-6
        assert _media.audio_duration((MEDIA / name).read_bytes()) == pytest.approx(info.duration)
        assert _media.sniff((MEDIA / name).read_bytes()) == ("audio/flac" if name.endswith("flac") else "audio/wav")
    for name in ("image.png", "image.jpg"):
        with Image.open(MEDIA / name) as image:
            image.load()
            assert _media.image_size((MEDIA / name).read_bytes()) == image.size == (32, 24)
