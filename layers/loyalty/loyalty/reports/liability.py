"""The points liability: what the programme owes its members, by expiry month, in points and money.

Kept by the stream processor as counters (see `loyalty.store.counters`), from the difference between
a member's (or an account pool's) item's old and new image: its expiry buckets, `pending` and `held`.
The holders' buckets are the truth the report must match (the sum over members and pools), and their
images see every way buckets move, including those without a ledger entry of their own (the
`activity_extends` policy moving every bucket, pending points being posted). A holder in debt (negative
balance) has no buckets and owes nothing.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from loyalty.domain.model import NEVER, Holder
from loyalty.kernel.clock import isoformat, utcnow
from loyalty.program.rules import Program
from loyalty.store import counters as store

FAMILY = "LIABILITY"  # the counters' items (loyalty.store.counters)
PENDING = "PENDING"  # counter keys beside the months
HELD = "HELD"


def deltas(old: Holder | None, new: Holder | None) -> dict[str, int]:
    """Counter changes one member write makes: {expiry month | PENDING | HELD: signed points}."""
    out: dict[str, int] = {}
    before = old.buckets if old else {}
    after = new.buckets if new else {}
    for month in set(before) | set(after):
        moved = after.get(month, 0) - before.get(month, 0)
        if moved:
            out[month] = moved
    for name, figure in ((PENDING, "pending"), (HELD, "held")):
        moved = (getattr(new, figure) if new else 0) - (getattr(old, figure) if old else 0)
        if moved:
            out[name] = moved
    return out


def counters(old: Holder | None, new: Holder | None) -> dict[store.Counter, int]:
    """`deltas` as the counters the stream processor adds."""
    return {(FAMILY, name, "points"): points for name, points in deltas(old, new).items()}


def money(points: int, program: Program) -> str:
    return str(Decimal(points) * program.point_value)


def report(counters: dict[str, int], program: Program, now: datetime) -> dict[str, Any]:
    """The liability report from the summed counters."""
    months = sorted((m for m in counters if m not in (PENDING, HELD) and counters[m]), key=lambda m: (m == NEVER, m))
    outstanding = sum(counters[m] for m in months)
    pending = counters.get(PENDING, 0)
    held = counters.get(HELD, 0)
    return {
        "program_id": program.program_id,
        "currency": program.currency,
        "point_value": str(program.point_value),
        "as_of": isoformat(now),
        "outstanding": {"points": outstanding, "value": money(outstanding, program)},
        "by_expiry_month": [{"month": m, "points": counters[m], "value": money(counters[m], program)} for m in months],
        "pending": {"points": pending, "value": money(pending, program)},
        "held": {"points": held, "value": money(held, program)},
    }


def current(program: Program) -> dict[str, Any]:
    """The report from the counters as the stream processor has kept them (seconds behind the table)."""
    summed = {name: figures.get("points", 0) for name, figures in store.totals(FAMILY).items()}
    return report(summed, program, utcnow())
