"""The endpoint under test: its configuration, discovery, and the embedded default."""

from __future__ import annotations

import json

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..contract import cases as _cases
from ..contract.cases import Case
from ..contract.tasks import TASKS
from ..wire import aio as _aio
from ..wire.exchange import Exchange, Request
from ..wire.transport import (
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_EVENTS,
    DEFAULT_MAX_RETRIES,
    Bounds,
    Tls,
    TlsError,
    confirm,
    open_client,
    send_async,
)

DEFAULT_TIMEOUT = 60.0
DEFAULT_LOAD_WAIT = 120.0  # seconds a 503 "model is loading" may be waited out, per request
DEFAULT_BREAKER = 5  # requests in a row to one route that time out or are refused: the route is given up
APIS = ("openai", "tgi", "hf")
WRONG_KEY = "infercheck-wrong-key-0000"  # sent by the auth cases that need a refused key
ALL_TASKS = "all"  # --task all: every task, each at {base}/{task} (the embedded endpoint's /models/{task})


class TargetError(Exception):
    """A target that cannot be tested: bad URL, unreachable, or answering garbage. One line."""


@dataclass
class Target:
    base_url: str  # without a trailing slash: OpenAI-style including /v1; TGI's root; a task endpoint's own URL
    api_key: str | None = None
    model: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    embedded: bool = False
    discovery: list[Exchange] = field(default_factory=list)  # requests made while resolving
    api: str = "openai"  # openai, tgi, hf
    task: str | None = None  # for api hf: the task the URL serves, or "all" (each task at {base_url}/{task})
    load_wait: float = DEFAULT_LOAD_WAIT  # seconds one request may wait out 503 "loading" and 429 answers
    max_body: int = DEFAULT_MAX_BODY
    max_events: int = DEFAULT_MAX_EVENTS
    max_retries: int = DEFAULT_MAX_RETRIES
    breaker: int = DEFAULT_BREAKER  # requests in a row of one route left unanswered before it is given up; 0: never
    tls: Tls = field(default_factory=Tls)  # how the endpoint's certificate is verified

    @property
    def bounds(self) -> Bounds:
        return Bounds(self.timeout, self.load_wait, self.max_body, self.max_events, self.max_retries, self.tls)

    def url(self, path: str) -> str:
        return self.base_url + path

    def headers(self, *, json_body: bool = False) -> dict[str, str]:
        """The headers real clients send: the ``openai`` client ``Accept: application/json`` on every request,
        streams included; ``huggingface_hub`` none of its own (its HTTP library's ``*/*``). A server may look
        Accept up verbatim (the SageMaker Hugging Face toolkit answers any other single value with an error)."""
        headers = {"Accept": "application/json"} if self.api == "openai" else {}
        if json_body:
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def secrets(self) -> list[str]:
        return [self.api_key] if self.api_key else []


def normalise_base_url(raw: str) -> str:
    try:
        url = httpx.URL(raw.strip())
    except (httpx.InvalidURL, TypeError) as exc:
        raise TargetError(f"invalid base URL {raw!r}: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise TargetError(f"invalid base URL {raw!r}: expected http(s)://host[:port]/v1")
    return str(url).rstrip("/")


def choose_api(api: str | None, task: str | None) -> tuple[str, str | None]:
    """The (api, task) of a run: hf when a task is given, else openai; a TargetError when they do not fit."""
    api = api or ("hf" if task else "openai")
    if api not in APIS:
        raise TargetError(f"unknown api {api!r}; known: {', '.join(APIS)}")
    if api == "hf" and not task:
        raise TargetError(f"--api hf checks a task endpoint: give its task with --task ({', '.join(TASKS)}, or "
                          f"{ALL_TASKS}; --infercheck-task or INFERCHECK_TASK under pytest)")
    if api == "hf" and task not in (*TASKS, ALL_TASKS):
        raise TargetError(f"unknown task {task!r}; known: {', '.join(TASKS)} (or {ALL_TASKS})")
    if task and api != "hf":
        raise TargetError(f"--task checks a Hugging Face task endpoint; it cannot be used with --api {api}")
    return api, task


def selects(api: str, task: str | None, item_api: str, route: str) -> bool:
    """Whether a run of ``api`` (and ``task``) includes a case or property of ``item_api`` on ``route``."""
    return item_api == api and (api != "hf" or task in (None, ALL_TASKS, route))


def resolve(
    base_url: str, *, api_key: str | None = None, model: str | None = None, timeout: float = DEFAULT_TIMEOUT,
    api: str = "openai", task: str | None = None, load_wait: float = DEFAULT_LOAD_WAIT,
    max_body: int = DEFAULT_MAX_BODY, max_events: int = DEFAULT_MAX_EVENTS, max_retries: int = DEFAULT_MAX_RETRIES,
    breaker: int = DEFAULT_BREAKER, ca_bundle: str | None = None, insecure: bool = False,
) -> Target:
    """Check the target answers and pick the model: OpenAI-style, ``GET /models`` (the first model listed when
    none is given); TGI, ``GET /info``; a Hugging Face task endpoint, the task's documented request."""
    api, task = choose_api(api, task)
    try:
        tls = Tls(ca_bundle or None, insecure)
    except TlsError as exc:
        raise TargetError(str(exc)) from None
    target = Target(normalise_base_url(base_url), api_key or None, model or None, timeout, api=api, task=task,
                    load_wait=load_wait, max_body=max_body, max_events=max_events, max_retries=max_retries,
                    breaker=breaker, tls=tls)
    exchange = _aio.run(_discover(target))
    target.discovery.append(exchange)
    where = exchange.request.url
    if exchange.response is None:
        raise TargetError(f"cannot reach {target.base_url}: {exchange.error}")
    status = exchange.response.status
    if status in (401, 403):
        hint = "an API key was given but refused" if api_key else "set --api-key (or INFERCHECK_API_KEY, HF_TOKEN)"
        raise TargetError(f"{where} answered {status}: {hint}")
    if api != "openai":
        return _native(target, exchange)
    if target.model is not None:
        _preflight(target, exchange)
        return target
    if status != 200:
        raise TargetError(
            f"{target.url('/models')} answered {status}; give the model with --model, or check the base URL"
            " (it must include /v1)"
        )
    try:
        models = exchange.response.json()["data"]
        target.model = str(models[0]["id"])
    except (ValueError, KeyError, IndexError, TypeError):
        raise TargetError(
            f"{target.url('/models')} did not list any model (body starts {exchange.response.body[:80]!r});"
            " give the model with --model"
        ) from None
    return target


def open_target(stack: ExitStack, *, base_url: str | None = None, api_key: str | None = None,
                model: str | None = None, faults: tuple[str, ...] = (), api: str = "openai", task: str | None = None,
                **bounds: Any) -> Target:
    """The target of a run: ``base_url`` resolved (``bounds``: the rest of ``resolve``'s settings), or without one the
    embedded reference endpoint, started on ``stack`` with ``faults`` planted. A TargetError when it cannot be
    tested; faults with a base URL are one."""
    if base_url and faults:
        raise TargetError("faults are planted in the embedded endpoint only: give them without a base URL")
    url = base_url or stack.enter_context(embedded(api_key=api_key, model=model, faults=faults, api=api, task=task))
    target = resolve(url, api_key=api_key, model=model, api=api, task=task, **bounds)
    target.embedded = not base_url
    return target


def _native(target: Target, exchange: Exchange) -> Target:
    """The rest of resolving a TGI server or a Hugging Face task endpoint."""
    response = exchange.response
    if response.status == 503 and exchange.waited:
        raise TargetError(f"{exchange.request.url} was still loading its model after waiting {exchange.waited:g} s "
                          "(--load-wait)")
    if response.status == 404:
        raise TargetError(f"{exchange.request.url} answered 404: check the URL"
                          + (" (a TGI server's root, without /v1)" if target.api == "tgi"
                             else " (the task endpoint's own URL, which is POSTed to)"))
    if target.api == "tgi":
        try:
            target.model = target.model or str(response.json()["model_id"])
        except (ValueError, KeyError, TypeError):
            raise TargetError(f"{exchange.request.url} answered {response.status} without a TGI model_id (body starts "
                              f"{response.body[:80]!r}); is this a TGI server?") from None
    else:
        target.model = target.model or (f"{target.task} endpoint" if target.task != ALL_TASKS else "every task")
    return target


def discovery_case(target: Target) -> Case | None:
    """The case whose request checks the target is there: for a task endpoint, its task's first request."""
    if target.api == "hf":
        task = target.task if target.task != ALL_TASKS else "text-classification"
        return next(c for c in _cases.load("hf") if c.route == task)
    return None


def request_for(target: Target, case: Case, body: bytes | None = None, path: str | None = None) -> Request:
    """The request ``case`` makes to ``target`` (``body`` and ``path`` replace the case's own, for derived cases)."""
    model = target.model or ""
    body = case.render_body(model) if body is None else body
    headers = target.headers(json_body=body is not None and case.body_file is None)
    if case.body_file is not None and case.content_type:
        headers["Content-Type"] = case.content_type
    if case.auth == "none":
        headers.pop("Authorization", None)
    elif case.auth == "wrong":
        headers["Authorization"] = f"Bearer {WRONG_KEY}"
    path = case.render_path(model) if path is None else path
    if case.api == "hf" and target.task == ALL_TASKS:
        path = "/" + case.route + path
    file = str(_cases.fixture(case.body_file)) if case.body_file is not None else None
    secret = "" if case.auth else target.api_key or ""
    return Request(case.method, target.url(path), headers, body, file, secret=secret,
                   curl_options=target.tls.curl_options())


def _listed(exchange: Exchange) -> list[str]:
    try:
        return [str(m["id"]) for m in exchange.response.json()["data"]]
    except (ValueError, KeyError, TypeError, AttributeError):
        return []


def _preflight(target: Target, listing: Exchange) -> None:
    """A ``--model`` the endpoint does not list (nor an Ollama tag of it: ``llama3`` for ``llama3:latest``) is a
    typo until one request shows otherwise: some servers load a model named in a request without listing it
    (transformers serve). One 1-token chat request decides; a 404, or a 4xx naming the model, stops the run
    before anything else is spent."""
    listed = _listed(listing) if listing.response is not None and listing.response.status == 200 else []
    model = target.model or ""
    if not listed or any(i == model or i.startswith(model + ":") for i in listed):
        return
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "Hello!"}], "max_tokens": 1})
    request = Request("POST", target.url("/chat/completions"), {**target.headers(), "Content-Type":
                      "application/json"}, body.encode(), secret=target.api_key or "",
                      curl_options=target.tls.curl_options())

    exchange = _aio.run(_send_once(target, "models.preflight", request))
    target.discovery.append(exchange)
    answer = exchange.response
    if answer is not None and (answer.status == 404 or (400 <= answer.status < 500 and b"model" in answer.body.lower())):
        shown = ", ".join(listed[:8]) + (f" and {len(listed) - 8} more" if len(listed) > 8 else "")
        raise TargetError(f"--model {model}: not among the models {target.url('/models')} lists ({shown}), and a "
                          f"request naming it was answered {answer.status}")


async def _discover(target: Target) -> Exchange:
    case = discovery_case(target)
    if case is not None:
        request, name = request_for(target, case), case.id
    else:
        path, name = ("/info", "tgi.info") if target.api == "tgi" else ("/models", "models.list")
        request = Request("GET", target.url(path), target.headers(), secret=target.api_key or "",
                          curl_options=target.tls.curl_options())
    return await confirm(await _send_once(target, name, request), target.bounds)


async def _send_once(target: Target, name: str, request: Request) -> Exchange:
    """One request of resolving ``target``, before any run's sender exists: on a client of its own."""
    async with open_client(target.bounds) as client:
        return await send_async(client, name, request, target.bounds)


@contextmanager
def embedded(*, api_key: str | None = None, model: str | None = None, faults: tuple[str, ...] = (),
             api: str = "openai", task: str | None = None, ttft_ms: float = 0.0, itl_ms: float = 0.0,
             certificate: tuple[str, str] | None = None) -> Iterator[str]:
    """Run the reference endpoint on a free loopback port in a background thread; yield the base URL of ``api``
    (and ``task``): /v1, the root (TGI), /models/{task}, or /models for every task. With ``certificate`` (the
    paths of a PEM certificate chain and its key), over HTTPS."""
    import uvicorn

    from ..serve import DEFAULT_MODEL, create_app
    from ..serve._socket import listening

    app = create_app(api_key=api_key, model=model or DEFAULT_MODEL, faults=faults, ttft_ms=ttft_ms, itl_ms=itl_ms)
    sock = listening()
    port = sock.getsockname()[1]
    chain, key = certificate or (None, None)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", ssl_certfile=chain,
                            ssl_keyfile=key)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="infercheck-serve")
    thread.start()
    try:
        for _ in range(500):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.01)
        if not server.started:
            raise TargetError("the embedded reference endpoint did not start")
        root = f"{'https' if certificate else 'http'}://127.0.0.1:{port}"
        if api == "hf":
            yield root + "/models" + ("" if task == ALL_TASKS else f"/{task}")
        else:
            yield root + ("/v1" if api == "openai" else "")
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()
