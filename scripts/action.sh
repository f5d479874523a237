#!/usr/bin/env bash
# The GitHub Action's step (action.yml): install infercheck (from the action's own checkout, unless
# INFERCHECK_SKIP_INSTALL is set), run it with the inputs (INPUT_* variables), write the reports under
# $INPUT_REPORTS, append the Markdown summary to $GITHUB_STEP_SUMMARY and the verdict and exit status to
# $GITHUB_OUTPUT (each when set), and exit as infercheck run exited.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPORTS="${INPUT_REPORTS:-infercheck-reports}"
PYTHON="${PYTHON:-python3}"

if [ -z "${INFERCHECK_SKIP_INSTALL:-}" ]; then
    "$PYTHON" -m pip install --quiet --disable-pip-version-check "$HERE" || exit 2
fi
mkdir -p "$REPORTS"
args=(run --profile "${INPUT_PROFILE:-openai}" --fail-on "${INPUT_FAIL_ON:-failed}"
      --json "$REPORTS/results.json" --junit "$REPORTS/junit.xml" --html "$REPORTS/infercheck.html"
      --markdown "$REPORTS/summary.md")
[ -n "${INPUT_BASE_URL:-}" ] && args+=(--base-url "$INPUT_BASE_URL")
[ -n "${INPUT_MODEL:-}" ] && args+=(--model "$INPUT_MODEL")
[ -n "${INPUT_BASELINE:-}" ] && args+=(--baseline "$INPUT_BASELINE")
# the key goes by the environment, never on a command line a log could show
[ -n "${INPUT_API_KEY:-}" ] && export INFERCHECK_API_KEY="$INPUT_API_KEY"
# shellcheck disable=SC2206  # the extra arguments are words, as a user types them
[ -n "${INPUT_ARGS:-}" ] && args+=(${INPUT_ARGS})

status=0
infercheck "${args[@]}" || status=$?

if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ -f "$REPORTS/summary.md" ]; then
    cat "$REPORTS/summary.md" >> "$GITHUB_STEP_SUMMARY"
fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then
    verdict=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["verdict"])' \
        "$REPORTS/results.json" 2>/dev/null || echo "no verdict: infercheck run exited $status")
    { echo "verdict=$verdict"; echo "exit-status=$status"; } >> "$GITHUB_OUTPUT"
fi
exit "$status"
