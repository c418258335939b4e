"""A member's tier as clients see it (the member view, an earn's and a checkout's answers, a grant's)."""

from __future__ import annotations

from typing import Any

from loyalty.domain.model import Member
from loyalty.kernel.clock import isoformat
from loyalty.program.rules import Program


def tier_view(member: Member, program: Program) -> dict[str, Any]:
    tier = program.tier(member.tier_id)
    return {
        "id": tier.id,
        "name": tier.name,
        "since": isoformat(member.tier_since),
        "source": member.tier_source,
    }
