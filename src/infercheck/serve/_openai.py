"""The reference endpoint's OpenAI-style routes under /v1: models, completions, chat completions (plain, streamed,
calling tools, structured), embeddings; and its own contract at /openapi.json."""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import _formats, _tools
from . import _generator as gen
from ._endpoint import MAX_OUTPUT_TOKENS, ApiError, Endpoint, check_context, check_output

EMBEDDING_DIMENSIONS = 64
# This endpoint's own limits, tighter than the contract: enforced here and stated in GET /openapi.json.
LIMITS = {
    "openai.completion-request": {"max_tokens": {"maximum": MAX_OUTPUT_TOKENS}},
    "openai.chat-request": {"max_tokens": {"maximum": MAX_OUTPUT_TOKENS},
                            "max_completion_tokens": {"maximum": MAX_OUTPUT_TOKENS}},
    "openai.embedding-request": {"dimensions": {"maximum": EMBEDDING_DIMENSIONS}},
    "openai.response-request": {"max_output_tokens": {"maximum": MAX_OUTPUT_TOKENS}},
}


class OpenAI:
    def __init__(self, endpoint: Endpoint):
        self.endpoint, self.model, self.faults = endpoint, endpoint.model, endpoint.faults

    def routes(self) -> list[Route]:
        return [
            Route("/health", self.health, methods=["GET"]),
            Route("/openapi.json", self.openapi, methods=["GET"]),
            Route("/v1/models", self.list_models, methods=["GET"]),
            Route("/v1/models/{model:path}", self.retrieve_model, methods=["GET"]),
            Route("/v1/completions", self.completions, methods=["POST"]),
            Route("/v1/chat/completions", self.chat_completions, methods=["POST"]),
            Route("/v1/embeddings", self.embeddings, methods=["POST"]),
        ]

    async def health(self, request: Request) -> Response:
        return Response(status_code=200)

    async def openapi(self, request: Request) -> Response:
        """This endpoint's contract, assembled from schemas/ (no key needed)."""
        from ..contract.openapi import document

        return JSONResponse(document(model=self.model, server=str(request.base_url).rstrip("/"), limits=LIMITS))

    def model_card(self) -> dict[str, Any]:
        return {"id": self.model, "object": "model", "created": self.endpoint.created, "owned_by": "infercheck"}

    async def list_models(self, request: Request) -> Response:
        self.endpoint.authorize(request)
        card = self.model_card()
        if "models-list-other" in self.faults:
            card["id"] = self.model + "-v2"
        payload: dict[str, Any] = {"object": "list", "data": [card]}
        if "models-no-object" in self.faults:
            del payload["object"]
        return self.endpoint.json(payload)

    async def retrieve_model(self, request: Request) -> Response:
        self.endpoint.authorize(request)
        name = request.path_params["model"]
        if name != self.model:
            raise ApiError(404, f"The model `{name}` does not exist or you do not have access to it.",
                           param="model", code="model_not_found")
        card = self.model_card()
        if "model-retrieve-other" in self.faults:
            card["owned_by"] = "someone-else"
        return self.endpoint.json(card)

    async def completions(self, request: Request) -> Response:
        body = await self.endpoint.parse(request, "openai/completion-request.json")
        prompts = _prompts(body["prompt"])
        if len(prompts) > 1 and "batch-500" in self.faults:
            raise ApiError(500, "internal error: RuntimeError: batched prompts are not supported", type="server_error")
        n = 1 if "n-ignored" in self.faults else body.get("n") or 1
        max_tokens = body["max_tokens"] if body.get("max_tokens") is not None else 16
        check_output(max_tokens, "max_tokens")
        prompt_tokens = sum(gen.count_tokens(p) for p in prompts)
        check_context(max(gen.count_tokens(p) for p in prompts), max_tokens, "prompt")
        k = body.get("logprobs")
        echo = bool(body.get("echo"))
        runs = []
        for p_index, prompt in enumerate(prompts):
            text = prompt if isinstance(prompt, str) else " ".join(map(str, prompt))
            for j in range(n):
                g = self.endpoint.generate(text, body, max_tokens=max_tokens, index=j, top=k or 0)
                runs.append((p_index * n + j, text, g))
        usage = self.endpoint.usage(prompt_tokens, [g.count for _, _, g in runs])
        head = self.endpoint.envelope("cmpl", "text_completion")
        if body.get("stream"):
            return self.endpoint.stream(self.completion_chunks(head, runs, echo, k, usage, _include_usage(body)), len(runs))
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
            choices.append(self.endpoint.indexed(choice, len(runs)))
        extra = {"prompt_logprobs": None} if "extra-fields" in self.faults else {}
        return self.endpoint.json({**head, "choices": choices, "usage": usage, **extra}, post=True)

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
        body = await self.endpoint.parse(request, "openai/chat-request.json")
        if "tools-refused" in self.faults and body.get("tools"):  # vLLM 0.11's words, tools without its parser
            raise ApiError(400, '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be '
                                "set", code=None)
        n = 1 if "n-ignored" in self.faults else body.get("n") or 1
        limit = body.get("max_completion_tokens")
        limit = limit if limit is not None else body.get("max_tokens")
        for name in ("max_tokens", "max_completion_tokens"):
            check_output(body.get(name), name)
        prompt = "\n".join(f"{m['role']}: {_content_text(m.get('content'))}" for m in body["messages"])
        prompt_tokens = gen.count_tokens(prompt) + 3 * len(body["messages"])
        check_context(prompt_tokens, limit or 0, "messages")
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
        runs = [_formats.structured(self.endpoint.generate(prompt, body, max_tokens=limit, index=j, top=top, lead=""), body,
                                    limit, top, self.faults) for j in range(n)]
        usage = self.endpoint.usage(prompt_tokens, [g.count for g in runs])
        if body.get("stream"):
            head = self.endpoint.envelope("chatcmpl", "chat.completion.chunk")
            if "stream-chunk-object" in self.faults:
                head["object"] = "chat.completion"
            steps = [[({"content": token}, {"content": _chat_logprobs(g, only=i), "refusal": None} if logprobs
                       else None) for i, token in enumerate(self.streamed_tokens(g))] for g in runs]
            return self.endpoint.stream(self.chat_chunks(head, steps, [g.finish_reason for g in runs], usage,
                                                _include_usage(body)), len(runs))
        head = self.endpoint.envelope("chatcmpl", "chat.completion")
        null = "null-content" in self.faults
        choices = [self.endpoint.indexed({"index": j, "message": {"role": "assistant", "content": None if null else g.text,
                                                         "refusal": None},
                                 "logprobs": {"content": _chat_logprobs(g), "refusal": None} if logprobs else None,
                                 "finish_reason": None if "finish-reason-null" in self.faults else g.finish_reason}, n)
                   for j, g in enumerate(runs)]
        return self.endpoint.json({**head, "choices": choices, "usage": usage}, post=True)

    def tool_answer(self, body: dict[str, Any], n: int, prompt_tokens: int, limit: int) -> Response:
        """An answer that calls tools (serve/_tools.py): each of the n choices calls them, within ``limit`` tokens."""
        runs = [_tools.cut(_tools.calls(body, self.faults), limit) for _ in range(n)]
        usage = self.endpoint.usage(prompt_tokens, [used for _, used, _ in runs])
        reasons = ["length" if short else _tools.finish_reason(self.faults) for _, _, short in runs]
        if body.get("stream"):
            head = self.endpoint.envelope("chatcmpl", "chat.completion.chunk")
            steps = [[({"tool_calls": items}, None) for items in _tools.deltas(calls, self.faults)]
                     for calls, _, _ in runs]
            return self.endpoint.stream(self.chat_chunks(head, steps, reasons, usage, _include_usage(body), None), n)
        head = self.endpoint.envelope("chatcmpl", "chat.completion")
        choices = [self.endpoint.indexed({"index": j, "message": {"role": "assistant", "content": None, "refusal": None,
                                                         "tool_calls": calls},
                                 "logprobs": None, "finish_reason": reasons[j]}, n)
                   for j, (calls, _, _) in enumerate(runs)]
        return self.endpoint.json({**head, "choices": choices, "usage": usage}, post=True)

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
        body = await self.endpoint.parse(request, "openai/embedding-request.json")
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
        return self.endpoint.json({"object": "list", "data": data, "model": self.model,
                          "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}, post=True)


# -- helpers ---------------------------------------------------------------------------------------

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


def _include_usage(body: dict[str, Any]) -> bool:
    return bool((body.get("stream_options") or {}).get("include_usage"))


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
