"""What a member's status allows (CONTRACT.md, Members: lifecycle)."""

from __future__ import annotations

from loyalty.domain.model import Member
from loyalty.kernel.errors import MemberInactive


def ensure_active(member: Member) -> None:
    """Earning, activities, redemptions and checkout orders need an active member."""
    if member.status != "active":
        raise MemberInactive(f"member {member.member_id!r} is {member.status}")


def ensure_open(member: Member) -> None:
    """Every write needs a member who is not closed (a suspended member may still be refunded,
    corrected or edited)."""
    if member.status == "closed":
        raise MemberInactive(f"member {member.member_id!r} is closed")
