"""Lifecycle and privacy: suspend, reactivate, close (the balance forfeited), erase, export.

Closing is final: one `adjust` entry (`details.reason` "closed", key `close#<member_id>`) takes every
available and pending point (a debt is written off), every expiry month is emptied, the identifiers
are released; from then on the funnel refuses every ledger line for the member. Erasure closes the
member if needed and removes every personal field from every item that holds one: the member item,
its identifier items (released at closing) and the stored enrolment (its request and first answer).
Ledger entries hold no personal field (their details are amounts, orders, rewards), nor do domain
events (their detail models have none), so the ledger keeps its amounts and sums.
"""

from __future__ import annotations

from typing import Any

from loyalty.domain import keys
from loyalty.domain.model import PROFILE_FIELDS, MemberStatus, identifiers
from loyalty.domain.writes import EnrolmentErased, IdentifierReleased, PendingMarkerDone, SideWrite, StatusAudit
from loyalty.kernel.clock import isoformat, utcnow
from loyalty.kernel.errors import InvalidState, MemberNotFound
from loyalty.ledger.funnel import Books
from loyalty.ledger.operations import retrying
from loyalty.members.identity import Foreign, commit_identity
from loyalty.members.views import entry_view, member_view, profile_view
from loyalty.program.rules import Program
from loyalty.store import members as store

CLOSED: MemberStatus = "closed"


def _close(books: Books, reason: str) -> list[SideWrite]:
    """Close the member on its books: the forfeit entry, the identifiers and pending markers released."""
    member = books.member
    writes: list[SideWrite] = [IdentifierReleased(k, v, member.member_id) for k, v in identifiers(member).items()]
    writes += [PendingMarkerDone(member.member_id, order_id) for order_id in member.pending_lots]
    moved, months = books.forfeit()
    if moved:
        books.entry(
            keys.closing(member.member_id),
            "adjust",
            moved,
            "closed",
            books.now,
            details={"reason": CLOSED, "note": reason},
            buckets=months,
        )
    _set_status(books, CLOSED, reason)
    return writes


def _audit(books: Books, status: str) -> StatusAudit:
    """The status change's record for replays: when, after how many ledger entries (before this
    operation's own, a closing's forfeit), and at which version of the member."""
    at, version = isoformat(books.now), books.read_version
    fields = {
        "member_id": books.member.member_id,
        "status": status,
        "entries": books.read_entries,
        "version": version,  # two changes between the same entries: in this order
        "recorded_at": at,
    }
    return StatusAudit(books.member.member_id, f"{at}#{version:012d}#{status}", fields)


def _set_status(books: Books, status: MemberStatus, reason: str) -> None:
    books.member.status = status
    books.member.status_reason = reason
    books.member.status_changed_at = books.now


def set_status(program: Program, member_id: str, status: MemberStatus, reason: str) -> dict[str, Any]:
    """Suspend, reactivate or close. The status a member already has changes nothing; a closed member's
    status never changes again (409 invalid_state)."""

    foreign: Foreign = set()

    def attempt() -> dict[str, Any]:
        member = store.load_member(member_id)
        if member is None:
            raise MemberNotFound(f"no member {member_id!r}")
        if member.status == status:
            return member_view(member, program)
        if member.status == CLOSED:
            raise InvalidState(f"member {member_id!r} is closed; its status cannot change")
        books = Books(program, member, utcnow())
        writes: list[SideWrite] = [_audit(books, status)]
        if status == CLOSED:
            writes += _close(books, reason)
        else:
            _set_status(books, status, reason)
        commit_identity(books, writes, foreign)
        return member_view(member, program, books.now)

    return retrying(attempt)


def erase(program: Program, member_id: str) -> dict[str, Any]:
    """The right to erasure: close (if open) and remove every personal field. Repeating it changes nothing."""

    foreign: Foreign = set()

    def attempt() -> dict[str, Any]:
        member = store.load_member(member_id)
        if member is None:
            raise MemberNotFound(f"no member {member_id!r}")
        if member.erased_at is not None:
            return member_view(member, program)
        books = Books(program, member, utcnow())
        writes = [_audit(books, "erased"), *(_close(books, "erased") if member.status != CLOSED else [])]
        for name in PROFILE_FIELDS:
            setattr(member, name, None)
        member.erased_at = books.now
        writes.append(EnrolmentErased(member_id))
        commit_identity(books, writes, foreign)
        return member_view(member, program, books.now)

    return retrying(attempt)


def export(program: Program, member_id: str) -> dict[str, Any]:
    """The right of access: the member, the profile and every ledger entry, oldest first."""
    member = store.load_member(member_id)
    if member is None:
        raise MemberNotFound(f"no member {member_id!r}")
    return {
        "member": member_view(member, program),
        "profile": profile_view(member),
        "ledger": [entry_view(e) for e in store.all_entries(member_id)],
    }
