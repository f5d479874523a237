"""What the benchmarks share: an endpoint started in a process of its own on a free loopback port, and the reference
endpoint's command."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reference(port: int, *, ttft_ms: float = 0, itl_ms: float = 0) -> list[str]:
    """``infercheck serve`` on ``port``, with that latency injected."""
    return [sys.executable, "-m", "infercheck.cli", "serve", "--port", str(port), "--ttft-ms", str(ttft_ms),
            "--itl-ms", str(itl_ms)]


@contextmanager
def served(command: list[str], port: int) -> Iterator[subprocess.Popen]:
    """``command`` running (it must listen on ``port``), until the block ends; waits up to 20 s for the port."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(400):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"the endpoint exited with status {process.returncode}: {command}")
                time.sleep(0.05)
        else:
            raise RuntimeError(f"nothing listened on port {port} within 20 s: {command}")
        yield process
    finally:
        process.terminate()
        process.wait()
