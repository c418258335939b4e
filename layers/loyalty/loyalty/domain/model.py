"""Domain models: the member as the ledger has made it, and the immutable ledger entry."""

from __future__ import annotations

import copy
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import PydanticUndefined

EntryType = Literal["earn", "bonus", "reversal", "redeem", "redeem_cancel", "expire", "adjust", "transfer", "import"]
MemberStatus = Literal["active", "suspended", "closed"]
TierSource = Literal["qualified", "paid", "manual"]
Channel = Literal["web", "app", "pos", "partner", "import"]
AccountKind = Literal["company", "household"]
AccountRole = Literal["owner", "buyer", "contributor"]
SPENDING_ROLES: tuple[AccountRole, ...] = ("owner", "buyer")  # who may spend an account's pool

# Buckets for points that never expire (expiry policy `never`) use this key; it sorts last.
NEVER = "never"


M = TypeVar("M", bound=BaseModel)
_UNCHANGING = frozenset({str, int, bool, float, Decimal, date, datetime, type(None)})


def _copied(value: Any) -> Any:
    """`copy.deepcopy` of a model's field, made for what models hold (dicts, lists, models, and values that
    never change in place, which are shared): the funnel snapshots the holder before every operation."""
    kind = type(value)
    if kind in _UNCHANGING:
        return value
    if kind is dict:
        return {k: _copied(v) for k, v in value.items()}
    if kind is list:
        return [_copied(v) for v in value]
    if isinstance(value, BaseModel):
        return snapshot(value)
    return copy.deepcopy(value)


def snapshot(model: M) -> M:
    """A deep copy of `model`, as `model.model_copy(deep=True)` makes it (pydantic's `__deepcopy__`: the
    fields, the extra fields, the fields set, the private attributes), faster."""
    cls = type(model)
    made = cls.__new__(cls)
    setter = object.__setattr__
    setter(made, "__dict__", {k: _copied(v) for k, v in model.__dict__.items()})
    setter(made, "__pydantic_extra__", copy.deepcopy(model.__pydantic_extra__))
    setter(made, "__pydantic_fields_set__", set(model.__pydantic_fields_set__))
    private = getattr(model, "__pydantic_private__", None)
    if private is not None:
        private = copy.deepcopy({k: v for k, v in private.items() if v is not PydanticUndefined})
    setter(made, "__pydantic_private__", private)
    return made


class PendingLot(BaseModel):
    """An order's points inside the return window (`pending_days`): not spendable before `available_on`."""

    points: int
    available_on: date
    expiry_month: str  # the bucket the points go to when they become available


class Holder(BaseModel):
    """Whoever holds points on a ledger of its own: a member, or an account's pool. Every figure here is
    derived from the holder's ledger and moves only through the funnel (`loyalty.ledger.funnel`).

    Invariants (checked by `loyalty.ledger.maths.check`): `available + pending` equals the sum of the
    ledger, and `lifetime_earned + lifetime_adjusted - lifetime_redeemed - lifetime_expired`; when
    `available >= 0` the expiry buckets add up to it, otherwise they are empty.
    """

    model_config = ConfigDict(validate_assignment=False)

    version: int = 0  # bumped by every write; the optimistic-concurrency condition
    entries: int = 0  # number of ledger entries; the ledger's sequence number

    available: int = 0  # posted points, may go negative after a refund
    pending: int = 0  # earned but inside the return window (`pending_days`)
    held: int = 0  # reserved by pay-with-points holds (already taken out of `available`)
    lifetime_earned: int = 0  # orders and bonuses, net of refunds: never below 0
    lifetime_redeemed: int = 0
    lifetime_expired: int = 0
    lifetime_adjusted: int = 0  # administrators' adjustments and the closing forfeit, signed net

    buckets: dict[str, int] = {}  # expiry month (or NEVER) -> points
    qualifying: dict[str, int] = {}  # calendar month -> base points net of refunds
    spend: dict[str, Decimal] = {}  # calendar month -> eligible spend net of refunds
    counters: dict[str, int] = {}  # "<what>:<period key>" -> uses, for caps and limits
    pending_lots: dict[str, PendingLot] = {}  # order id -> its pending points (sum: `pending`)

    tier_id: str
    tier_since: datetime
    tier_source: TierSource = "qualified"
    tier_reason: str | None = None
    tier_reached_at: datetime | None = None  # when the current qualified tier was reached (retain_months)
    manual_until: datetime | None = None
    tier_period: str | None = None  # the last evaluation period applied (YYYY-MM)
    expiry_period: str | None = None  # the last expiry period applied (YYYY-MM)
    # The last tier change made by the monthly evaluation, a subscription or an override, for the
    # TierChanged event read off the table stream: {"from", "to", "reason", "as_of", "source"}.
    tier_change: dict[str, str] | None = None
    tier_run: str | None = None  # the last evaluation run that changed the tier (a retried chunk recounts it)
    # What that run did, {"from", "to"}: kept apart from `tier_change`, which an override or a subscription
    # made after the run (before a retry of its page) replaces, so the retry counts the run's own change.
    tier_run_change: dict[str, str] | None = None
    # When the holder's available points last changed (the funnel's clock at that write): the time of a
    # RewardUnlocked the change published, and the day its reward's active window is judged on (v1.2).
    available_changed_at: datetime | None = None

    @property
    def holder_id(self) -> str:  # pragma: no cover - every holder says who it is
        raise NotImplementedError

    @property
    def closed(self) -> bool:
        """Whether the holder's points no longer move (a closed member)."""
        return False


class Member(Holder):
    """A member and every figure derived from the member's ledger."""

    member_id: str
    status: MemberStatus = "active"
    status_reason: str | None = None
    status_changed_at: datetime | None = None
    # The profile: personal fields, every one removed by erasure (`erased_at`). `email`, `phone` and
    # `card_id` identify the member (each unique in the programme) while the member is not closed.
    email: str | None = None
    name: str | None = None
    phone: str | None = None
    card_id: str | None = None
    birth_date: date | None = None
    erased_at: datetime | None = None
    channel: Channel
    referred_by: str | None = None
    enrolled_at: datetime

    orders: int = 0  # orders that earned, for the referral bonus
    paid_tier: str | None = None
    paid_until: datetime | None = None
    # The account the member belongs to (its orders' points split with the account's pool), and its role.
    account_id: str | None = None
    account_role: AccountRole | None = None
    account_changed_at: datetime | None = None  # when it last joined or left one
    # The import that brought the member from another platform (v1.2): its only event is MemberImported.
    import_id: str | None = None
    imported_at: datetime | None = None

    @property
    def holder_id(self) -> str:
        return self.member_id

    @property
    def closed(self) -> bool:
        return self.status == "closed"


class Account(Holder):
    """A company or a household: a pool of points its members' orders feed, with a tier of its own.

    The pool's figures are a holder's (its own ledger); `members` counts who belongs to it now (each
    membership is an item of its own, `AccountMembership`)."""

    account_id: str
    kind: AccountKind
    name: str
    member_share_percent: int = 0
    max_members: int
    members: int = 0
    created_at: datetime

    @property
    def holder_id(self) -> str:
        return self.account_id


class AccountMembership(BaseModel):
    """A member of an account: its role, and what its orders put into the pool and what it spent of it.

    Kept after the member leaves (`left_at`), so a refund of an order made while it belonged still finds
    its figures; the account lists only the current ones."""

    account_id: str
    member_id: str
    role: AccountRole
    joined_at: datetime
    left_at: datetime | None = None
    contributed: int = 0  # the pool parts of this member's orders, net of refunds
    spent: int = 0  # the pool's points this member spent, net of voids


IdentifierKind = Literal["email", "phone", "card_id"]
IDENTIFIER_KINDS: tuple[IdentifierKind, ...] = ("email", "phone", "card_id")
PROFILE_FIELDS = ("email", "name", "phone", "card_id", "birth_date")


def identifier_value(kind: IdentifierKind, value: str) -> str:
    """The form an identifier is compared in: an email case-insensitively, the others as given."""
    return value.lower() if kind == "email" else value


def identifiers(member: Member) -> dict[IdentifierKind, str]:
    """The identifiers `member` holds (compared form): none once the member is closed."""
    if member.status == "closed":
        return {}
    held = {kind: getattr(member, kind) for kind in IDENTIFIER_KINDS}
    return {kind: identifier_value(kind, value) for kind, value in held.items() if value}


class Enrolment(BaseModel):
    """The enrolment request of a member (its hash) and the first answer, replayed byte for byte.

    Stored beside the member (item `ENROL#<member_id>`); erasure removes it."""

    member_id: str
    request_hash: str
    response: str


class LedgerEntry(BaseModel):
    """One immutable line of the ledger. `key` is its idempotency key and its table key."""

    entry_id: str
    key: str
    member_id: str  # the member whose ledger it is; on a pool's ledger, the member who caused it ("" if none)
    account_id: str | None = None  # set on a pool's ledger only: the entry is the account's
    seq: int
    type: EntryType
    points: int
    balance_after: int
    reference: str
    occurred_at: datetime
    recorded_at: datetime
    details: dict[str, Any] = Field(default_factory=dict)
    # Expiry months this entry took points from (debits) or put points into (credits).
    buckets: dict[str, int] = Field(default_factory=dict)
    pending: bool = False
    request_hash: str | None = None
    response: str | None = None  # the first answer, replayed byte for byte
    # A checkout order placed by identifier: 16 bits of a digest of it (loyalty.checkout.orders.lookup_digest),
    # so a retry with the identifier the order was placed with is known after the customer changed it
    lookup_digest: str | None = None


class OrderRefunds(BaseModel):
    """What the refunds of one order have taken back so far (cumulative, versioned)."""

    order_id: str
    member_id: str
    refunded: Decimal = Decimal(0)  # refunded amount, all refunds together
    points: int = 0  # points reversed
    base: int = 0  # qualifying base points reversed
    spend: Decimal = Decimal(0)  # eligible spend reversed
    restored: int = 0  # a checkout order's spent points given back
    restored_months: dict[str, int] = {}  # ... by the expiry month they were spent from
    account_points: int = 0  # points reversed from the pool the order's split fed (`account_id` of its earn)
    account_base: int = 0  # qualifying base points reversed from that account
    refunds: int = 0
    version: int = 0  # 0: not stored yet


HoldStatus = Literal["held", "captured", "voided", "released"]


class Hold(BaseModel):
    """A pay-with-points redemption taken with `capture: false`: the points are already debited, and
    the hold is captured, voided, or released by the hold-release job once `expires_at` has passed."""

    redemption_id: str
    member_id: str
    account_id: str | None = None  # paid from this account's pool
    points: int
    value: Decimal
    currency: str
    status: HoldStatus = "held"
    created_at: datetime
    expires_at: datetime
    settled_at: datetime | None = None
    response: str | None = None  # a capture's first answer, replayed byte for byte by a repeated capture


class ExpiryWarning(BaseModel):
    """The expiry run told a member that `points` expire at the end of `month` (item `WARN#<member>#<month>`).

    Written once per member and month by the expiry job; the stream publishes PointsExpiringSoon from it.
    """

    model_config = ConfigDict(extra="ignore")

    member_id: str  # a pool's warning: `ACCOUNT#<account_id>`, and `account_id` says which
    account_id: str | None = None
    month: str  # the points expire at the end of this month
    points: int
    period: str | None = None  # the expiry run's period (YYYY-MM); `month` when absent
    as_of: str | None = None
    run_id: str | None = None


class TierWarning(BaseModel):
    """The tier evaluation of `period` kept the holder's tier, but the next one (`evaluation_on`) would drop it
    unless it adds `remaining` (item `TIERWARN#<period>#<shard>` / `<holder id>`, v1.2).

    Written once per holder and period, in the evaluation's own write; the stream publishes TierDowngradeUpcoming
    from it. `qualifying_then` and `remaining` are whole points (measure `base_points`) or an amount (`spend`).
    """

    model_config = ConfigDict(extra="ignore")

    member_id: str  # an account's: `ACCOUNT#<account_id>`, and `account_id` says which
    account_id: str | None = None
    tier_id: str
    period: str  # the evaluation that warned (YYYY-MM)
    evaluation_on: str  # the next evaluation, the 1st of the month after `period` (YYYY-MM-DD)
    threshold: int
    qualifying_then: int | Decimal
    remaining: int | Decimal
    as_of: str | None = None
    run_id: str | None = None
