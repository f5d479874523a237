"""Time and peak memory of `infercheck run --timeout 3` against each hostile behaviour of the reference endpoint.

The endpoint runs in a process of its own (`infercheck serve --fault ...`), so the run's peak resident memory is
its own (os.wait4's rusage of that one child). The baseline, measured in the same run: the clean endpoint.
Goals (issue 14): a never-answering endpoint reported within 30 s; a 1 GiB answer costs at most 200 MB.

    python benchmarks/hostile.py [behaviour ...]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from _serving import free_port, served

from infercheck.serve._faults import HOSTILE

GOALS = {"post-hang": ("seconds", 30.0), "body-huge": ("peak_mb", 200.0)}


def measure(fault: str | None) -> dict:
    port = free_port()
    with served([sys.executable, "-m", "infercheck", "serve", "--port", str(port),
                 *(["--fault", fault] if fault else [])], port):
        started = time.perf_counter()
        run = subprocess.Popen([sys.executable, "-m", "infercheck", "run", "--base-url",
                                f"http://127.0.0.1:{port}/v1", "--timeout", "3", "--seed", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = run.stdout.read().decode(errors="replace")
        _, status, usage = os.wait4(run.pid, 0)
        seconds = time.perf_counter() - started
    verdict = next((line for line in out.splitlines() if line.startswith("verdict:")), "(no verdict)")
    return {"fault": fault or "(clean)", "seconds": seconds, "peak_mb": usage.ru_maxrss / 1024,
            "exit": os.waitstatus_to_exitcode(status), "verdict": verdict}


def main() -> None:
    faults = sys.argv[1:] or list(HOSTILE)
    rows = [measure(None)] + [measure(f) for f in faults]
    base = rows[0]
    print(f"{'behaviour':22} {'seconds':>8} {'x clean':>8} {'peak MB':>8} {'exit':>5}  goal")
    for row in rows:
        goal = GOALS.get(row["fault"])
        verdict = ""
        if goal:
            key, limit = goal
            verdict = f"{key} <= {limit:g}: {'met' if row[key] <= limit else 'MISSED'}"
        print(f"{row['fault']:22} {row['seconds']:8.1f} {row['seconds'] / base['seconds']:8.2f} "
              f"{row['peak_mb']:8.1f} {row['exit']:5}  {verdict}")


if __name__ == "__main__":
    main()
