"""Checks of models, embeddings and authentication.

Each check has a fault mode of the reference endpoint that it catches
(``infercheck.serve._faults``) and a self-test proving it (``tests/checks/test_faults.py``).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
from collections.abc import Iterator
from typing import Any

from ..contract.cases import Case
from ..wire import answers as _answers
from ..wire.exchange import MIN_SECRET_LENGTH, Exchange
from .base import Context, check, fail, skip


def _json(ex: Exchange) -> Any:
    if not 200 <= ex.response.status < 300:
        skip(f"answered {ex.response.status}; see status-code")
    doc = _answers.document(ex)
    if doc is None:
        skip("the answer is not JSON; see response-schema")
    return doc


def _listed(doc: Any) -> list[dict[str, Any]]:
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, list):
        skip("the answer has no data list; see response-schema")
    return [m for m in data if isinstance(m, dict)]


@check("models-lists-model", title="The model under test is in GET /models", severity="high",
       applies=lambda case: case.route == "models" and case.schema == "openai/model-list.json")
def models_lists_model(case: Case, ex: Exchange, ctx: Context) -> None:
    ids = [m.get("id") for m in _listed(_json(ex))]
    if ctx.model not in ids:
        fail(f"the model under test {ctx.model!r} is not listed", expected=ctx.model, received=ids[:20],
             kind="model-not-listed")


@check("model-retrieve-agrees", title="GET /models/{id} agrees with the listing", severity="medium",
       applies=lambda case: case.route == "models" and case.twin is not None)
def model_retrieve_agrees(case: Case, ex: Exchange, ctx: Context) -> None:
    card = _json(ex)
    if not isinstance(card, dict):
        skip("the answer is not an object; see response-schema")
    if card.get("id") != ctx.model:
        fail(f"GET /models/{ctx.model} answered the card of {card.get('id')!r}", expected=ctx.model,
             received=card.get("id"), kind="model-disagrees")
    listed = next((m for m in _listed(_json(ctx.twin(case))) if m.get("id") == ctx.model), None)
    if listed is None:
        skip(f"{ctx.model!r} is not in the listing to compare with; see models-lists-model")
    differ = {k: {"listed": listed.get(k), "retrieved": card.get(k)}
              for k in ("object", "created", "owned_by") if listed.get(k) != card.get(k)}
    if differ:
        fail(f"the retrieved card differs from the listed one in {', '.join(differ)}", expected=listed,
             received=card, kind="model-disagrees")


def _inputs(ex: Exchange) -> int:
    value = (ex.request.json() or {}).get("input")
    if isinstance(value, str) or (isinstance(value, list) and value and all(isinstance(v, int) for v in value)):
        return 1
    return len(value) if isinstance(value, list) else 1


def _vector(value: Any) -> list[float] | None:
    if isinstance(value, list):
        return value if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value) else None
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return None
        if len(raw) % 4:
            return None
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))
    return None


@check("embeddings-shape", title="One finite vector per input, in order, all the same length", severity="high",
       applies=lambda case: case.route == "embeddings" and case.expects_success)
def embeddings_shape(case: Case, ex: Exchange, ctx: Context) -> None:
    data = _listed(_json(ex))
    want = _inputs(ex)
    indices = [d.get("index") for d in data]
    if indices != list(range(want)):
        fail(f"{want} input(s) sent; the vectors come with indices {indices}", expected=list(range(want)),
             received=indices, kind="embedding-count")
    vectors = [_vector(d.get("embedding")) for d in data]
    if any(v is None for v in vectors):
        skip("an embedding is neither a list of numbers nor base64 float32; see response-schema")
    lengths = [len(v) for v in vectors]
    dimensions = (ex.request.json() or {}).get("dimensions")
    if len(set(lengths)) > 1 or (isinstance(dimensions, int) and lengths[0] != dimensions) or not lengths[0]:
        fail(f"vector lengths are {lengths}" + (f" (dimensions={dimensions} was asked)" if dimensions else ""),
             expected=dimensions or "one length for all", received=lengths, kind="embedding-length")
    bad = [i for i, v in enumerate(vectors) if not all(math.isfinite(x) for x in v)]
    if bad:
        fail(f"vector(s) {bad} hold NaN or infinite numbers", expected="finite numbers", received=bad,
             kind="embedding-finite")


# What a server reveals of itself. Stack traces: Python's, and Java's (the SageMaker toolkit's model server).
# File paths: absolute paths under the directories servers run from, Unix or Windows. URL paths (/v1/...,
# /models/...) and whatever the request itself carried are not counted.
_TRACE = re.compile(r'Traceback \(most recent call last\)|File "[^"]+", line \d+|'
                    r'\bat [\w$.]+\((?:[\w$]+\.(?:java|kt|scala):\d+|Native Method|Unknown Source)\)')
_PATH = re.compile(r'(?<![\w.:/~-])/(?:home|root|usr|opt|srv|var|tmp|app|workspace|mnt|etc)/[\w.@+-]+(?:/[\w.@+-]+)*'
                   r'|\b[A-Za-z]:\\(?:[\w .-]+\\)+[\w .-]*')
_SELF_DESCRIBING = ("model", "id", "owned_by", "system_fingerprint")  # answer fields that describe the server


def _described(doc: Any) -> list[str]:
    """The strings of an answer that describe the server rather than carry generated content."""
    found = [doc[k] for k in _SELF_DESCRIBING if isinstance(doc, dict) and isinstance(doc.get(k), str)]
    for item in doc.get("data", []) if isinstance(doc, dict) and isinstance(doc.get("data"), list) else []:
        found += [item[k] for k in _SELF_DESCRIBING if isinstance(item, dict) and isinstance(item.get(k), str)]
    return found


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _carried(path: str, sent: str) -> bool:
    """Whether ``path`` is what the request carried, which the answer may repeat: the very text, or a revision of it
    (``transformers serve /srv/models/gemma`` names the model it serves ``/srv/models/gemma@main``)."""
    return path in sent or any(path.startswith(m.group(0) + "@") for m in _PATH.finditer(sent))


@check("no-internals-leaked", title="Answers and errors reveal no server internals: file paths, stack traces",
       severity="medium")
def no_internals_leaked(case: Case, ex: Exchange, ctx: Context) -> None:
    if 200 <= ex.response.status < 300:  # generated text may say anything: only the fields that describe the server
        texts = [t for doc in _answers.documents(ex) for t in _described(doc)]
    else:  # an error says only what the client needs to correct its request: all of it is read, JSON decoded
        doc = _answers.document(ex)
        texts = list(_strings(doc)) if doc is not None else [ex.response.body.decode("utf-8", errors="replace")]
    sent = ex.request.url + (ex.request.body.decode("utf-8", errors="replace") if ex.request.body else "")
    traces = sorted({m.group(0) for t in texts for m in _TRACE.finditer(t)})
    paths = sorted({m.group(0) for t in texts for m in _PATH.finditer(t) if not _carried(m.group(0), sent)})
    if traces or paths:
        what = (["a stack trace"] if traces else []) + ([f"file path(s) {', '.join(paths[:3])}"] if paths else [])
        fail(f"the {'error' if ex.response.status >= 400 else 'answer'} reveals {' and '.join(what)}",
             expected="no file paths or stack traces of the server", received=(traces + paths)[:6],
             kind="internals")


@check("key-not-echoed", title="The API key never comes back in a response", severity="critical",
       applies=lambda case: not case.expects_success)
def key_not_echoed(case: Case, ex: Exchange, ctx: Context) -> None:
    if not ctx.secrets:
        skip("no API key was given, so there is none to leak")
    if min(len(secret) for secret in ctx.secrets) < MIN_SECRET_LENGTH:
        skip(f"the API key is shorter than {MIN_SECRET_LENGTH} characters: too short to tell an echo from chance")
    places = [f"header {name}" for name, value in ex.response.headers.items()
              if any(secret in value for secret in ctx.secrets)]
    body = ex.response.body.decode("utf-8", errors="replace")
    places += ["body"] if any(secret in body for secret in ctx.secrets) else []
    if places:
        fail(f"the response repeats the API key in its {' and '.join(places)}",
             expected="no trace of the key", received=places, kind="key-echoed")
