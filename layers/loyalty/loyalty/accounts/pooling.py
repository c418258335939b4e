"""How a member's orders feed its account's pool (CONTRACT.md v1.2, Accounts).

- An order earns as usual, then splits: `floor(points × member_share_percent / 100)` to the member, the rest
  to the pool. The account's qualifying value takes the order's whole base (and spend), and the account is
  upgraded as soon as it reaches a threshold (after the order: the order used the tier it had).
- A refund reverses each part in proportion, cumulative: the member's from the member's entry, the pool's
  from the pool's part recorded on the order (`account_points`), whether or not the member still belongs.
- An order of a member in an account uses the better of the two tiers (`better_tier`).

The pool's points move through the funnel (`PoolBooks`) in the same transaction as the member's: the pool's
entry of an operation is keyed `pool#<the operation's key>`, so it is written once, with the member's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from loyalty.domain import keys
from loyalty.domain.model import SPENDING_ROLES, Account, LedgerEntry, Member, PendingLot
from loyalty.domain.writes import MembershipCounted, PendingMarker, PendingMarkerDone, SideWrite
from loyalty.kernel.errors import Forbidden
from loyalty.kernel.months import month_of
from loyalty.ledger.funnel import PoolBooks
from loyalty.program.rules import Benefits, Program, Tier
from loyalty.store import accounts as store
from loyalty.store.codecs import account_pk
from loyalty.tiers import maths as tiers


def member_part(points: int, share_percent: int) -> int:
    """The member's part of an order's points: `floor(points × share / 100)`; the pool takes the rest."""
    if points <= 0:
        return points
    return points * share_percent // 100


def better_tier(program: Program, member_tier_id: str, account: Account | None) -> Tier:
    """The tier an order of a member in `account` uses: the higher-ranked tier's id and name, the higher
    multiplier, the higher discount, every perk of either."""
    mine = program.tier(member_tier_id)
    if account is None:
        return mine
    theirs = program.tier(account.tier_id)
    top, other = (mine, theirs) if program.tier_rank(mine.id) >= program.tier_rank(theirs.id) else (theirs, mine)
    if top == other:
        return top
    perks = list(dict.fromkeys([*top.benefits.perks, *other.benefits.perks]))
    benefits = Benefits(
        discount_percent=max(top.benefits.discount_percent, other.benefits.discount_percent), perks=perks
    )
    return top.model_copy(update={"multiplier": max(top.multiplier, other.multiplier), "benefits": benefits})


def load(member_id: str, entry_key: str | None) -> tuple[Member | None, LedgerEntry | None, Account | None]:
    """The member, the entry under `entry_key` (if any) and the member's account (its pool), in one round trip
    when the process knows the member's account (`store.guess`); one more read when it does not, or guessed
    wrong."""
    guessed = store.guess(member_id)
    if entry_key is not None:  # an earn: a retry that lost only on the pool reads nothing (store.load_for_earn)
        member, entry, account = store.load_for_earn(member_id, entry_key, guessed)
        return member, entry, account or account_of(member, {})
    members, accounts, _ = store.load_holders([member_id], [guessed] if guessed else [], [])
    member = members.get(member_id)
    return member, None, account_of(member, accounts)


def account_of(member: Member | None, loaded: dict[str, Account]) -> Account | None:
    """The account `member` belongs to: from what was loaded with it, else read (a missing account is a bug
    of the membership's writes, not the member's: it raises)."""
    if member is None or member.account_id is None:
        return None
    account = loaded.get(member.account_id) or store.load_account(member.account_id)
    if account is None:  # pragma: no cover - a membership is written with its account, never without
        raise LookupError(f"member {member.member_id!r} belongs to a missing account {member.account_id!r}")
    return account


def ensure_spender(account: Account, member: Member) -> None:
    """Only an owner or a buyer of the account may spend its pool: anyone else is `403 forbidden`."""
    if member.account_id != account.account_id or member.account_role not in SPENDING_ROLES:
        raise Forbidden(f"member {member.member_id!r} may not spend account {account.account_id!r}'s points")


def pool_books(program: Program, account: Account, now: datetime, actor: str) -> PoolBooks:
    return PoolBooks(program, account, now, actor)


@dataclass
class PoolCredit:
    """An order's pool part on the pool's books, and the membership's count of it."""

    points: int
    writes: list[SideWrite]


@dataclass(frozen=True)
class OrderEarn:
    """What an order earned in all (the earning rules' award): its points, base points and eligible spend."""

    points: int
    base: int
    eligible_amount: Decimal


def credit(pool: PoolBooks, member_id: str, order_id: str, award: OrderEarn, when: datetime) -> PoolCredit:
    """The pool's part of an order (`award.points` less the member's part, which the caller credited): into
    the pool, its `earn` entry under `pool#earn#<order_id>`, the order's whole base into the account's
    qualifying value, and the upgrade it reaches."""
    account = pool.account
    part = award.points - member_part(award.points, account.member_share_percent)
    month = month_of(when)
    writes: list[SideWrite] = []
    if part > 0:
        moved: dict[str, int] = {}
        available_on = None
        if pool.program.pending_days:  # inside the return window, as the member's part: pending
            available_on = (when + timedelta(days=pool.program.pending_days)).date()
            lot = PendingLot(points=part, available_on=available_on, expiry_month=pool.expiry_month(when))
            pool.earn_pending(order_id, part, lot)
            writes.append(PendingMarker(account_pk(account.account_id), order_id, available_on))
        else:
            moved = pool.earn(part, when)
        pool.entry(
            keys.pool(keys.earn(order_id)),
            "earn",
            part,
            order_id,
            when,
            details={
                "member_id": member_id,
                "order_id": order_id,
                "base": award.base,
                **({"available_on": available_on.isoformat()} if available_on else {}),
            },
            buckets=moved,
            pending=available_on is not None,
        )
    if award.base:
        account.qualifying[month] = account.qualifying.get(month, 0) + award.base
    if award.eligible_amount:
        account.spend[month] = account.spend.get(month, Decimal(0)) + award.eligible_amount
    tiers.upgrade_after_earn(account, pool.program, pool.now)  # after the order: it used the tier it had
    if part:
        writes.append(MembershipCounted(account.account_id, member_id, contributed=part))
    return PoolCredit(part, writes)


def split_details(account: Account, pool_points: int) -> dict[str, Any]:
    """What the member's `earn` entry records of the split (a refund reverses the pool's part from it)."""
    return {"account_id": account.account_id, "account_points": pool_points}


@dataclass
class PoolReversal:
    points: int  # the pool's change (<= 0)
    writes: list[SideWrite]


def reverse(
    pool: PoolBooks,
    member_id: str,
    refund_id: str,
    order: LedgerEntry,
    share: int,
    base: int,
    spend: Decimal,
    details: dict[str, Any],
) -> PoolReversal:
    """A refund's pool part: `share` points back from the pool (the order's expiry month first), the refund's
    base and spend out of the account's qualifying value, a `reversal` entry under `pool#refund#<id>`."""
    account = pool.account
    month = month_of(order.occurred_at)
    writes: list[SideWrite] = []
    from_pending = pool.take_back_pending(order.reference, share) if share else 0  # never spendable: first
    if from_pending and order.reference not in account.pending_lots:
        writes.append(PendingMarkerDone(account_pk(account.account_id), order.reference))
    moved = pool.take_back(share - from_pending, prefer=pool.expiry_month(order.occurred_at)) if share else {}
    if base and month in account.qualifying:
        account.qualifying[month] = max(0, account.qualifying[month] - base)
    if spend and month in account.spend:
        account.spend[month] = max(Decimal(0), account.spend[month] - spend)
    if share:
        pool.entry(
            keys.pool(keys.refund(refund_id)),
            "reversal",
            -share,
            refund_id,
            pool.now,
            details={"member_id": member_id, **details},
            buckets=moved,
        )
    if share:
        writes.append(MembershipCounted(account.account_id, member_id, contributed=-share))
    return PoolReversal(-share, writes)
