"""A member's tier as clients see it (the member view, an earn's and a checkout's answers, a grant's)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loyalty.domain.model import Holder
from loyalty.kernel.clock import isoformat
from loyalty.kernel.months import month_of
from loyalty.ledger import maths as ledger
from loyalty.program.rules import Program
from loyalty.tiers import maths as tiers


def tier_view(member: Holder, program: Program) -> dict[str, Any]:
    tier = program.tier(member.tier_id)
    return {
        "id": tier.id,
        "name": tier.name,
        "since": isoformat(member.tier_since),
        "source": member.tier_source,
    }


def standing(holder: Holder, program: Program, now: datetime) -> dict[str, Any]:
    """A holder's points, qualifying value and expiring points, as a member's and an account's views show them."""
    first, last = tiers.window(program, month_of(now))
    value = tiers.qualifying_value(holder, program, last)
    upcoming = tiers.next_tier(program, program.tier(holder.tier_id))
    return {
        "points": {
            "available": holder.available,
            "pending": holder.pending,
            "lifetime_earned": holder.lifetime_earned,
            "lifetime_redeemed": holder.lifetime_redeemed,
            "lifetime_expired": holder.lifetime_expired,
            "lifetime_adjusted": holder.lifetime_adjusted,
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
        "expiring": [{"month": m, "points": p} for m, p in ledger.expiring(holder) if m >= month_of(now)],
    }
