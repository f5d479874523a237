"""Semantic checks of completions and chat completions: what a response must mean, beyond its shape.

Each check has a fault mode of the reference endpoint that it catches
(``infercheck.serve._faults``) and a self-test proving it (``tests/checks/test_faults.py``).
"""

from __future__ import annotations

import time

from ..contract.cases import Case
from ..wire import answers as _answers
from ..wire.answers import Answer
from ..wire.exchange import Exchange
from .base import Context, Problem, check, fail, skip
from .common import answered, generation, include_usage, plain, prompt_count

FINISH_REASONS = {
    "completions": ("stop", "length", "content_filter"),
    "chat": ("stop", "length", "tool_calls", "content_filter", "function_call"),
}
CREATED_TOLERANCE_S = 3600  # clocks of real servers drift; an hour still catches wrong units and stale caches


def usage_numbers(answer: Answer) -> tuple[int, int, int]:
    usage = answer.usage
    if usage is None:
        skip("the answer reports no usage")
    numbers = tuple(usage.get(k) for k in ("prompt_tokens", "completion_tokens", "total_tokens"))
    if not all(isinstance(v, int) for v in numbers):
        skip(f"usage is not three integers: {usage}; see the schema checks")
    return numbers  # type: ignore[return-value]


@check("usage-arithmetic", title="usage.total_tokens is prompt_tokens + completion_tokens", severity="high",
       applies=lambda case: plain(case) or (generation(case) and include_usage(case)))
def usage_arithmetic(case: Case, ex: Exchange, ctx: Context) -> None:
    prompt, completion, total = usage_numbers(answered(ex))
    if total != prompt + completion:
        fail(f"total_tokens is {total}, but prompt_tokens + completion_tokens is {prompt} + {completion} = "
             f"{prompt + completion}", expected=prompt + completion, received=total, kind="usage-sum")


@check("max-tokens", title="No more tokens are generated than max_tokens allows", severity="high",
       applies=lambda case: generation(case) and case.limit is not None
       and (not case.stream or include_usage(case)))
def max_tokens(case: Case, ex: Exchange, ctx: Context) -> None:
    _, completion, _ = usage_numbers(answered(ex))
    bound = case.limit * case.n * prompt_count(ex)
    name = "max_completion_tokens" if "max_completion_tokens" in (case.body or {}) else "max_tokens"
    if completion > bound:
        per = f" x n={case.n}" if case.n > 1 else ""
        fail(f"usage.completion_tokens is {completion}, but the request allowed {name}={case.limit}{per}",
             expected=f"<= {bound}", received=completion, kind="over-limit")
    if "overrun" in case.tags and completion < case.limit:
        skip(f"the answer ended by itself after {completion} of the {case.limit} tokens {name} allows: the limit "
             "was never reached, so whether it is enforced is unknown")


@check("usage-counts-every-choice", title="usage.completion_tokens counts at least the tokens of every choice cut at "
       "the limit", severity="high",
       applies=lambda case: generation(case) and case.limit is not None and (not case.stream or include_usage(case)))
def usage_counts_every_choice(case: Case, ex: Exchange, ctx: Context) -> None:
    """A choice that ends 'length' generated exactly its limit (max_tokens is per choice), so the choices cut there
    bound completion_tokens from below without a tokenizer (``max-tokens`` bounds it from above)."""
    answer = answered(ex)
    _, completion, _ = usage_numbers(answer)
    cut = sorted(index for index, reasons in answer.finish.items() if reasons and reasons[-1] == "length")
    bound = case.limit * len(cut)  # none cut: nothing is known without the model's tokenizer, and 0 holds
    name = "max_completion_tokens" if "max_completion_tokens" in (case.body or {}) else "max_tokens"
    if completion < bound:
        fail(f"usage.completion_tokens is {completion}, but {len(cut)} choice(s) ended 'length' at {name}="
             f"{case.limit} (choice(s) {', '.join(map(str, cut))}), so they generated {bound} tokens",
             expected=f">= {bound}", received=completion, kind="under-count")


@check("finish-reason-length", title="finish_reason is 'length' when generation is cut at the limit",
       severity="medium", applies=lambda case: plain(case) and case.n == 1 and "overrun" in case.tags)
def finish_reason_length(case: Case, ex: Exchange, ctx: Context) -> None:
    answer = answered(ex)
    _, completion, _ = usage_numbers(answer)
    reason = answer.finish_reason()
    if completion >= case.limit and reason != "length":
        fail(f"the answer used all {completion} tokens max_tokens={case.limit} allows (the prompt asks for far "
             f"more) but finish_reason is {reason!r}", expected="length", received=reason, kind="not-length")
    if completion < case.limit:
        skip(f"the answer ended by itself after {completion} of {case.limit} tokens; nothing was cut")


@check("finish-reason", title="finish_reason is a canonical value, never null in a finished response",
       severity="high", applies=generation)
def finish_reason(case: Case, ex: Exchange, ctx: Context) -> None:
    answer = answered(ex)
    allowed = FINISH_REASONS[case.route]
    for doc in answer.documents:
        for choice in doc.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            reason = choice.get("finish_reason")
            if reason is None and not case.stream:
                fail(f"choice {choice.get('index')} has finish_reason null in a non-streamed response",
                     expected=list(allowed), received=None, kind="null-finish")
            if reason is not None and reason not in allowed:
                fail(f"choice {choice.get('index')} has finish_reason {reason!r}", expected=list(allowed),
                     received=reason, kind="unknown-finish")


@check("n-choices", title="Exactly n choices, with indices 0..n-1 each once", severity="high", applies=plain)
def n_choices(case: Case, ex: Exchange, ctx: Context) -> None:
    answer = answered(ex)
    choices = answer.documents[0].get("choices")
    if not isinstance(choices, list):
        skip("the answer has no choices list; see response-schema")
    want = case.n * prompt_count(ex)
    indices = [c.get("index") for c in choices if isinstance(c, dict)]
    if len(choices) != want or sorted(indices, key=str) != sorted(range(want), key=str):
        fail(f"asked for n={case.n} (x {prompt_count(ex)} prompt(s)) and got {len(choices)} choice(s) with "
             f"indices {indices}", expected=list(range(want)), received=indices, kind="choice-count")


@check("stop-honoured", title="A stop sequence ends the text, which no longer contains it", severity="high",
       applies=lambda case: case.derive is not None and "stop" in case.derive)
def stop_honoured(case: Case, ex: Exchange, ctx: Context) -> None:
    answer = answered(ex)
    stop = (ex.request.json() or {}).get("stop", [None])[0]
    text = answer.text() or ""
    if stop and stop in text:
        fail(f"the text still contains the stop sequence {stop!r}", expected=f"text without {stop!r}",
             received=text, kind="stop-in-text")
    reason = answer.finish_reason()
    if reason != "stop":
        first = _answers.read(ctx.exchanges[case.derive["from"]]).text() or ""
        if not first.startswith(text):
            skip(f"inconclusive: the answer changed between the two requests, and {stop!r} never came up "
                 f"(first: {first[:80]!r}, now: {text[:80]!r}); see determinism")
        fail(f"the text stopped where {stop!r} came up but finish_reason is {reason!r}", expected="stop",
             received=reason, kind="stop-reason")


@check("determinism", title="The same temperature-0 seeded request gives the same text twice",
       severity="medium", applies=lambda case: case.repeat and case.twin is not None)
def determinism(case: Case, ex: Exchange, ctx: Context) -> None:
    first, second = _answers.read(ctx.twin(case)).texts, answered(ex).texts
    if first != second:
        fail("the same request (temperature 0, same seed) gave different texts", expected=first,
             received=second, kind="nondeterministic")


@check("id-distinct", title="Every response has its own id", severity="medium",
       applies=lambda case: case.repeat and case.twin is not None)
def id_distinct(case: Case, ex: Exchange, ctx: Context) -> None:
    first, second = _answers.read(ctx.twin(case)).ids, answered(ex).ids
    if first and second and first[0] == second[0]:
        fail(f"two separate requests got the same id {second[0]!r}", expected="two distinct ids",
             received=[first[0], second[0]], kind="same-id")


@check("identity", title="id is a non-empty string of the route's kind", severity="medium", applies=generation)
def identity(case: Case, ex: Exchange, ctx: Context) -> None:
    answer = answered(ex)
    for doc in answer.documents:
        value = doc.get("id")
        if not isinstance(value, str) or not value:
            fail(f"id is {value!r}, expected a non-empty string", expected="non-empty string", received=value,
                 kind="no-id")
    value = answer.ids[0]
    if case.route == "completions" and value.startswith("chatcmpl-"):
        fail(f"a completion has the chat completion id {value!r}", expected="an id not of a chat completion",
             received=value, kind="chatcmpl-id-on-completion")
    if case.route == "chat" and value.startswith("cmpl-"):
        fail(f"a chat completion has the completion id {value!r}", expected="an id not of a text completion",
             received=value, kind="cmpl-id-on-chat")


@check("created-recent", title="created is the Unix time in seconds, near now", severity="medium",
       applies=generation)
def created_recent(case: Case, ex: Exchange, ctx: Context) -> None:
    now = time.time()
    for doc in answered(ex).documents:
        created = doc.get("created")
        if not isinstance(created, int) or isinstance(created, bool):
            skip(f"created is {created!r}; see the schema checks")
        if abs(created - now) > CREATED_TOLERANCE_S:
            hint = " (milliseconds, not seconds?)" if created > now * 100 else ""
            fail(f"created is {created}, {int(created - now):+d} s from now{hint}",
                 expected=f"{int(now)} +/- {CREATED_TOLERANCE_S}", received=created, kind="created-skew")


@check("model-echo", title="model names the requested model", severity="medium", applies=generation)
def model_echo(case: Case, ex: Exchange, ctx: Context) -> None:
    requested = (ex.request.json() or {}).get("model")
    for doc in answered(ex).documents:
        served = doc.get("model")
        # A dated snapshot of the requested name ("gpt-4o" -> "gpt-4o-2024-08-06") names the same model.
        if served != requested and not (isinstance(served, str) and served.startswith(f"{requested}-")):
            fail(f"asked for model {requested!r} and the answer says {served!r}", expected=requested,
                 received=served, problems=[Problem("model-mismatch", "$.model", served)])


@check("chat-message", title="The chat message is the assistant's, with content (or tool calls)",
       severity="high", applies=lambda case: plain(case) and case.route == "chat")
def chat_message(case: Case, ex: Exchange, ctx: Context) -> None:
    for choice in answered(ex).documents[0].get("choices") or []:
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            skip("a choice has no message; see response-schema")
        if message.get("role") != "assistant":
            fail(f"choice {choice.get('index')} has message role {message.get('role')!r}", expected="assistant",
                 received=message.get("role"), kind="role")
        content = message.get("content")
        if not isinstance(content, str) and not (content is None and message.get("tool_calls")):
            fail(f"choice {choice.get('index')} has content {content!r} and no tool calls",
                 expected="a string (or null with tool_calls)", received=message, kind="no-content")
