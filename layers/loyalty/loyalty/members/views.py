"""The member as clients see it: the member view, its profile, ledger lines (its tier: `loyalty.tiers.views`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loyalty.domain.model import Member
from loyalty.kernel.clock import isoformat, utcnow
from loyalty.program.rules import Program
from loyalty.tiers import maths as tiers
from loyalty.tiers.views import standing, tier_view


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
    figures = standing(member, program, now)
    return {
        "member_id": member.member_id,
        "status": member.status,
        "tier": tier_view(member, program),
        "points": figures["points"],
        "qualifying": figures["qualifying"],
        "expiring": figures["expiring"],
        "benefits": tiers.benefits(member, program, now),
        "enrolled_at": isoformat(member.enrolled_at),
        "channel": member.channel,
        "profile": profile_view(member),
        **(
            {"account": {"account_id": member.account_id, "role": member.account_role}}
            if member.account_id and member.account_role
            else {}
        ),
    }
