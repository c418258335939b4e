"""The monthly jobs at scale: items read and written, round trips and units, for N members of which 10%
are affected (points expiring for the expiry run, a tier to lose for the tier evaluation).

Each size gets a fresh moto with only its members in the table (written with BatchWriteItem from
`member_to_item`, as the jobs' own tests seed them). A run is what the local stack does for
`POST /_local/jobs/{job}`: the orchestrator (schedule event from events/), then the job's SQS work queue
drained into its worker (batches of the template's BatchSize, partial failures honoured), then the
summary, all through tests.support.jobs. Everything the product does through its DynamoDB client in
that time is metered (bench.meter), every invocation included.

Members (period P = the month of AS_OF, enrolled long before, 100 points each), `every` = 10 for 10%:
- i % every == 0: points that expired at the end of P−2 (the expiry run takes them);
- i % every == every // 2: Silver with no qualifying value (the evaluation downgrades them);
- the others: Red, points expiring at the end of P+6 (in the expiry index, not due).

A control run keeps the affected members of the smaller size and puts them in the larger table (1% of
it), expiry only: if the expiry's reads and writes follow the affected members and not the table, its
figures match the smaller size's. (The tier evaluation has to look at every member: it walks the table.)
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from loyalty.jobs import registry

from bench import world
from bench.capacity import usd_per_million
from bench.meter import Meter

AS_OF = "2026-03-01"
NOW = datetime(2026, 3, 1, 0, 5, tzinfo=UTC)
EXPIRED_MONTH = "2026-01"
LATER_MONTH = "2026-09"
JOB_FIGURES = {  # of each monthly job's summary (loyalty.jobs.registry), the figures the bench checks
    registry.TIER_EVALUATION.name: ("members_evaluated", "downgraded"),
    registry.EXPIRY.name: ("members_affected", "points_expired"),
}


def seed(count: int, every: int = 10) -> int:
    """Write `count` members; answer how many are affected (per job)."""
    from tests.support import jobs

    members = []
    affected = 0
    for i in range(count):
        member_id = f"m{i:06d}"
        if i % every == 0:
            affected += 1
            members.append(jobs.member(member_id, buckets={EXPIRED_MONTH: 100}))
        elif i % every == every // 2:
            members.append(jobs.member(member_id, buckets={LATER_MONTH: 100}, tier_id="silver"))
        else:
            members.append(jobs.member(member_id, buckets={LATER_MONTH: 100}))
    jobs.write_members(members)
    return affected


def batch_size(job: str) -> int:
    from tests.support.aws import TEMPLATE
    from tests.support.jobs import JOBS

    sources = TEMPLATE.functions()[JOBS[job][2]].sqs_sources
    return int(sources[0].get("BatchSize", 10)) if sources else 10


def run_job(job: str, meter: Meter, affected: int) -> dict[str, Any]:
    from tests.support import jobs

    with meter.measure(detail=False) as usage:
        started = time.perf_counter()
        summary = jobs.run(job, AS_OF, batch_size=batch_size(job))
        seconds = time.perf_counter() - started
    by_call: dict[str, int] = {}
    for name in usage.calls:
        by_call[name] = by_call.get(name, 0) + 1
    write = usage.total_write_units
    return {
        "summary": summary,
        "round_trips": len(usage.calls),
        "calls": dict(sorted(by_call.items())),
        "other_aws_calls": len(usage.other_calls),
        "items_read": usage.items_read,
        "items_written": dict(sorted(usage.items_written.items())),
        "items_read_per_affected": round(usage.items_read / affected, 2) if affected else None,
        "items_written_per_affected": round(sum(usage.items_written.values()) / affected, 2) if affected else None,
        "read_units": usage.read_units,
        "write_units": write,
        "index_write_units": dict(sorted(usage.index_write_units.items())),
        "usd_per_run": str(usd_per_million(write, usage.read_units) / 1_000_000),
        "seconds_in_moto": round(seconds, 1),
    }


def measure_size(count: int, every: int = 10, jobs: tuple[str, ...] = tuple(JOB_FIGURES)) -> dict[str, Any]:
    from loyalty.kernel.clock import CLOCK

    from bench.operations import meter as make_meter

    with world.moto_world():
        CLOCK.set(NOW)
        started = time.perf_counter()
        affected = seed(count, every)
        seeded = time.perf_counter() - started
        meter = make_meter()
        meter.install()
        try:
            out: dict[str, Any] = {"members": count, "affected": affected, "seed_seconds": round(seeded, 1)}
            for job in jobs:
                meter.hook_other_clients()
                out[job] = run_job(job, meter, affected)
        finally:
            meter.uninstall()
    return out


def check(result: dict[str, Any]) -> list[str]:
    """What the summaries must say for the figures to mean anything."""
    problems = []
    count, affected = result["members"], result["affected"]
    tiers = (result.get("tier-evaluation") or {}).get("summary", {"members_evaluated": count, "downgraded": affected})
    if tiers.get("members_evaluated") != count or tiers.get("downgraded") != affected:
        problems.append(
            f"tier evaluation of {count}: summary {tiers}, expected {count} evaluated, {affected} downgraded"
        )
    expiry = result["expiry"]["summary"]
    if expiry.get("members_affected") != affected or expiry.get("points_expired") != affected * 100:
        problems.append(f"expiry of {count}: summary {expiry}, expected {affected} affected, {affected * 100} points")
    return problems


def measure(sizes: list[int]) -> dict[str, Any]:
    results = [measure_size(n) for n in sizes]
    out: dict[str, Any] = {"as_of": AS_OF, "sizes": results}
    if len(results) >= 2:
        small, large = results[0], results[-1]
        growth: dict[str, Any] = {"members": large["members"] / small["members"]}
        for job in JOB_FIGURES:
            for figure in ("items_read", "round_trips", "read_units", "write_units"):
                a, b = small[job][figure], large[job][figure]
                growth[f"{job}.{figure}"] = round(b / a, 2) if a else None
        out["growth"] = growth
        # the control: the small size's affected members in the large table, expiry only
        control = measure_size(large["members"], every=large["members"] // small["affected"], jobs=("expiry",))
        out["control"] = control
        out["control_vs_small"] = {
            f"expiry.{figure}": round(control["expiry"][figure] / small["expiry"][figure], 2)
            for figure in ("items_read", "round_trips", "read_units", "write_units")
            if small["expiry"][figure]
        }
        results = [*results, control]
    out["problems"] = [p for r in results for p in check(r)]
    return out
