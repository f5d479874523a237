#!/usr/bin/env bash
# Live job: the SageMaker Hugging Face inference toolkit (sagemaker-huggingface-inference-toolkit, its handler
# service in a Python worker behind the Java multi-model-server) serving a text-classification pipeline over a
# tiny random-weight BERT with a tokenizer trained here, at POST /invocations, on loopback, offline. Runs
# infercheck twice as a Hugging Face task endpoint (the default profile, then the sagemaker profile) and writes
# docs/servers/sagemaker.md from the second run.
#
#   scripts/servers/sagemaker.sh [infercheck run options...]
#
# Needs a Java runtime (Debian: openjdk-17-jre-headless). The toolkit as published imports pkg_resources and
# transformers 4 names: setuptools<81 and transformers<5.
source "$(dirname "$0")/_lib.sh"

SERVER=sagemaker
TOOLKIT="sagemaker-huggingface-inference-toolkit[mms]==2.6.0"
TORCH="torch==2.13.0"  # this machine's CPU build (an unpinned torch pulls several GB of CUDA packages)
OUT="$ROOT/reports/servers/$SERVER"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/infercheck-$SERVER.XXXXXX")"
LOG="$OUT/server.log"
mkdir -p "$OUT"
trap 'rm -rf "$WORK"' EXIT
command -v java >/dev/null || { say "no java: install a Java runtime (Debian: openjdk-17-jre-headless)"; exit 1; }

say "installing the toolkit and CPU torch into a fresh virtual environment"
fresh_venv "$WORK/venv"
"$WORK/venv/bin/pip" install --quiet --disable-pip-version-check "$TOOLKIT" "$TORCH" "transformers>=4.40,<5" \
    "setuptools<81"
"$WORK/venv/bin/python" "$(dirname "$0")/tiny_classifier.py" "$WORK/model"

# What the toolkit's own `serve` does (sagemaker_huggingface_inference_toolkit.mms_model_server), with the model
# server's configuration written here and bound to loopback instead of 0.0.0.0.
PORT="$(free_port 20000 32000)"  # multi-model-server refuses a port above 32767 ("Invalid port number")
mkdir -p "$WORK/run/tmp"
export SAGEMAKER_BASE_DIR="$WORK" SAGEMAKER_BIND_TO_PORT="$PORT" HF_TASK=text-classification HF_HUB_OFFLINE=1 \
    HF_HOME="$WORK/run/hf-home" TMPDIR="$WORK/run/tmp" TEMP="$WORK/run/tmp" OMP_NUM_THREADS=1
(cd "$WORK/run" && "$WORK/venv/bin/python" - <<'PY'
from sagemaker_inference import environment, model_server
from sagemaker_huggingface_inference_toolkit import handler_service
properties = model_server._generate_mms_config_properties(environment.Environment(), handler_service.__name__)
open("mms.properties", "w").write(properties.replace("0.0.0.0", "127.0.0.1"))
PY
)
LOG4J="$("$WORK/venv/bin/python" -c 'import sagemaker_inference.model_server as m; print(m.DEFAULT_MMS_LOG_FILE)')"
MMS="$WORK/venv/bin/multi-model-server"
export PATH="$WORK/venv/bin:$PATH"
cd "$WORK/run"
start_server "$MMS" --start --foreground --model-store / --mms-config "$WORK/run/mms.properties" \
    --log-config "$LOG4J" --models "model=$WORK/model"
# The launcher does not pass SIGTERM on to the JVM it starts: its own --stop ends the JVM and its workers.
trap '"$MMS" --stop >/dev/null 2>&1 || true; stop_server; rm -rf "$WORK"' EXIT
wait_for "http://127.0.0.1:$PORT/ping" 120
# /ping answers before the worker has loaded the pipeline; an invocation answers once it has
for _ in $(seq 120); do
    curl -sf "http://127.0.0.1:$PORT/invocations" -H 'Content-Type: application/json' -d '{"inputs": "hi"}' \
        >/dev/null && break
    sleep 1
done
cd "$ROOT"

VERSION="$("$WORK/venv/bin/python" -c 'import importlib.metadata as m; print(m.version("sagemaker-huggingface-inference-toolkit"))')"
check_server "http://127.0.0.1:$PORT/invocations" tiny-bert-classifier \
    "sagemaker-huggingface-inference-toolkit $VERSION on multi-model-server, text-classification, a tiny random-weight BERT" \
    --task text-classification "$@"
