"""Hugging Face task answers of the reference endpoint: deterministic, no weights.

Every answer depends only on the request (a hash seeds the scores), so the suites can compare
answers. Faults (``_faults.FAULTS``, names starting ``hf-``) are planted here.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from typing import Any

from ..contract.tasks import AUDIO_TASKS, BINARY_TASKS, IMAGE_TASKS, TASKS  # noqa: F401  (re-exported)
from . import _generator as gen

LABELS = {
    "text-classification": ("POSITIVE", "NEGATIVE", "NEUTRAL"),
    "audio-classification": ("speech", "music", "noise", "silence"),
    "image-classification": ("red square", "blue square", "cat", "dog", "car"),
    "object-detection": ("square", "cat", "dog"),
}
ENTITIES = ("PER", "ORG", "LOC", "MISC")
MASKS = ("[MASK]", "<mask>")
VECTOR_DIMENSIONS = 16


class TaskError(Exception):
    """A refused request: the status and the message of the ``{"error": ...}`` body."""

    def __init__(self, status: int, message: str, error_type: str = "validation", *, plain: bool = False):
        super().__init__(message)
        self.status, self.message, self.error_type, self.plain = status, message, error_type, plain


def _rng(*parts: Any) -> random.Random:
    material = "|".join(map(str, parts)).encode()
    return random.Random(int.from_bytes(hashlib.sha256(material).digest()[:8], "big"))


def _softmax(logits: list[float]) -> list[float]:
    top = max(logits)
    exps = [math.exp(x - top) for x in logits]
    total = sum(exps)
    return [e / total for e in exps]


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def _scores(logits: list[float], transform: str | None) -> list[float]:
    if transform == "none":
        return [round(x, 6) for x in logits]
    if transform == "sigmoid":
        return [round(_sigmoid(x), 6) for x in logits]
    return [round(s, 6) for s in _softmax(logits)]


class Tasks:
    """Answers each task's validated payload; ``faults`` are the planted ones."""

    def __init__(self, faults: frozenset[str]):
        self.faults = faults

    def ranked(self, labels: tuple[str, ...] | list[str], key: Any, top_k: int | None = None,
               transform: str | None = None) -> list[dict[str, Any]]:
        """Labels with scores, best first, at most ``top_k``: the shape of every classification answer."""
        rng = _rng("classify", key)
        logits = [rng.gauss(0, 2) for _ in labels]
        out = [{"label": label, "score": score} for label, score in zip(labels, _scores(logits, transform))]
        out.sort(key=lambda item: -item["score"])
        if "hf-score-logit" in self.faults:
            out = [{**item, "score": round(item["score"] * 3 - 1, 6)} for item in out]
        if top_k is not None and "hf-top-k-ignored" not in self.faults:
            out = out[:top_k]
        if "hf-scores-unsorted" in self.faults:
            out.reverse()
        return out

    def answer(self, task: str, inputs: Any, parameters: dict[str, Any], body: dict[str, Any]) -> Any:
        """The answer to a validated payload (text-generation is TGI's: see ``_native``)."""
        return getattr(self, task.replace("-", "_"))(inputs, parameters, body)

    # -- text ---------------------------------------------------------------------------------------

    def text_classification(self, text: str, params: dict[str, Any], body: dict[str, Any]) -> Any:
        labels = self.ranked(LABELS["text-classification"], text, params.get("top_k"), params.get("function_to_apply"))
        return [labels]  # a batch of one, as the HF Inference API sends it

    def token_classification(self, text: str, params: dict[str, Any], body: dict[str, Any]) -> Any:
        strategy = params.get("aggregation_strategy") or "simple"
        ignore = set(params.get("ignore_labels") or ["O"])
        shift = 1 if "hf-span-shifted" in self.faults else 0
        out = []
        for index, match in enumerate(re.finditer(r"\b[A-Z][\w']*", text)):
            rng = _rng("entity", text, match.start())
            label = rng.choice(ENTITIES)
            if label in ignore:
                continue
            entity = {"score": round(0.75 + rng.random() * 0.25, 6), "word": match.group(),
                      "start": match.start() + shift, "end": match.end() + shift}
            if strategy == "none":
                entity = {"entity": f"B-{label}", **entity, "index": index + 1}
            else:
                entity = {"entity_group": label, **entity}
            out.append(entity)
        return out

    def fill_mask(self, text: str, params: dict[str, Any], body: dict[str, Any]) -> Any:
        mask = next((m for m in MASKS if m in text), None)
        if mask is None:
            raise TaskError(400, f"No mask_token ({MASKS[0]}) found on the input")
        vocabulary = list(params.get("targets") or gen.WORDS)
        ranked = self.ranked(vocabulary, ("fill", text), params.get("top_k") or 5)
        key = "tokenStr" if "hf-token-str-camel" in self.faults else "token_str"
        return [{"score": item["score"], "token": 1000 + (gen.WORDS.index(item["label"]) if item["label"] in gen.WORDS
                                                         else len(gen.WORDS) + vocabulary.index(item["label"])),
                 key: item["label"], "sequence": text.replace(mask, item["label"], 1)} for item in ranked]

    def question_answering(self, inputs: dict[str, str], params: dict[str, Any], body: dict[str, Any]) -> Any:
        context, question = inputs["context"], inputs["question"]
        spans = [m for m in re.finditer(r"[\w']+", context)] or []
        if not spans:
            raise TaskError(400, "the context holds no words to answer from")
        asked = {w.lower() for w in re.findall(r"[\w']+", question)}
        # candidates: each word and the two words after it; ones the question repeats rank low
        rng = _rng("qa", question, context)
        candidates = []
        for i, match in enumerate(spans):
            end = spans[min(i + 1, len(spans) - 1)].end()
            penalty = 3 if match.group().lower() in asked else 0
            candidates.append((rng.gauss(0, 1) - penalty, match.start(), end))
        candidates.sort(key=lambda c: -c[0])
        top_k = params.get("top_k")
        chosen = candidates[: top_k or 1]
        probabilities = _softmax([c[0] for c in candidates])[: len(chosen)]
        shift = 1 if "hf-span-shifted" in self.faults else 0
        answers = [{"answer": context[start:end], "score": round(p, 6), "start": start + shift, "end": end + shift}
                   for (_, start, end), p in zip(chosen, probabilities)]
        return answers if top_k is not None else answers[0]  # one answer: an object, as the pipeline gives it

    def summarization(self, text: str, params: dict[str, Any], body: dict[str, Any]) -> Any:
        words = text.split()
        summary = " ".join(words[: max(3, len(words) // 2)])
        key = "generated_text" if "hf-summary-as-generated" in self.faults else "summary_text"
        return [{key: summary}]

    def translation(self, text: str, params: dict[str, Any], body: dict[str, Any]) -> Any:
        translated = " ".join(word[::-1] for word in text.split())
        key = "translated_text" if "hf-translation-key" in self.faults else "translation_text"
        return [{key: translated}]

    def zero_shot_classification(self, text: str, params: dict[str, Any], body: dict[str, Any]) -> Any:
        labels = list(dict.fromkeys(params["candidate_labels"]))
        multi = bool(params.get("multi_label"))
        out = self.ranked(labels, ("zero-shot", text), None, "sigmoid" if multi else "softmax")
        if "hf-zero-shot-foreign-label" in self.faults:
            out[0] = {**out[0], "label": out[0]["label"] + " (other)"}
        return out

    def feature_extraction(self, inputs: str | list[str], params: dict[str, Any], body: dict[str, Any]) -> Any:
        texts = [inputs] if isinstance(inputs, str) else inputs
        vectors = [[round(x, 6) for x in gen.embed(t, VECTOR_DIMENSIONS)] for t in texts]
        if "hf-vectors-ragged" in self.faults and len(vectors) > 1:
            vectors[-1] = vectors[-1][:-1]
        return vectors

    def sentence_similarity(self, inputs: dict[str, Any], params: dict[str, Any], body: dict[str, Any]) -> Any:
        source = gen.embed(inputs["source_sentence"], VECTOR_DIMENSIONS)
        out = [round(sum(a * b for a, b in zip(source, gen.embed(s, VECTOR_DIMENSIONS))), 6)
               for s in inputs["sentences"]]
        if "hf-similarity-short" in self.faults and len(out) > 1:
            out = out[:-1]
        return out

    # -- audio and images (``inputs`` are the decoded bytes) -----------------------------------------

    def automatic_speech_recognition(self, audio: bytes, params: dict[str, Any], body: dict[str, Any]) -> Any:
        from ..contract.media import audio_duration

        duration = audio_duration(audio) or 1.0
        words = gen.generate(hashlib.sha256(audio).hexdigest(), max_tokens=6, temperature=0).tokens
        text = "".join(words).strip()
        out: dict[str, Any] = {"text": text}
        if params.get("return_timestamps"):
            step = duration / max(1, len(words))
            out["chunks"] = [{"text": w.strip(), "timestamp": [round(i * step, 3), round((i + 1) * step, 3)]}
                             for i, w in enumerate(words)]
        return out

    def audio_classification(self, audio: bytes, params: dict[str, Any], body: dict[str, Any]) -> Any:
        return self.ranked(LABELS["audio-classification"], hashlib.sha256(audio).hexdigest(), params.get("top_k"),
                           params.get("function_to_apply"))

    def image_classification(self, image: bytes, params: dict[str, Any], body: dict[str, Any]) -> Any:
        return self.ranked(LABELS["image-classification"], hashlib.sha256(image).hexdigest(), params.get("top_k"),
                           params.get("function_to_apply"))

    def object_detection(self, image: bytes, params: dict[str, Any], body: dict[str, Any]) -> Any:
        from ..contract.media import image_size

        width, height = image_size(image) or (1, 1)
        threshold = params.get("threshold", 0.5)
        rng = _rng("detect", hashlib.sha256(image).hexdigest())
        out = []
        for label in LABELS["object-detection"]:
            x0, y0 = rng.randrange(width), rng.randrange(height)
            box = {"xmin": x0, "ymin": y0, "xmax": rng.randint(x0, width - 1), "ymax": rng.randint(y0, height - 1)}
            if "hf-box-outside" in self.faults:
                box["xmax"] = width + 10
            score = round(0.3 + rng.random() * 0.7, 6)
            if score >= threshold:
                out.append({"score": score, "label": label, "box": box})
        return out
