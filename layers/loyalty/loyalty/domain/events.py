"""Domain events: what the table stream's committed changes mean to the outside world.

Pure: a `Change` (one stream record, its images validated into domain models by
`loyalty.store.stream`) maps to zero or one `DomainEvent`. Publishing is `loyalty.store.bus`; the
stream processor (`loyalty.outbox.processor`) ties them together. The detail models below are the published
schema (docs/events.md is generated from them); `version` is the schema version of `detail`.

| stored change                                   | detail-type          |
|-------------------------------------------------|----------------------|
| INSERT member item (`kind` member)              | MemberEnrolled       |
| INSERT entry `earn`, `bonus` (not signup)       | PointsEarned         |
| INSERT entry `reversal`                         | PointsReversed       |
| INSERT entry `redeem`                           | PointsRedeemed       |
| INSERT entry `redeem_cancel`                    | RedemptionCancelled  |
| INSERT entry `adjust`                           | PointsAdjusted       |
| INSERT entry `expire`                           | PointsExpired        |
| INSERT `kind` expiry_warning                    | PointsExpiringSoon   |
| MODIFY member item whose `tier_id` changed      | TierChanged          |
| MODIFY member item whose `account_id` changed   | AccountMemberJoined / AccountMemberLeft |
| INSERT entry `transfer` (the sender's)          | PointsTransferred    |
| MODIFY account item whose `tier_id` changed     | TierChanged (`account_id`, no `member_id`) |
| INSERT or MODIFY member item whose `available` rose to a reward's cost | RewardUnlocked (one per reward) |
| INSERT `kind` tier_warning                      | TierDowngradeUpcoming (an account's: `account_id`) |
| INSERT member item with `import_id` (v1.2)      | MemberImported (only: no MemberEnrolled, no RewardUnlocked) |

An account's pool (v1.2): its part of an order or a refund publishes nothing of its own (the member's
PointsEarned or PointsReversed carries `account_id` and `account_points`); a spend of the pool publishes
PointsRedeemed (or RedemptionCancelled) with `account_id` and the spender's `member_id`; the pool's
expiry, PointsExpired with `account_id` and no `member_id`; the receiving side of a transfer, nothing.

An imported member (v1.2, docs/imports.md) publishes MemberImported and nothing else: its `import` entry publishes
nothing of its own (the event carries its `points`), and neither its tier nor its balance says anything more.

The signup bonus entry publishes nothing of its own: MemberEnrolled (from the member item, written in
the same transaction) carries it as `signup_bonus`.

Messages for members (v1.2, docs/messages.md): RewardUnlocked is read off the member item's old and new images
(the signup bonus's enrolment included): for each reward of the programme whose cost the available points went
from below to at least, that the member's tier after the write may take and that is inside its active window on
the day of the write. Only an active member's; never a pool's. The stream processor then drops those of a stocked
reward with nothing left (a read of its stock). TierDowngradeUpcoming comes from the tier evaluation's record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from loyalty.domain.model import Account, EntryType, ExpiryWarning, LedgerEntry, Member, TierWarning
from loyalty.kernel.clock import isoformat


class Ranking(Protocol):
    """What the events need of a programme: the rank of a tier (a `loyalty.program.rules.Program`), so
    that a tier change says its direction. The domain model never imports the programme above it."""

    def tier_rank(self, tier_id: str) -> int: ...


class RewardTerms(Protocol):
    """What RewardUnlocked needs of a reward (a `loyalty.program.rules.Reward`)."""

    @property
    def id(self) -> str: ...
    @property
    def points(self) -> int: ...
    @property
    def eligible_tiers(self) -> list[str] | None: ...
    @property
    def active_from(self) -> date | None: ...
    @property
    def active_until(self) -> date | None: ...


class Catalogue(Ranking, Protocol):
    """A programme with its rewards: what RewardUnlocked needs besides the tiers' ranks."""

    @property
    def rewards(self) -> Sequence[RewardTerms]: ...


SOURCE = "loyalty"
SCHEMA_VERSION = 1

ChangeKind = Literal["member", "entry", "expiry_warning", "account", "tier_warning"]
StreamEventName = Literal["INSERT", "MODIFY", "REMOVE"]


@dataclass(frozen=True)
class Change:
    """One committed write of the table, as the stream reports it (images as domain models)."""

    event_name: StreamEventName
    kind: ChangeKind
    old: Member | Account | LedgerEntry | ExpiryWarning | TierWarning | None
    new: Member | Account | LedgerEntry | ExpiryWarning | TierWarning | None


# -- the published schema ------------------------------------------------------------------------
class EventDetail(BaseModel):
    """Fields every domain event's `detail` carries."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    version: Literal[1] = Field(default=1, description="Schema version of this detail; bumped on a breaking change.")
    event_id: str = Field(
        description="Stable id: the ledger entry's `entry_id` for ledger events, else derived from the stored "
        "item. A redelivered event has the same id: consumers de-duplicate on it."
    )
    member_id: str | None = Field(
        default=None,
        description="The member. Absent only on an event of an account's pool that no member caused (v1.2).",
    )
    account_id: str | None = Field(
        default=None, description="(v1.2) The account whose pool the event is about, or the member's pooled order's."
    )
    sequence: int = Field(
        description="The ledger sequence number (the entry's `seq`; for member events, the number of entries the "
        "member had then; for a pool's events, the pool's). Order one member's (or one pool's) events by it."
    )


class LedgerEventDetail(EventDetail):
    """A ledger entry was recorded."""

    entry_type: EntryType
    points: int = Field(description="The figure the operation answered: see each event.")
    change: int = Field(description="Signed change of the balance (the ledger entry's `points`).")
    balance: int = Field(description="Available points after the entry.")
    reference: str = Field(description="The entry's reference (order, refund, redemption, adjustment id...).")
    occurred_at: str = Field(description="RFC 3339 UTC: when it happened.")
    recorded_at: str = Field(description="RFC 3339 UTC: when it was recorded.")
    months: dict[str, int] = Field(
        default_factory=dict, description="Expiry months (YYYY-MM, or `never`) whose points the entry moved."
    )
    details: dict[str, Any] = Field(default_factory=dict, description="The ledger entry's details, as in the ledger.")


class MemberEnrolled(EventDetail):
    """A member enrolled (with the signup bonus, if the programme grants one)."""

    channel: str
    tier: str = Field(description="The tier id at enrolment.")
    enrolled_at: str
    referred_by: str | None = None
    signup_bonus: int = Field(description="Points granted on enrolment (0 when none).")
    balance: int


class PointsEarned(LedgerEventDetail):
    """Points earned: an order (`entry_type` earn) or a bonus (activity, referral...). `points` > 0."""

    order_id: str | None = Field(default=None, description="The order, for `earn`.")
    reason: str | None = Field(default=None, description="Why a bonus was granted (the activity), for `bonus`.")
    pending: bool = False
    account_points: int | None = Field(
        default=None, description="(v1.2) A pooled order: the account pool's part (`points` is the member's)."
    )


class PointsReversed(LedgerEventDetail):
    """A refund took points back. `points` is negative (as the refund's answer shows it)."""

    order_id: str | None = None
    refund_id: str
    account_points: int | None = Field(default=None, description="(v1.2) A pooled order: the pool's change.")


class PointsRedeemed(LedgerEventDetail):
    """Points were spent on a reward or at checkout. `points` is positive (the points spent)."""

    redemption_id: str
    reward_id: str | None = None
    partner_id: str | None = None
    status: str = Field(description="`completed`, or `held` for a pay-with-points hold.")


class RedemptionCancelled(LedgerEventDetail):
    """A redemption was cancelled, voided or released: its points came back. `points` is positive."""

    redemption_id: str
    reward_id: str | None = None
    partner_id: str | None = None
    status: str = Field(description="`cancelled`, `voided` or `released`.")


class PointsAdjusted(LedgerEventDetail):
    """An administrator's correction. `points` is signed."""

    adjustment_id: str
    reason: str | None = None


class PointsExpired(LedgerEventDetail):
    """Points expired (`months` says which): removed by the expiry run (`period` set), or given back into a
    month already over and expired at once (`period` null, `details.reason` says so). `points` is positive."""

    period: str | None = Field(default=None, description="The expiry run's period (YYYY-MM).")


class PointsExpiringSoon(EventDetail):
    """The member has `points` that expire at the end of `month`."""

    month: str
    points: int
    period: str = Field(description="The expiry run's period (YYYY-MM) that warned.")


class TierChanged(EventDetail):
    """The member's tier changed (an earn's upgrade, the monthly evaluation, a subscription, an override)."""

    from_: str = Field(alias="from")
    to: str
    direction: Literal["upgrade", "downgrade", "lateral"]
    reason: str | None = None
    source: str | None = Field(default=None, description="`qualified`, `paid` or `manual`.")
    as_of: str = Field(description="The date (or time) the change took effect.")


class PointsTransferred(LedgerEventDetail):
    """(v1.2) A member gave points to another member or into an account's pool. `points` is positive; the
    event's `member_id` and `change` are the sender's."""

    transfer_id: str
    from_member_id: str
    to_member_id: str | None = None
    to_account_id: str | None = None
    reason: str | None = None


class AccountMemberJoined(EventDetail):
    """(v1.2) A member joined an account (its role set; a role changed later publishes nothing)."""

    role: str
    at: str = Field(description="RFC 3339 UTC: when it joined.")


class AccountMemberLeft(EventDetail):
    """(v1.2) A member left an account (or was closed): what it had stays its own, what it put into the pool
    stays there."""

    role: str = Field(description="The role it had.")
    at: str = Field(description="RFC 3339 UTC: when it left.")


class RewardUnlocked(EventDetail):
    """(v1.2) A write took the member's available points from below a reward's cost to at least it, for a reward
    the member's tier (after the write) may take, inside its active window and not out of stock: once per reward
    and crossing (a fall below and a rise again is a new crossing). Never for a pool, a suspended or closed member."""

    reward_id: str
    points: int = Field(description="The reward's cost, in points.")
    balance: int = Field(description="Available points after the write.")
    at: str = Field(description="RFC 3339 UTC: when the write was made.")


class TierDowngradeUpcoming(EventDetail):
    """(v1.2) The monthly evaluation (`period`) kept the tier, but the next one (`evaluation_on`), when the oldest
    month leaves the window, would find `qualifying_then`, below `threshold`, and drop it unless `remaining` is
    added before then. Once per member (or account: `account_id`, no `member_id`) and evaluation."""

    tier_id: str = Field(description="The tier kept now, which the next evaluation would drop.")
    evaluation_on: str = Field(description="YYYY-MM-DD: the next evaluation, the 1st of the month after `period`.")
    threshold: int = Field(description="The tier's qualifying threshold.")
    qualifying_then: int | Decimal = Field(
        description="The qualifying value the next evaluation would find without anything more: whole points "
        "(measure `base_points`) or an amount (`spend`)."
    )
    remaining: int | Decimal = Field(description="`threshold − qualifying_then`: what must be added before then.")
    period: str = Field(description="The evaluation (YYYY-MM) that warned.")


class MemberImported(EventDetail):
    """(v1.2) An import brought the member from another platform, with its opening balance (no signup bonus, no
    rules, no other event)."""

    import_id: str
    points: int = Field(description="The opening balance the import brought (0 when the row had no balances).")
    at: str = Field(description="RFC 3339 UTC: when the import applied the member's row.")


DETAIL_TYPES: dict[str, type[EventDetail]] = {
    "MemberEnrolled": MemberEnrolled,
    "PointsEarned": PointsEarned,
    "PointsReversed": PointsReversed,
    "PointsRedeemed": PointsRedeemed,
    "RedemptionCancelled": RedemptionCancelled,
    "PointsAdjusted": PointsAdjusted,
    "PointsExpired": PointsExpired,
    "PointsExpiringSoon": PointsExpiringSoon,
    "TierChanged": TierChanged,
    "PointsTransferred": PointsTransferred,
    "AccountMemberJoined": AccountMemberJoined,
    "AccountMemberLeft": AccountMemberLeft,
    "RewardUnlocked": RewardUnlocked,
    "TierDowngradeUpcoming": TierDowngradeUpcoming,
    "MemberImported": MemberImported,
}


class WebhookTest(EventDetail):
    """(v1.2) Sent by hand to one webhook endpoint (`POST /v1/webhooks/{endpoint_id}/test`), never on the bus: a
    receiver's first message."""

    endpoint_id: str


DETAIL_TYPES["WebhookTest"] = WebhookTest

# Every detail-type the contract names (v1.1 and v1.2): what a webhook endpoint may subscribe to. A type the
# product does not publish yet is still a type a receiver may wait for.
CONTRACT_TYPES: tuple[str, ...] = (
    "MemberEnrolled",
    "PointsEarned",
    "PointsReversed",
    "PointsRedeemed",
    "RedemptionCancelled",
    "PointsAdjusted",
    "PointsExpired",
    "PointsExpiringSoon",
    "TierChanged",
    "RewardUnlocked",
    "TierDowngradeUpcoming",
    "PointsTransferred",
    "AccountMemberJoined",
    "AccountMemberLeft",
    "MemberImported",
    "WebhookTest",
)


@dataclass(frozen=True)
class DomainEvent:
    detail_type: str
    detail: EventDetail

    @property
    def event_id(self) -> str:
        return self.detail.event_id

    def detail_json(self) -> dict[str, Any]:
        data = self.detail.model_dump(mode="json", by_alias=True)
        for name in OMITTED_WHEN_NONE:  # v1.2's additions appear only where they say something
            if data.get(name, "") is None:
                del data[name]
        return data


# A member's event before v1.2 carried no `account_id`; a pool's event with no member carries no `member_id`
OMITTED_WHEN_NONE = ("member_id", "account_id", "account_points", "to_member_id", "to_account_id")


# -- mapping -------------------------------------------------------------------------------------
def derived_id(*parts: str) -> str:
    """A stable event id for an event that is not a ledger entry."""
    return "ev_" + hashlib.sha256("#".join(parts).encode()).hexdigest()[:26]


def _is_signup(entry: LedgerEntry) -> bool:
    return entry.type == "bonus" and entry.details.get("activity") == "signup"


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def ledger_event(entry: LedgerEntry) -> DomainEvent | None:
    if _is_signup(entry) or entry.type == "import":
        return None  # MemberImported (from the member item, in the same transaction) says the import's
    if entry.account_id is not None and entry.type in ("earn", "reversal", "transfer"):
        return None  # the member's entry of the same operation says it (`account_id`, `account_points`)
    if entry.type == "transfer" and entry.points > 0:
        return None  # the receiver's side: the sender's entry publishes the transfer
    d = entry.details
    pooled = entry.account_id or _text(d.get("account_id"))
    common: dict[str, Any] = {
        "event_id": entry.entry_id,
        "member_id": entry.member_id or None,
        **({"account_id": pooled} if pooled else {}),
        "sequence": entry.seq,
        "entry_type": entry.type,
        "change": entry.points,
        "balance": entry.balance_after,
        "reference": entry.reference,
        "occurred_at": isoformat(entry.occurred_at),
        "recorded_at": isoformat(entry.recorded_at),
        "months": dict(entry.buckets),
        "details": entry.details,
    }
    detail: EventDetail
    match entry.type:
        case "earn":
            shared = d.get("account_points")
            detail = PointsEarned(
                **common,
                points=entry.points,
                order_id=entry.reference,
                pending=entry.pending,
                **({"account_points": int(shared)} if shared is not None else {}),
            )
            return DomainEvent("PointsEarned", detail)
        case "bonus":
            reason = _text(d.get("activity") or d.get("reason")) or entry.reference
            detail = PointsEarned(**common, points=entry.points, reason=reason, pending=entry.pending)
            return DomainEvent("PointsEarned", detail)
        case "reversal":
            shared = d.get("account_points")
            detail = PointsReversed(
                **common,
                points=entry.points,
                order_id=_text(d.get("order_id")),
                refund_id=entry.reference,
                **({"account_points": int(shared)} if shared is not None else {}),
            )
            return DomainEvent("PointsReversed", detail)
        case "transfer":
            detail = PointsTransferred(
                **common,
                points=-entry.points,
                transfer_id=entry.reference,
                from_member_id=entry.member_id,
                to_member_id=_text(d.get("to_member_id")),
                to_account_id=_text(d.get("to_account_id")),
                reason=_text(d.get("reason")),
            )
            return DomainEvent("PointsTransferred", detail)
        case "redeem":
            detail = PointsRedeemed(
                **common,
                points=-entry.points,
                redemption_id=_text(d.get("redemption_id")) or entry.reference,
                reward_id=_text(d.get("reward_id")),
                partner_id=_text(d.get("partner_id")),
                status=_text(d.get("status")) or "completed",
            )
            return DomainEvent("PointsRedeemed", detail)
        case "redeem_cancel":
            detail = RedemptionCancelled(
                **common,
                points=entry.points,
                redemption_id=_text(d.get("redemption_id")) or entry.reference,
                reward_id=_text(d.get("reward_id")),
                partner_id=_text(d.get("partner_id")),
                status=_text(d.get("status")) or "cancelled",
            )
            return DomainEvent("RedemptionCancelled", detail)
        case "adjust":
            detail = PointsAdjusted(
                **common, points=entry.points, adjustment_id=entry.reference, reason=_text(d.get("reason"))
            )
            return DomainEvent("PointsAdjusted", detail)
        case "expire":
            # the expiry run's entries say their period; points given back into a month that was over and
            # expired at once (a `lapse#` entry) have none
            run = entry.reference.removeprefix("expiry:") if entry.reference.startswith("expiry:") else None
            period = _text(d.get("period")) or run
            detail = PointsExpired(**common, points=-entry.points, period=period)
            return DomainEvent("PointsExpired", detail)
    return None  # pragma: no cover - EntryType is closed


def tier_direction(program: Ranking | None, before: str, after: str) -> Literal["upgrade", "downgrade", "lateral"]:
    if program is None:
        return "lateral"
    moved = program.tier_rank(after) - program.tier_rank(before)
    return "upgrade" if moved > 0 else "downgrade" if moved < 0 else "lateral"


def enrolled_event(member: Member) -> DomainEvent:
    return DomainEvent(
        "MemberEnrolled",
        MemberEnrolled(
            event_id=derived_id("enrolled", member.member_id),
            member_id=member.member_id,
            sequence=member.entries,
            channel=member.channel,
            tier=member.tier_id,
            enrolled_at=isoformat(member.enrolled_at),
            referred_by=member.referred_by,
            signup_bonus=member.lifetime_earned,
            balance=member.available,
        ),
    )


def imported_event(member: Member) -> DomainEvent:
    return DomainEvent(
        "MemberImported",
        MemberImported(
            event_id=derived_id("imported", member.member_id),
            member_id=member.member_id,
            sequence=member.entries,
            import_id=member.import_id or "",
            points=member.lifetime_earned,
            at=isoformat(member.imported_at or member.enrolled_at),
        ),
    )


def tier_event(old: Member | Account, new: Member | Account, program: Ranking | None) -> DomainEvent | None:
    if old.tier_id == new.tier_id:
        return None
    change = new.tier_change if new.tier_change and new.tier_change.get("to") == new.tier_id else {}
    who: dict[str, Any] = {"account_id": new.account_id} if isinstance(new, Account) else {"member_id": new.member_id}
    return DomainEvent(
        "TierChanged",
        TierChanged(
            event_id=derived_id(
                "tier", *(["account"] if isinstance(new, Account) else []), new.holder_id, str(new.version)
            ),
            **who,
            sequence=new.entries,
            from_=old.tier_id,
            to=new.tier_id,
            direction=tier_direction(program, old.tier_id, new.tier_id),
            reason=change.get("reason") or new.tier_reason,
            source=change.get("source") or new.tier_source,
            as_of=change.get("as_of") or isoformat(new.tier_since),
        ),
    )


def membership_event(old: Member, new: Member) -> DomainEvent | None:
    """A member joined or left an account (its `account_id` changed)."""
    if old.account_id == new.account_id:
        return None
    at = isoformat(new_since(new))
    if new.account_id is not None:
        return DomainEvent(
            "AccountMemberJoined",
            AccountMemberJoined(
                event_id=derived_id("joined", new.member_id, new.account_id, str(new.version)),
                member_id=new.member_id,
                account_id=new.account_id,
                sequence=new.entries,
                role=new.account_role or "contributor",
                at=at,
            ),
        )
    return DomainEvent(
        "AccountMemberLeft",
        AccountMemberLeft(
            event_id=derived_id("left", new.member_id, old.account_id or "", str(new.version)),
            member_id=new.member_id,
            account_id=old.account_id,
            sequence=new.entries,
            role=old.account_role or "contributor",
            at=at,
        ),
    )


def new_since(member: Member) -> datetime:
    return member.account_changed_at or member.enrolled_at


def warning_event(warning: ExpiryWarning, sequence: int = 0) -> DomainEvent:
    who: dict[str, Any] = {"account_id": warning.account_id} if warning.account_id else {"member_id": warning.member_id}
    return DomainEvent(
        "PointsExpiringSoon",
        PointsExpiringSoon(
            event_id=derived_id("expiring", warning.member_id, warning.month),
            **who,
            sequence=sequence,
            month=warning.month,
            points=warning.points,
            period=warning.period or warning.month,
        ),
    )


def _in_window(reward: RewardTerms, day: date) -> bool:
    return (reward.active_from is None or reward.active_from <= day) and (
        reward.active_until is None or day <= reward.active_until
    )


def rewards_unlocked(old: Member | None, new: Member, program: Ranking | None) -> list[DomainEvent]:
    """RewardUnlocked for each reward whose cost `new.available` reached from below (`old`: None at enrolment,
    when the member had nothing), that the tier after the write may take, in its window on the day of the write
    (`available_changed_at`, else the enrolment's). Stock is the stream processor's to check (it needs a read)."""
    rewards: Sequence[RewardTerms] = getattr(program, "rewards", None) or []
    before = old.available if old is not None else 0
    if new.status != "active" or new.available <= before or not rewards:
        return []
    at = new.available_changed_at or new.enrolled_at
    out = []
    for reward in rewards:
        if not before < reward.points <= new.available:
            continue
        if reward.eligible_tiers is not None and new.tier_id not in reward.eligible_tiers:
            continue
        if not _in_window(reward, at.date()):
            continue
        detail = RewardUnlocked(
            event_id=derived_id("unlocked", new.member_id, str(new.version), reward.id),
            member_id=new.member_id,
            sequence=new.entries,
            reward_id=reward.id,
            points=reward.points,
            balance=new.available,
            at=isoformat(at),
        )
        out.append(DomainEvent("RewardUnlocked", detail))
    return out


def tier_warning_event(warning: TierWarning) -> DomainEvent:
    who: dict[str, Any] = {"account_id": warning.account_id} if warning.account_id else {"member_id": warning.member_id}
    return DomainEvent(
        "TierDowngradeUpcoming",
        TierDowngradeUpcoming(
            event_id=derived_id("downgrade-upcoming", warning.member_id, warning.period),
            **who,
            sequence=0,
            tier_id=warning.tier_id,
            evaluation_on=warning.evaluation_on,
            threshold=warning.threshold,
            qualifying_then=warning.qualifying_then,
            remaining=warning.remaining,
            period=warning.period,
        ),
    )


def events_for(change: Change, program: Ranking | None = None) -> list[DomainEvent]:
    """The domain events one committed change publishes (none for most member updates). `program`: a
    `Catalogue` for RewardUnlocked (a bare `Ranking` publishes none)."""
    new, old = change.new, change.old
    found: DomainEvent | None = None
    if change.event_name == "INSERT" and isinstance(new, LedgerEntry):
        found = ledger_event(new)
    elif change.event_name == "INSERT" and isinstance(new, Member) and new.import_id is not None:
        return [imported_event(new)]
    elif change.event_name == "INSERT" and isinstance(new, Member):
        return [enrolled_event(new), *rewards_unlocked(None, new, program)]
    elif change.event_name == "MODIFY" and isinstance(new, Member) and isinstance(old, Member):
        joined = membership_event(old, new)
        tier = tier_event(old, new, program)
        return [e for e in (joined, tier) if e is not None] + rewards_unlocked(old, new, program)
    elif change.event_name == "MODIFY" and isinstance(new, Account) and isinstance(old, Account):
        found = tier_event(old, new, program)
    elif change.event_name == "INSERT" and isinstance(new, ExpiryWarning):
        found = warning_event(new)
    elif change.event_name == "INSERT" and isinstance(new, TierWarning):
        found = tier_warning_event(new)
    return [found] if found else []


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON schema of every detail-type's `detail` (docs/events.md is generated from these).

    Published open (no `additionalProperties: false`): a new optional field is not a breaking change.
    """
    out = {}
    for name, model in DETAIL_TYPES.items():
        schema = model.model_json_schema(by_alias=True)
        schema.pop("additionalProperties", None)
        out[name] = schema
    return out
