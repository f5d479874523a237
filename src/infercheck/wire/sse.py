"""Server-sent events, decoded as the WHATWG HTML standard says (section 9.2.6).

Hand-written rather than taken from httpx-sse because conformance checks need
what a client library hides: the raw framing (CRLF vs LF, comments, events
after ``[DONE]``, an unterminated last event).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_LINE = re.compile(r"([^\r\n]*)(\r\n|\r|\n)")


@dataclass(frozen=True)
class Event:
    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


@dataclass
class Stream:
    events: list[Event] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    unterminated: str = ""  # raw text after the last dispatched event (no blank line closed it)
    line_endings: set[str] = field(default_factory=set)
    ends: list[int] = field(default_factory=list)  # per event: the offset in the body's bytes just past it


def decode(body: bytes | str) -> Stream:
    raw = body if isinstance(body, bytes) else body.encode("utf-8")
    text = raw.decode("utf-8", errors="replace")
    skipped = 3 if text.startswith("\ufeff") else 0  # the BOM's bytes
    text = text.removeprefix("\ufeff")
    done = 0  # bytes of ``raw`` before ``counted``
    counted = 0  # where in ``text`` ``done`` was measured
    out = Stream()
    data: list[str] = []
    event_type = ""
    last_id: str | None = None
    retry: int | None = None
    dispatched_at = 0  # where the text after the last complete event starts
    position = 0
    for match in _LINE.finditer(text):
        line, ending = match.group(1), match.group(2)
        out.line_endings.add(ending)
        position = match.end()
        if line == "":
            if data:
                out.events.append(Event("\n".join(data), event_type or "message", last_id, retry))
                done += len(text[counted:position].encode("utf-8", errors="replace"))
                counted = position
                out.ends.append(skipped + done)
            data, event_type = [], ""
            dispatched_at = position
        elif line.startswith(":"):
            out.comments.append(line[1:].removeprefix(" "))
        else:
            name, sep, value = line.partition(":")
            value = value.removeprefix(" ") if sep else ""
            if name == "data":
                data.append(value)
            elif name == "event":
                event_type = value
            elif name == "id" and "\0" not in value:
                last_id = value
            elif name == "retry" and value.isdigit():
                retry = int(value)
    out.unterminated = text[dispatched_at:]
    return out
