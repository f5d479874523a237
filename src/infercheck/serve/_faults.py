"""Fault modes of the reference endpoint: one planted contract violation each.

Every built-in check must catch at least one of these; ``tests/test_faults.py``
holds the map from fault to the checks that must fail, and proves it.
"""

FAULTS: dict[str, str] = {
    "completion-message": "completion choices carry a chat `message` instead of `text` (the FlexAI documented shape)",
    "json-as-text": "JSON responses are sent with Content-Type text/plain",
    "stream-as-json": "streamed responses are sent with Content-Type application/json",
    "stream-chunk-object": "streamed chat chunks say object 'chat.completion' instead of 'chat.completion.chunk'",
    "stream-not-json": "the second event of every stream carries text that is not JSON",
    "status-201": "successful POSTs answer 201 Created instead of 200",
    "models-no-object": "the model list lacks `object: \"list\"`",
    "error-plain-text": "errors are sent as plain text instead of the JSON error envelope",
    "unknown-model-200": "a request naming an unknown model is served instead of refused",
}


def check_names(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    unknown = [n for n in names if n not in FAULTS]
    if unknown:
        raise ValueError(f"unknown fault {', '.join(unknown)}; known: {', '.join(FAULTS)}")
    return tuple(names)
