"""Checks of models, embeddings and authentication.

Each check has a fault mode of the reference endpoint that it catches
(``infercheck.serve._faults``) and a self-test proving it (``tests/test_faults.py``).
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
from typing import Any

from . import _answers
from ._cases import Case
from ._checks import Context, check, fail, skip
from ._exchange import Exchange

MIN_SECRET_LENGTH = 8


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
