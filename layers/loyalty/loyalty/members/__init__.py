"""Members: enrolment and identity, the member view, ledger and recent events, lifecycle and privacy, adjustments.

- `enrolment`: enrol (idempotent, identifiers claimed race-free in the same transaction);
- `identity`: find a member by email, phone or card; edit the profile;
- `lifecycle`: suspend, reactivate, close, erase, export;
- `status`: what each status allows;
- `views`: the member view, its tier and profile, ledger lines.
"""

from __future__ import annotations

from typing import Any

from loyalty import keys
from loyalty.errors import MemberNotFound
from loyalty.funnel import Books
from loyalty.model import Member
from loyalty.operations import Outcome, Plan, request_hash, run
from loyalty.program import Program
from loyalty.store import member_events
from loyalty.store import members as store

from .enrolment import enroll
from .identity import find, update_profile
from .lifecycle import erase, export, set_status
from .status import ensure_active, ensure_open
from .views import entry_view, member_view, profile_view, tier_view

__all__ = [
    "adjust",
    "enroll",
    "ensure_active",
    "ensure_open",
    "entry_view",
    "erase",
    "export",
    "find",
    "get_member",
    "ledger_page",
    "member_view",
    "profile_view",
    "recent_events",
    "set_status",
    "tier_view",
    "update_profile",
]


def get_member(member_id: str) -> Member:
    member = store.load_member(member_id)
    if member is None:
        raise MemberNotFound(f"no member {member_id!r}")
    return member


def ledger_page(member_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    entries, next_cursor = store.ledger_page(member_id, limit, cursor)
    if not entries and cursor is None:
        get_member(member_id)  # none yet, or no such member (404)
    return {"entries": [entry_view(e) for e in entries], "next_cursor": next_cursor}


def recent_events(member_id: str, limit: int) -> dict[str, Any]:
    """The domain events the member's changes published (kept 90 days), newest first."""
    events = member_events.recent(member_id, limit)
    if not events:
        get_member(member_id)  # none yet, or no such member (404)
    return {"events": events}


def adjust(program: Program, member_id: str, adjustment_id: str, points: int, reason: str) -> Outcome:
    """An admin's correction, signed. A debit may leave a debt, as a refund may. A suspended member may
    be corrected; a closed one may not (the funnel refuses its ledger lines)."""
    entry_key = keys.adjustment(member_id, adjustment_id)
    hash_ = request_hash({"member_id": member_id, "points": points, "reason": reason})

    def plan(books: Books) -> Plan:
        ensure_open(books.member)
        moved = books.adjust(points)
        entry = books.entry(
            entry_key, "adjust", points, adjustment_id, books.now, details={"reason": reason}, buckets=moved
        )
        from loyalty.answers.members import LedgerLine  # only the functions that adjust define the member answers

        return Plan(LedgerLine.model_validate(entry_view(entry)))

    return run(program, member_id, entry_key, hash_, plan)
