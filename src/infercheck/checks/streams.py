"""Stream framing checks: how a streamed completion is cut into server-sent events.

Each check has a fault mode of the reference endpoint that it catches
(``infercheck.serve._faults``) and a self-test proving it (``tests/checks/test_faults.py``).
"""

from __future__ import annotations

import json

from ..contract.cases import Case
from ..wire import answers as _answers
from ..wire import transport as _transport
from ..wire.exchange import Exchange
from .base import Context, Problem, check, fail, skip
from .common import answered, generation, include_usage, prompt_count


def streamed(case: Case) -> bool:
    return generation(case) and case.stream


@check("stream-done", title="Every data event is JSON but one final [DONE], and nothing follows it",
       severity="high", applies=streamed)
def stream_done(case: Case, ex: Exchange, ctx: Context) -> None:
    if not 200 <= ex.response.status < 300:
        skip(f"answered {ex.response.status}; see status-code")
    stream = ex.response.sse()
    data = [event.data for event in stream.events]
    done = [i for i, d in enumerate(data) if d == "[DONE]"]
    if not done:
        fail("the stream never sent data: [DONE]", expected="a last event 'data: [DONE]'",
             received=data[-1] if data else stream.unterminated or f"no event at all ({len(ex.response.body)} bytes)",
             kind="no-done")
    if len(done) > 1 or done[0] != len(data) - 1:
        fail(f"{len(data) - done[0] - 1} event(s) after data: [DONE]" if len(done) == 1 else
             f"data: [DONE] was sent {len(done)} times", expected="[DONE] once, as the last event",
             received=data[done[0]:][:5], kind="after-done")
    if stream.unterminated.strip():
        fail("text after the last event, not closed by a blank line", expected="nothing after [DONE]",
             received=stream.unterminated[:200], kind="after-done")
    for number, text in enumerate(data[:-1], start=1):
        try:
            json.loads(text)
        except ValueError:
            fail(f"event {number} is neither JSON nor [DONE]", expected="JSON", received=text[:200],
                 kind="not-json")


@check("stream-single-id", title="One id across the whole stream", severity="medium", applies=streamed)
def stream_single_id(case: Case, ex: Exchange, ctx: Context) -> None:
    ids = list(dict.fromkeys(answered(ex).ids))
    if len(ids) > 1:
        fail(f"the stream's chunks carry {len(ids)} different ids", expected=ids[0], received=ids[:5],
             kind="many-ids")


@check("stream-first-role", title="The first delta of each chat choice carries role 'assistant'",
       severity="medium", applies=lambda case: streamed(case) and case.route == "chat")
def stream_first_role(case: Case, ex: Exchange, ctx: Context) -> None:
    seen: set[int] = set()
    for doc in answered(ex).documents:
        for choice in doc.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index") in seen:
                continue
            seen.add(choice.get("index"))
            delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
            if delta.get("role") != "assistant":
                fail(f"the first delta of choice {choice.get('index')} has no role 'assistant'",
                     expected={"role": "assistant"}, received=delta, kind="no-role")


@check("stream-finish-once", title="Each streamed choice gets exactly one non-null finish_reason",
       severity="high", applies=streamed)
def stream_finish_once(case: Case, ex: Exchange, ctx: Context) -> None:
    answer = answered(ex)
    for index in range(case.n * prompt_count(ex)):
        reasons = answer.finish.get(index, [])
        if len(reasons) != 1:
            fail(f"choice {index} got {len(reasons)} non-null finish_reason(s): {reasons}",
                 expected="exactly one", received=reasons, kind="finish-count")


@check("stream-usage-chunk", title="With include_usage, a last chunk has choices [] and the usage; earlier "
       "chunks have usage null", severity="medium", applies=lambda case: streamed(case) and include_usage(case))
def stream_usage_chunk(case: Case, ex: Exchange, ctx: Context) -> None:
    documents = answered(ex).documents
    last = documents[-1]
    if last.get("choices") != [] or not isinstance(last.get("usage"), dict):
        fail("stream_options.include_usage was set but the last chunk is not {choices: [], usage: {...}}",
             expected={"choices": [], "usage": "{...}"},
             received={k: last.get(k) for k in ("choices", "usage")}, kind="no-usage-chunk")
    early = [i for i, d in enumerate(documents[:-1], start=1) if d.get("usage") is not None]
    if early:
        fail(f"chunk(s) {early[:5]} before the last carry usage", expected=None,
             received=documents[early[0] - 1].get("usage"), kind="early-usage")
    absent = [i for i, d in enumerate(documents[:-1], start=1) if "usage" not in d]
    if absent:
        fail(f"{len(absent)} of {len(documents) - 1} chunks before the last omit usage instead of sending "
             "usage: null", expected={"usage": None}, received=f"no usage field in chunk {absent[0]}",
             problems=[Problem("usage-absent", f"$[{absent[0]}]", None)])


@check("stream-text-matches", title="The streamed text equals the non-streamed text of the same request",
       severity="high", applies=lambda case: streamed(case) and case.twin is not None)
def stream_text_matches(case: Case, ex: Exchange, ctx: Context) -> None:
    plain = _answers.read(ctx.twin(case)).texts
    streamed_texts = answered(ex).texts
    if plain != streamed_texts:
        fail("the concatenated stream differs from the non-streamed answer to the same deterministic request",
             expected=plain, received=streamed_texts, kind="stream-text")


@check("usage-stream-agrees", title="Streamed usage equals the non-streamed usage of the same request",
       severity="medium", applies=lambda case: streamed(case) and include_usage(case) and case.twin is not None)
def usage_stream_agrees(case: Case, ex: Exchange, ctx: Context) -> None:
    plain = _answers.read(ctx.twin(case))
    answer = answered(ex)
    if answer.usage is None or plain.usage is None:
        skip("one of the two answers reports no usage; see stream-usage-chunk")
    if plain.texts != answer.texts:
        skip("the two answers differ in text, so their usage may too; see stream-text-matches")
    keys = ("prompt_tokens", "completion_tokens", "total_tokens")
    want = {k: plain.usage.get(k) for k in keys}
    got = {k: answer.usage.get(k) for k in keys}
    if want != got:
        fail("the streamed usage differs from the non-streamed usage for the same text", expected=want,
             received=got, kind="usage-differs")


@check("streams-under-load", title="A stream runs to its end while other requests arrive", severity="high",
       applies=lambda case: case.concurrent > 1)
def streams_under_load(case: Case, ex: Exchange, ctx: Context) -> None:
    if not ex.under_load:
        skip("no copies were sent at once: --concurrency 1 asks for one request at a time, or the request "
             "budget was spent")
    if not 200 <= ex.response.status < 300:
        skip(f"answered {ex.response.status} even alone; see status-code")
    rounds = ex.under_load
    # interrupted: the connection lost, or the stream ended before its finish_reason (llama-cpp-python writes
    # data: [DONE] and stops a running stream when another request arrives, or closes the connection first)
    lost = [[e for e in round_ if _answers.interrupted(e)] for round_ in rounds]
    if not all(lost):  # a round in which no copy was interrupted: any interruption in the other one was transient
        slow = [e for round_ in rounds for e in round_ if _transport.timed_out(e)]
        if slow:
            skip(f"{len(slow)} copies sent at once timed out ({slow[0].error}); whether the server cuts streams "
                 "under load is unknown")
        return
    copies = len(rounds[0])
    seen = "; ".join(f"round {n}: {len(lost_)} of {copies} interrupted ({lost_[0].error or _transport.ENDED_EARLY})"
                     for n, lost_ in enumerate(lost, start=1))
    also = sorted({e.case_id for e in ctx.exchanges.values() if e.stream and e.transient_cut and e is not ex
                   and not _answers.ended_early(e)})
    fail(f"the server interrupts streams under concurrent load: {copies} copies of this request sent at once, "
         f"twice, were interrupted both times ({seen}); sent without other requests, the same request "
         f"{'streamed' if ex.stream else 'was answered'} to the end"
         + (f". During the run, streams of {len(also)} other case(s) were cut the same way and completed when "
            f"sent again alone: {', '.join(also)}" if also else "")
         + f". To reproduce, run the command below {copies} times at once",
         expected=f"{copies} complete answers", received=[len(r) - len(x) for r, x in zip(rounds, lost)],
         kind="interrupted-under-load")
