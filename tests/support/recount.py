"""What the stream's report counters must say, recounted from the members and the ledger (scans: tests only)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from loyalty.kernel.months import month_of
from loyalty.store import codecs, core
from loyalty.store import members as member_store

FIGURES = ("enrolled", "earned", "redeemed", "expired", "adjusted")


def tiers() -> dict[str, int]:
    """Members per tier, closed ones not counted."""
    return dict(Counter(m.tier_id for m in member_store.scan_members() if m.status != "closed"))


def liability() -> dict[str, int]:
    """Points owed by expiry month, plus PENDING and HELD: the sum over members (zeros left out)."""
    total: Counter[str] = Counter()
    for member in member_store.scan_members():
        total.update(member.buckets)
        total["PENDING"] += member.pending
        total["HELD"] += member.held
    return {name: points for name, points in total.items() if points}


def ledger_entries() -> list[Any]:
    out = []
    kwargs: dict[str, Any] = {
        "TableName": core.table_name(),
        "FilterExpression": "kind = :entry",
        "ExpressionAttributeValues": {":entry": {"S": "entry"}},
    }
    while True:
        answer = core.client().scan(**kwargs)
        out.extend(codecs.entry_from_item(core.from_item(i)) for i in answer["Items"])
        if "LastEvaluatedKey" not in answer:
            return out
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def activity() -> dict[str, dict[str, int]]:
    """What was recorded in each month: enrolments, and the ledger's points by figure."""
    months: dict[str, Counter[str]] = {}
    for member in member_store.scan_members():
        months.setdefault(month_of(member.enrolled_at), Counter())["enrolled"] += 1
    for entry in ledger_entries():
        figures = months.setdefault(month_of(entry.recorded_at), Counter())
        if entry.type in ("earn", "bonus", "reversal"):
            figures["earned"] += entry.points
        elif entry.type in ("redeem", "redeem_cancel"):
            figures["redeemed"] -= entry.points
        elif entry.type == "expire":
            figures["expired"] -= entry.points
        else:
            figures["adjusted"] += entry.points
    return {m: {f: figures[f] for f in FIGURES} for m, figures in months.items()}


def expected() -> dict[str, Any]:
    """The three reports' figures as the members and the ledger say (months with nothing left out)."""
    return {
        "liability": liability(),
        "tiers": tiers(),
        "activity": {m: f for m, f in activity().items() if any(f.values())},
    }


def counted() -> dict[str, Any]:
    """The same figures as the stream processor's counters hold them (summed over the shards)."""
    from loyalty.reports import liability as liability_counters
    from loyalty.reports import summary as reports
    from loyalty.store import counters

    def nonzero(family: str, attribute: str) -> dict[str, int]:
        return {k: v[attribute] for k, v in counters.totals(family).items() if v.get(attribute)}

    by_month = {m: {f: v.get(f, 0) for f in FIGURES} for m, v in counters.totals(reports.ACTIVITY).items()}
    return {
        "liability": nonzero(liability_counters.FAMILY, "points"),
        "tiers": nonzero(reports.TIERS, "members"),
        "activity": {m: f for m, f in by_month.items() if any(f.values())},
    }
