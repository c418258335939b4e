"""Accounts (companies and households), their pools and members, and transfers."""

from __future__ import annotations

import json

from pydantic import ConfigDict, Field

from loyalty.answers.common import Answer, TierView, Timestamp
from loyalty.answers.members import Benefits, Expiring, LedgerLine, PointsView, Qualifying
from loyalty.domain.model import AccountKind, AccountRole


class AccountMemberView(Answer):
    member_id: str
    role: AccountRole
    joined_at: Timestamp
    contributed: int = Field(description="The points this member's orders put into the pool, net of refunds.")
    spent: int = Field(description="The pool's points this member spent.")


class AccountAnswer(Answer):
    """An account as `GET /v1/accounts/{account_id}` shows it (also the answer of its writes)."""

    account_id: str
    kind: AccountKind
    name: str
    member_share_percent: int
    max_members: int
    tier: TierView
    points: PointsView
    qualifying: Qualifying
    expiring: list[Expiring] = Field(description="The pool's points that expire at the end of each month.")
    benefits: Benefits
    members: list[AccountMemberView] = Field(description="The current members, in the order they joined.")


class AccountLedgerPage(Answer):
    entries: list[LedgerLine] = Field(description="Newest first; an entry a member caused names it in details.")
    next_cursor: str | None


class TransferSide(Answer):
    member_id: str | None = None
    account_id: str | None = None
    balance: int


class Transferred(Answer):
    model_config = ConfigDict(extra="forbid", defer_build=True, populate_by_name=True)

    transfer_id: str
    points: int
    from_: TransferSide = Field(alias="from", serialization_alias="from")
    to: TransferSide

    def body(self) -> str:
        data = self.model_dump(mode="json", exclude_unset=True, by_alias=True)
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)
