"""The programme manager's reports: members per tier, and points by the month they were recorded.

Kept by the stream processor as counters (`loyalty.store.counters`), in the same transaction as the
liability counters and under the same applied-marker, so a redelivered stream record counts nothing twice:

- **tiers**, from a member item's old and new image: a member counts in its `tier_id` unless its
  `status` is `closed` (active and suspended members count). A member write moves at most one member
  out of one tier and into another: -1 for the old image, +1 for the new.
- **activity**, by the month of a ledger entry's `recorded_at` (the month it was written, not the
  `occurred_at` a client sent), and by the month of a member's `enrolled_at` for `enrolled`:

  | figure     | from the ledger                                                          | sign          |
  |------------|--------------------------------------------------------------------------|---------------|
  | `enrolled` | members enrolled (member INSERT)                                          | count         |
  | `earned`   | `earn` + `bonus` points credited (pending ones too), net of `reversal`s   | net, usually ≥ 0 |
  | `redeemed` | points spent by `redeem`, net of `redeem_cancel` (cancel, void, release)  | positive      |
  | `expired`  | points removed by `expire` entries (the run, and points lapsed at once)   | positive      |
  | `adjusted` | `adjust` points                                                          | signed net    |
  | `transferred` | points members sent by `transfer` (the sender's entry; v1.2)          | positive      |
  | `imported`    | opening balances of imported members (`import` entries; v1.2)         | positive      |

  A refund is counted in the month it was recorded, not the month of its order: a month may show a
  negative `earned` when refunds outweigh earning.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from loyalty.domain.model import Account, LedgerEntry, Member
from loyalty.kernel.clock import isoformat, utcnow
from loyalty.kernel.errors import ValidationFailed
from loyalty.kernel.months import add_months, month_of, months_apart, months_between
from loyalty.program.rules import Program
from loyalty.store import counters as store

TIERS = "TIERS"  # counter families (loyalty.store.counters)
ACTIVITY = "ACTIVITY"
FIGURES = ("enrolled", "earned", "redeemed", "expired", "adjusted", "transferred", "imported")
MAX_MONTHS = 36  # the longest range one activity report answers
MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"

# entry type -> (figure, sign applied to the entry's signed points)
ENTRY_FIGURES: dict[str, tuple[str, int]] = {
    "earn": ("earned", 1),
    "bonus": ("earned", 1),
    "reversal": ("earned", 1),  # negative points: earned net of refunds
    "redeem": ("redeemed", -1),  # a debit: the points spent, positive
    "redeem_cancel": ("redeemed", -1),  # a credit: takes back what was spent
    "expire": ("expired", -1),
    "adjust": ("adjusted", 1),
    "transfer": ("transferred", -1),  # the sender's entry (negative); the receiver's is the same points
    "import": ("imported", 1),  # an opening balance brought by an import (v1.2)
}


# -- what one change adds (pure) ------------------------------------------------------------------
def counted_tier(member: Member | None) -> str | None:
    """The tier a member counts in; None when it counts in none (no member, or a closed one)."""
    return member.tier_id if member is not None and member.status != "closed" else None


def tier_counters(old: Member | None, new: Member | None) -> dict[store.Counter, int]:
    before, after = counted_tier(old), counted_tier(new)
    if before == after:
        return {}
    out: dict[store.Counter, int] = {}
    if before is not None:
        out[(TIERS, before, "members")] = -1
    if after is not None:
        out[(TIERS, after, "members")] = 1
    return out


def account_tier_counters(old: Account | None, new: Account | None) -> dict[store.Counter, int]:
    """Accounts per tier, counted apart from members (v1.2): the `accounts` figure of the tier's counter."""
    before, after = (old.tier_id if old else None), (new.tier_id if new else None)
    if before == after:
        return {}
    out: dict[store.Counter, int] = {}
    if before is not None:
        out[(TIERS, before, "accounts")] = -1
    if after is not None:
        out[(TIERS, after, "accounts")] = 1
    return out


def enrolment_counters(member: Member) -> dict[store.Counter, int]:
    return {(ACTIVITY, month_of(member.enrolled_at), "enrolled"): 1}


def entry_counters(entry: LedgerEntry) -> dict[store.Counter, int]:
    if entry.type == "transfer" and entry.points > 0:
        return {}  # the receiver's side of a transfer: the sender's entry counts it
    figure, sign = ENTRY_FIGURES[entry.type]
    points = sign * entry.points
    return {(ACTIVITY, month_of(entry.recorded_at), figure): points} if points else {}


# -- the answers ----------------------------------------------------------------------------------
class TierCount(BaseModel):
    id: str
    name: str
    members: int = Field(description="Active and suspended members in the tier; closed members are not counted.")
    accounts: int = Field(default=0, description="(v1.2) Accounts (companies, households) in the tier, apart.")


class TiersReport(BaseModel):
    """Members per tier, every tier of the programme in programme order (a tier no longer in the programme
    that still holds members follows, named by its id)."""

    model_config = ConfigDict(extra="forbid")

    as_of: str = Field(description="RFC 3339 UTC: when the report was read (counters are seconds behind).")
    members: int = Field(description="Members counted in every tier together.")
    accounts: int = Field(default=0, description="(v1.2) Accounts counted in every tier together.")
    tiers: list[TierCount]


class MonthActivity(BaseModel):
    month: str = Field(description="YYYY-MM, by the month each ledger entry was recorded (`recorded_at`).")
    enrolled: int = Field(description="Members enrolled.")
    earned: int = Field(description="Points of `earn` and `bonus` entries (pending ones too), net of refunds.")
    redeemed: int = Field(description="Points redeemed, net of cancelled, voided and released redemptions.")
    expired: int = Field(description="Points expired.")
    adjusted: int = Field(description="Administrators' adjustments, signed net.")
    transferred: int = Field(default=0, description="(v1.2) Points members gave to other members and to pools.")
    imported: int = Field(default=0, description="(v1.2) Opening balances brought by imports (`import` entries).")


class ActivityReport(BaseModel):
    """Every month of the range, oldest first, zeros included."""

    model_config = ConfigDict(extra="forbid")

    months: list[MonthActivity]


def tiers_report(program: Program, counters: dict[str, dict[str, int]], now: datetime) -> TiersReport:
    counted = {tier: figures.get("members", 0) for tier, figures in counters.items()}
    pools = {tier: figures.get("accounts", 0) for tier, figures in counters.items()}
    rows = [
        TierCount(id=t.id, name=t.name, members=counted.pop(t.id, 0), accounts=pools.pop(t.id, 0))
        for t in program.tiers
    ]
    rows += [
        TierCount(id=tier, name=tier, members=counted.get(tier, 0), accounts=pools.get(tier, 0))
        for tier in sorted(set(counted) | set(pools))
        if counted.get(tier, 0) or pools.get(tier, 0)
    ]
    return TiersReport(
        as_of=isoformat(now),
        members=sum(r.members for r in rows),
        accounts=sum(r.accounts for r in rows),
        tiers=rows,
    )


def activity_report(first: str, last: str, counters: dict[str, dict[str, int]]) -> ActivityReport:
    months = []
    for month in months_between(first, last):
        figures = counters.get(month, {})
        months.append(MonthActivity(month=month, **{f: figures.get(f, 0) for f in FIGURES}))
    return ActivityReport(months=months)


def activity_range(first: str | None, last: str | None, now: datetime) -> tuple[str, str]:
    """The report's months: `to` defaults to the current month, `from` to 11 months before `to`."""
    last = last or month_of(now)
    first = first or add_months(last, -11)
    if first > last:
        raise ValidationFailed.field("from", f"from ({first}) is after to ({last})")
    if months_apart(first, last) >= MAX_MONTHS:
        raise ValidationFailed.field("from", f"the range covers more than {MAX_MONTHS} months")
    return first, last


def tiers(program: Program) -> TiersReport:
    """Members per tier from the counters as the stream processor has kept them (seconds behind)."""
    return tiers_report(program, store.totals(TIERS), utcnow())


def activity(first: str | None, last: str | None) -> ActivityReport:
    first, last = activity_range(first, last, utcnow())
    return activity_report(first, last, store.totals(ACTIVITY, between=(first, last)))
