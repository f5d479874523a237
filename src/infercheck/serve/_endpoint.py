"""What every route family of the reference endpoint shares (serve/_openai.py, _responses.py, _native.py): the
endpoint's state (key, model, planted faults), its answers (JSON, the error envelope, an SSE stream), how a request
is authorised and validated against the request schemas, the generator with the semantic faults planted, and the
limits of its model. The route families import this module, never the app that assembles them (serve/_app.py)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from ..contract import schemas as _schemas
from . import _generator as gen

DEFAULT_MODEL = "infercheck-tiny"
MAX_OUTPUT_TOKENS = 1024  # per choice; above it a request is refused, as OpenAI refuses max_tokens beyond a model's
FINGERPRINT = "fp_infercheck"


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code



class Endpoint:
    """The state and the machinery of the reference endpoint; each route family holds it as ``endpoint``."""

    def __init__(self, api_key: str | None, model: str, faults: frozenset[str]):
        self.api_key, self.model, self.faults = api_key, model, faults
        self.created = int(time.time())

    def handlers(self) -> dict[Any, Any]:
        """The app's exception handlers: an ``ApiError``, an HTTP error and a crash, each as the error envelope."""
        return {ApiError: self.on_api_error, HTTPException: self.on_http_error, Exception: self.on_crash}

    # -- answers -------------------------------------------------------------------------------

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

    # -- what answers share -------------------------------------------------------------------------

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

    def usage(self, prompt_tokens: int, counts: list[int]) -> dict[str, int]:
        """The usage of an answer whose choices generated ``counts`` tokens each."""
        usage = _usage(prompt_tokens, counts[0] if "usage-one-choice" in self.faults and counts else sum(counts))
        if "usage-total-off" in self.faults:
            usage["total_tokens"] += 1
        return usage

    def indexed(self, choice: dict[str, Any], choices: int) -> dict[str, Any]:
        if choices > 1 and "index-string-with-n" in self.faults:
            choice = {**choice, "index": str(choice["index"])}
        return choice


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


def _temperature(body: dict[str, Any]) -> float:
    value = body.get("temperature")
    return 1.0 if value is None else float(value)


def _stops(body: dict[str, Any]) -> list[str]:
    stop = body.get("stop")
    return [stop] if isinstance(stop, str) else list(stop or [])


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def check_output(max_tokens: int | None, param: str) -> None:
    if max_tokens is not None and max_tokens > MAX_OUTPUT_TOKENS:
        raise ApiError(400, f"{param} is too large: {max_tokens}. This model supports at most {MAX_OUTPUT_TOKENS} "
                            "completion tokens.", param=param, code="invalid_value")


def check_context(prompt_tokens: int, max_tokens: int, param: str) -> None:
    if prompt_tokens + max_tokens > gen.CONTEXT_LENGTH:
        raise ApiError(400, f"This model's maximum context length is {gen.CONTEXT_LENGTH} tokens; the request asks for "
                            f"{prompt_tokens} prompt tokens and {max_tokens} completion tokens.",
                       param=param, code="context_length_exceeded")
