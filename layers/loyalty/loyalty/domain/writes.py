"""Typed writes that travel in a business operation's transaction beside the members and ledger entries.

Services say what else an operation writes (a refund's order state, a hold, reward stock, a pending
marker, an expiry warning, a subscription or audit record); the data-access layer alone turns each into
a DynamoDB item with its condition (`loyalty.store.writes`). A write whose condition fails comes back as
`WriteRefused` carrying the write, so the service decides what that means (replay, retry, 409).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from loyalty.domain.model import AccountMembership, Enrolment, Hold, IdentifierKind, OrderRefunds


@dataclass(frozen=True)
class PendingMarker:
    """A to-do entry for the daily activation: the order's pending points are due on `available_on`."""

    member_id: str
    order_id: str
    available_on: date


@dataclass(frozen=True)
class PendingMarkerDone:
    member_id: str
    order_id: str


@dataclass(frozen=True)
class RefundState:
    """The order's cumulative refund state at its next version (`expected_version` 0: the first)."""

    state: OrderRefunds
    expected_version: int


@dataclass(frozen=True)
class StockTaken:
    """One unit of a stocked reward (created from the programme's `initial` on first use); refused at 0."""

    reward_id: str
    initial: int


@dataclass(frozen=True)
class StockReturned:
    reward_id: str


@dataclass(frozen=True)
class HoldOpened:
    hold: Hold


@dataclass(frozen=True)
class HoldSettled:
    """Close an open hold (captured, voided, released); refused unless it is still held. `response`: the
    capture's answer, kept with the hold for its replays."""

    redemption_id: str
    status: str
    settled_at: datetime
    response: str | None = None


@dataclass(frozen=True)
class ExpiryWarningSent:
    """The member was told `points` expire at the end of `month` (once per member and month)."""

    member_id: str
    month: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TierWarningSent:
    """The tier evaluation of `period` told the holder its tier drops at the next one unless it adds points
    (v1.2; once per holder and period). `holder_id`: a member id, or `ACCOUNT#<account_id>`."""

    holder_id: str
    period: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Subscription:
    """A paid tier granted: the idempotency record of a subscription (refused if it exists)."""

    member_id: str
    subscription_id: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TierAudit:
    """A manual tier override and its reason."""

    member_id: str
    sort_key: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StatusAudit:
    """A member's status changed (suspended, reactivated, closed, erased): when, and after which ledger
    entry, so that a replay of the history (`what-if`) changes it at the same point. No free text."""

    member_id: str
    sort_key: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IdentifierClaimed:
    """`member_id` holds the identifier (compared form) from now on; refused when another member holds it."""

    kind: IdentifierKind
    value: str
    member_id: str


@dataclass(frozen=True)
class IdentifierReleased:
    """The identifier is free again (the member changed it, was closed or erased)."""

    kind: IdentifierKind
    value: str
    member_id: str


@dataclass(frozen=True)
class IdentifierHeld:
    """A check, not a write: `member_id` still holds the identifier (a checkout order for a member found
    through the eventually consistent identifier index)."""

    kind: IdentifierKind
    value: str
    member_id: str


@dataclass(frozen=True)
class EnrolmentRecorded:
    """The enrolment's request hash and first answer, for its replay; refused when one exists."""

    enrolment: Enrolment


@dataclass(frozen=True)
class EnrolmentErased:
    """Erasure: the stored enrolment (its request and answer hold personal fields) is removed."""

    member_id: str


@dataclass(frozen=True)
class AccountCreated:
    """An account's creation request (its hash) and first answer, for its replays; refused when one exists."""

    account_id: str
    request_hash: str
    response: str


@dataclass(frozen=True)
class MembershipSaved:
    """A member's membership of an account, as it is now (joined, its role changed, or left)."""

    membership: AccountMembership


@dataclass(frozen=True)
class MembershipCounted:
    """Add to what a member put into an account's pool (`contributed`) and spent of it (`spent`); refused
    when the membership does not exist."""

    account_id: str
    member_id: str
    contributed: int = 0
    spent: int = 0


SideWrite = (
    PendingMarker
    | PendingMarkerDone
    | RefundState
    | StockTaken
    | StockReturned
    | HoldOpened
    | HoldSettled
    | ExpiryWarningSent
    | TierWarningSent
    | Subscription
    | TierAudit
    | StatusAudit
    | IdentifierClaimed
    | IdentifierReleased
    | IdentifierHeld
    | EnrolmentRecorded
    | EnrolmentErased
    | AccountCreated
    | MembershipSaved
    | MembershipCounted
)


class WriteRefused(Exception):
    """The condition of `write` failed: the transaction wrote nothing."""

    def __init__(self, write: SideWrite) -> None:
        super().__init__(f"{type(write).__name__} refused")
        self.write = write


def coalesced(writes: list[SideWrite]) -> list[SideWrite]:
    """The writes with every `MembershipCounted` of one membership added into one (a transaction writes an item
    once: a checkout paid from the pool counts what the member spent and what its order contributed)."""
    counted: dict[tuple[str, str], MembershipCounted] = {}
    out: list[SideWrite] = []
    for write in writes:
        if not isinstance(write, MembershipCounted):
            out.append(write)
            continue
        key = (write.account_id, write.member_id)
        before = counted.get(key)
        if before is None:
            counted[key] = write
            out.append(write)
            continue
        merged = MembershipCounted(
            write.account_id, write.member_id, before.contributed + write.contributed, before.spent + write.spent
        )
        out[out.index(before)] = merged
        counted[key] = merged
    return out
