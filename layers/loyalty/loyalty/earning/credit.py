"""An order's earn on the member's books, shared by `POST /v1/earn` (`earn`) and a checkout order
(`loyalty.checkout.orders`), so both earn by the same rules: the award spendable now or pending inside the
return window, its qualifying value and spend, its `earn` entry, the upgrade it reaches, and the referrer's
bonus on a referred member's first earning order. No answer models: each caller answers in its own words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from loyalty.accounts import pooling
from loyalty.domain import keys
from loyalty.domain.model import LedgerEntry, Member, PendingLot
from loyalty.domain.writes import PendingMarker, SideWrite
from loyalty.earning import rules as earning
from loyalty.kernel.months import month_of
from loyalty.ledger.funnel import Books, Ledger, PoolBooks
from loyalty.program.rules import Program
from loyalty.store import members as member_store
from loyalty.tiers import maths as tiers


@dataclass
class Credited:
    """An order's earn on the books: its entry, and what else the transaction writes."""

    entry: LedgerEntry
    writes: list[SideWrite]
    others: list[Ledger[Any]]
    pool_points: int = 0  # the account's pool's part (its books are among `others`)


def credit_order(
    program: Program,
    books: Books,
    order_id: str,
    award: earning.Award,
    when: datetime,
    details: dict[str, Any],
    *,
    pay_referral: bool,
    pool: PoolBooks | None = None,
) -> Credited:
    """Put an order's award on the member's books: spendable now (or pending inside the return window),
    its qualifying value and spend in the order's month, its `earn` entry under `keys.earn(order_id)`, the
    upgrade it reaches, and the referrer's bonus on a referred member's first earning order.

    A member in an account (`pool`: its pool's books) keeps its share of the points; the rest goes to the
    pool (`loyalty.accounts.pooling`), and the entry records the split.

    Shared by `POST /v1/earn` and a checkout order, so both earn by the same rules."""
    member = books.member
    month = month_of(when)
    writes: list[SideWrite] = []
    available_on = None
    moved: dict[str, int] = {}
    keep = award.points if pool is None else pooling.member_part(award.points, pool.account.member_share_percent)
    if program.pending_days and keep > 0:
        # inside the return window: pending, not spendable, until the daily activation moves it
        available_on = (when + timedelta(days=program.pending_days)).date()
        lot = PendingLot(points=keep, available_on=available_on, expiry_month=books.expiry_month(when))
        books.earn_pending(order_id, keep, lot)
        writes.append(PendingMarker(member.member_id, order_id, available_on))
    else:
        moved = books.earn(keep, when)
    if award.base:
        member.qualifying[month] = member.qualifying.get(month, 0) + award.base
    if award.eligible_amount:
        member.spend[month] = member.spend.get(month, Decimal(0)) + award.eligible_amount
    first_order = member.orders == 0
    if award.points > 0:
        member.orders += 1  # orders that earned points: the referral pays on the first of them
    split = pooling.split_details(pool.account, award.points - keep) if pool is not None else {}
    entry = books.entry(
        keys.earn(order_id),
        "earn",
        keep,
        order_id,
        when,
        details={
            "breakdown": award.breakdown_view(),
            "base": award.base,
            "eligible_amount": str(award.eligible_amount),
            **details,
            **({"available_on": available_on.isoformat()} if available_on else {}),
            **split,
        },
        buckets=moved,
        pending=available_on is not None,
    )
    tiers.upgrade_after_earn(member, program, books.now)  # after the award: this earn used the old tier
    others: list[Ledger[Any]] = []
    pool_points = 0
    if pool is not None:
        shared = pooling.credit(
            pool, member.member_id, order_id, pooling.OrderEarn(award.points, award.base, award.eligible_amount), when
        )
        writes += shared.writes
        others.append(pool)
        pool_points = shared.points
    if pay_referral and first_order and award.points > 0 and member.referred_by:
        referrer = _referral(program, member, when, books.now)
        if referrer is not None:
            others.append(referrer)
    return Credited(entry, writes, others, pool_points)


def _referral(program: Program, member: Member, when: datetime, now: datetime) -> Books | None:
    """The referrer's bonus for this member's first earning order, written in the same transaction.

    Reading the referrer is a third DynamoDB round trip, paid only on a referred member's first order.
    """
    points = program.activities.referral
    referrer = member_store.load_member(member.referred_by or "")
    if not points or referrer is None or referrer.status != "active":
        return None
    books = Books(program, referrer, now)
    moved = books.grant(points, when)
    books.entry(
        keys.referral(member.member_id),
        "bonus",
        points,
        member.member_id,
        when,
        details={"activity": "referral", "referred_member_id": member.member_id},
        buckets=moved,
    )
    return books
