"""The reference endpoint's ASGI app (Starlette). Requests are validated with our own request schemas."""

from __future__ import annotations

import base64
import json
import struct
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from .. import _schemas
from . import _generator as gen
from . import _formats, _tools
from ._faults import check_names, hostile_of

DEFAULT_MODEL = "infercheck-tiny"
EMBEDDING_DIMENSIONS = 64
MAX_OUTPUT_TOKENS = 1024  # per choice; above it a request is refused, as OpenAI refuses max_tokens beyond a model's
# This endpoint's own limits, tighter than the contract: enforced here and stated in GET /openapi.json.
LIMITS = {
    "openai.completion-request": {"max_tokens": {"maximum": MAX_OUTPUT_TOKENS}},
    "openai.chat-request": {"max_tokens": {"maximum": MAX_OUTPUT_TOKENS},
                            "max_completion_tokens": {"maximum": MAX_OUTPUT_TOKENS}},
    "openai.embedding-request": {"dimensions": {"maximum": EMBEDDING_DIMENSIONS}},
    "openai.response-request": {"max_output_tokens": {"maximum": MAX_OUTPUT_TOKENS}},
}
FINGERPRINT = "fp_infercheck"


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code


def create_app(*, api_key: str | None = None, model: str = DEFAULT_MODEL, faults: Iterable[str] = (),
               task: str | None = None, ttft_ms: float = 0.0, itl_ms: float = 0.0) -> Any:
    """The reference endpoint: the OpenAI-style API under /v1, TGI's native routes, and every Hugging Face task
    under /models/{task}; ``task`` also serves that task at POST / (as an Inference Endpoint serves its model).
    ``ttft_ms`` and ``itl_ms`` inject latency: the first token of an answer leaves that long after the request
    arrived, each next one ``itl_ms`` after it (serve/_pace.py)."""
    planted = frozenset(check_names(tuple(faults)))
    app = _Endpoint(api_key, model, planted, task).app
    if ttft_ms or itl_ms:
        from ._pace import Pace

        app.add_middleware(Pace, ttft=ttft_ms / 1000, itl=itl_ms / 1000)
    hostile = hostile_of(planted)
    if hostile:
        from ._hostile import Hostile

        return Hostile(app, hostile[0], model)  # outermost: it reaches below HTTP, the connection itself
    return app


class _Endpoint:
    def __init__(self, api_key: str | None, model: str, faults: frozenset[str], task: str | None = None):
        from ._native import Native
        from ._responses import Responses
        from ._tasks import TASKS

        if task is not None and task not in TASKS:
            raise ValueError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
        self.api_key, self.model, self.faults = api_key, model, faults
        self.created = int(time.time())
        routes = [
            Route("/health", self.health, methods=["GET"]),
            Route("/openapi.json", self.openapi, methods=["GET"]),
            Route("/v1/models", self.list_models, methods=["GET"]),
            Route("/v1/models/{model:path}", self.retrieve_model, methods=["GET"]),
            Route("/v1/completions", self.completions, methods=["POST"]),
            Route("/v1/chat/completions", self.chat_completions, methods=["POST"]),
            Route("/v1/embeddings", self.embeddings, methods=["POST"]),
            *Responses(self).routes(),
            *Native(self, task).routes(),
        ]
        self.app = Starlette(
            routes=routes,
            exception_handlers={ApiError: self.on_api_error, HTTPException: self.on_http_error, Exception: self.on_crash},
        )
        if "transport-flaky" in faults:
            from ._flaky import FlakyTransport

            self.app.add_middleware(FlakyTransport)
        if "streams-cut-under-load" in faults or "streams-ended-under-load" in faults:
            from ._interrupt import InterruptStreams

            self.app.add_middleware(InterruptStreams, done="streams-ended-under-load" in faults)

    # -- responses -----------------------------------------------------------------------------

    def json(self, payload: Any, status: int = 200, *, post: bool = False) -> Response:
        if post and status == 200 and "status-201" in self.faults:
            status = 201
        media = "text/plain" if "json-as-text" in self.faults else "application/json"
        return JSONResponse(payload, status_code=status, media_type=media)

    def error(self, status: int, message: str, *, type: str = "invalid_request_error",
              param: str | None = None, code: str | None = None, request: Request | None = None) -> Response:
        if "echo-key" in self.faults and request is not None and request.headers.get("authorization"):
            message += f" (request authorization: {request.headers['authorization']})"
        if "error-traceback" in self.faults:
            message += ('\nTraceback (most recent call last):\n  File "/srv/infercheck/serve/_app.py", line 172, in '
                        'parse\nValueError: request rejected')
        if "error-plain-text" in self.faults:
            return PlainTextResponse(message, status_code=status)
        if "error-flat" in self.faults:
            return self.json({"error": message, "error_type": type}, status)
        if "error-code-integer" in self.faults:
            code = status  # type: ignore[assignment]
        return self.json({"error": {"message": message, "type": type, "param": param, "code": code}}, status)

    async def on_api_error(self, request: Request, exc: ApiError) -> Response:
        return self.error(exc.status, exc.message, type=exc.type, param=exc.param, code=exc.code, request=request)

    async def on_http_error(self, request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            return self.error(404, f"Unknown request URL: {request.method} {request.url.path}.", code="unknown_url",
                              request=request)
        if exc.status_code == 405:
            response = self.error(405, f"Method {request.method} is not allowed for {request.url.path}.",
                                  code="method_not_allowed")
            response.headers.update(exc.headers or {})  # Allow: the methods the route takes (RFC 9110)
            return response
        return self.error(exc.status_code, str(exc.detail))

    async def on_crash(self, request: Request, exc: Exception) -> Response:
        return self.error(500, f"internal error: {type(exc).__name__}", type="server_error")

    def stream(self, events: Iterable[dict[str, Any]], choices: int = 1) -> Response:
        faults = self.faults
        quirky = "sse-quirks" in faults
        end = "\r\n" if quirky else "\n"

        async def body() -> AsyncIterator[bytes]:
            if quirky:
                yield f": infercheck reference stream{end}retry: 3000{end}{end}".encode()
            for number, event in enumerate(events, start=1):
                if "index-string-with-n" in faults:
                    event = {**event, "choices": [self.indexed(c, choices) for c in event["choices"]]}
                if "stream-id-changes" in faults and "id" in event:
                    event = {**event, "id": f"{event['id']}-{number}"}
                data = "this is not JSON" if number == 2 and "stream-not-json" in faults else json.dumps(event)
                if quirky:
                    yield f": keep-alive{end}event: message{end}id: {number}{end}data: {data}{end}{end}".encode()
                else:
                    yield f"data: {data}{end}{end}".encode()
            if "stream-no-done" not in faults:
                yield f"data: [DONE]{end}{end}".encode()

        media = "application/json" if "stream-as-json" in faults else "text/event-stream"
        status = 201 if "status-201" in faults else 200
        return StreamingResponse(body(), status_code=status, media_type=media,
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    # -- request handling --------------------------------------------------------------------------

    def authorize(self, request: Request) -> None:
        if not self.api_key or "auth-ignored" in self.faults:
            return
        header = request.headers.get("authorization", "")
        if not header:
            raise ApiError(401, "Missing bearer authentication in header: send 'Authorization: Bearer <key>'.",
                           code="invalid_api_key")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.api_key:
            raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")

    async def parse(self, request: Request, schema: str) -> dict[str, Any]:
        self.authorize(request)
        raw = await request.body()
        try:
            body = json.loads(raw, parse_float=_number)
        except ValueError:
            body = None
        if not isinstance(body, dict) and "validation-500" in self.faults:
            raise ApiError(500, "internal error: the body is not a JSON object", type="server_error")
        if body is None:
            raise ApiError(400, "We could not parse the JSON body of your request: it is not valid JSON.")
        if not isinstance(body, dict):
            raise ApiError(400, f"The request body must be a JSON object, not {type(body).__name__}.")
        problem = _schemas.first_error(schema, body)
        if problem is not None and "validation-lenient" in self.faults and problem.validator in _RANGE_KEYWORDS:
            problem = None
        if problem is not None and "validation-ignored" in self.faults:
            body, problem = self.ignore_invalid(schema, body), None
        if problem is not None and "invalid-500" in self.faults:
            raise ApiError(500, "internal error: unexpected request", type="server_error")
        if problem is not None:
            raise ApiError(400, f"Invalid request: {_schemas.describe(problem)}", param=_param(problem),
                           code="invalid_value" if problem.validator != "required" else "missing_required_parameter")
        if body["model"] != self.model and "unknown-model-200" not in self.faults:
            raise ApiError(404, f"The model `{body['model']}` does not exist or you do not have access to it.",
                           param="model", code="model_not_found")
        return body

    def ignore_invalid(self, schema: str, body: dict[str, Any]) -> dict[str, Any]:
        """The ``validation-ignored`` fault: drop each invalid top-level field, default the missing ones; when
        a rule across fields fails, keep only the fields a request needs."""
        defaults = {"model": self.model, "prompt": "", "input": "", "messages": [{"role": "user", "content": ""}]}
        for _ in range(64):
            problem = _schemas.first_error(schema, body)
            if problem is None:
                break
            top = problem.absolute_path[0] if problem.absolute_path else None
            missing = [k for k in defaults if k not in body]
            if top is None and missing:
                body = {**{k: defaults[k] for k in missing}, **body}
            elif top is None:
                body = {k: v for k, v in body.items() if k in defaults or k == "max_tokens"}
            elif top in defaults:
                body[top] = defaults[top]
            else:
                del body[top]
        return {k: v for k, v in body.items() if k not in defaults or k in _schemas.schema(schema)["required"]}

    # -- routes --------------------------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        return Response(status_code=200)

    async def openapi(self, request: Request) -> Response:
        """This endpoint's contract, assembled from schemas/ (no key needed)."""
        from .._openapi import document

        return JSONResponse(document(model=self.model, server=str(request.base_url).rstrip("/"), limits=LIMITS))

    def model_card(self) -> dict[str, Any]:
        return {"id": self.model, "object": "model", "created": self.created, "owned_by": "infercheck"}

    async def list_models(self, request: Request) -> Response:
        self.authorize(request)
        card = self.model_card()
        if "models-list-other" in self.faults:
            card["id"] = self.model + "-v2"
        payload: dict[str, Any] = {"object": "list", "data": [card]}
        if "models-no-object" in self.faults:
            del payload["object"]
        return self.json(payload)

    async def retrieve_model(self, request: Request) -> Response:
        self.authorize(request)
        name = request.path_params["model"]
        if name != self.model:
            raise ApiError(404, f"The model `{name}` does not exist or you do not have access to it.",
                           param="model", code="model_not_found")
        card = self.model_card()
        if "model-retrieve-other" in self.faults:
            card["owned_by"] = "someone-else"
        return self.json(card)

    def envelope(self, prefix: str, obj: str) -> dict[str, Any]:
        if prefix == "cmpl" and "completion-chatcmpl-id" in self.faults:
            prefix = "chatcmpl"
        suffix = "0" * 32 if "constant-id" in self.faults else uuid.uuid4().hex
        created = int(time.time() * (1000 if "created-millis" in self.faults else 1))
        model = "infercheck-other" if "wrong-model-name" in self.faults else self.model
        if "model-path" in self.faults:  # as llama-cpp-python names its model by default: the weights' file
            model = f"/root/.cache/infercheck/{self.model}.gguf"
        return {"id": f"{prefix}-{suffix}", "object": obj, "created": created, "model": model,
                "system_fingerprint": FINGERPRINT}

    def generate(self, prompt: str, body: dict[str, Any], *, max_tokens: int | None, index: int, top: int,
                 lead: str = " ") -> gen.Generation:
        """The generator, with the semantic faults planted."""
        temperature, seed = _temperature(body), body.get("seed")
        if "sampling-random" in self.faults:
            temperature, seed = 1.0, None
        if "ignore-max-tokens" in self.faults and max_tokens is not None:
            max_tokens += 3
        stops = [] if "stop-ignored" in self.faults else _stops(body)
        g = gen.generate(prompt, max_tokens=max_tokens, temperature=temperature, seed=seed, index=index,
                         stop=stops, top_logprobs=top, lead=lead)
        if "finish-stop-at-limit" in self.faults:
            g.finish_reason = "stop"
        return g

    def usage(self, prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
        usage = _usage(prompt_tokens, completion_tokens)
        if "usage-total-off" in self.faults:
            usage["total_tokens"] += 1
        return usage

    async def completions(self, request: Request) -> Response:
        body = await self.parse(request, "openai/completion-request.json")
        prompts = _prompts(body["prompt"])
        if len(prompts) > 1 and "batch-500" in self.faults:
            raise ApiError(500, "internal error: RuntimeError: batched prompts are not supported", type="server_error")
        n = 1 if "n-ignored" in self.faults else body.get("n") or 1
        max_tokens = body["max_tokens"] if body.get("max_tokens") is not None else 16
        _check_output(max_tokens, "max_tokens")
        prompt_tokens = sum(gen.count_tokens(p) for p in prompts)
        _check_context(max(gen.count_tokens(p) for p in prompts), max_tokens, "prompt")
        k = body.get("logprobs")
        echo = bool(body.get("echo"))
        runs = []
        for p_index, prompt in enumerate(prompts):
            text = prompt if isinstance(prompt, str) else " ".join(map(str, prompt))
            for j in range(n):
                g = self.generate(text, body, max_tokens=max_tokens, index=j, top=k or 0)
                runs.append((p_index * n + j, text, g))
        usage = self.usage(prompt_tokens, sum(g.count for _, _, g in runs))
        head = self.envelope("cmpl", "text_completion")
        if body.get("stream"):
            return self.stream(self.completion_chunks(head, runs, echo, k, usage, _include_usage(body)), len(runs))
        choices = []
        for index, text, g in runs:
            out = (text if echo else "") + g.text
            choice: dict[str, Any] = {"text": out, "index": index,
                                      "logprobs": _completion_logprobs(text, g, k, echo) if k is not None else None,
                                      "finish_reason": None if "finish-reason-null" in self.faults
                                      else g.finish_reason}
            if "completion-message" in self.faults:
                choice["message"] = {"role": "assistant", "content": choice.pop("text")}
            if "extra-fields" in self.faults:
                choice["stop_reason"] = None
            choices.append(self.indexed(choice, len(runs)))
        extra = {"prompt_logprobs": None} if "extra-fields" in self.faults else {}
        return self.json({**head, "choices": choices, "usage": usage, **extra}, post=True)

    def completion_chunks(self, head, runs, echo, k, usage, include_usage) -> Iterable[dict[str, Any]]:
        include_usage = include_usage and "stream-usage-missing" not in self.faults
        extra = {"usage": None} if include_usage else {}
        pieces = []
        for index, text, g in runs:
            steps = [(text, None)] if echo else []
            steps += [(tok, i) for i, tok in enumerate(self.streamed_tokens(g))]
            pieces.append((index, text, g, steps))
        for step in range(max((len(p[3]) for p in pieces), default=0)):
            for index, text, g, steps in pieces:
                if step < len(steps):
                    tok, i = steps[step]
                    lp = _completion_logprobs(text, g, k, False, only=i) if k is not None and i is not None else None
                    yield {**head, "choices": [{"text": tok, "index": index, "logprobs": lp, "finish_reason": None}],
                           **extra}
        for _ in range(2 if "stream-finish-twice" in self.faults else 1):
            for index, _, g, _ in pieces:
                yield {**head, "choices": [{"text": "", "index": index, "logprobs": None,
                                            "finish_reason": g.finish_reason}], **extra}
        if include_usage:
            yield {**head, "choices": [], "usage": self.streamed_usage(usage)}

    async def chat_completions(self, request: Request) -> Response:
        body = await self.parse(request, "openai/chat-request.json")
        n = 1 if "n-ignored" in self.faults else body.get("n") or 1
        limit = body.get("max_completion_tokens")
        limit = limit if limit is not None else body.get("max_tokens")
        for name in ("max_tokens", "max_completion_tokens"):
            _check_output(body.get(name), name)
        prompt = "\n".join(f"{m['role']}: {_content_text(m.get('content'))}" for m in body["messages"])
        prompt_tokens = gen.count_tokens(prompt) + 3 * len(body["messages"])
        _check_context(prompt_tokens, limit or 0, "messages")
        if limit is None:
            limit = min(MAX_OUTPUT_TOKENS, gen.CONTEXT_LENGTH - prompt_tokens)
        try:
            _tools.validate(body, self.faults)
        except _tools.ToolError as exc:
            raise ApiError(400, f"Invalid request: {exc}", param=exc.param, code="invalid_value") from None
        if _tools.chosen(body, self.faults):
            return self.tool_answer(body, n, prompt_tokens, limit)
        top = body.get("top_logprobs") or 0
        logprobs = bool(body.get("logprobs"))
        runs = [_formats.structured(self.generate(prompt, body, max_tokens=limit, index=j, top=top, lead=""), body,
                                    limit, top, self.faults) for j in range(n)]
        usage = self.usage(prompt_tokens, sum(g.count for g in runs))
        if body.get("stream"):
            head = self.envelope("chatcmpl", "chat.completion.chunk")
            if "stream-chunk-object" in self.faults:
                head["object"] = "chat.completion"
            steps = [[({"content": token}, {"content": _chat_logprobs(g, only=i), "refusal": None} if logprobs
                       else None) for i, token in enumerate(self.streamed_tokens(g))] for g in runs]
            return self.stream(self.chat_chunks(head, steps, [g.finish_reason for g in runs], usage,
                                                _include_usage(body)), len(runs))
        head = self.envelope("chatcmpl", "chat.completion")
        null = "null-content" in self.faults
        choices = [self.indexed({"index": j, "message": {"role": "assistant", "content": None if null else g.text,
                                                         "refusal": None},
                                 "logprobs": {"content": _chat_logprobs(g), "refusal": None} if logprobs else None,
                                 "finish_reason": None if "finish-reason-null" in self.faults else g.finish_reason}, n)
                   for j, g in enumerate(runs)]
        return self.json({**head, "choices": choices, "usage": usage}, post=True)

    def tool_answer(self, body: dict[str, Any], n: int, prompt_tokens: int, limit: int) -> Response:
        """An answer that calls tools (serve/_tools.py): each of the n choices calls them, within ``limit`` tokens."""
        runs = [_tools.cut(_tools.calls(body, self.faults), limit) for _ in range(n)]
        usage = self.usage(prompt_tokens, sum(used for _, used, _ in runs))
        reasons = ["length" if short else _tools.finish_reason(self.faults) for _, _, short in runs]
        if body.get("stream"):
            head = self.envelope("chatcmpl", "chat.completion.chunk")
            steps = [[({"tool_calls": items}, None) for items in _tools.deltas(calls, self.faults)]
                     for calls, _, _ in runs]
            return self.stream(self.chat_chunks(head, steps, reasons, usage, _include_usage(body), None), n)
        head = self.envelope("chatcmpl", "chat.completion")
        choices = [self.indexed({"index": j, "message": {"role": "assistant", "content": None, "refusal": None,
                                                         "tool_calls": calls},
                                 "logprobs": None, "finish_reason": reasons[j]}, n)
                   for j, (calls, _, _) in enumerate(runs)]
        return self.json({**head, "choices": choices, "usage": usage}, post=True)

    def indexed(self, choice: dict[str, Any], choices: int) -> dict[str, Any]:
        if choices > 1 and "index-string-with-n" in self.faults:
            choice = {**choice, "index": str(choice["index"])}
        return choice

    def streamed_usage(self, usage: dict[str, int]) -> dict[str, int]:
        if "stream-usage-off" in self.faults:
            return {**usage, "completion_tokens": usage["completion_tokens"] - 1,
                    "total_tokens": usage["total_tokens"] - 1}
        return usage

    def streamed_tokens(self, g: gen.Generation) -> list[str]:
        return g.tokens[:-1] if "stream-text-differs" in self.faults and len(g.tokens) > 1 else g.tokens

    def chat_chunks(self, head, steps, reasons, usage, include_usage, opening: str | None = "") -> Iterable[dict]:
        """A chat stream: each choice's opening delta (its role, and ``opening`` as content), then its deltas
        (``steps[j]``: (delta, logprobs) pairs), interleaved across choices, then each choice's finish reason."""
        include_usage = include_usage and "stream-usage-missing" not in self.faults
        extra = {"usage": None} if include_usage else {}
        first = {} if "stream-no-role" in self.faults else {"role": "assistant"}

        def chunk(index: int, delta: dict[str, Any], lp: Any = None, finish: str | None = None) -> dict[str, Any]:
            return {**head, "choices": [{"index": index, "delta": delta, "logprobs": lp, "finish_reason": finish}],
                    **extra}

        for j in range(len(steps)):
            yield chunk(j, {**first, "content": opening})
        for step in range(max(map(len, steps), default=0)):
            for j, deltas in enumerate(steps):
                if step < len(deltas):
                    yield chunk(j, *deltas[step])
        for _ in range(2 if "stream-finish-twice" in self.faults else 1):
            for j, reason in enumerate(reasons):
                yield chunk(j, {}, None, reason)
        if include_usage:
            yield {**head, "choices": [], "usage": self.streamed_usage(usage)}

    async def embeddings(self, request: Request) -> Response:
        body = await self.parse(request, "openai/embedding-request.json")
        dims = body.get("dimensions") or EMBEDDING_DIMENSIONS
        if dims > EMBEDDING_DIMENSIONS:
            raise ApiError(400, f"dimensions must be at most {EMBEDDING_DIMENSIONS} for this model.",
                           param="dimensions")
        inputs = _prompts(body["input"])
        data = []
        for index, item in enumerate(inputs):
            vector = gen.embed(item if isinstance(item, str) else " ".join(map(str, item)), dims)
            if "embeddings-ragged" in self.faults and len(inputs) > 1 and index == len(inputs) - 1:
                vector = vector[:-1]
            if body.get("encoding_format") == "base64":
                encoded: Any = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            else:
                encoded = vector
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = sum(gen.count_tokens(i) for i in inputs)
        return self.json({"object": "list", "data": data, "model": self.model,
                          "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}, post=True)


# -- helpers ---------------------------------------------------------------------------------------

_RANGE_KEYWORDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})


def _number(text: str) -> float | int:
    """A JSON number: integral ones as int, since JSON Schema's integer takes 5.0 (and so do servers)."""
    value = float(text)
    return int(value) if value.is_integer() else value


def _param(error) -> str | None:
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        path += missing[:1]
    return ".".join(path) or None


def _prompts(value: Any) -> list[str | list[int]]:
    """A prompt (or embedding input) as a list of single prompts."""
    if isinstance(value, str):
        return [value]
    if value and all(isinstance(v, int) for v in value):
        return [value]
    return list(value)


def _content_text(content: Any) -> str:
    """A message's text: its string, or the text of its parts (a part of another type may carry any other field,
    a "text" of another type included: the contract leaves such parts open)."""
    if isinstance(content, list):
        return " ".join(part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str))
    return content or ""


def _temperature(body: dict[str, Any]) -> float:
    value = body.get("temperature")
    return 1.0 if value is None else float(value)


def _stops(body: dict[str, Any]) -> list[str]:
    stop = body.get("stop")
    return [stop] if isinstance(stop, str) else list(stop or [])


def _include_usage(body: dict[str, Any]) -> bool:
    return bool((body.get("stream_options") or {}).get("include_usage"))


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def _check_output(max_tokens: int | None, param: str) -> None:
    if max_tokens is not None and max_tokens > MAX_OUTPUT_TOKENS:
        raise ApiError(400, f"{param} is too large: {max_tokens}. This model supports at most {MAX_OUTPUT_TOKENS} "
                            "completion tokens.", param=param, code="invalid_value")


def _check_context(prompt_tokens: int, max_tokens: int, param: str) -> None:
    if prompt_tokens + max_tokens > gen.CONTEXT_LENGTH:
        raise ApiError(400, f"This model's maximum context length is {gen.CONTEXT_LENGTH} tokens; the request asks for "
                            f"{prompt_tokens} prompt tokens and {max_tokens} completion tokens.",
                       param=param, code="context_length_exceeded")


def _completion_logprobs(prompt: str, g: gen.Generation, k: int, echo: bool, only: int | None = None) -> dict:
    tokens, values, tops = [], [], []
    if echo:
        for i, tok in enumerate(gen.tokenize(prompt)):
            tokens.append(tok)
            values.append(None if i == 0 else -1.0)
            tops.append(None if i == 0 else {tok: -1.0})
    start = 0 if echo else len(prompt)
    offsets = []
    for tok in tokens:
        offsets.append(start)
        start += len(tok)
    for i, tok in enumerate(g.tokens):
        offsets.append(start)
        start += len(tok)
        if only is None or i == only:
            tokens.append(tok)
            values.append(g.logprobs[i])
            tops.append(dict(g.top[i][:k]) if k else {})
    if only is not None:
        offsets = [offsets[len(offsets) - len(g.tokens) + only]]
    return {"tokens": tokens, "token_logprobs": values, "top_logprobs": tops, "text_offset": offsets}


def _chat_logprobs(g: gen.Generation, only: int | None = None) -> list[dict[str, Any]]:
    indices = range(len(g.tokens)) if only is None else [only]
    return [{"token": g.tokens[i], "logprob": g.logprobs[i], "bytes": list(g.tokens[i].encode()),
             "top_logprobs": [{"token": t, "logprob": v, "bytes": list(t.encode())} for t, v in g.top[i]]}
            for i in indices]
