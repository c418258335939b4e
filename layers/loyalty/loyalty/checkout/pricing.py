"""The checkout's arithmetic: a basket, the member's tier, the rewards and points asked for → what the
customer pays and what the order earns on. Pure: no AWS, no clock; money is Decimal, points int.

The rules, in this order, each line on its own (CONTRACT.md, Checkout), every amount rounded down to
the cent:
1. reward discounts: an item reward makes one unit of the dearest matching line free, up to its cap
   (`min(max, unit price)`); a fixed reward takes its amount off the eligible lines, dearest first;
2. percentage discounts on what is left of each line: the tier's `discount_percent` plus every active
   discount campaign of the line (percentages add up; one rounding for the line, split between the
   rules so that the parts add up to it);
3. the points payment comes off the total last;
4. the order earns on `eligible lines after discounts − points payment` (not below 0).
Lines the programme does not earn on (`gift-cards` in the demo) get no discount either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

from loyalty.earning import rules as earning
from loyalty.kernel.errors import InsufficientPoints, RewardNotEligible, ValidationFailed
from loyalty.program import campaigns
from loyalty.program.rules import Campaign, Program, Reward, Tier

ZERO = Decimal(0)
CENTS = Decimal("0.01")
HUNDRED = Decimal(100)


def cents(value: Decimal) -> Decimal:
    """Down to the cent."""
    return value.quantize(CENTS, rounding=ROUND_FLOOR)


def unit_price(line: earning.Item) -> Decimal:
    return cents(line.amount / line.quantity)


@dataclass(frozen=True)
class LineDiscount:
    rule: str  # `reward:<id>`, `tier:<id>`, `campaign:<id>`
    sku: str
    amount: Decimal


@dataclass(frozen=True)
class Basket:
    """A priced basket: what the customer pays in money and in points, and what the order earns on."""

    lines: tuple[earning.Item, ...]
    after: tuple[Decimal, ...]  # each line after its discounts
    discounts: tuple[LineDiscount, ...]  # only discounts above 0.00
    points: int  # the points payment
    points_amount: Decimal
    eligible: Decimal  # the money paid for eligible lines: the order's eligible amount
    max_points_payable: int

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def discount_total(self) -> Decimal:
        return sum((d.amount for d in self.discounts), ZERO)

    @property
    def total(self) -> Decimal:
        """What the customer pays in money."""
        return self.subtotal - self.discount_total - self.points_amount

    def lines_after(self) -> tuple[earning.Item, ...]:
        """The lines at their discounted amounts: what campaign points count."""
        return tuple(
            earning.Item(sku=line.sku, category=line.category, amount=amount, quantity=line.quantity)
            for line, amount in zip(self.lines, self.after, strict=True)
        )


def points_value(program: Program, points: int) -> Decimal:
    rate = program.pay_with_points
    return cents(Decimal(points) * rate.value / rate.points)


def max_payable(program: Program, payable: Decimal, points_left: int) -> int:
    """The largest multiple of the rate's points within `points_left` whose value is not above `payable`."""
    rate = program.pay_with_points
    by_money = int((payable / rate.value).to_integral_value(ROUND_FLOOR)) * rate.points if rate.value > 0 else 0
    by_points = max(points_left, 0) // rate.points * rate.points
    return max(0, min(by_money, by_points))


def _matches(campaign: Campaign, line: earning.Item) -> bool:
    return (campaign.categories is None or line.category in campaign.categories) and (
        campaign.skus is None or line.sku in campaign.skus
    )


def percent_rules(program: Program, tier: Tier, line: earning.Item, when: datetime) -> list[tuple[str, Decimal]]:
    """(rule, percent) of the line: the tier's, then each active discount campaign's (programme order)."""
    rules: list[tuple[str, Decimal]] = []
    if tier.benefits.discount_percent > 0:
        rules.append((f"tier:{tier.id}", tier.benefits.discount_percent))
    for campaign in program.campaigns:
        if campaign.discount is not None and _matches(campaign, line) and campaigns.is_active(campaign, when):
            rules.append((f"campaign:{campaign.id}", campaign.discount.percent))
    return rules


def _reward_discounts(
    program: Program, rewards: Sequence[Reward], lines: Sequence[earning.Item], left: list[Decimal]
) -> list[LineDiscount]:
    out: list[LineDiscount] = []
    eligible = [i for i, line in enumerate(lines) if earning.is_eligible(program, line)]
    for reward in rewards:
        discount = reward.discount
        if discount is None:  # pragma: no cover - the caller passes in-store rewards only
            raise ValueError(f"reward {reward.id!r} has no discount")
        rule = f"reward:{reward.id}"
        if discount.item is not None:
            category = discount.item.category
            candidates = [i for i in eligible if left[i] > 0 and (category is None or lines[i].category == category)]
            if not candidates:
                raise RewardNotEligible(f"reward {reward.id!r}: no line in the basket it applies to")
            best = max(candidates, key=lambda i: (unit_price(lines[i]), -i))  # the first listed on a tie
            amount = cents(min(discount.item.max, unit_price(lines[best]), left[best]))
            _nothing_to_take(reward, amount)
            left[best] -= amount
            out.append(LineDiscount(rule, lines[best].sku, amount))
        else:
            candidates = [i for i in eligible if left[i] > 0]
            if not candidates:
                raise RewardNotEligible(f"reward {reward.id!r}: no line in the basket it applies to")
            to_take = cents(discount.amount or ZERO)
            taken: list[LineDiscount] = []
            for i in sorted(candidates, key=lambda i: (-unit_price(lines[i]), i)):
                if to_take <= 0:
                    break
                amount = min(to_take, cents(left[i]))
                left[i] -= amount
                to_take -= amount
                taken.append(LineDiscount(rule, lines[i].sku, amount))
            _nothing_to_take(reward, sum((d.amount for d in taken), ZERO))
            out.extend(taken)
    return out


def _nothing_to_take(reward: Reward, amount: Decimal) -> None:
    """A reward whose discount is 0.00 to the cent (a unit of 0.008, a line of 0.004) applies to no line:
    refused as a reward with no matching line is, never charged for nothing."""
    if amount <= 0:
        raise RewardNotEligible(f"reward {reward.id!r}: its discount on this basket would be 0.00")


def price(
    program: Program,
    tier: Tier,
    lines: Sequence[earning.Item],
    rewards: Sequence[Reward],
    points: int,
    when: datetime,
    points_left: int,
) -> Basket:
    """Price the basket. `points_left`: the member's available points less this basket's rewards.

    Raises RewardNotEligible (an in-store reward with no line to apply to), ValidationFailed (`points`
    not a multiple of the programme's rate, or worth more than the total) and InsufficientPoints (the
    rewards cost more than the member has, or `points` above `points_left`). A member in debt with no
    rewards and no points payment is priced: a sale paid in money spends no points.
    """
    left = [line.amount for line in lines]
    discounts = _reward_discounts(program, rewards, lines, left)
    for i, line in enumerate(lines):
        if not earning.is_eligible(program, line) or left[i] <= 0:
            continue
        rules = percent_rules(program, tier, line, when)
        percent = min(HUNDRED, sum((p for _, p in rules), ZERO))
        whole = cents(left[i] * percent / HUNDRED)
        given = ZERO
        for n, (rule, part) in enumerate(rules):
            amount = whole - given if n == len(rules) - 1 else min(whole - given, cents(left[i] * part / HUNDRED))
            given += amount
            if amount > 0:
                discounts.append(LineDiscount(rule, line.sku, amount))
        left[i] -= whole
    kept = [d for d in discounts if d.amount > 0]
    payable = sum(left, ZERO)
    most = max_payable(program, payable, points_left)
    rate = program.pay_with_points
    if points < 0 or points % rate.points:
        raise ValidationFailed.field("points", f"must be a multiple of {rate.points}")
    value = points_value(program, points)
    if value > payable:
        raise ValidationFailed.field("points", f"{points} points are worth {value}, more than the total {payable}")
    reward_points = sum(r.points for r in rewards)
    if rewards and points_left < 0:
        available = points_left + reward_points
        raise InsufficientPoints(f"the rewards cost {reward_points} points; the member has {available} available")
    if points > max(points_left, 0):
        after = "left after the rewards" if rewards else "available"
        raise InsufficientPoints(f"{points} points asked for, {points_left} {after}")
    paid = zip(lines, left, strict=True)
    eligible_after = sum((amount for line, amount in paid if earning.is_eligible(program, line)), ZERO)
    return Basket(
        lines=tuple(lines),
        after=tuple(left),
        discounts=tuple(kept),
        points=points,
        points_amount=value,
        eligible=max(ZERO, eligible_after - value),
        max_points_payable=most,
    )
