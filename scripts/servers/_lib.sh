# Shared by the live jobs in scripts/servers/: sourced, not run.
# Each job installs a real third-party server into a virtual environment of its own, starts it on loopback,
# waits for it, runs infercheck against it with the results under reports/servers/<server>/, and stops it.
#
# Environment:
#   INFERCHECK        the infercheck command under test (default: `infercheck` on PATH)
#   INFERCHECK_CACHE  where slow builds (wheels, converted models) are kept between runs
#                     (default: $XDG_CACHE_HOME/infercheck, else ~/.cache/infercheck)
#   PYTHON            the interpreter the server's virtual environment is made from (default: python3)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${INFERCHECK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/infercheck}"
PYTHON="$(command -v "${PYTHON:-python3}")"
INFERCHECK="${INFERCHECK:-infercheck}"
SERVER_PID=""
READY=""  # the URL that answers once the server is ready (wait_for)

say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# A fresh virtual environment at $1 (replaced if it exists).
fresh_venv() {
    rm -rf "$1"
    "$PYTHON" -m venv "$1"
    "$1/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
}

# A TCP port nobody listens on now; with $1 and $2, one in that range.
free_port() {
    "$PYTHON" - "$@" <<'PY'
import random, socket, sys
low, high = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) == 3 else (0, 0)
for port in ([0] if not high else random.sample(range(low, high), 200)):
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
            print(s.getsockname()[1])
            break
    except OSError:
        continue
else:
    sys.exit("no free port")
PY
}

# Start "$@" in the background, its output in $LOG; the server is stopped when the job exits.
start_server() {
    say "starting: $*"
    setsid "$@" >"$LOG" 2>&1 &
    SERVER_PID=$!
    trap stop_server EXIT INT TERM
}

stop_server() {
    trap - EXIT INT TERM
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        say "stopping the server (pid $SERVER_PID)"
        kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
        kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
    fi
}

# Wait until GET $1 answers 200, for at most $2 seconds; fail early if the server died. The URL is kept in $READY:
# check_server waits on it again between its two runs.
wait_for() {
    local url=$1 limit=$2 start=$SECONDS
    READY=$url
    while (( SECONDS - start < limit )); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            say "the server exited before it answered; its log ($LOG) ends:"
            tail -n 30 "$LOG" >&2
            return 1
        fi
        if "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' "$url" 2>/dev/null; then
            say "ready after $(( SECONDS - start )) s: $url"
            return 0
        fi
        sleep 1
    done
    say "no answer from $url within $limit s; the server log ($LOG) ends:"
    tail -n 30 "$LOG" >&2
    return 1
}

# infercheck run "$@"; its exit status 1 (NOT CONFORMANT) is a finding, not a failure of the job.
# Any other non-zero status (an incomplete run, a usage error) fails the job.
run_infercheck() {
    say "infercheck run $*"
    local rc=0
    "$INFERCHECK" run "$@" || rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
        say "infercheck run exited $rc: the run did not complete"
        return "$rc"
    fi
}

# The live runs against the server at base URL $1 serving model $2, described by $3 (how it was run): infercheck
# under the default profile, then under the server's own ($PROFILE, else $SERVER), and the server's page from the
# second run.
check_server() {
    local base=$1 model=$2 how=$3
    shift 3
    run_infercheck --base-url "$base" --model "$model" --json "$OUT/default.json" "$@"
    # A request infercheck gave up on (its deadline passed) is not cancelled in a server that does not watch for
    # closed connections: llama-cpp-python goes on generating every one of them, one at a time, and answers nothing
    # else meanwhile. The second run begins once the server answers again, not while it works off the first's.
    say "waiting for the server to answer again (it may still be generating what the first run gave up on)"
    [ -z "$READY" ] || wait_for "$READY" 1800
    run_infercheck --base-url "$base" --model "$model" --profile "${PROFILE:-$SERVER}" --json "$OUT/profile.json" "$@"
    "$INFERCHECK" report "$OUT/profile.json" --server "$SERVER" --markdown "$ROOT/docs/servers/$SERVER.md" \
        --how "$how, run by scripts/servers/$SERVER.sh"
    say "done: $OUT, docs/servers/$SERVER.md"
}
