"""A basket quoted, and the order placed."""

from __future__ import annotations

from pydantic import Field

from loyalty.answers.common import Answer, Money, PoolPart, RulePoints, TierView


class Discount(Answer):
    rule: str = Field(examples=["reward:free-drink"])
    amount: Money
    sku: str


class PointsPaid(Answer):
    points: int
    amount: Money


class InStoreReward(Answer):
    reward_id: str
    name: str
    points: int
    eligible: bool
    affordable: bool


class CheckoutQuote(Answer):
    """A basket priced: its discounts, the points payment, what the customer pays and what the order earns."""

    member_id: str
    tier: TierView
    subtotal: Money
    discounts: list[Discount]
    discount_total: Money
    points_payment: PointsPaid
    total: Money = Field(description="What the customer pays in money.")
    points: int = Field(description="What the order earns.")
    breakdown: list[RulePoints]
    balance: int = Field(description="The balance the order leaves.")
    rewards_available: list[InStoreReward]
    max_points_payable: int
    account: PoolPart | None = Field(default=None, description="(v1.2) A member in an account: the pool's part.")


class CheckoutOrder(Answer):
    """The quote's answer for the order placed, with its `order_id` and the ledger entries it wrote."""

    member_id: str
    order_id: str
    tier: TierView
    subtotal: Money
    discounts: list[Discount]
    discount_total: Money
    points_payment: PointsPaid
    total: Money
    points: int
    breakdown: list[RulePoints]
    balance: int
    rewards_available: list[InStoreReward]
    max_points_payable: int
    entry_ids: list[str]
    account: PoolPart | None = Field(default=None, description="(v1.2) A member in an account: the pool's part.")
