"""Test cases as data: the requests a suite sends, read from ``fixtures/<api>/cases.json``."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from .data import data_dir

MODEL = "{model}"  # placeholder for the model under test, in paths and bodies
GENERATING = ("completions", "chat", "responses")  # the routes whose answers generate tokens
_BASE64 = re.compile(r"^\{base64:([\w./-]+)\}$")  # a body string standing for a fixture file, base64-encoded


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: cases load once
class Case:
    id: str
    title: str
    route: str  # e.g. "completions", "chat", "models", "embeddings"
    method: str
    path: str  # relative to the base URL, e.g. "/chat/completions"
    source: str = ""
    body: Any = None  # a JSON value, sent as application/json
    raw_body: str | None = None  # sent verbatim instead of ``body`` (invalid JSON and the like)
    stream: bool = False
    status: tuple[int | str, ...] = (200,)  # accepted statuses; "4xx" accepts any client error
    schema: str | None = None  # response schema for a 2xx answer
    chunk_schema: str | None = None  # schema of each SSE data event
    tags: frozenset[str] = field(default_factory=frozenset)
    twin: str | None = None  # the case this one's answer is compared with (same request, other form)
    repeat: bool = False  # sent even when an identical request was already sent (determinism, distinct ids)
    concurrent: int = 0  # also sent this many times at once, after the run's other requests (a second time when
    # a copy is cut), to see whether the server cuts streams when other requests arrive
    derive: dict[str, str] | None = None  # completed from another case's answer: {"from": case id, "stop": rule} adds
    # a stop sequence to the body; {"from": case id, "id": placeholder} puts the answer's id in the path
    auth: str | None = None  # "none" (no Authorization header) or "wrong" (a wrong key)
    feature: str | None = None  # what the endpoint must support for this case to apply (see profiles)
    api: str = "openai"  # which cases file it comes from: openai, hf, tgi
    error_schema: str = "openai/error.json"  # the schema of an error answer
    body_file: str | None = None  # a fixture (relative to fixtures/) sent as the raw body, e.g. an image
    content_type: str | None = None  # of ``body_file``; None sends no Content-Type (as huggingface_hub does)

    @property
    def expects_success(self) -> bool:
        return all(isinstance(s, int) and 200 <= s < 300 for s in self.status)

    def accepts(self, status: int) -> bool:
        return any(status == s if isinstance(s, int) else f"{status // 100}xx" == s for s in self.status)

    @property
    def limit(self) -> int | None:
        """The completion token limit of the request (max_completion_tokens, else max_tokens; a response's
        max_output_tokens)."""
        body = self.body if isinstance(self.body, dict) else {}
        for name in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
            if isinstance(body.get(name), int):
                return body[name]
        return None

    @property
    def n(self) -> int:
        body = self.body if isinstance(self.body, dict) else {}
        return body.get("n") if isinstance(body.get("n"), int) else 1

    def render_path(self, model: str) -> str:
        return self.path.replace(MODEL, model)

    def render_body(self, model: str) -> bytes | None:
        if self.body_file is not None:
            return fixture(self.body_file).read_bytes()
        if self.raw_body is not None:
            return self.raw_body.replace(MODEL, model).encode()
        if self.body is None:
            return None
        return json.dumps(_substitute(self.body, model)).encode()


def fixture(name: str):
    """A file under ``fixtures/``."""
    path = data_dir("fixtures") / name
    if not path.is_file():
        raise ValueError(f"fixture {name} not found under {data_dir('fixtures')}")
    return path


def _substitute(value: Any, model: str) -> Any:
    if isinstance(value, str):
        found = _BASE64.match(value)
        if found:
            return base64.b64encode(fixture(found.group(1)).read_bytes()).decode()
        return value.replace(MODEL, model)
    if isinstance(value, list):
        return [_substitute(v, model) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, model) for k, v in value.items()}
    return value


def _from_data(data: dict[str, Any], defaults: dict[str, Any]) -> Case:
    data = {**defaults, **data}
    status = data.pop("status", 200)
    data["status"] = tuple(status) if isinstance(status, list) else (status,)
    data["tags"] = frozenset(data.pop("tags", ()))
    data.pop("$comment", None)
    body = data.get("body")
    if isinstance(body, dict) and body.get("stream") is True:
        data.setdefault("stream", True)
    return Case(**data)


@cache
def load(api: str = "openai") -> tuple[Case, ...]:
    path = data_dir("fixtures") / api / "cases.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    defaults = {"api": api, **document.get("defaults", {})}
    cases = tuple(_from_data(entry, defaults) for entry in document["cases"])
    ids = [c.id for c in cases]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ValueError(f"{path}: duplicate case ids {sorted(duplicates)}")
    for case in cases:
        for ref in (case.twin, (case.derive or {}).get("from")):
            if ref is not None and ref not in ids:
                raise ValueError(f"{path}: case {case.id} refers to unknown case {ref!r}")
    return cases


def by_id(case_id: str, api: str = "openai") -> Case:
    for case in load(api):
        if case.id == case_id:
            return case
    raise KeyError(case_id)


def prompt_count(prompt: Any) -> int:
    """How many prompts a completions ``prompt`` holds: a list of them, or one (a string, or token ids)."""
    if isinstance(prompt, list) and prompt and not all(isinstance(p, int) for p in prompt):
        return len(prompt)
    return 1


def token_bound(case: Case) -> int | None:
    """At most how many completion tokens a conformant answer to ``case`` generates (0 for an error,
    None when the request sets no limit)."""
    if not case.expects_success or case.route not in GENERATING or case.method != "POST":
        return 0
    if case.limit is None:
        return None
    return case.limit * case.n * prompt_count((case.body or {}).get("prompt"))


def reservation(case: Case) -> int | None:
    """At most how many completion tokens an answer to ``case`` generates if the endpoint serves it, whether or not
    it should (a lenient endpoint serves invalid requests too): the larger of its limits (max_completion_tokens,
    max_tokens: which one a server honours varies; a response's max_output_tokens) x its choices (n, or best_of when
    larger) x its prompts; 0 where nothing is generated; None when a limit is missing or invalid, so that nothing
    bounds the answer."""
    if case.route not in GENERATING or case.method != "POST":
        return 0
    body = case.body if isinstance(case.body, dict) else {}

    def whole(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 1

    limits = [body[name] for name in ("max_completion_tokens", "max_tokens", "max_output_tokens") if name in body]
    choices = [body.get("n", 1), body.get("best_of", 1)]
    if not limits or not all(whole(v) for v in limits + choices):
        return None
    return max(limits) * max(choices) * prompt_count(body.get("prompt"))


def cost(cases: tuple[Case, ...] | list[Case]) -> dict[str, int | None]:
    """What sending ``cases`` costs at most: requests (discovery included; identical requests are sent
    once, and the model listing reuses discovery's), and completion tokens when every answer is conformant."""
    seen: set[tuple] = {("GET", "/models", None, None, None)}  # discovery
    tokens: int | None = 0
    extra = 0
    for case in cases:
        body = case.raw_body if case.raw_body is not None else (
            None if case.body is None else json.dumps(case.body, sort_keys=True))
        key = (case.method, case.path, body if case.derive is None else case.id, case.auth,
               case.id if case.repeat else None)
        if key in seen:
            continue
        seen.add(key)
        bound = token_bound(case)
        copies = 2 * case.concurrent  # at most two rounds of copies sent at once
        extra += copies
        tokens = None if tokens is None or bound is None else tokens + bound * (1 + copies)
    return {"requests": len(seen) + extra, "completion_tokens": tokens}
