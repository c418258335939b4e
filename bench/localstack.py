"""The local stack as one client sees it: requests/s and latency on a member's first steps, and whether it
slows down as events pile up. Measured side by side with the local stack of a baseline commit.

The mix is a member's first steps, as the README's walk begins: for each new member, `POST /v1/members` (enrol),
`POST /v1/earn` (an order of 120.00) and `GET /v1/members/{id}` (read): three requests, two domain
events (MemberEnrolled, PointsEarned). One client, one keep-alive connection, one request at a time.

Both stacks are started as `make run` starts one (`python -m loyalty_local --port P`), the baseline's
from its own source tree (`git archive <ref>` into bench/.cache/) with this checkout's interpreter.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.latency import summary
from loyalty_local.template import ROOT

BASELINE_REF = "07bfe4f"  # the last commit before the local stack's speed work (issue 17)
CACHE = Path(tempfile.gettempdir()) / "loyalty-bench"
AUTH = {"Authorization": "Bearer lk_local_checkout", "Content-Type": "application/json"}
EVENTS_PER_ROUND = 2

FULL: dict[str, Any] = {"window_rounds": 100, "windows": 5, "fill_events": 20_000, "baseline_rounds": 100}
QUICK: dict[str, Any] = {"window_rounds": 30, "windows": 3, "fill_events": 2_000, "baseline_rounds": 30}


class StackProcess:
    """`python -m loyalty_local` from `root`, on a free port, with one keep-alive HTTP connection."""

    def __init__(self, root: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        # the source tree's own packages first (this checkout's are installed in the venv, editable)
        env["PYTHONPATH"] = os.pathsep.join([str(root / "layers" / "loyalty"), str(root)])
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        started = time.perf_counter()
        self.proc = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
            [sys.executable, "-m", "loyalty_local", "--port", str(self.port)],
            cwd=root,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)
                raise RuntimeError(f"the local stack in {root} did not start: {self.log.read()[-2000:]!r}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        self.start_seconds = round(time.perf_counter() - started, 2)
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)

    def request(
        self, method: str, path: str, body: Any = None, expect: int = 200, headers: dict[str, str] = AUTH
    ) -> tuple[float, Any]:
        data = json.dumps(body).encode() if body is not None else None
        started = time.perf_counter()
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        raw = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != expect:
            raise RuntimeError(f"{method} {path} answered {response.status}: {raw[:300]!r}")
        return elapsed, raw

    def stop(self) -> None:
        self.conn.close()
        if self.proc.poll() is None:
            self.proc.send_signal(2)  # SIGINT, as Ctrl-C
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Walk:
    """A member's first steps (enrol, earn, read), one new member a round; latencies (ms) kept per operation."""

    def __init__(self, stack: StackProcess, prefix: str) -> None:
        self.stack = stack
        self.prefix = prefix
        self.rounds = 0
        self.ms: dict[str, list[float]] = {"enrol": [], "earn": [], "read": []}

    def run(self, rounds: int) -> float:
        """Play `rounds` rounds; returns requests per second over them."""
        started = time.perf_counter()
        for _ in range(rounds):
            member = f"{self.prefix}-{self.rounds}"
            self.rounds += 1
            enrol = {"member_id": member, "channel": "web"}
            earn = {"member_id": member, "order_id": f"{member}-o1", "amount": "120.00", "currency": "USD"}
            self.ms["enrol"].append(self.stack.request("POST", "/v1/members", enrol, expect=201)[0])
            self.ms["earn"].append(self.stack.request("POST", "/v1/earn", earn, expect=201)[0])
            self.ms["read"].append(self.stack.request("GET", f"/v1/members/{member}")[0])
        return 3 * rounds / (time.perf_counter() - started)

    def windows(self, count: int, rounds: int) -> dict[str, Any]:
        """`count` windows of `rounds` rounds; the median window's requests/s and each window's."""
        rates = [self.run(rounds) for _ in range(count)]
        return {"requests_per_s": round(statistics.median(rates), 1), "windows": [round(r, 1) for r in rates]}

    def latency(self) -> dict[str, Any]:
        every = [ms for series in self.ms.values() for ms in series]
        return {"all": summary(every), **{op: summary(series) for op, series in self.ms.items()}}


def time_events(stack: StackProcess, query: str = "", repeat: int = 3) -> dict[str, Any]:
    """`GET /_local/events[?query]`: the median of `repeat` answers (ms) and how many events it listed."""
    times, count = [], 0
    for _ in range(repeat):
        elapsed, raw = stack.request("GET", "/_local/events" + (f"?{query}" if query else ""))
        times.append(elapsed)
        count = len(json.loads(raw)["events"])
    return {"ms": round(statistics.median(times), 1), "events": count}


def baseline_tree(ref: str) -> Path:
    """The baseline's source tree, exported once with `git archive` (no worktree, no change to .git),
    outside this checkout so that the linters and the tests never see it."""
    target = CACHE / f"baseline-{ref}"
    if (target / "loyalty_local").is_dir():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = CACHE / f"baseline-{ref}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    archive = CACHE / f"baseline-{ref}.tar"
    with open(archive, "wb") as out:
        subprocess.run(["git", "archive", "--format=tar", ref], cwd=ROOT, stdout=out, check=True)  # noqa: S603, S607
    with tarfile.open(archive) as tar:
        tar.extractall(partial, filter="data")
    archive.unlink()
    partial.rename(target)
    return target


def measure_baseline(ref: str, settings: dict[str, Any]) -> dict[str, Any]:
    stack = StackProcess(baseline_tree(ref))
    try:
        walk = Walk(stack, "bench-base")
        walk.run(5)  # warm: every function's first request
        walk.ms = {k: [] for k in walk.ms}
        rate = walk.run(settings["baseline_rounds"])
        events = time_events(stack, repeat=1)
        return {
            "ref": ref,
            "start_s": stack.start_seconds,
            "rounds": settings["baseline_rounds"],
            "requests_per_s": round(rate, 1),
            "latency_ms": walk.latency(),
            "events_get": events,
        }
    finally:
        stack.stop()


def measure_current(settings: dict[str, Any], log: Any = None) -> dict[str, Any]:
    stack = StackProcess(ROOT)
    try:
        walk = Walk(stack, "bench")
        walk.run(5)
        walk.ms = {k: [] for k in walk.ms}
        first = walk.windows(settings["windows"], settings["window_rounds"])
        latency_first = walk.latency()
        published = time_events(stack, repeat=1)["events"]
        fill_started = time.perf_counter()
        fill_rounds = 0
        while published < settings["fill_events"]:
            missing = settings["fill_events"] - published
            rounds = max(1, min(2_000, -(-missing // EVENTS_PER_ROUND)))
            walk.run(rounds)
            fill_rounds += rounds
            published = time_events(stack, repeat=1)["events"]
            if log:
                log(f"  local stack: {published:,} events")
        fill_seconds = time.perf_counter() - fill_started
        walk.ms = {k: [] for k in walk.ms}
        after = walk.windows(settings["windows"], settings["window_rounds"])
        return {
            "start_s": stack.start_seconds,
            "first_events": {**first, "events_before": 0, "latency_ms": latency_first},
            "fill": {"rounds": fill_rounds, "requests_per_s": round(3 * fill_rounds / fill_seconds, 1)},
            "after_events": {**after, "events_before": published, "latency_ms": walk.latency()},
            "events_get": {
                "all": time_events(stack),
                "detail_type=MemberEnrolled": time_events(stack, "detail_type=MemberEnrolled"),
                "detail_type=TierChanged": time_events(stack, "detail_type=TierChanged"),
            },
        }
    finally:
        stack.stop()


def measure(quick: bool, baseline: str | None = BASELINE_REF, log: Any = None) -> dict[str, Any]:
    settings = QUICK if quick else FULL
    out: dict[str, Any] = {"mix": "enrol + earn 120.00 + read, one new member a round", "settings": settings}
    if baseline:
        out["baseline"] = measure_baseline(baseline, settings)
    out["current"] = current = measure_current(settings, log)
    first = current["first_events"]["requests_per_s"]
    out["after_vs_first"] = round(current["after_events"]["requests_per_s"] / first, 3)
    if baseline:
        out["speedup"] = round(first / out["baseline"]["requests_per_s"], 1)
    return out


BUDGETS = {"speedup": 10.0, "after_vs_first": 0.9, "events_get_ms": 1000.0}


def broken_budgets(results: dict[str, Any]) -> list[str]:
    local = results.get("local_stack") or {}
    if not local:
        return []
    broken = []
    if "speedup" in local and local["speedup"] < BUDGETS["speedup"]:
        broken.append(f"local stack: one client is {local['speedup']}× the baseline, budget ≥ {BUDGETS['speedup']}×")
    if local["after_vs_first"] < BUDGETS["after_vs_first"]:
        broken.append(
            f"local stack: throughput after the events is {local['after_vs_first']} of the first, "
            f"budget ≥ {BUDGETS['after_vs_first']}"
        )
    slowest = max(v["ms"] for v in local["current"]["events_get"].values())
    if slowest >= BUDGETS["events_get_ms"]:
        broken.append(f"local stack: GET /_local/events took {slowest} ms, budget < {BUDGETS['events_get_ms']:g} ms")
    return broken
