"""The reward catalogue, partner redemptions, pay with points and its holds."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from loyalty.answers.common import Answer, Money


class RewardOffer(Answer):
    reward_id: str
    name: str
    points: int
    partner_id: str | None = Field(description="null: an in-store reward, taken at checkout.")
    eligible: bool = Field(description="The member's tier may take it.")
    affordable: bool = Field(description="Eligible, and the available points cover it.")
    stock: int | None = Field(description="What is left of the reward's stock now; null: unlimited.")


class Rewards(Answer):
    rewards: list[RewardOffer]


class PartnerRedemption(Answer):
    redemption_id: str
    member_id: str
    reward_id: str
    points: int
    balance: int
    status: Literal["completed"]


class PartnerCancellation(Answer):
    redemption_id: str
    status: Literal["cancelled"]
    points: int
    balance: int


class MoneyValue(Answer):
    amount: Money = Field(examples=["5.00"])
    currency: str = Field(examples=["USD"])


class PointsPayment(Answer):
    """Pay with points: `held` reserves the points until captured or voided."""

    redemption_id: str
    points: int
    value: MoneyValue
    status: Literal["completed", "held"]
    balance: int


class HoldReleased(Answer):
    redemption_id: str
    status: Literal["voided", "released"]
    points: int
    balance: int
