"""Reconciliation: recompute a member's (or an account pool's) figures from the ledger and report every difference.

The ledger is the truth. Each entry carries its signed points and the expiry months it moved
(`buckets`, sign taken from the points), so the member's balance, lifetime totals and expiry buckets
can be rebuilt from the entries alone. Zero differences is the expected answer.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from loyalty.domain.model import Holder, LedgerEntry

EARNED = {"earn", "bonus", "reversal", "import"}
REDEEMED = {"redeem", "redeem_cancel"}


@dataclass
class Difference:
    member_id: str
    figure: str
    on_member: object
    from_ledger: object


@dataclass
class Report:
    members: int = 0
    entries: int = 0
    differences: list[Difference] = field(default_factory=list)

    def add(self, other: Report) -> None:
        self.members += other.members
        self.entries += other.entries
        self.differences.extend(other.differences)


def recompute(entries: list[LedgerEntry]) -> dict[str, object]:
    posted = [e for e in entries if not e.pending]
    buckets: Counter[str] = Counter()
    for entry in posted:
        sign = 1 if entry.points >= 0 else -1
        for month, points in entry.buckets.items():
            buckets[month] += sign * points
    return {
        "available": sum(e.points for e in posted),
        # a transfer received counts as earned, one sent as spent (loyalty.ledger.funnel: send, receive)
        "lifetime_earned": sum(
            e.points for e in entries if e.type in EARNED or (e.type == "transfer" and e.points > 0)
        ),
        "lifetime_redeemed": -sum(
            e.points for e in entries if e.type in REDEEMED or (e.type == "transfer" and e.points < 0)
        ),
        "lifetime_expired": -sum(e.points for e in entries if e.type == "expire"),
        "lifetime_adjusted": sum(e.points for e in entries if e.type == "adjust"),
        "entries": len(entries),
        "buckets": {m: p for m, p in sorted(buckets.items()) if p},
    }


def reconcile_member(member: Holder, entries: list[LedgerEntry], *, check_buckets: bool = True) -> Report:
    expected = recompute(entries)
    actual: dict[str, object] = {
        "available": member.available,
        "lifetime_earned": member.lifetime_earned,
        "lifetime_redeemed": member.lifetime_redeemed,
        "lifetime_expired": member.lifetime_expired,
        "lifetime_adjusted": member.lifetime_adjusted,
        "entries": member.entries,
        "buckets": {m: p for m, p in sorted(member.buckets.items()) if p},
    }
    if not check_buckets:  # the airline policy moves buckets without an entry
        expected.pop("buckets")
        actual.pop("buckets")
    report = Report(members=1, entries=len(entries))
    for figure, value in expected.items():
        if actual[figure] != value:
            report.differences.append(Difference(member.holder_id, figure, actual[figure], value))
    seqs = [e.seq for e in entries]
    if sorted(seqs) != list(range(1, len(entries) + 1)):
        report.differences.append(Difference(member.holder_id, "sequence", member.entries, sorted(seqs)))
    return report


def reconcile_all(segments: int = 4) -> Report:
    """Every member and every account's pool (an operator's audit: it reads the whole table, never on a request
    path). A pool's differences name it `account:<account_id>`."""
    from loyalty.program.rules import current_program
    from loyalty.store import accounts as account_store
    from loyalty.store import members as store

    check_buckets = current_program().expiry.policy != "activity_extends"
    report = Report()
    for member in store.scan_members(segments):
        report.add(reconcile_member(member, store.all_entries(member.member_id), check_buckets=check_buckets))
    for account in account_store.scan_accounts(segments):
        found = reconcile_member(account, account_store.all_entries(account.account_id), check_buckets=check_buckets)
        for difference in found.differences:
            difference.member_id = f"account:{account.account_id}"
        report.add(found)
    return report
