"""curl reproductions run as written and never carry a secret."""

import shlex

from infercheck import Request
from infercheck._report import redact


def test_curl_round_trips_through_a_shell_and_redacts_the_key():
    body = b'{"prompt": "it\'s \\"quoted\\"", "model": "m"}'
    request = Request("POST", "http://127.0.0.1:1/v1/completions",
                      {"Content-Type": "application/json", "Authorization": "Bearer sk-live-123"}, body)
    command = request.curl()
    argv = shlex.split(command)
    assert argv[0] == "curl" and "http://127.0.0.1:1/v1/completions" in argv
    assert argv[argv.index("--data-raw") + 1].encode() == body
    assert "Authorization: Bearer [REDACTED]" in argv
    assert "sk-live-123" not in command


def test_curl_for_a_get_and_for_a_stream():
    assert Request("GET", "http://h/v1/models").curl() == "curl http://h/v1/models"
    assert Request("POST", "http://h/v1/chat/completions", {}, b"{}").curl(stream=True).startswith("curl -N ")
    assert " -X DELETE " in Request("DELETE", "http://h/v1/models/m").curl()


def test_redact_reaches_into_nested_values():
    assert redact({"a": ["x sk-1 y", 3], "b": "sk-1"}, ["sk-1"]) == {"a": ["x [REDACTED] y", 3], "b": "[REDACTED]"}
    assert redact("nothing", []) == "nothing"
