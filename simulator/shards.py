"""The simulated year, group of members by group of members: memory set by the largest group, both cores.

The synthetic members share nothing but referrals (a referrer's bonus comes with its referred member's
first order): the members a referral ties replay together, and the plan's groups are packed into shards
of up to `group_members` members. Each shard's year runs in a worker process of its own, through the
engine (`loyalty_local.engine`), which the process's end throws away; it answers with its figures and
leaves its history in a file. The figures are then summed month by month (each month's snapshot is the
sum of its shards' snapshots) and the histories joined into one export, each monthly job run recorded
once with its shards' counts summed, as one run over the whole table records them.

A programme with a stocked reward runs in one shard: its members draw on one stock.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import resource
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loyalty.program.rules import Program

from simulator.plan import Plan
from simulator.run import Result, Simulation, Snapshot


@dataclass(frozen=True)
class Shard:
    index: int
    program: str  # the programme file
    members: int
    months: int
    start: str
    seed: int
    tag: str
    member_ids: tuple[str, ...]
    history: str  # where the shard's history goes
    secrets: tuple[tuple[str, str], ...]


def groups(plan: Plan) -> list[list[str]]:
    """The plan's members tied by referrals, each group in the plan's order of members."""
    root: dict[str, str] = {}

    def find(member_id: str) -> str:
        while root.setdefault(member_id, member_id) != member_id:
            root[member_id] = root[root[member_id]]
            member_id = root[member_id]
        return member_id

    for person in plan.members:
        find(person.member_id)
        if person.referred_by:
            a, b = find(person.member_id), find(person.referred_by)
            if a != b:
                root[max(a, b)] = min(a, b)
    out: dict[str, list[str]] = {}
    for person in plan.members:
        out.setdefault(find(person.member_id), []).append(person.member_id)
    return list(out.values())


def pack(tied: list[list[str]], group_members: int) -> list[list[str]]:
    """Groups whole, in order, up to `group_members` members a shard (0: one shard)."""
    shards: list[list[str]] = []
    for members in tied:
        if not shards or (group_members and shards[-1] and len(shards[-1]) + len(members) > group_members):
            shards.append([])
        shards[-1].extend(members)
    return shards or [[]]


def year_of(shard: Shard) -> dict[str, Any]:
    """One shard's year, in a process of its own: its figures, and its history written to `shard.history`."""
    import warnings

    from loyalty.program.rules import load_program_file

    from simulator import plan, stack

    warnings.simplefilter("ignore")  # Powertools' warnings about empty metric sets: the stack's
    started = time.monotonic()
    program = load_program_file(Path(shard.program))
    secrets = dict(shard.secrets)
    profile = plan.Profile.of(program, secrets)
    ids = set(shard.member_ids)
    mine = plan.make_plan(
        program,
        profile,
        members=shard.members,
        months=shard.months,
        start=shard.start,
        seed=shard.seed,
        tag=shard.tag,
        keep=ids.__contains__,  # the shard's members' tasks only: a worker's plan is its shard's
    )
    mine = Plan(mine.months, [m for m in mine.members if m.member_id in ids], mine.steps)
    document = Path(shard.program).read_text(encoding="utf-8")
    with open(os.devnull, "w") as quiet, contextlib.redirect_stderr(quiet), stack.in_process(document) as client:
        result = Simulation(client, program, mine, secrets, threads=1).run()
        stack.save_history(client, Path(shard.history))
    return {
        "index": shard.index,
        "members": len(mine.members),
        "snapshots": [vars(s) for s in result.snapshots],
        "jobs": result.jobs,
        "counts": dict(result.counts),
        "refused": dict(result.refused),
        "errors": result.errors,
        "earned_seen": result.earned_seen,
        "redeemed_seen": result.redeemed_seen,
        "final": result.final,
        "ledger_mismatches": result.ledger_mismatches,
        "seconds": round(time.monotonic() - started, 1),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def add(result: Result, answer: dict[str, Any]) -> None:
    """A shard's figures into the whole's: each month's snapshot summed, the rest added up."""
    by_month = {s.month: s for s in result.snapshots}
    for figures in answer["snapshots"]:
        mine = by_month.get(figures["month"])
        if mine is None:
            by_month[figures["month"]] = Snapshot(**{**figures, "tiers": dict(figures["tiers"])})
            continue
        tiers = Counter(mine.tiers)
        tiers.update(figures["tiers"])
        mine.tiers = dict(tiers)
        for name in ("members", "earned", "redeemed", "expired", "available", "pending"):
            setattr(mine, name, getattr(mine, name) + figures[name])
    result.snapshots = [by_month[m] for m in sorted(by_month)]  # in time order
    result.jobs.extend(answer["jobs"])
    result.counts.update(answer["counts"])
    result.refused.update(answer["refused"])
    result.errors.extend(answer["errors"])
    result.earned_seen += answer["earned_seen"]
    result.redeemed_seen += answer["redeemed_seen"]
    result.final.update(answer["final"])
    result.ledger_mismatches.extend(answer["ledger_mismatches"])


def join_histories(parts: list[Path], path: Path) -> int:
    """The shards' histories as one export (gzipped for .gz): the programme line once, every item, and each
    job run once (the first shard's record of it, its summary's counts summed over the shards). Returns
    its lines."""
    runs: dict[tuple[str, str], dict[str, Any]] = {}
    order: list[tuple[str, str]] = []
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if path.suffix == ".gz" else open
    lines = 0
    with opener(path, "wt", encoding="utf-8") as out:
        for i, part in enumerate(parts):
            with part.open(encoding="utf-8") as records:
                for line in records:
                    record = json.loads(line)
                    item = record.get("Item")
                    if item is None:
                        if i == 0:
                            out.write(line)
                            lines += 1
                        continue
                    if item.get("PK", {}).get("S") != "JOBRUNS":
                        out.write(line)
                        lines += 1
                        continue
                    key = (item["job"]["S"], item.get("as_of", {}).get("S", item["SK"]["S"]))
                    kept = runs.get(key)
                    if kept is None:
                        runs[key] = item
                        order.append(key)
                        continue
                    summary = kept.get("summary", {}).get("M", {})
                    for name, value in item.get("summary", {}).get("M", {}).items():
                        if "N" in value and "N" in summary.get(name, {}):
                            summary[name] = {"N": str(int(summary[name]["N"]) + int(value["N"]))}
        for key in order:
            out.write(json.dumps({"Item": runs[key]}, separators=(",", ":")) + "\n")
            lines += 1
    return lines


def simulate(
    program_file: Path,
    program: Program,
    year: Plan,
    *,
    seed: int,
    tag: str,
    start: str,
    secrets: dict[str, str],
    history: Path,
    group_members: int,
    workers: int,
) -> tuple[Result, list[tuple[int, int]], float]:
    """The year in shards on `workers` processes, with a progress bar over members: the summed result,
    (members, peak MB) of each shard's worker, and the seconds it took."""
    from loyalty_local import workers as engine_workers
    from loyalty_local.progress import Progress

    if any(r.stock is not None for r in program.rewards):
        group_members = 0  # one stock: one shard
    shards = pack(groups(year), group_members)
    scratch = Path(tempfile.mkdtemp(prefix="simulate-"))
    tasks = [
        Shard(
            i,
            str(program_file),
            len(year.members),
            len(year.months),
            start,
            seed,
            tag,
            tuple(ids),
            str(scratch / f"shard-{i:05d}.jsonl"),
            tuple(sorted(secrets.items())),
        )
        for i, ids in enumerate(shards)
    ]
    result = Result(program, year)
    peaks: list[tuple[int, int]] = []
    progress = Progress(len(year.members), f"simulate {program.program_id} ({len(shards)} shards, {workers} workers)")
    started = time.monotonic()
    try:
        with engine_workers.pool(workers) as processes:
            for answer in processes.imap_unordered(year_of, tasks):
                add(result, answer)
                peaks.append((answer["members"], answer["peak_mb"]))
                progress.advance(answer["members"], errors=len(answer["errors"]))
        progress.close()
        join_histories([Path(t.history) for t in tasks], history)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return result, peaks, round(time.monotonic() - started, 1)
