"""curl reproductions run as written and never carry a secret."""

import shlex

from infercheck import Request
from infercheck.wire.redaction import redact


def test_curl_round_trips_through_a_shell_and_redacts_the_key():
    body = b'{"prompt": "it\'s \\"quoted\\"", "model": "m"}'
    request = Request("POST", "http://127.0.0.1:1/v1/completions",
                      {"Content-Type": "application/json", "Authorization": "Bearer sk-live-123"}, body)
    command = request.curl()
    argv = shlex.split(command)
    assert argv[0] == "curl" and "http://127.0.0.1:1/v1/completions" in argv
    assert argv[argv.index("--data-raw") + 1].encode() == body
    assert "Authorization: Bearer $INFERCHECK_API_KEY" in argv  # the shell fills the key in from the environment
    assert "sk-live-123" not in command


def test_curl_for_a_get_and_for_a_stream():
    assert Request("GET", "http://h/v1/models").curl() == "curl http://h/v1/models"
    assert Request("POST", "http://h/v1/chat/completions", {}, b"{}").curl(stream=True).startswith("curl -N ")
    assert " -X DELETE " in Request("DELETE", "http://h/v1/models/m").curl()


def test_redact_reaches_into_nested_values():
    key = "sk-live-0123"
    assert redact({"a": [f"x {key} y", 3], "b": key}, [key]) == {"a": ["x [REDACTED] y", 3], "b": "[REDACTED]"}
    assert redact("nothing", []) == "nothing"


def test_redact_takes_the_key_as_a_whole_word_and_leaves_short_and_placeholder_keys_alone():
    key = "sk-live-0123"
    assert redact(f"{key}4 x{key} {key}.", [key]) == f"{key}4 x{key} [REDACTED]."
    for dummy in ("k", "none", "EMPTY", "ollama", "sk-no-key-required"):
        text = f'shrank it; "max_tokens": 1, "tool_choice": "none", key {dummy}'
        assert redact(text, [dummy]) == text


def test_the_curl_of_a_request_with_a_short_or_dummy_key_is_untouched_but_for_the_key():
    body = b'{"max_tokens": 1, "tool_choice": "none", "model": "k"}'
    for key in ("k", "none", "EMPTY", "sk-no-key-required"):
        request = Request("POST", "http://h/v1/chat/completions", {"Authorization": f"Bearer {key}"}, body, secret=key)
        argv = shlex.split(request.curl())
        assert argv[argv.index("--data-raw") + 1].encode() == body
        assert "Authorization: Bearer $INFERCHECK_API_KEY" in argv


def test_the_curl_runs_with_the_key_from_the_environment():
    import subprocess

    key = 'sk-"odd"$key`x'
    request = Request("GET", "http://h/v1/models", {"Authorization": f"Bearer {key}"}, secret=key)
    header = request.curl().split(" -H ", 1)[1]
    echoed = subprocess.run(["bash", "-c", f"printf %s {header}"], capture_output=True, text=True,
                            env={"INFERCHECK_API_KEY": key, "PATH": "/usr/bin:/bin"}).stdout
    assert echoed == f"Authorization: Bearer {key}" and key not in request.curl()
