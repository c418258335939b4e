"""Bringing a programme here (issue 26, contract v1.2 "Import"): `python -m bench.run --only migration`.

- validation: a JSONL file of `rows` members (two identifiers and two balances each, one row in a thousand broken,
  one in a thousand a duplicate) checked by the validator the worker runs (`loyalty.imports.validation`), in this
  process against the emulator's empty table (each row's member id and identifiers asked of it, a hundred keys a
  BatchGetItem): rows per second, and the process's memory growth at its peak (resident set, sampled every 20 ms).
- apply: `apply_rows` members imported over HTTP on a local stack (`python -m loyalty_local`): the file PUT to the
  upload URL, validated, applied; the seconds of each phase, then until the stream processor has published every
  MemberImported (the outbox caught up); and afterwards `reconcile` (every member against its ledger).

Budgets (bench/README.md): validation at least 20,000 rows/s with less than 300 MB of growth at 1,000,000 rows;
the apply of 20,000 rows within 120 s.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench import memory

# `emulator_rows`: the same validation with the table's answers from the emulator (one lock, no parallel calls)
FULL: dict[str, Any] = {"rows": 1_000_000, "emulator_rows": 100_000, "apply_rows": 20_000}
QUICK: dict[str, Any] = {"rows": 20_000, "emulator_rows": 5_000, "apply_rows": 1_000}
BROKEN_EVERY = 1000


def write_file(path: Path, rows: int, prefix: str = "mig") -> int:
    """The bench's file: returns the rows written that are valid."""
    valid = 0
    with path.open("w", encoding="utf-8") as out:
        for i in range(rows):
            if i % BROKEN_EVERY == 999:
                out.write('{"member_id": "broken", \n')
                continue
            number = i - 1 if i % BROKEN_EVERY == 500 else i  # a duplicate of the row before it
            row = {
                "member_id": f"{prefix}-{number:07d}",
                "email": f"{prefix}.{number}@example.com",
                "phone": f"+1415{number:07d}",
                "enrolled_at": "2024-05-01T10:00:00Z",
                "tier": {"id": "silver"},
                "qualifying": [{"month": "2026-11", "value": 400}],
                "balances": [{"points": 100 + i % 50, "expires": "2027-06"}, {"points": 20, "expires": None}],
            }
            out.write(json.dumps(row) + "\n")
            valid += 1
    return valid - 2 * (rows // BROKEN_EVERY)  # each duplicate rejects both rows of its pair


def _rss() -> int:
    return memory._rss(os.getpid())


class Peak:
    def __init__(self) -> None:
        self.start = _rss()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak, _rss()) - self.start


def validation(rows: int, log: Any, *, emulator: bool = True) -> dict[str, Any]:
    """`emulator`: the table's answers from the emulator (BatchGetItem, a hundred keys a call, as deployed); else
    from a set in this process (an empty programme), which measures the validator alone: reading, parsing,
    checking, the duplicates and the plan."""
    from datetime import UTC, datetime

    from loyalty.imports.validation import Validator
    from loyalty.program.rules import current_program
    from loyalty.store import imports as store

    from tests.support.aws import mocked_aws

    with tempfile.TemporaryDirectory() as tmp, mocked_aws():
        path = Path(tmp) / "members.jsonl"
        expected_valid = write_file(path, rows)
        size = path.stat().st_size
        log(f"  validating {rows:,} rows ({size / 1e6:.0f} MB)...")
        written: list[int] = []

        def read() -> Any:
            with path.open("rb") as f:
                while piece := f.read(1 << 20):
                    yield piece

        program = current_program()
        validator = Validator(
            "jsonl",
            program,
            datetime(2026, 12, 7, 12, tzinfo=UTC),
            taken=store.taken if emulator else _nothing_taken,  # type: ignore[arg-type]
            put_errors=lambda errors: written.append(len(errors)),
        )
        peak = Peak()
        started = time.perf_counter()
        summary = validator.run(read(), read)
        seconds = time.perf_counter() - started
        growth = peak.stop()
    assert summary.valid == expected_valid, (summary.valid, expected_valid)
    return {
        "rows": rows,
        "table": "emulator" if emulator else "in process (empty programme)",
        "file_mb": round(size / 1e6, 1),
        "seconds": round(seconds, 1),
        "rows_per_second": round(rows / seconds),
        "memory_growth_mb": round(growth / 1e6, 1),
        "valid": summary.valid,
        "rejected": summary.rejected,
        "errors_written": sum(written),
        "chunks": len(summary.chunks),
    }


def _nothing_taken(member_ids: list[str], identifiers: list[tuple[str, str]]) -> tuple[set[str], set[tuple[str, str]]]:
    return set(), set()


def apply(rows: int, log: Any) -> dict[str, Any]:
    from bench.localstack import StackProcess
    from loyalty_local.template import ROOT

    stack = StackProcess(ROOT)
    phases: dict[str, float] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "members.jsonl"
            valid = write_file(path, rows, prefix=f"ap{int(time.time()) % 100000}")
            started = time.perf_counter()
            _, raw = _call(stack, "POST", "/v1/imports", {"import_id": "bench", "format": "jsonl"}, expect=201)
            url = json.loads(raw)["upload"]["url"]
            with path.open("rb") as f:
                request = urllib.request.Request(  # noqa: S310 - the local stack's URL
                    url, data=f, method="PUT", headers={"Content-Length": str(path.stat().st_size)}
                )
                with urllib.request.urlopen(request, timeout=600) as answer:  # noqa: S310
                    assert answer.status == 200
            phases["upload"] = time.perf_counter() - started
            mark = time.perf_counter()
            _call(stack, "POST", "/v1/imports/bench/validate", expect=202)
            _wait(stack, "validated")
            phases["validate"] = time.perf_counter() - mark
            mark = time.perf_counter()
            _call(stack, "POST", "/v1/imports/bench/apply", expect=202)
            done = _wait(stack, "applied", log=log)
            phases["apply"] = time.perf_counter() - mark
            mark = time.perf_counter()
            while True:  # the outbox caught up: every imported member's event on the bus
                _, raw = _call(stack, "GET", "/_local/events?detail_type=MemberImported")
                if len(json.loads(raw)["events"]) >= valid:
                    break
                time.sleep(1)
            phases["events"] = time.perf_counter() - mark
            total = time.perf_counter() - started
        assert done["rows"]["applied"] == valid, done
        reconcile = _reconcile(stack.port)
    finally:
        stack.stop()
    return {
        "rows": rows,
        "applied": done["rows"]["applied"],
        "rejected": done["rows"]["rejected"],
        "points": done["points"]["total"],
        "phases_seconds": {k: round(v, 1) for k, v in phases.items()},
        "upload_to_applied_seconds": round(phases["upload"] + phases["validate"] + phases["apply"], 1),
        "total_seconds": round(total, 1),
        "reconcile": reconcile,
    }


ADMIN = {"Authorization": "Bearer lk_local_admin", "Content-Type": "application/json"}


def _call(stack: Any, method: str, path: str, body: Any = None, expect: int = 200) -> tuple[float, bytes]:
    """A request with the admin key (the imports' routes need it)."""
    elapsed, raw = stack.request(method, path, body, expect, headers=ADMIN)
    return float(elapsed), bytes(raw)


def _wait(stack: Any, status: str, log: Any = None) -> dict[str, Any]:
    last = -1
    while True:
        _, raw = _call(stack, "GET", "/v1/imports/bench")
        found = json.loads(raw)
        if found["status"] == status:
            return dict(found)
        if found["status"] == "failed":
            raise RuntimeError(f"the import failed: {found}")
        progress = found["rows"]["applied"] + found["rows"]["skipped"]
        if log is not None and progress // 5000 != last // 5000:
            log(f"  applied {progress:,} of {found['rows']['valid']:,}")
        last = progress
        time.sleep(0.5)


def _reconcile(port: int) -> str:
    import subprocess
    import sys

    done = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "loyalty", "reconcile", "--local", f"http://127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()[-300:]


def measure(quick: bool, log: Any = None) -> dict[str, Any]:
    log = log or (lambda _: None)
    settings = QUICK if quick else FULL
    rows = int(settings["rows"])
    return {
        "validations": [
            validation(rows, log, emulator=False),
            validation(int(settings["emulator_rows"]), log, emulator=True),
        ],
        "apply": apply(int(settings["apply_rows"]), log),
    }


def broken_budgets(results: dict[str, Any]) -> list[str]:
    out = []
    v, a = results["validations"][0], results["apply"]
    if v["rows"] >= 1_000_000:
        if v["rows_per_second"] < 20_000:
            out.append(f"migration: validation at {v['rows_per_second']} rows/s (budget 20,000)")
        if v["memory_growth_mb"] >= 300:
            out.append(f"migration: validation grew {v['memory_growth_mb']} MB (budget 300)")
    if a["rows"] >= 20_000 and a["upload_to_applied_seconds"] > 120:
        out.append(f"migration: {a['rows']} rows applied in {a['upload_to_applied_seconds']} s (budget 120)")
    if "0 differences" not in a["reconcile"]:
        out.append(f"migration: reconcile after the apply: {a['reconcile']}")
    return out
