"""Hostile behaviours of the reference endpoint: what an untrusted, slow or broken endpoint (or the proxy in front
of it) does to a client. Each is a fault mode (``_faults.HOSTILE``) that applies to every POST; GETs, discovery
among them, are answered normally, so a run gets as far as the POSTs.

The outermost ASGI app: three behaviours live below HTTP (a reset, malformed chunked encoding, a Content-Length the
body never reaches), which no ASGI message can express. For those it writes to the connection itself, through the
transport of uvicorn's request cycle (``send.__self__.transport``; checked at the lowest and latest uvicorn CI
installs).
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from typing import Any

from ._flaky import quiet_cut_connections

HUGE = 1024 ** 3  # bytes of the body-huge answer
_PIECE = 1024 ** 2
_CHUNK = {"id": "chatcmpl-endless", "object": "chat.completion.chunk", "created": 0, "model": "",
          "choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": None}]}
PROXY_PAGE = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>"
              b"</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


def _transport(send: Any) -> asyncio.Transport:
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("this hostile fault writes to the connection itself and needs uvicorn's request cycle "
                           "(send.__self__.transport); run it under uvicorn")
    return transport


async def _body(receive: Any) -> bytes:
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body


async def _until_disconnect(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _start(status: int, media: str, *extra: tuple[bytes, bytes]) -> dict:
    return {"type": "http.response.start", "status": status, "headers": [(b"content-type", media.encode()), *extra]}


class Hostile:
    """ASGI app: every POST meets ``behaviour``; everything else reaches ``app``. The rate-limited ones answer 429
    with ``Retry-After: 1``: ``rate-limited`` the first two POSTs to each path (a conformant endpoint under its
    limit), ``rate-limited-forever`` every one."""

    def __init__(self, app: Any, behaviour: str, model: str = "") -> None:
        self.app, self.behaviour, self.model = app, behaviour, model
        self.limited: dict[str, int] = {}  # path -> POSTs answered 429 so far
        quiet_cut_connections()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        behaviour = self.behaviour
        if behaviour == "rate-limited":
            count = self.limited[scope["path"]] = self.limited.get(scope["path"], 0) + 1
            if count > 2:
                await self.app(scope, receive, send)
                return
        body = await _body(receive)
        await getattr(self, "_" + behaviour.replace("-", "_"))(body, receive, send)

    async def _post_hang(self, body: bytes, receive: Any, send: Any) -> None:
        await _until_disconnect(receive)  # the connection is accepted, the request read; no answer ever

    async def _stall_mid_body(self, body: bytes, receive: Any, send: Any) -> None:
        streamed = b'"stream": true' in body or b'"stream":true' in body
        await send(_start(200, "text/event-stream" if streamed else "application/json"))
        await send({"type": "http.response.body", "body": b'data: {"id": "' if streamed else b'{"id": "',
                    "more_body": True})
        await _until_disconnect(receive)

    async def _stream_endless(self, body: bytes, receive: Any, send: Any) -> None:
        event = b"data: " + json.dumps({**_CHUNK, "model": self.model}).encode() + b"\n\n"
        await send(_start(200, "text/event-stream"))
        gone = asyncio.ensure_future(_until_disconnect(receive))
        try:
            while not gone.done():
                await send({"type": "http.response.body", "body": event * 64, "more_body": True})
                await asyncio.sleep(0)
        finally:
            gone.cancel()

    async def _body_huge(self, body: bytes, receive: Any, send: Any) -> None:
        head, tail = b'{"id": "cmpl-huge", "object": "text_completion", "padding": "', b'"}'
        await send(_start(200, "application/json", (b"content-length", str(len(head) + HUGE + len(tail)).encode())))
        gone = asyncio.ensure_future(_until_disconnect(receive))
        try:
            await send({"type": "http.response.body", "body": head, "more_body": True})
            piece = b"a" * _PIECE
            for _ in range(HUGE // _PIECE):
                if gone.done():
                    return
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            await send({"type": "http.response.body", "body": tail})
        finally:
            gone.cancel()

    async def _utf8_invalid(self, body: bytes, receive: Any, send: Any) -> None:
        answer = (b'{"id": "cmpl-\xff\xfe", "object": "text_completion", "created": 0, "model": "'
                  + self.model.encode() + b'", "choices": []}')
        await send(_start(200, "application/json"))
        await send({"type": "http.response.body", "body": answer})

    async def _connection_reset(self, body: bytes, receive: Any, send: Any) -> None:
        transport = _transport(send)
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with RST
        transport.abort()
        await _until_disconnect(receive)

    async def _content_length_long(self, body: bytes, receive: Any, send: Any) -> None:
        # uvicorn refuses to complete an answer shorter than its Content-Length: it closes the connection
        await send(_start(200, "application/json", (b"content-length", b"1000")))
        await send({"type": "http.response.body", "body": b'{"id": "cmpl-1", "object": "text_completion"}',
                    "more_body": True})

    async def _chunked_malformed(self, body: bytes, receive: Any, send: Any) -> None:
        transport = _transport(send)
        transport.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
                        b"zz\r\n{}\r\n0\r\n\r\n")  # "zz" is no chunk size
        transport.close()
        await _until_disconnect(receive)

    async def _proxy_502_html(self, body: bytes, receive: Any, send: Any) -> None:
        await send(_start(502, "text/html", (b"server", b"nginx")))
        await send({"type": "http.response.body", "body": PROXY_PAGE})

    async def _rate_limited(self, body: bytes, receive: Any, send: Any) -> None:
        error = {"error": {"message": "Rate limit reached: retry after 1s", "type": "rate_limit_exceeded",
                           "param": None, "code": "rate_limit_exceeded"}}
        await send(_start(429, "application/json", (b"retry-after", b"1")))
        await send({"type": "http.response.body", "body": json.dumps(error).encode()})

    _rate_limited_forever = _rate_limited
