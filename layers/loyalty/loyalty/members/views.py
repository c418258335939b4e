"""The member as clients see it: the member view, its profile, ledger lines (its tier: `loyalty.tiers.views`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loyalty.domain.model import LedgerEntry, Member
from loyalty.kernel.clock import isoformat, utcnow
from loyalty.kernel.months import month_of
from loyalty.ledger import maths as ledger
from loyalty.program.rules import Program
from loyalty.tiers import maths as tiers
from loyalty.tiers.views import tier_view


def profile_view(member: Member) -> dict[str, Any]:
    """The personal fields (every one null after erasure)."""
    return {
        "email": member.email,
        "name": member.name,
        "phone": member.phone,
        "card_id": member.card_id,
        "birth_date": member.birth_date.isoformat() if member.birth_date else None,
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
            "lifetime_adjusted": member.lifetime_adjusted,
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
        "profile": profile_view(member),
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
