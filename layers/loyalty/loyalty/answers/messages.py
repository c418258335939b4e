"""The programme manager's lists before a message goes out (v1.2): points expiring at the end of a month, tier drops
at the next evaluation (loyalty.reports.messages)."""

from __future__ import annotations

from pydantic import Field

from loyalty.answers.common import Answer


class ExpiringRow(Answer):
    """A member with points that expire at the end of the month, with what the console shows of them."""

    member_id: str
    name: str | None
    email: str | None
    phone: str | None
    status: str = Field(description="`active` or `suspended` (closed members are not listed).")
    tier_id: str
    points: int = Field(description="Points that expire at the end of the month.")
    balance: int = Field(description="Available points now, those included.")


class ExpiringPoints(Answer):
    """A page of the members with points that expire at the end of `month`."""

    month: str = Field(description="YYYY-MM: the points listed expire at the end of this month.")
    members: list[ExpiringRow]
    next_cursor: str | None


class DowngradeRow(Answer):
    """A member (or an account) whose tier the next evaluation drops unless it adds `remaining` before then: the
    figures of its TierDowngradeUpcoming."""

    member_id: str | None = Field(default=None, description="The member (null for an account).")
    account_id: str | None = Field(default=None, description="The account (null for a member).")
    name: str | None
    email: str | None = None
    phone: str | None = None
    status: str = Field(description="`active` or `suspended` (closed members are not listed).")
    tier_id: str = Field(description="The tier kept now, which the next evaluation would drop.")
    threshold: int = Field(description="The tier's qualifying threshold.")
    qualifying_then: int | str = Field(
        description="The qualifying value the next evaluation would find with nothing more added (as the "
        "evaluation of the month measured it): whole points, or an amount as a decimal string (measure `spend`)."
    )
    remaining: int | str = Field(description="What must be added before the next evaluation to keep the tier.")
    evaluation_on: str = Field(description="YYYY-MM-DD: the next evaluation.")


class TierDowngrades(Answer):
    """A page of the members (and accounts) the tier evaluation of `month` warned."""

    month: str = Field(description="YYYY-MM: the evaluation (on its 1st) that kept the tier and warned.")
    evaluation_on: str = Field(description="YYYY-MM-DD: the next evaluation, where the tier would drop.")
    members: list[DowngradeRow]
    next_cursor: str | None
