"""The what-if replay by group size: members per second per core and peak memory, per `--group-members`.

A year of `members` simulated members (`python -m simulator`, made once per size and seed, kept in
bench/.cache), then `python -m loyalty_local.whatif` over it under the demo and a candidate (silver at
1,800), once per group size (0: the unsharded replay, one engine per programme), each run measured from
outside (bench.memory: the sum of the resident sets of the command and its workers, sampled) and from
inside (the what-if's own line: a worker's peak, the seconds of the replay). Each run's reconciliation
must pass: a figure of a replay that does not reproduce its table would lie.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import memory

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache"


def _history(members: int, log: Any) -> Path:
    out = CACHE / f"replay-{members}"
    found = sorted(out.glob("demo-*-history.jsonl.gz"))
    if found:
        return found[-1]
    log(f"  simulating {members} members for the replay's history (once, kept in {out})")
    command = [sys.executable, "-m", "simulator", "--members", str(members), "--months", "13", "--out", str(out)]
    subprocess.run([*command, "--no-chart"], cwd=ROOT, check=True, capture_output=True, env=_env())  # noqa: S603
    (history,) = out.glob("demo-*-history.jsonl.gz")
    return history


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "SIM_URL"}


def measure(members: int, groups: list[int], log: Any) -> dict[str, Any]:
    history = _history(members, log)
    workers = os.cpu_count() or 1
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        candidate = Path(scratch) / "candidate.yaml"
        demo = (ROOT / "programs" / "demo.yaml").read_text(encoding="utf-8")
        candidate.write_text(
            demo.replace("threshold: 1000", "threshold: 1800").replace("program_id: demo", "program_id: c")
        )
        for size in groups:
            log(f"  what-if over {members} members, groups of up to {size or 'all'}")
            out = Path(scratch) / f"out-{size}"
            command = [sys.executable, "-m", "loyalty_local.whatif", "--no-chart", "--program", str(candidate)]
            command += ["--history", str(history), "--out", str(out), "--group-members", str(size)]
            command += ["--workers", str(workers)]
            with open(Path(scratch) / "stderr", "w+") as said, open(os.devnull, "w") as quiet:
                process = subprocess.Popen(command, cwd=ROOT, stdout=quiet, stderr=said, env=_env())  # noqa: S603
                with memory.TreePeak(process.pid) as peak:
                    status = process.wait()
                said.seek(0)
                text = said.read()
            line = re.search(
                r"in (\d+) s on \d+ workers: ([\d.]+) members/s per core; a worker's peak memory (\d+) MB", text
            )
            shards = re.search(r"in (\d+) shards", text)
            summary = json.loads(next(out.glob("*.json")).read_text()) if status in (0, 1) else {}
            rows.append(
                {
                    "group_members": size,
                    "shards": int(shards[1]) if shards else None,
                    "seconds": int(line[1]) if line else None,
                    "members_per_s_per_core": float(line[2]) if line else None,
                    "worker_peak_mb": int(line[3]) if line else None,
                    "total_peak_mb": round(peak.peak / 2**20),
                    "reconciled": bool(summary.get("reconciliation", {}).get("equal")),
                    "exit": status,
                }
            )
    problems = [f"the what-if in groups of {r['group_members']} did not reconcile" for r in rows if not r["reconciled"]]
    return {"members": members, "workers": workers, "history": history.name, "runs": rows, "problems": problems}


def render(results: dict[str, Any]) -> str:
    data = results["replay"]
    rows = [
        [
            str(r["group_members"] or "all (unsharded)"),
            str(r["shards"]),
            str(r["seconds"]),
            str(r["members_per_s_per_core"]),
            str(r["worker_peak_mb"]),
            str(r["total_peak_mb"]),
            "yes" if r["reconciled"] else "NO",
        ]
        for r in data["runs"]
    ]
    from bench.report import _table

    head = [
        "group members",
        "shards",
        "replay s",
        "members/s per core",
        "worker peak MB",
        "total peak MB",
        "reconciled",
    ]
    return (
        f"{data['members']} simulated members, a year, replayed under the demo and a candidate on "
        f"{data['workers']} workers:\n\n" + _table(head, rows)
    )
