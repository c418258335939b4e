"""Latency of earn, redeem and member read through the handlers in process, next to a bare PutItem.

All against the same in-process moto in the same run, interleaved (one of each per round) so that the
machine's load weighs on every series alike. The figure that travels is the ratio: what the handler
(Powertools, pydantic, the domain, its DynamoDB calls) costs relative to one emulator round trip.
In-process moto is no stand-in for DynamoDB's network latency: absolute milliseconds say nothing
about production.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from bench import world

MEMBERS = 20


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50": round(percentile(samples, 50), 3),
        "p95": round(percentile(samples, 95), 3),
        "p99": round(percentile(samples, 99), 3),
        "mean": round(statistics.fmean(samples), 3),
    }


def measure(rounds: int) -> dict[str, Any]:
    from loyalty.store import core

    members = [f"lat-{i}" for i in range(MEMBERS)]
    for member in members:
        world.enroll(member)
        world.earn(member, f"{member}-seed", amount="50000.00")  # enough points for every redemption
    table = core.table_name()
    client = core.client("dynamodb")

    def bare_put(i: int) -> None:
        # an item shaped like a ledger entry, written the way the product writes (no condition)
        client.put_item(
            TableName=table,
            Item={
                "PK": {"S": f"BENCH#{i}"},
                "SK": {"S": "ENTRY"},
                "member_id": {"S": members[i % MEMBERS]},
                "points": {"N": "120"},
                "reference": {"S": f"order-{i}"},
            },
        )

    series: dict[str, Callable[[int], Any]] = {
        "earn": lambda i: world.earn(members[i % MEMBERS], f"lat-order-{i}"),
        "redeem": lambda i: world.pay_with_points(members[i % MEMBERS], f"lat-pwp-{i}"),
        "partner_redeem": lambda i: world.partner_redeem(members[i % MEMBERS], f"lat-red-{i}"),
        "member_read": lambda i: world.read_member(members[i % MEMBERS]),
        "bare_put_item": bare_put,
    }
    warmup = 5
    samples: dict[str, list[float]] = {name: [] for name in series}
    for i in range(-warmup, rounds):
        for name, step in series.items():
            started = time.perf_counter()
            step(i + warmup * 1000 if i < 0 else i)
            elapsed = (time.perf_counter() - started) * 1000
            if i >= 0:
                samples[name].append(elapsed)
    out: dict[str, Any] = {name: summary(values) for name, values in samples.items()}
    base = out["bare_put_item"]["p50"]
    for name in series:
        if name != "bare_put_item":
            out[name]["ratio_p50_to_bare_put_item"] = round(out[name]["p50"] / base, 1) if base else None
    out["rounds"] = rounds
    return out
