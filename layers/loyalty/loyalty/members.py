"""Members: enrolment, the member view, the ledger and admin adjustments."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from loyalty import keys, ledger, tiers
from loyalty.clock import isoformat, utcnow
from loyalty.errors import MemberExists, MemberNotFound, ValidationFailed
from loyalty.funnel import Books
from loyalty.model import Channel, LedgerEntry, Member
from loyalty.months import month_of
from loyalty.operations import Outcome, Plan, dumps, request_hash, run
from loyalty.program import Program
from loyalty.store import members as store


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
        # a month that is over is not "expiring": its points await the expiry run of the 1st
        "expiring": [{"month": m, "points": p} for m, p in ledger.expiring(member) if m >= month_of(now)],
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
    books = Books(program, member, now)
    signup = program.activities.signup_by_channel.get(channel, program.activities.signup)
    if signup:
        moved = books.grant(signup, now)
        books.entry(
            keys.signup(member_id),
            "bonus",
            signup,
            "signup",
            now,
            details={"activity": "signup", "channel": channel},
            buckets=moved,
        )
    body = dumps(member_view(member, program, now))
    books.close()
    try:
        store.enroll(member, books.entries, referred_by)
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
    entry_key = keys.adjustment(member_id, adjustment_id)
    hash_ = request_hash({"member_id": member_id, "points": points, "reason": reason})

    def plan(books: Books) -> Plan:
        moved = books.adjust(points)
        entry = books.entry(
            entry_key, "adjust", points, adjustment_id, books.now, details={"reason": reason}, buckets=moved
        )
        return Plan(entry_view(entry))

    return run(program, member_id, entry_key, hash_, plan)
