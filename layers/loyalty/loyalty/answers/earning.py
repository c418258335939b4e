"""Orders, previews, refunds and activities."""

from __future__ import annotations

from pydantic import Field

from loyalty.answers.common import Answer, PoolPart, RulePoints, TierView


class Earned(Answer):
    """An order's points. `breakdown` sums to `points`."""

    entry_id: str
    member_id: str
    order_id: str
    points: int
    breakdown: list[RulePoints]
    balance: int
    tier: TierView
    account: PoolPart | None = Field(default=None, description="(v1.2) A member in an account: the pool's part.")


class EarnPreview(Answer):
    """What `POST /v1/earn` would answer, without `entry_id`; `balance` is the balance it would become."""

    member_id: str
    order_id: str
    points: int
    breakdown: list[RulePoints]
    balance: int
    tier: TierView
    account: PoolPart | None = Field(default=None, description="(v1.2) The pool's part it would take.")


class Refunded(Answer):
    """A refund's points. A checkout order's refund also says what it took back and what it gave back."""

    refund_id: str
    order_id: str
    points: int = Field(description="The net change of the balance (negative, or 0).")
    reversed: int | None = Field(default=None, description="Checkout orders only: earned points taken back, <= 0.")
    restored: int | None = Field(default=None, description="Checkout orders only: spent points given back, >= 0.")
    balance: int
    account: PoolPart | None = Field(default=None, description="(v1.2) A pooled order: the pool's change.")


class ActivityAwarded(Answer):
    entry_id: str
    points: int
    balance: int
