"""The programme as clients see it, and the liability report."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from loyalty.answers.common import Answer, Money, Rate, Timestamp


class ProgramTier(Answer):
    id: str
    name: str
    threshold: int
    multiplier: Rate
    benefits: dict[str, Any]
    paid_only: bool


class CampaignView(Answer):
    id: str
    name: str
    announced_at: Timestamp
    starts_at: Timestamp
    ends_at: Timestamp
    status: Literal["active", "announced"]
    recurrence: Literal["once", "yearly"]
    categories: list[str] | None
    skus: list[str] | None
    bonus: dict[str, Any] | None
    discount: dict[str, Any] | None
    stackable: bool


class ProgramAnswer(Answer):
    """The active programme: the rules a client may rely on (the blocks are the programme file's own)."""

    program_id: str
    name: str
    currency: str
    country: str | None = Field(
        default=None,
        description="ISO 3166-1 alpha-2: the country national phone numbers are read in (null: none).",
    )
    point_value: Money
    earning: dict[str, Any]
    tiers: list[ProgramTier]
    qualification: dict[str, Any]
    tenure_perks: list[dict[str, Any]]
    campaigns: list[CampaignView]
    activities: dict[str, Any]
    rewards: list[dict[str, Any]]
    expiry: dict[str, Any]
    pending_days: int
    pay_with_points: dict[str, Any]


class PointsAndValue(Answer):
    points: int
    value: Money


class MonthLiability(Answer):
    month: str = Field(description="YYYY-MM, the month the points expire at the end of (or `never`).")
    points: int
    value: Money


class Liability(Answer):
    program_id: str
    currency: str
    point_value: Money
    as_of: Timestamp
    outstanding: PointsAndValue
    by_expiry_month: list[MonthLiability]
    pending: PointsAndValue
    held: PointsAndValue


class CurrentKey(Answer):
    """The key a request carries: what it may do (never the key itself nor its hash)."""

    key_id: str
    name: str
    scopes: list[Literal["admin", "earn", "enroll", "read", "redeem"]] = Field(
        description="What the key may do, sorted."
    )
