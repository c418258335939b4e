"""The earning rules engine: what an order earns, and what a refund takes back. Pure: no AWS, no clock.

Every amount is a `Decimal`, every point an `int`; every rounding is a floor, so a purchase never earns
a fraction and a refund never takes back more than the order earned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

from loyalty.program import campaigns
from loyalty.program.rules import Campaign, Program, Tier

ZERO = Decimal(0)
CENTS_4 = Decimal("0.0001")  # money carries at most 4 decimals (contract.Money)


def floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


@dataclass(frozen=True)
class Item:
    """One order line: `amount` is the line's amount (quantity is informational)."""

    sku: str
    category: str
    amount: Decimal
    quantity: int = 1


@dataclass(frozen=True)
class Order:
    amount: Decimal
    occurred_at: datetime
    items: tuple[Item, ...] = ()  # empty: no lines given, `amount` is what earns


@dataclass(frozen=True)
class Award:
    """What an order earns: `breakdown` starts with `base` and sums to `points`."""

    points: int
    base: int
    eligible_amount: Decimal
    breakdown: tuple[tuple[str, int], ...]

    def breakdown_view(self) -> list[dict[str, object]]:
        return [{"rule": rule, "points": points} for rule, points in self.breakdown]


def is_eligible(program: Program, item: Item) -> bool:
    rules = program.earning
    if item.category in rules.excluded_categories:
        return False
    return rules.eligible_categories is None or item.category in rules.eligible_categories


def eligible_items(program: Program, order: Order) -> list[Item]:
    return [item for item in order.items if is_eligible(program, item)]


def eligible_amount(program: Program, order: Order) -> Decimal:
    """The sum of eligible lines when lines are given, else the order amount; zero below the minimum."""
    amount = sum((i.amount for i in eligible_items(program, order)), ZERO) if order.items else order.amount
    return amount if amount >= program.earning.min_order_amount else ZERO


def base_points(program: Program, eligible: Decimal) -> int:
    return max(0, floor(eligible * program.earning.points_per_unit))


def tier_points(base: int, tier: Tier) -> int:
    """The tier part: floor(base × multiplier) − base."""
    return max(0, floor(Decimal(base) * tier.multiplier) - base)


def campaign_points(program: Program, campaign: Campaign, order: Order, eligible: Decimal) -> int:
    """The bonus of one campaign (active or not: the caller checks the window); 0 for a discount-only one."""
    if eligible <= ZERO or campaign.bonus is None:
        return 0
    if campaign.categories is None and campaign.skus is None:
        matching = eligible
    else:
        matching = sum(
            (
                i.amount
                for i in eligible_items(program, order)
                if (campaign.categories is None or i.category in campaign.categories)
                and (campaign.skus is None or i.sku in campaign.skus)
            ),
            ZERO,
        )
    if matching <= ZERO:
        return 0
    if campaign.bonus.points is not None:
        return campaign.bonus.points
    percent = campaign.bonus.percent or ZERO
    return max(0, floor(percent / 100 * matching))


def campaign_bonuses(program: Program, order: Order, eligible: Decimal) -> list[tuple[str, int]]:
    """Every stackable campaign that matches, plus the single best exclusive one (programme order)."""
    active = [c for c in program.campaigns if campaigns.is_active(c, order.occurred_at)]
    scored = [(c, campaign_points(program, c, order, eligible)) for c in active]
    exclusive = [(c, p) for c, p in scored if not c.stackable and p > 0]
    best = max(exclusive, key=lambda cp: cp[1], default=None)  # max keeps the first of equals
    return [
        (f"campaign:{c.id}", p)
        for c, p in scored
        if p > 0 and (c.stackable or (best is not None and c.id == best[0].id))
    ]


def award(program: Program, order: Order, tier: Tier, eligible: Decimal | None = None) -> Award:
    """What `order` earns at `tier`. `eligible` overrides the eligible amount (a checkout order earns on
    the money paid for its eligible lines: after discounts, less the points payment); campaigns on
    categories or SKUs still count the order's lines."""
    if eligible is None:
        eligible = eligible_amount(program, order)
    elif eligible < program.earning.min_order_amount:
        eligible = ZERO
    base = base_points(program, eligible)
    breakdown: list[tuple[str, int]] = [("base", base)]
    extra = tier_points(base, tier)
    if extra:
        breakdown.append((f"tier:{tier.id}", extra))
    breakdown.extend(campaign_bonuses(program, order, eligible))
    return Award(
        points=sum(p for _, p in breakdown),
        base=base,
        eligible_amount=eligible,
        breakdown=tuple(breakdown),
    )


def reversed_share(total: int, refunded: Decimal, order_amount: Decimal) -> int:
    """floor(total × refunded / order amount): the part of `total` that a cumulative refund takes back."""
    if order_amount <= ZERO or total <= 0:
        return 0
    share = min(refunded, order_amount)
    return min(total, floor(Decimal(total) * share / order_amount))


@dataclass(frozen=True)
class Reversal:
    """What one refund takes back, given what earlier refunds of the same order took."""

    points: int  # positive: the points to debit now
    base: int  # qualifying base points to take off the order's month now
    spend: Decimal  # eligible spend to take off the order's month now
    refunded_total: Decimal  # cumulative refunded amount after this refund


def reversal(
    *,
    order_amount: Decimal,
    order_points: int,
    order_base: int,
    order_eligible: Decimal,
    refunded_before: Decimal,
    points_before: int,
    base_before: int,
    spend_before: Decimal,
    refund_amount: Decimal,
) -> Reversal | None:
    """None when the refunds would exceed the order amount."""
    total = refunded_before + refund_amount
    if total > order_amount:
        return None
    points = reversed_share(order_points, total, order_amount) - points_before
    base = reversed_share(order_base, total, order_amount) - base_before
    spent = order_eligible * total / order_amount if order_amount > ZERO else ZERO
    spend = spent.quantize(CENTS_4, rounding=ROUND_FLOOR) - spend_before
    return Reversal(points=max(0, points), base=max(0, base), spend=max(ZERO, spend), refunded_total=total)


def items_total(items: Sequence[Item]) -> Decimal:
    return sum((i.amount for i in items), ZERO)
