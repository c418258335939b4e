"""A progress bar on stderr: redrawn in place on a terminal, a line every 10% otherwise."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self.total = max(1, total)
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.done = 0
        self.errors = 0
        self.stage = ""
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._tty = self.stream.isatty()
        self._last_decile = -1

    def advance(self, n: int = 1, errors: int = 0) -> None:
        with self._lock:
            self.done += n
            self.errors += errors
            self._draw()

    def set_stage(self, stage: str) -> None:
        with self._lock:
            self.stage = stage
            self._draw()

    def _draw(self) -> None:
        fraction = min(1.0, self.done / self.total)
        elapsed = time.monotonic() - self.started
        eta = elapsed / fraction - elapsed if fraction > 0.01 else 0.0
        filled = int(self.width * fraction)
        line = (
            f"{self.label} [{'#' * filled}{'-' * (self.width - filled)}] {fraction:4.0%} "
            f"{self.stage}  ops {self.done}/{self.total}  errors {self.errors}  "
            f"elapsed {_duration(elapsed)}  eta {_duration(eta)}"
        )
        if self._tty:
            self.stream.write("\r" + line + "\033[K")
            self.stream.flush()
            return
        decile = int(fraction * 10)
        if decile != self._last_decile:
            self._last_decile = decile
            self.stream.write(line + "\n")
            self.stream.flush()

    def close(self) -> None:
        with self._lock:
            self._last_decile = -1  # always show the final line
            self._draw()
            if self._tty:
                self.stream.write("\n")
                self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
