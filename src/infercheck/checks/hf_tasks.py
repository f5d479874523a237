"""Semantic checks of Hugging Face task answers and TGI's native API: what an answer must mean, beyond its shape.

Each check has a fault mode of the reference endpoint that it catches
(``infercheck.serve._faults``, names starting ``hf-`` or ``tgi-``) and a self-test proving it
(``tests/checks/test_faults.py``).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import unicodedata
from typing import Any

from ..contract import media as _media
from ..contract.cases import Case
from ..wire import answers as _answers
from ..wire.exchange import Exchange
from .base import Context, check, fail, skip

SCORED = ("text-classification", "token-classification", "fill-mask", "question-answering",
          "zero-shot-classification", "audio-classification", "image-classification", "object-detection")
RANKED = ("text-classification", "fill-mask", "question-answering", "zero-shot-classification",
          "audio-classification", "image-classification")
SUM_TOLERANCE = 1e-3  # single-label zero-shot scores are a softmax: they sum to 1, up to float rounding


def _task(case: Case, *tasks: str) -> bool:
    return case.api == "hf" and case.route in tasks and case.expects_success


def _parameters(case: Case) -> dict[str, Any]:
    body = case.body if isinstance(case.body, dict) else {}
    return body.get("parameters") if isinstance(body.get("parameters"), dict) else {}


def _answer(ex: Exchange) -> Any:
    status = ex.response.status
    if not 200 <= status < 300:
        skip(f"answered {status}; see status-code")
    answer = _answers.document(ex)
    if answer is None:
        skip("the answer is not JSON; see response-schema")
    return answer


def _items(task: str, answer: Any) -> list[dict[str, Any]]:
    """The scored items of an answer, in the order sent, whichever documented form it takes."""
    if task == "zero-shot-classification" and isinstance(answer, dict):  # the pipeline's {labels, scores}
        labels, scores = answer.get("labels"), answer.get("scores")
        if isinstance(labels, list) and isinstance(scores, list):
            return [{"label": label, "score": score} for label, score in zip(labels, scores)]
    if task == "question-answering" and isinstance(answer, dict):
        answer = [answer]
    if task == "text-classification" and isinstance(answer, list) and len(answer) == 1 and isinstance(answer[0], list):
        answer = answer[0]  # a batch of one
    if not isinstance(answer, list) or not all(isinstance(item, dict) for item in answer):
        skip("the answer is not a list of objects; see response-schema")
    return answer


@check("scores-probabilities", title="Scores are finite probabilities, in [0, 1]", severity="high",
       applies=lambda case: _task(case, *SCORED) and _parameters(case).get("function_to_apply") != "none")
def scores_probabilities(case: Case, ex: Exchange, ctx: Context) -> None:
    items = _items(case.route, _answer(ex))
    bad = [item.get("score") for item in items
           if not (isinstance(item.get("score"), (int, float)) and math.isfinite(item["score"])
                   and 0 <= item["score"] <= 1)]
    if bad:
        fail(f"{len(bad)} of {len(items)} score(s) are not probabilities: {bad[:5]}", expected="numbers in [0, 1]",
             received=bad[:10], kind="score-range")


@check("scores-sorted", title="Labels come best first (scores never rise)", severity="medium",
       applies=lambda case: _task(case, *RANKED))
def scores_sorted(case: Case, ex: Exchange, ctx: Context) -> None:
    scores = [item.get("score") for item in _items(case.route, _answer(ex))]
    if not all(isinstance(s, (int, float)) for s in scores):
        skip("a score is not a number; see response-schema")
    rises = [i for i in range(1, len(scores)) if scores[i] > scores[i - 1]]
    if rises:
        fail(f"scores rise at position(s) {rises[:5]}: {scores[:10]}", expected="scores in non-increasing order",
             received=scores[:10], kind="unsorted")


@check("top-k-honoured", title="top_k caps the number of answers", severity="high",
       applies=lambda case: _task(case, *RANKED) and isinstance(_parameters(case).get("top_k"), int))
def top_k_honoured(case: Case, ex: Exchange, ctx: Context) -> None:
    top_k = _parameters(case)["top_k"]
    items = _items(case.route, _answer(ex))
    if not 1 <= len(items) <= top_k:
        fail(f"top_k {top_k} was asked; {len(items)} answer(s) came back", expected=f"1 to {top_k}",
             received=len(items), kind="top-k")


def _generation(case: Case) -> bool:
    return (case.api == "tgi" or case.route == "text-generation") and case.expects_success


def _generated(ex: Exchange) -> dict[str, Any]:
    answer = _answer(ex)
    if isinstance(answer, list) and answer:
        answer = answer[0]  # the compat form: a list of generations
    if not isinstance(answer, dict) or not isinstance(answer.get("generated_text"), str):
        skip("the answer has no generated_text; see response-schema")
    return answer


def _events(ex: Exchange) -> list[dict[str, Any]]:
    if not 200 <= ex.response.status < 300:
        skip(f"answered {ex.response.status}; see status-code")
    events = _answers.chunks(ex)
    if len(events) != len([e for e in ex.response.sse().events if e.data != "[DONE]"]):
        skip("an event is not a JSON object; see stream-chunk-schema")
    if not events:
        skip("the stream carried no token events; see stream-chunk-schema")
    return events


@check("max-new-tokens", title="No more tokens than max_new_tokens", severity="high",
       applies=lambda case: _generation(case) and isinstance(_parameters(case).get("max_new_tokens"), int)
       and (case.stream or _parameters(case).get("details") is True))
def max_new_tokens(case: Case, ex: Exchange, ctx: Context) -> None:
    limit = _parameters(case)["max_new_tokens"]
    if case.stream:
        count = len(_events(ex))
        what = f"{count} token events were streamed"
    else:
        details = _generated(ex).get("details")
        if not isinstance(details, dict) or not isinstance(details.get("generated_tokens"), int):
            skip("the answer has no details.generated_tokens to count with (ask details: true)")
        count = details["generated_tokens"]
        tokens = details.get("tokens")
        if isinstance(tokens, list) and len(tokens) != count:
            fail(f"details.generated_tokens is {count} but details.tokens lists {len(tokens)}",
                 expected=count, received=len(tokens), kind="token-count")
        what = f"details.generated_tokens is {count}"
    if count > limit:
        fail(f"max_new_tokens was {limit}; {what}", expected=f"at most {limit}", received=count, kind="overrun")


@check("full-text-honoured", title="return_full_text true gives the prompt, then the same generated text",
       severity="medium", applies=lambda case: _generation(case) and case.twin is not None
       and _parameters(case).get("return_full_text") is True)
def full_text_honoured(case: Case, ex: Exchange, ctx: Context) -> None:
    full = _generated(ex)["generated_text"]
    partial = _generated(ctx.twin(case))["generated_text"]
    inputs = case.body["inputs"]
    if full != inputs + partial:
        fail(f"return_full_text true answered {full!r}; the prompt followed by the return_full_text false answer "
             f"is {inputs + partial!r}", expected=inputs + partial, received=full, kind="full-text")


def _normal(text: str) -> str:
    """Text as tokenizers give words back: case, accents, spaces and subword marks set aside."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"\s|##|\u2581|\u0120", "", text)


@check("spans-in-input", title="start/end index the text of the answer in the input", severity="high",
       applies=lambda case: _task(case, "token-classification", "question-answering"))
def spans_in_input(case: Case, ex: Exchange, ctx: Context) -> None:
    items = _items(case.route, _answer(ex))
    inputs = case.body["inputs"]
    source, key = (inputs["context"], "answer") if case.route == "question-answering" else (inputs, "word")
    wrong = []
    for item in items:
        start, end, text = item.get("start"), item.get("end"), item.get(key)
        if not (isinstance(start, int) and isinstance(end, int) and isinstance(text, str)):
            continue  # null offsets (slow tokenizers) or a shape the schema check reports
        if not 0 <= start <= end <= len(source):
            wrong.append({key: text, "start": start, "end": end, "why": f"outside the input (length {len(source)})"})
        elif "[UNK]" not in text and _normal(source[start:end]) != _normal(text):
            wrong.append({key: text, "start": start, "end": end, "why": f"the input there is {source[start:end]!r}"})
    if wrong:
        fail(f"{len(wrong)} span(s) do not index their text in the input: {wrong[0]}", expected="input[start:end] == "
             + key, received=wrong[:5], kind="span")


@check("one-vector-per-input", title="One finite vector (or score) per input, all the same length", severity="high",
       applies=lambda case: _task(case, "feature-extraction", "sentence-similarity"))
def one_vector_per_input(case: Case, ex: Exchange, ctx: Context) -> None:
    answer = _answer(ex)
    inputs = case.body["inputs"]
    if not isinstance(answer, list):
        skip("the answer is not a list; see response-schema")
    if case.route == "sentence-similarity":
        want, values = len(inputs["sentences"]), answer
        if len(answer) != want:
            fail(f"{want} sentences were compared; {len(answer)} score(s) came back", expected=want,
                 received=len(answer), kind="count")
    else:
        if isinstance(inputs, str) and answer and all(isinstance(x, (int, float)) for x in answer):
            answer = [answer]  # a bare vector for a single input
        want = 1 if isinstance(inputs, str) else len(inputs)
        if len(answer) != want or not all(isinstance(v, list) for v in answer):
            fail(f"{want} input(s) were sent; {len(answer)} vector(s) came back", expected=want, received=len(answer),
                 kind="count")
        lengths = [len(v) for v in answer]
        if len(set(lengths)) != 1 or not lengths[0]:
            fail(f"vector lengths are {lengths}", expected="one length for all", received=lengths, kind="length")
        values = [x for v in answer for x in v]
    if not all(isinstance(x, (int, float)) and math.isfinite(x) for x in values):
        fail("the answer holds values that are not finite numbers", expected="finite numbers",
             received=[x for x in values if not (isinstance(x, (int, float)) and math.isfinite(x))][:5], kind="finite")


@check("candidate-labels", title="Zero-shot labels are the candidates, each once; single-label scores sum to 1",
       severity="high", applies=lambda case: _task(case, "zero-shot-classification"))
def candidate_labels(case: Case, ex: Exchange, ctx: Context) -> None:
    params = _parameters(case)
    candidates = params["candidate_labels"]
    items = _items(case.route, _answer(ex))
    labels = [item.get("label") for item in items]
    foreign = [label for label in labels if label not in candidates]
    if foreign or len(set(labels)) != len(labels):
        fail(f"labels {labels} are not the candidates {candidates}, each once", expected=candidates, received=labels,
             kind="labels")
    scores = [item.get("score") for item in items]
    if not params.get("multi_label") and len(labels) == len(candidates) and all(
            isinstance(s, (int, float)) for s in scores) and abs(sum(scores) - 1) > SUM_TOLERANCE:
        fail(f"multi_label is false, so the scores are one distribution; they sum to {sum(scores):.4f}",
             expected=1, received=round(sum(scores), 6), kind="sum")


def _image(ex: Exchange) -> bytes | None:
    body = ex.request.body or b""
    data = ex.request.json()
    if isinstance(data, dict) and isinstance(data.get("inputs"), str):
        try:
            return base64.b64decode(data["inputs"], validate=True)
        except (binascii.Error, ValueError):
            return None
    return body


@check("boxes-in-image", title="Boxes lie inside the image, corners in order", severity="high",
       applies=lambda case: _task(case, "object-detection"))
def boxes_in_image(case: Case, ex: Exchange, ctx: Context) -> None:
    items = _items(case.route, _answer(ex))
    size = _media.image_size(_image(ex) or b"")
    if size is None:
        skip("the image sent has no size infercheck can read")
    width, height = size
    wrong = []
    for item in items:
        box = item.get("box") if isinstance(item.get("box"), dict) else {}
        x0, y0, x1, y1 = (box.get(k) for k in ("xmin", "ymin", "xmax", "ymax"))
        if not all(isinstance(v, int) for v in (x0, y0, x1, y1)):
            continue  # the schema check reports it
        if not (0 <= x0 <= x1 <= width and 0 <= y0 <= y1 <= height):
            wrong.append(box)
    if wrong:
        fail(f"{len(wrong)} box(es) are not inside the {width}x{height} image with xmin <= xmax, ymin <= ymax: "
             f"{wrong[0]}", expected=f"0 <= x <= {width}, 0 <= y <= {height}", received=wrong[:5], kind="box")


@check("generate-stream-framing", title="Token events are numbered from 1; only the last carries generated_text, "
       "which is the streamed tokens (and the non-streamed answer)", severity="high",
       applies=lambda case: case.stream and case.chunk_schema == "tgi/stream-response.json" and case.expects_success)
def generate_stream_framing(case: Case, ex: Exchange, ctx: Context) -> None:
    events = _events(ex)
    indices = [e.get("index") for e in events]
    # TGI's router (router/src/server.rs, generate_stream_internal) sets `let mut index = 0` and does `index += 1`
    # before it yields each token event: the first is 1. (Prefill responses would count too, but TGI refuses
    # decoder_input_details on a stream, so none comes.)
    expected = list(range(1, len(events) + 1))
    if indices != expected:
        fail(f"token events are numbered {indices[:10]}", expected=expected[:10], received=indices[:10], kind="index")
    early = [i for i, e in enumerate(events[:-1]) if e.get("generated_text") is not None]
    final = events[-1].get("generated_text")
    if early or not isinstance(final, str):
        fail("generated_text belongs to the last event only" + (f"; events {early[:5]} carry it" if early else
             "; the last event has none"), expected="null before the last event, a string in it",
             received={"early": early[:5], "last": final}, kind="final-text")
    tokens = "".join(e["token"]["text"] for e in events if isinstance(e.get("token"), dict)
                     and isinstance(e["token"].get("text"), str) and not e["token"].get("special"))
    prefix = case.body["inputs"] if _parameters(case).get("return_full_text") else ""
    if final != prefix + tokens:
        fail("the final generated_text is not the streamed tokens", expected=prefix + tokens, received=final,
             kind="final-text")
    if case.twin is not None:
        other = _generated(ctx.twin(case))["generated_text"]
        if final != other:
            fail("the streamed text differs from the non-streamed answer to the same greedy request",
                 expected=other, received=final, kind="stream-differs")
