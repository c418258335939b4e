"""A member's records: the member itself (404 when missing), its ledger a page at a time, its recent events,
and an admin's adjustment."""

from __future__ import annotations

from typing import Any

from loyalty.domain import keys
from loyalty.domain.model import Member
from loyalty.domain.status import ensure_open
from loyalty.kernel.errors import MemberNotFound
from loyalty.ledger.funnel import Books
from loyalty.ledger.operations import Outcome, Plan, request_hash, run
from loyalty.ledger.views import entry_view
from loyalty.program.rules import Program
from loyalty.store import member_events
from loyalty.store import members as store


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


def adjust(
    program: Program,
    member_id: str,
    adjustment_id: str,
    points: int,
    reason: str,
    actor: dict[str, str] | None = None,
) -> Outcome:
    """An admin's correction, signed. A debit may leave a debt, as a refund may. A suspended member may
    be corrected; a closed one may not (the funnel refuses its ledger lines). `actor`, the key that made
    it (`key_id`, `name`), is kept in the entry's details; a replay by another key is still a replay."""
    entry_key = keys.adjustment(member_id, adjustment_id)
    hash_ = request_hash({"member_id": member_id, "points": points, "reason": reason})

    def plan(books: Books) -> Plan:
        ensure_open(books.member)
        moved = books.adjust(points)
        details: dict[str, Any] = {"reason": reason, **({"actor": actor} if actor else {})}
        entry = books.entry(entry_key, "adjust", points, adjustment_id, books.now, details=details, buckets=moved)
        from loyalty.answers.members import LedgerLine  # only the functions that adjust define the member answers

        return Plan(LedgerLine.model_validate(entry_view(entry)))

    return run(program, member_id, entry_key, hash_, plan)
