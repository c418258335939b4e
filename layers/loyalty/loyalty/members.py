"""Members: enrolment, the member view, the ledger and admin adjustments."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from loyalty import ledger, tiers
from loyalty.clock import isoformat, utcnow
from loyalty.errors import MemberExists, MemberNotFound, ValidationFailed
from loyalty.model import NEVER, Channel, LedgerEntry, Member
from loyalty.months import add_months, month_of
from loyalty.operations import Outcome, Plan, dumps, entry_id_for, request_hash, run
from loyalty.program import Program
from loyalty.store import members as store


def expiry_month_for(program: Program, occurred: datetime) -> str:
    if program.expiry.policy == "never":
        return NEVER
    return add_months(month_of(occurred), program.expiry.months)


def new_entry(
    member: Member,
    entry_key: str,
    type_: str,
    points: int,
    reference: str,
    occurred_at: datetime,
    *,
    details: dict[str, Any] | None = None,
    buckets: dict[str, int] | None = None,
    pending: bool = False,
) -> LedgerEntry:
    """Append a ledger entry to `member` (already changed by the caller's ledger maths)."""
    prune_history(member, utcnow())
    member.entries += 1
    member.version += 1
    return LedgerEntry(
        entry_id=entry_id_for(entry_key),
        key=entry_key,
        member_id=member.member_id,
        seq=member.entries,
        type=type_,
        points=points,
        balance_after=member.available,
        reference=reference,
        occurred_at=occurred_at,
        recorded_at=utcnow(),
        details=details or {},
        buckets=buckets or {},
        pending=pending,
    )


# How much history the member item keeps: a qualifying window is at most 24 months (program.py), and
# caps count in the current month or year. Without pruning, the item (and every write's cost) grows
# with the member's age.
HISTORY_MONTHS = 25
COUNTER_MONTHS = 13
COUNTER_YEARS = 2


def prune_history(member: Member, now: datetime) -> None:
    first_month = add_months(month_of(now), -(HISTORY_MONTHS - 1))
    member.qualifying = {m: v for m, v in member.qualifying.items() if m >= first_month}
    member.spend = {m: v for m, v in member.spend.items() if m >= first_month}
    first_counter_month = add_months(month_of(now), -(COUNTER_MONTHS - 1))
    first_year = f"{now.year - COUNTER_YEARS + 1:04d}"

    def keep(key: str) -> bool:
        period = key.rsplit(":", 1)[-1]
        if len(period) == 7 and period[4] == "-":
            return period >= first_counter_month
        if len(period) == 4 and period.isdigit():
            return period >= first_year
        return True  # lifetime, and anything else

    member.counters = {k: v for k, v in member.counters.items() if keep(k)}


def grant_bonus(
    member: Member, program: Program, points: int, entry_key: str, reference: str, occurred: datetime
) -> LedgerEntry:
    """A non-purchase bonus (signup, referral, activity): spendable, not qualifying."""
    if program.expiry.policy == "activity_extends":
        ledger.extend_all(member, expiry_month_for(program, occurred))
    into = ledger.credit(member, points, expiry_month_for(program, occurred))
    member.lifetime_earned += points
    return new_entry(member, entry_key, "bonus", points, reference, occurred, buckets=into)


# -- views ---------------------------------------------------------------------------------------
def tier_view(member: Member, program: Program) -> dict[str, Any]:
    tier = program.tier(member.tier_id)
    return {
        "id": tier.id,
        "name": tier.name,
        "since": isoformat(member.tier_since),
        "source": member.tier_source,
    }


def member_view(member: Member, program: Program, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    first, last = tiers.window(program, month_of(now))
    value = tiers.qualifying_value(member, program, last)
    current = program.tier(member.tier_id)
    upcoming = tiers.next_tier(program, current)
    return {
        "member_id": member.member_id,
        "status": member.status,
        "tier": tier_view(member, program),
        "points": {
            "available": member.available,
            "pending": member.pending,
            "lifetime_earned": member.lifetime_earned,
            "lifetime_redeemed": member.lifetime_redeemed,
            "lifetime_expired": member.lifetime_expired,
        },
        "qualifying": {
            "window_start": first,
            "window_end": last,
            "value": int(value) if value == int(value) else str(value),
            "next_tier": (
                {
                    "id": upcoming.id,
                    "threshold": upcoming.threshold,
                    "remaining": max(0, int(upcoming.threshold - value)),
                }
                if upcoming
                else None
            ),
        },
        "expiring": [{"month": m, "points": p} for m, p in ledger.expiring(member)],
        "benefits": tiers.benefits(member, program, now),
        "enrolled_at": isoformat(member.enrolled_at),
        "channel": member.channel,
    }


def entry_view(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "entry_id": entry.entry_id,
        "type": entry.type,
        "points": entry.points,
        "balance_after": entry.balance_after,
        "reference": entry.reference,
        "occurred_at": isoformat(entry.occurred_at),
        "recorded_at": isoformat(entry.recorded_at),
        "details": entry.details,
    }


# -- operations ----------------------------------------------------------------------------------
def enroll(
    program: Program,
    *,
    member_id: str,
    channel: Channel,
    email: str | None = None,
    name: str | None = None,
    referred_by: str | None = None,
    birth_date: date | None = None,
) -> tuple[Member, str]:
    """Create the member and grant the signup bonus, in one transaction. Returns the member view JSON."""
    if referred_by == member_id:
        raise ValidationFailed.field("referred_by", "a member cannot refer themselves")
    now = utcnow()
    member = Member(
        member_id=member_id,
        channel=channel,
        email=email,
        name=name,
        referred_by=referred_by,
        birth_date=birth_date,
        enrolled_at=now,
        tier_id=program.base_tier.id,
        tier_since=now,
        tier_reached_at=now,
    )
    entries: list[LedgerEntry] = []
    signup = program.activities.signup_by_channel.get(channel, program.activities.signup)
    if signup:
        entries.append(grant_bonus(member, program, signup, f"bonus#{member_id}#signup", "signup", now))
        entries[0].details = {"activity": "signup", "channel": channel}
    body = dumps(member_view(member, program, now))
    member.version = 1
    try:
        store.enroll(member, entries, referred_by)
    except store.MemberAlreadyExists:
        raise MemberExists(f"member {member_id!r} exists") from None
    except store.ReferrerMissing:
        raise ValidationFailed.field("referred_by", f"no member {referred_by!r}") from None
    return member, body


def get_member(member_id: str) -> Member:
    member = store.load_member(member_id)
    if member is None:
        raise MemberNotFound(f"no member {member_id!r}")
    return member


def ledger_page(member_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    entries, next_cursor = store.ledger_page(member_id, limit, cursor)
    if not entries and cursor is None and store.load_member(member_id) is None:
        raise MemberNotFound(f"no member {member_id!r}")
    return {"entries": [entry_view(e) for e in entries], "next_cursor": next_cursor}


def adjust(program: Program, member_id: str, adjustment_id: str, points: int, reason: str) -> Outcome:
    """An admin's correction, signed. A debit may leave a debt, as a refund may."""
    entry_key = f"adjust#{member_id}#{adjustment_id}"
    hash_ = request_hash({"member_id": member_id, "points": points, "reason": reason})

    def plan(member: Member) -> Plan:
        now = utcnow()
        if points > 0:
            if program.expiry.policy == "activity_extends":
                ledger.extend_all(member, expiry_month_for(program, now))
            moved = ledger.credit(member, points, expiry_month_for(program, now))
        else:
            moved = ledger.debit(member, -points)
        member.lifetime_earned += points
        entry = new_entry(
            member, entry_key, "adjust", points, adjustment_id, now, details={"reason": reason}, buckets=moved
        )
        return Plan(member, [entry], entry_view(entry))

    return run(member_id, entry_key, hash_, plan)
