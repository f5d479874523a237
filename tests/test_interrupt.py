"""Ctrl-C in a terminal (issue 26): the run stops within seconds, says INTERRUPTED with what it decided, writes the
--json it was asked for and exits 130; and a progress frame is on the screen within 3 s of the start."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import time
from pathlib import Path

import pytest

from infercheck.reports import results as _report

from .support import INFERCHECK, clean_env, served

FRAME = re.compile(rb"requests .*?\d+/\d+")


def _read(fd: int, until: float) -> bytes:
    out = b""
    while time.monotonic() < until:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # the child ended: the terminal is gone
                break
            if not data:
                break
            out += data
    return out


@pytest.mark.slow
def test_ctrl_c_in_a_terminal_stops_the_run_saying_so_with_its_json_and_exit_130(tmp_path: Path):
    out_json = tmp_path / "results.json"
    with served("--ttft-ms", "300", "--itl-ms", "30") as port:
        started = time.monotonic()
        pid, fd = pty.fork()
        if pid == 0:  # the child: the command, in the terminal
            os.execvpe(INFERCHECK[0], [*INFERCHECK, "run", "--base-url", f"http://127.0.0.1:{port}/v1",
                                       "--concurrency", "2", "--json", str(out_json)], clean_env())
        before = _read(fd, started + 5)
        os.kill(pid, signal.SIGINT)
        stopped = time.monotonic()
        after = _read(fd, stopped + 20)
        _, status = os.waitpid(pid, 0)
        took = time.monotonic() - stopped
    frames = FRAME.findall(before)
    assert frames, before[-500:]  # the progress display was on the screen while the run went
    assert os.waitstatus_to_exitcode(status) == 130 and took < 3, (took, after[-800:])
    text = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", after).decode(errors="replace")
    assert "INTERRUPTED" in text and "internal error" not in text, text[-800:]
    doc = json.loads(out_json.read_text())
    assert doc["interrupted"] is True and doc["exit_status"] == 130 and doc["verdict"].startswith("INTERRUPTED")
    assert doc["summary"]["passed"] > 0  # what was answered before Ctrl-C was judged


@pytest.mark.slow
def test_a_progress_frame_appears_within_3_seconds_of_the_start():
    with served("--ttft-ms", "300", "--itl-ms", "30") as port:
        started = time.monotonic()
        pid, fd = pty.fork()
        if pid == 0:
            os.execvpe(INFERCHECK[0], [*INFERCHECK, "run", "--base-url", f"http://127.0.0.1:{port}/v1",
                                       "--concurrency", "2"], clean_env())
        seen = b""
        while time.monotonic() < started + 3 and not FRAME.search(seen):
            seen += _read(fd, time.monotonic() + 0.1)
        appeared = time.monotonic() - started
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert FRAME.search(seen), seen[-500:]
    assert appeared < 3


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"interrupted": True}, ("INTERRUPTED: stopped (Ctrl-C) before it ended; 5 check(s) decided, the rest not run",
                             130)),
    ({"interrupted": True, "partial": "x"}, ("INTERRUPTED: stopped (Ctrl-C) before it ended; 5 check(s) decided, "
                                             "the rest not run", 130)),
    ({"partial": "522 of 740 checks not run: 522 for a spent budget"},
     ("CONFORMANT (partial: 522 of 740 checks not run: 522 for a spent budget)", 0)),
])
def test_the_verdict_says_the_run_was_stopped_or_partial(kwargs, expected):
    assert _report.verdict({"passed": 5, "failed": 0, "errors": 0, "deviations": 0, "skipped": 0}, **kwargs) == \
        expected


def test_a_failing_interrupted_run_counts_its_failures_and_errors():
    assert _report.verdict({"passed": 1, "failed": 2, "errors": 1, "deviations": 0, "skipped": 0},
                           interrupted=True) == ("INTERRUPTED: stopped (Ctrl-C) before it ended; 3 check(s) decided "
                                                 "(2 failed, 1 internal error(s)), the rest not run", 130)
