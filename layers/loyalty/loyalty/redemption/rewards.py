"""A reward's rules, pure: its window, the tiers that may take it, what is left of its stock, a member's use of
its limit; whether a member may redeem it now and can afford it. The partner redemptions (`redeem`) and the
till's checkout apply them alike; checkout imports only these, not the partner service."""

from __future__ import annotations

from datetime import date, datetime

from loyalty.domain.model import Member
from loyalty.domain.status import ensure_active
from loyalty.kernel.errors import RewardNotEligible, RewardUnavailable
from loyalty.ledger.funnel import reward_counter
from loyalty.program.rules import Reward


def limit_counter(reward: Reward, when: datetime) -> str | None:
    """The member counter that enforces the reward's per-member limit in the period of `when`."""
    if reward.limit_per_member is None:
        return None
    return reward_counter(reward.id, reward.limit_per_member.period, when)


def in_window(reward: Reward, day: date) -> bool:
    return (reward.active_from is None or reward.active_from <= day) and (
        reward.active_until is None or day <= reward.active_until
    )


def tier_allowed(reward: Reward, member: Member, better_tier: str | None = None) -> bool:
    """The member's tier may take it; for a member in an account (v1.2), `better_tier`: the better of its own and
    its account's (loyalty.accounts.pooling.better_tier), which the contract's eligibility uses."""
    if reward.eligible_tiers is None:
        return True
    return (better_tier or member.tier_id) in reward.eligible_tiers


def remaining_stock(reward: Reward, stored: int | None) -> int | None:
    """What is left: the stored count once the stock item exists, the programme's figure before."""
    if reward.stock is None:
        return None
    return reward.stock if stored is None else stored


def under_limit(reward: Reward, member: Member, when: datetime) -> bool:
    counter = limit_counter(reward, when)
    return counter is None or member.counters.get(counter, 0) < reward.limit_per_member.count  # type: ignore[union-attr]


def check_redeemable(
    reward: Reward, member: Member, when: datetime, stock_left: int | None, better_tier: str | None = None
) -> None:
    """Raise the contract's error for the first reason `member` may not take `reward` now (`better_tier`: the
    better of the member's and its account's, v1.2)."""
    ensure_active(member)
    check_reward(reward, member, when, stock_left, better_tier)


def check_reward(
    reward: Reward, member: Member, when: datetime, stock_left: int | None, better_tier: str | None = None
) -> None:
    """`check_redeemable` without the member's status (a checkout quote prices a suspended member's basket)."""
    if not tier_allowed(reward, member, better_tier):
        raise RewardNotEligible(f"reward {reward.id!r} is not available to the {member.tier_id} tier")
    if not in_window(reward, when.date()):
        raise RewardUnavailable(f"reward {reward.id!r} is outside its active window")
    if stock_left is not None and stock_left <= 0:
        raise RewardUnavailable(f"reward {reward.id!r} is out of stock")
    if not under_limit(reward, member, when):
        raise RewardUnavailable(f"the member has taken reward {reward.id!r} as often as the period allows")


def standing(
    reward: Reward, member: Member | None, now: datetime, stock_left: int | None, better_tier: str | None = None
) -> tuple[bool, bool]:
    """(eligible, affordable): the member may take it now (window, stock, status, tier or its account's tier,
    limit), and eligible with the available points covering it. Without a member: the window and stock only."""
    eligible = in_window(reward, now.date()) and (stock_left is None or stock_left > 0)
    if member is None:
        return eligible, False
    allowed = (
        member.status == "active" and tier_allowed(reward, member, better_tier) and under_limit(reward, member, now)
    )
    eligible = eligible and allowed
    return eligible, eligible and member.available >= reward.points


# -- the catalogue -------------------------------------------------------------------------------
