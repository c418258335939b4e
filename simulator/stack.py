"""The API to simulate against: the local stack at SIM_URL, or one started for the run."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from simulator.client import Client


class StackError(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def local_stack(program: Path, *, log_path: Path | None = None, startup_seconds: float = 90) -> Iterator[Client]:
    """`python -m loyalty_local --program <program>` on a free port, stopped (Ctrl-C) on the way out.

    Its output goes to `log_path` (or nowhere once the run ends)."""
    port = _free_port()
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
    opened = open(log_path, "w+b") if log_path is not None else tempfile.TemporaryFile()  # noqa: SIM115
    with opened as log:
        proc = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
            [sys.executable, "-m", "loyalty_local", "--port", str(port), "--program", str(program)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            deadline = time.monotonic() + startup_seconds
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise StackError(f"the local stack exited:\n{log.read().decode(errors='replace')[-3000:]}")
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise StackError(f"the local stack did not start in {startup_seconds:.0f} s") from None
                    time.sleep(0.1)
            yield Client(f"http://127.0.0.1:{port}")
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@contextlib.contextmanager
def existing_stack(url: str) -> Iterator[Client]:
    """A running local stack (SIM_URL): its clock returns to real time when the run ends."""
    client = Client(url)
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.set_clock(None)
