"""The reference endpoint under load: 100 streamed chat completions at once all complete, each correct on its own.
(Its speed beside a bare Starlette app is benchmarks/reference_load.py's to measure; schemathesis's fuzzing of it is
tests/serve/test_openapi.py.)"""

from __future__ import annotations

import asyncio
import json

import httpx

from infercheck import Exchange, Request, Response, embedded
from infercheck.contract import schemas as _schemas
from infercheck.wire.answers import read

STREAMS = 100
BODY = {"model": "infercheck-tiny", "messages": [{"role": "user", "content": "Tell me a story."}], "max_tokens": 32,
        "temperature": 0, "seed": 3}


async def _at_once(url: str, count: int) -> list[tuple[int, str, bytes, float, float]]:
    """``count`` streamed requests sent at once: (status, content type, body, start, end) of each."""
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one() -> tuple[int, str, bytes, float, float]:
            started = asyncio.get_running_loop().time()
            async with client.stream("POST", url, json={**BODY, "stream": True}) as response:
                body = await response.aread()
            return (response.status_code, response.headers.get("content-type", ""), body, started,
                    asyncio.get_running_loop().time())

        return await asyncio.gather(*(one() for _ in range(count)))


def test_a_hundred_concurrent_streams_all_complete_correctly():
    with embedded(itl_ms=5) as url:  # 32 tokens 5 ms apart: every stream lasts long enough to overlap the others
        url += "/chat/completions"
        plain = httpx.post(url, json=BODY, timeout=30).json()["choices"][0]["message"]["content"]
        answers = asyncio.run(_at_once(url, STREAMS))
    # they overlapped: every stream began before the first one ended
    assert max(start for *_, start, _ in answers) < min(end for *_, end in answers)
    ids = set()
    for status, content_type, body, *_ in answers:
        assert status == 200 and content_type.startswith("text/event-stream")
        exchange = Exchange("load", Request("POST", url), Response(status, {"content-type": content_type}, body, 0.0),
                            stream=True)
        answer = read(exchange)
        assert body.rstrip().endswith(b"data: [DONE]")
        for chunk in answer.documents:
            assert _schemas.errors("openai/chat-chunk.json", chunk) == [], json.dumps(chunk)
        assert answer.text() == plain  # the same greedy answer as the request not streamed, whatever ran beside it
        assert answer.finish_reason() in ("stop", "length") and len(set(answer.ids)) == 1
        ids |= set(answer.ids)
    assert len(ids) == STREAMS  # no two streams share an id: nothing of one leaked into another
