"""A member, its ledger, its export, its paid and manual tiers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from loyalty.answers.common import Answer, Day, Money, Month, Rate, TierView, Timestamp
from loyalty.domain.model import AccountRole, Channel, EntryType, MemberStatus


class PointsView(Answer):
    """`available + pending = lifetime_earned + lifetime_adjusted - lifetime_redeemed - lifetime_expired`."""

    available: int
    pending: int
    lifetime_earned: int = Field(
        description="Points the member's orders and bonuses earned, net of refunds (never below 0). "
        "Administrators' adjustments are not in it: they are `lifetime_adjusted`."
    )
    lifetime_redeemed: int
    lifetime_expired: int
    lifetime_adjusted: int = Field(
        default=0,
        description="Administrators' adjustments, signed net (negative: more taken than given), the "
        "closing forfeit included.",
    )


class NextTier(Answer):
    id: str
    threshold: int
    remaining: int


class Qualifying(Answer):
    window_start: Month
    window_end: Month
    value: int | Money = Field(description="Points (an integer), or money under a spend measure (a decimal string).")
    next_tier: NextTier | None


class Expiring(Answer):
    month: Month = Field(description="The points expire at the end of this month.")
    points: int


class Benefits(Answer):
    multiplier: Rate
    discount_percent: Rate = Field(examples=["5"])
    perks: list[str]


class Profile(Answer):
    """The personal fields; every one null after erasure."""

    email: str | None
    name: str | None
    phone: str | None
    card_id: str | None
    birth_date: Day | None


class MemberAccount(Answer):
    """(v1.2) The account the member belongs to, and its role there."""

    account_id: str
    role: AccountRole


class MemberAnswer(Answer):
    """A member as `GET /v1/members/{member_id}` shows it (also the answer of enrolment, lookup, PATCH,
    status changes and erasure)."""

    member_id: str
    status: MemberStatus
    tier: TierView
    points: PointsView
    qualifying: Qualifying
    expiring: list[Expiring] = Field(description="Points that expire at the end of each month, oldest first.")
    benefits: Benefits
    enrolled_at: Timestamp
    channel: Channel
    profile: Profile
    account: MemberAccount | None = Field(
        default=None, description="(v1.2) The account (company, household) the member belongs to; absent when none."
    )


class SearchAnswer(Answer):
    """The member a search found, and how: the identifier the query was read as (a phone in E.164)."""

    found_by: Literal["member_id", "card_id", "email", "phone"]
    value: str = Field(description="The identifier the member was found by, as the API holds it.")
    member: MemberAnswer


class LedgerLine(Answer):
    entry_id: str
    type: EntryType
    points: int = Field(description="Signed: negative for reversal, redeem, expire.")
    balance_after: int
    reference: str
    occurred_at: Timestamp
    recorded_at: Timestamp
    details: dict[str, Any]


class LedgerPage(Answer):
    entries: list[LedgerLine] = Field(description="The page's entries, newest first.")
    next_cursor: str | None


class MemberExport(Answer):
    """The right of access: the member, its profile and every ledger entry, oldest first."""

    member: MemberAnswer
    profile: Profile
    ledger: list[LedgerLine]


class Subscription(Answer):
    subscription_id: str
    member_id: str
    tier_id: str
    months: int
    starts_at: Timestamp
    ends_at: Timestamp
    tier: TierView


class TierOverride(Answer):
    member_id: str
    tier: TierView
    reason: str
    until: Day | None


class MemberEvent(Answer):
    event_id: str
    detail_type: str = Field(description="The event's `detail-type` on the bus (docs/events.md).")
    at: Timestamp = Field(
        description="When it happened (what orders the list): a ledger event's `recorded_at`, the enrolment, "
        "a tier change's `as_of`, an expiry warning's run."
    )
    published_at: Timestamp = Field(description="When the stream processor published it.")
    detail: dict[str, Any] = Field(description="The event's `detail`, as consumers got it.")


class MemberEvents(Answer):
    """What the member's changes published on the bus, kept 90 days, newest first."""

    events: list[MemberEvent]
