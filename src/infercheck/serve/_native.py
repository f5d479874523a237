"""The reference endpoint's Hugging Face routes: task endpoints (``POST /models/{task}``, or ``POST /`` when one
task is served, as an Inference Endpoint serves one model per URL) and TGI's native API (``/generate``,
``/generate_stream``, ``POST /``, ``/info``).

Errors are ``{"error": message}`` (tasks; 400 for a bad payload) or TGI's ``{"error", "error_type"}`` (422 for a
validation error). While the ``loading`` quirk holds, requests get 503 with ``estimated_time``.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..contract import media as _media
from ..contract import schemas as _schemas
from . import _generator as gen
from ._endpoint import ApiError, Endpoint
from ._tasks import AUDIO_TASKS, BINARY_TASKS, TASKS, TaskError, Tasks

LOADING_S = 0.3  # how long the ``loading`` quirk keeps answering 503
MAX_TOTAL_TOKENS = 2048
MAX_INPUT_TOKENS = 1024
MAX_STOP_SEQUENCES = 4


class Native:
    def __init__(self, endpoint: Endpoint, task: str | None = None):
        self.endpoint, self.faults, self.task = endpoint, endpoint.faults, task
        self.tasks = Tasks(endpoint.faults)
        self.first_request: float | None = None

    def routes(self) -> list[Route]:
        return [
            Route("/models/{task}", self.task_route, methods=["POST"]),
            Route("/generate", self.generate, methods=["POST"]),
            Route("/generate_stream", self.generate_stream, methods=["POST"]),
            Route("/info", self.info, methods=["GET"]),
            Route("/", self.root, methods=["POST"]),
        ]

    # -- framing -------------------------------------------------------------------------------------

    def error(self, exc: TaskError, tgi: bool) -> Response:
        if exc.plain or ("hf-error-text" in self.faults and not tgi):
            return Response(exc.message, status_code=exc.status, media_type="text/plain")
        body: dict[str, Any] = {"error": exc.message}
        if tgi:
            body["error_type"] = exc.error_type
        return JSONResponse(body, status_code=exc.status)

    def gate(self, request: Request) -> None:
        """Authentication and model loading, before the payload is read."""
        try:
            self.endpoint.authorize(request)
        except ApiError as exc:
            raise TaskError(exc.status, exc.message, "authentication") from None
        now = time.monotonic()
        self.first_request = self.first_request or now
        loading = "loading-forever" in self.faults or (
            "loading" in self.faults and now - self.first_request < LOADING_S)
        if loading:
            raise _Loading(f"Model {self.endpoint.model} is currently loading")

    async def handle(self, request: Request, serve, *, tgi: bool) -> Response:
        try:
            self.gate(request)
            if not tgi and "accept-verbatim" in self.faults:
                self.accept(request)
            return await serve(request)
        except _Loading as exc:
            return JSONResponse({"error": str(exc), "estimated_time": LOADING_S}, status_code=503)
        except TaskError as exc:
            return self.error(exc, tgi)

    @staticmethod
    def accept(request: Request) -> None:
        """The ``accept-verbatim`` quirk: Accept looked up as one media type, as the SageMaker Hugging Face toolkit
        does (``handler_service.handle``: no Accept or ``*/*`` means JSON, any other value must name an encoder)."""
        accept = request.headers.get("accept")
        if accept not in (None, "*/*", "application/json"):
            raise TaskError(406, f"Content type {accept} is not supported by this framework")

    @property
    def validation_status(self) -> int:
        """TGI's status for an invalid request: 422 (400 with the ``tgi-validation-400`` fault)."""
        return 400 if "tgi-validation-400" in self.faults else 422

    async def read_json(self, request: Request, schema: str, *, tgi: bool) -> dict[str, Any]:
        raw = await request.body()
        status = self.validation_status if tgi else 400
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        problem, error = None, None
        if not isinstance(body, dict):
            problem = "the body is empty" if not raw else ("the body is not JSON" if body is None
                                                          else "the body must be a JSON object")
        else:
            error = _schemas.first_error(schema, body)
            problem = _schemas.describe(error) if error is not None else None
        if problem is not None and tgi and "tgi-deserialize-text" in self.faults and (
                error is None or error.validator in ("required", "type")):
            # as TGI's web framework (axum) refuses what does not deserialize, before TGI's own validation
            if not isinstance(body, dict):
                raise TaskError(400, f"Failed to parse the request body as JSON: {problem}", plain=True)
            raise TaskError(422, f"Failed to deserialize the JSON body into the target type: {problem}", plain=True)
        if problem is not None and "hf-malformed-500" in self.faults and not tgi:
            raise TaskError(500, "internal error: KeyError: 'inputs'", "server_error")
        if problem is not None:
            raise TaskError(status, f"Input validation error: {problem}" if tgi else problem)
        return body  # type: ignore[return-value]

    # -- task endpoints ------------------------------------------------------------------------------

    async def task_route(self, request: Request) -> Response:
        return await self.serve_task(request, request.path_params["task"])

    async def root(self, request: Request) -> Response:
        return await self.serve_task(request, self.task or "text-generation")

    async def serve_task(self, request: Request, task: str) -> Response:
        if task not in TASKS:
            return self.error(TaskError(404, f"unknown task {task!r}; served: {', '.join(TASKS)}"), tgi=False)
        if task == "text-generation":  # Hugging Face text-generation endpoints run TGI: POST / is its compat route
            return await self.handle(request, self.compat, tgi=True)
        return await self.handle(request, lambda r: self.answer_task(r, task), tgi=False)

    async def answer_task(self, request: Request, task: str) -> Response:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if task in BINARY_TASKS and media != "application/json":
            data, params = await self.read_binary(request, task, media), {}
            body: dict[str, Any] = {}
        else:
            body = await self.read_json(request, f"hf/{task}-request.json", tgi=False)
            params = body.get("parameters") or {}
            data = body["inputs"]
            if task in BINARY_TASKS:
                data = self.decode(task, data)
            if task == "feature-extraction":
                params = {k: v for k, v in body.items() if k != "inputs"}
        return JSONResponse(self.tasks.answer(task, data, params, body))

    async def read_binary(self, request: Request, task: str, media: str) -> bytes:
        data = await request.body()
        if not data:
            raise TaskError(400, "the body is empty: send the audio or image bytes, or JSON {\"inputs\": base64}")
        if not media and "hf-binary-needs-mime" in self.faults:
            raise TaskError(400, 'Content type "None" not supported')
        return self.check_kind(task, data, media)

    def decode(self, task: str, text: str) -> bytes:
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise TaskError(400, "inputs is not base64-encoded audio or image data") from None
        return self.check_kind(task, data, "")

    def check_kind(self, task: str, data: bytes, media: str) -> bytes:
        """The bytes, when they are audio (image) for an audio (image) task, by their declared type if any and
        by their magic bytes; a 400 otherwise."""
        kind = "audio" if task in AUDIO_TASKS else "image"
        sniffed = _media.sniff(data)
        declared = media if media and media != "application/octet-stream" else None
        if sniffed is None or not sniffed.startswith(kind + "/") or (declared and not declared.startswith(kind + "/")):
            raise TaskError(400, f"the body is not {kind} this endpoint can read "
                                 f"(declared {declared or 'nothing'}, found {sniffed or 'unknown bytes'})")
        return data

    # -- TGI -----------------------------------------------------------------------------------------

    async def info(self, request: Request) -> Response:
        body = {"model_id": self.endpoint.model, "model_sha": None, "model_pipeline_tag": "text-generation",
                "max_concurrent_requests": 128, "max_best_of": 2, "max_stop_sequences": MAX_STOP_SEQUENCES,
                "max_input_tokens": MAX_INPUT_TOKENS, "max_total_tokens": MAX_TOTAL_TOKENS,
                "validation_workers": 2, "max_client_batch_size": 4, "router": "text-generation-router",
                "version": "infercheck-reference", "sha": None, "docker_label": None}
        if "tgi-info-incomplete" in self.faults:
            del body["max_total_tokens"]
        return JSONResponse(body)

    async def generate(self, request: Request) -> Response:
        async def serve(r: Request) -> Response:
            body = await self.read_json(r, "tgi/generate-request.json", tgi=True)
            return JSONResponse(self.generation(body))
        return await self.handle(request, serve, tgi=True)

    async def generate_stream(self, request: Request) -> Response:
        async def serve(r: Request) -> Response:
            body = await self.read_json(r, "tgi/generate-request.json", tgi=True)
            return self.stream(body)
        return await self.handle(request, serve, tgi=True)

    async def compat(self, request: Request) -> Response:
        body = await self.read_json(request, "tgi/compat-request.json", tgi=True)
        if body.get("stream"):
            return self.stream(body)
        answer = self.generation(body)
        return JSONResponse(answer if "tgi-compat-object" in self.faults else [answer])

    def run(self, body: dict[str, Any]) -> tuple[gen.Generation, str, str]:
        """(generation, finish reason, prefix) for a validated request."""
        params = body.get("parameters") or {}
        inputs = body["inputs"]
        limit = params.get("max_new_tokens")
        length = gen.count_tokens(inputs)
        if length > MAX_INPUT_TOKENS:
            raise TaskError(self.validation_status, f"Input validation error: `inputs` must have less than "
                                                    f"{MAX_INPUT_TOKENS} tokens. Given: {length}")
        if limit is not None and length + limit > MAX_TOTAL_TOKENS:
            raise TaskError(self.validation_status, f"Input validation error: `inputs` tokens + `max_new_tokens` "
                                                    f"must be <= {MAX_TOTAL_TOKENS}. Given: {length} `inputs` tokens "
                                                    f"and {limit} `max_new_tokens`")
        if limit is not None and "hf-generate-overrun" in self.faults:
            limit += 2
        sampled = bool(params.get("do_sample"))
        temperature = (params.get("temperature") or 1.0) if sampled else 0.0
        stops = params.get("stop") or []
        g = gen.generate(inputs, max_tokens=limit, temperature=temperature, seed=params.get("seed"), stop=stops)
        if g.finish_reason == "length":
            finish = "length"
        else:  # the generator's own end is a full stop; anything else was cut at a stop sequence
            finish = "eos_token" if g.text.endswith(".") else "stop_sequence"
        full = params.get("return_full_text") and "hf-full-text-ignored" not in self.faults
        return g, finish, inputs if full else ""

    def token(self, g: gen.Generation, i: int) -> dict[str, Any]:
        return {"id": 100 + (gen.WORDS.index(g.tokens[i].strip().lower()) if g.tokens[i].strip().lower() in gen.WORDS
                             else len(gen.WORDS)), "text": g.tokens[i], "logprob": g.logprobs[i], "special": False}

    @staticmethod
    def details(g: gen.Generation, finish: str, params: dict[str, Any]) -> dict[str, Any]:
        """What details say in both forms, plain and streamed."""
        return {"finish_reason": finish, "generated_tokens": len(g.tokens),
                "seed": params.get("seed") if params.get("do_sample") else None}

    def generation(self, body: dict[str, Any]) -> dict[str, Any]:
        g, finish, prefix = self.run(body)
        out: dict[str, Any] = {"generated_text": prefix + g.text}
        params = body.get("parameters") or {}
        if params.get("details"):
            out["details"] = {**self.details(g, finish, params), "prefill": [],
                              "tokens": [self.token(g, i) for i in range(len(g.tokens))]}
        return out

    def stream(self, body: dict[str, Any]) -> Response:
        g, finish, prefix = self.run(body)
        params = body.get("parameters") or {}
        events = []
        for i in range(len(g.tokens)):
            last = i == len(g.tokens) - 1
            # TGI numbers token events from 1 (router/src/server.rs, generate_stream_internal: index += 1 first)
            number = i if "tgi-stream-index-from-0" in self.faults else i + 1
            event: dict[str, Any] = {"index": number, "token": self.token(g, i), "generated_text": None,
                                     "details": None}
            if last and "tgi-stream-no-final" not in self.faults:
                event["generated_text"] = prefix + g.text
                if params.get("details"):
                    event["details"] = {**self.details(g, finish, params),
                                        "input_length": gen.count_tokens(body["inputs"])}
            events.append(event)

        async def chunks() -> AsyncIterator[bytes]:
            for event in events:
                yield f"data:{json.dumps(event)}\n\n".encode()

        return StreamingResponse(chunks(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


class _Loading(Exception):
    pass
