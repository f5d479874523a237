"""The reference endpoint's ASGI app (Starlette): the route families (serve/_openai.py, _responses.py, _native.py)
around the machinery they share (serve/_endpoint.py), and the middlewares of the faults that act on the transport.
Requests are validated with infercheck's own request schemas."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.applications import Starlette

from ._endpoint import DEFAULT_MODEL, Endpoint
from ._faults import check_names, hostile_of
from ._native import Native
from ._openai import OpenAI
from ._responses import Responses
from ._tasks import TASKS


def create_app(*, api_key: str | None = None, model: str = DEFAULT_MODEL, faults: Iterable[str] = (),
               task: str | None = None, ttft_ms: float = 0.0, itl_ms: float = 0.0) -> Any:
    """The reference endpoint: the OpenAI-style API under /v1, TGI's native routes, and every Hugging Face task
    under /models/{task}; ``task`` also serves that task at POST / (as an Inference Endpoint serves its model).
    ``ttft_ms`` and ``itl_ms`` inject latency: the first token of an answer leaves that long after the request
    arrived, each next one ``itl_ms`` after it (serve/_pace.py)."""
    planted = frozenset(check_names(tuple(faults)))
    app = _app(Endpoint(api_key, model, planted), task)
    if ttft_ms or itl_ms:
        from ._pace import Pace

        app.add_middleware(Pace, ttft=ttft_ms / 1000, itl=itl_ms / 1000)
    hostile = hostile_of(planted)
    if hostile:
        from ._hostile import Hostile

        return Hostile(app, hostile[0], model)  # outermost: it reaches below HTTP, the connection itself
    return app


_UNDER_LOAD = {"errors-under-load": "ErrorsUnderLoad", "answers-swapped-under-load": "SwappedUnderLoad",
               "usage-miscounted-under-load": "UsageMiscountedUnderLoad",
               "greedy-varies-under-load": "GreedyVariesUnderLoad",
               "streams-ended-early-under-load": "StreamsEndedUnderLoad"}  # fault -> serve/_busy.py's middleware


def _app(endpoint: Endpoint, task: str | None) -> Starlette:
    if task is not None and task not in TASKS:
        raise ValueError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
    routes = [*OpenAI(endpoint).routes(), *Responses(endpoint).routes(), *Native(endpoint, task).routes()]
    app = Starlette(routes=routes, exception_handlers=endpoint.handlers())
    faults = endpoint.faults
    if "transport-flaky" in faults:
        from ._flaky import FlakyTransport

        app.add_middleware(FlakyTransport)
    if "streams-cut-under-load" in faults or "streams-ended-under-load" in faults:
        from ._interrupt import InterruptStreams

        app.add_middleware(InterruptStreams, done="streams-ended-under-load" in faults)
    for fault, middleware in _UNDER_LOAD.items():
        if fault in faults:
            from . import _busy

            app.add_middleware(getattr(_busy, middleware))
    return app
