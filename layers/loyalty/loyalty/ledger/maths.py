"""Ledger maths on a member: credits, debits soonest-expiring first, restores and expiry.

Pure functions over `Member`; every operation goes through them, so the invariants hold in one place.
"""

from __future__ import annotations

from loyalty.domain.model import NEVER, Holder


class InvariantViolation(AssertionError):
    pass


def _bucket_add(member: Holder, month: str, points: int) -> None:
    if points:
        member.buckets[month] = member.buckets.get(month, 0) + points
        if member.buckets[month] == 0:
            del member.buckets[month]


def credit(member: Holder, points: int, expiry_month: str) -> dict[str, int]:
    """Add points to `available`; a debt (negative balance) is repaid before any bucket fills."""
    assert points >= 0
    member.available += points
    into_buckets = max(0, min(points, member.available))
    _bucket_add(member, expiry_month, into_buckets)
    return {expiry_month: into_buckets} if into_buckets else {}


def debit(member: Holder, points: int, *, prefer: str | None = None) -> dict[str, int]:
    """Take points out of `available`, soonest-expiring bucket first (`prefer` first of all).

    Returns the months consumed. If the buckets hold less than `points`, the rest becomes a debt.
    """
    assert points >= 0
    consumed: dict[str, int] = {}
    remaining = points
    order = sorted(member.buckets)
    if prefer is not None and prefer in member.buckets:
        order.remove(prefer)
        order.insert(0, prefer)
    for month in order:
        if remaining == 0:
            break
        take = min(remaining, member.buckets[month])
        consumed[month] = take
        _bucket_add(member, month, -take)
        remaining -= take
    member.available -= points
    return consumed


def restore(member: Holder, consumed: dict[str, int]) -> dict[str, int]:
    """Give back what `debit` took, into the months it came from (a debt is repaid first).

    Restored points whose month has since ended stay in that month and go at the next expiry run.
    """
    total = sum(consumed.values())
    member.available += total
    room = max(0, min(total, member.available))  # what does not repay a debt goes back to buckets
    restored: dict[str, int] = {}
    for month in sorted(consumed, reverse=True):  # latest first: the member keeps the longest-lived
        give = min(room, consumed[month])
        if give:
            _bucket_add(member, month, give)
            restored[month] = give
            room -= give
    return restored


def put_into_ended(member: Holder, months: dict[str, int]) -> dict[str, int]:
    """Put points into months that are over as they are: a debt beside them is left as it is.

    Only for the funnel, which expires them whole at the next ledger line: points of a month that is over
    are never spent, and repaying a debt is spending them."""
    for month, points in months.items():
        assert points >= 0
        _bucket_add(member, month, points)
        member.available += points
    return {m: p for m, p in months.items() if p}


def expire_through(member: Holder, last_month: str) -> dict[str, int]:
    """Remove every bucket whose month is `last_month` or earlier. Returns what was removed."""
    gone = {m: p for m, p in member.buckets.items() if m != NEVER and m <= last_month and p > 0}
    for month in gone:
        del member.buckets[month]
    member.available -= sum(gone.values())
    return gone


def expiring(member: Holder) -> list[tuple[str, int]]:
    return sorted((m, p) for m, p in member.buckets.items() if m != NEVER and p > 0)


def check(member: Holder) -> None:
    """Raise if the member's figures disagree with each other."""
    bucket_sum = sum(member.buckets.values())
    if any(p <= 0 for p in member.buckets.values()):
        raise InvariantViolation(f"{member.holder_id}: a bucket is not positive: {member.buckets}")
    if member.available >= 0 and bucket_sum != member.available:
        raise InvariantViolation(f"{member.holder_id}: buckets sum to {bucket_sum}, available is {member.available}")
    if member.available < 0 and bucket_sum:
        raise InvariantViolation(f"{member.holder_id}: debt of {member.available} beside buckets")
    net = member.lifetime_earned + member.lifetime_adjusted - member.lifetime_redeemed - member.lifetime_expired
    if net != member.available + member.pending:
        raise InvariantViolation(
            f"{member.holder_id}: lifetime figures give {net}, "
            f"available + pending is {member.available + member.pending}"
        )
