"""The SSE decoder follows the WHATWG rules that conformance checks depend on."""

from infercheck.wire.sse import decode


def test_lf_events_and_done():
    stream = decode(b'data: {"a": 1}\n\ndata: [DONE]\n\n')
    assert [e.data for e in stream.events] == ['{"a": 1}', "[DONE]"]
    assert stream.line_endings == {"\n"} and stream.unterminated == ""


def test_crlf_and_cr_line_endings():
    assert [e.data for e in decode("data: a\r\n\r\ndata: b\r\rdata: c\n\n").events] == ["a", "b", "c"]
    assert decode("data: a\r\n\r\n").line_endings == {"\r\n"}


def test_comments_event_and_id_fields():
    stream = decode(": keep-alive\nevent: delta\nid: 7\nretry: 100\ndata: x\n\n")
    assert stream.comments == ["keep-alive"]
    (event,) = stream.events
    assert (event.event, event.id, event.retry, event.data) == ("delta", "7", 100, "x")


def test_multiline_data_is_joined_with_newlines_and_one_space_is_stripped():
    assert decode("data:  two spaces\ndata:none\n\n").events[0].data == " two spaces\nnone"


def test_an_event_with_no_data_is_not_dispatched():
    assert decode("event: ping\n\ndata: x\n\n").events[0].data == "x"
    assert len(decode("event: ping\n\n").events) == 0


def test_an_unterminated_last_event_is_reported_not_dispatched():
    stream = decode("data: a\n\ndata: b")
    assert [e.data for e in stream.events] == ["a"]
    assert stream.unterminated == "data: b"
    assert decode("data: a\n\ndata: b\n").unterminated == "data: b\n"


def test_bom_is_ignored():
    assert decode("\ufeffdata: a\n\n".encode()).events[0].data == "a"
