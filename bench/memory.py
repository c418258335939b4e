"""The peak memory of a command and every process it starts (the sum of their resident sets, sampled).

    python -m bench.memory -- python -m simulator --members 10000 --months 13

`/usr/bin/time -v` reports the largest single process; a run whose workers are processes of their own
needs their sum: this samples /proc every `interval` seconds (Linux) and prints the peak of the tree's
total, the peak of its largest process, and the wall time, after the command's own output.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out.setdefault(int(fields[1]), []).append(int(entry.name))
    return out


def _rss(pid: int) -> int:
    try:
        return int((Path("/proc") / str(pid) / "statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss(root: int) -> tuple[int, int]:
    """(the sum, the largest) of the resident sets of `root` and its descendants, in bytes."""
    children = _children()
    total = largest = 0
    todo = [root]
    while todo:
        pid = todo.pop()
        rss = _rss(pid)
        total += rss
        largest = max(largest, rss)
        todo.extend(children.get(pid, []))
    return total, largest


class TreePeak:
    """Samples a process tree's memory in a thread until stopped."""

    def __init__(self, root: int, interval: float = 0.5) -> None:
        self.root, self.interval = root, interval
        self.peak = self.largest = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            total, largest = tree_rss(self.root)
            self.peak, self.largest = max(self.peak, total), max(self.largest, largest)
            self._stop.wait(self.interval)

    def __enter__(self) -> TreePeak:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def run(command: list[str]) -> tuple[int, float, int, int]:
    """(exit status, seconds, peak of the tree's sum, peak of its largest process) of `command`."""
    status, seconds, total, largest, _ = run_with_cpu(command)
    return status, seconds, total, largest


def run_with_cpu(command: list[str]) -> tuple[int, float, int, int, float]:
    """`run`, and the CPU seconds (user and system) the command and the processes it waited for used: on a
    busy machine, what the command would take alone, times its parallelism."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    process = subprocess.Popen(command)  # noqa: S603 - the command line the caller gave
    with TreePeak(process.pid) as peak:
        status = process.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return status, time.monotonic() - started, peak.peak, peak.largest, cpu


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        print("usage: python -m bench.memory -- <command>", file=sys.stderr)
        return 2
    status, seconds, total, largest, cpu = run_with_cpu(args)
    minutes, rest = divmod(seconds, 60)
    print(
        f"memory: peak {total / 2**20:,.0f} MB over the command's processes (largest one {largest / 2**20:,.0f} MB); "
        f"{int(minutes)} min {rest:.0f} s; {cpu:,.0f} CPU seconds; exit {status}",
        file=sys.stderr,
    )
    return status


if __name__ == "__main__":
    sys.exit(main())
