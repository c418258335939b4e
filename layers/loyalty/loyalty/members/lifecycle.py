"""Lifecycle and privacy: suspend, reactivate, close (the balance forfeited), erase, export.

Closing is final: one `adjust` entry (`details.reason` "closed", key `close#<member_id>`) takes every
available and pending point (a debt is written off), every expiry month is emptied, the identifiers
are released; from then on the funnel refuses every ledger line for the member. Erasure closes the
member if needed and removes every personal field from every item that holds one: the member item,
its identifier items (released at closing) and the stored enrolment (its request and first answer).
Ledger entries hold no personal field (their details are amounts, orders, rewards), nor do domain
events (their detail models have none), so the ledger keeps its amounts and sums. Reasons are free text
an agent typed, kept as typed until erasure, which replaces each with `erased` wherever the member's
records hold it (`loyalty.domain.erasure`): the member, its adjustments, its kept events, its audits.
"""

from __future__ import annotations

import time
from typing import Any

from loyalty.accounts import service as accounts
from loyalty.domain import erasure, keys
from loyalty.domain.model import PROFILE_FIELDS, MemberStatus, identifiers
from loyalty.domain.writes import EnrolmentErased, IdentifierReleased, PendingMarkerDone, SideWrite, StatusAudit
from loyalty.kernel.clock import isoformat, utcnow
from loyalty.kernel.errors import Contention, InvalidState, MemberNotFound
from loyalty.ledger.funnel import Books, Ledger
from loyalty.ledger.operations import retrying
from loyalty.ledger.views import entry_view
from loyalty.members.identity import Foreign, commit_identity
from loyalty.members.views import member_view, profile_view
from loyalty.program.rules import Program
from loyalty.store import erasure as erasure_store
from loyalty.store import member_events
from loyalty.store import members as store

CLOSED: MemberStatus = "closed"


def _close(books: Books, reason: str, actor: dict[str, str] | None) -> list[SideWrite]:
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
            details={"reason": CLOSED, "note": reason, **({"actor": actor} if actor else {})},
            buckets=months,
        )
    _set_status(books, CLOSED, reason)
    return writes


def _leave_account(program: Program, books: Books, writes: list[SideWrite]) -> list[Ledger[Any]]:
    """A closing member leaves its account (its membership ends, the account counts one member less), in the
    closing's transaction; what it put into the pool stays there."""
    left = accounts.leave_on_closing(program, books.member, books.now)
    if left is None:
        return []
    pool, membership = left
    writes.append(membership)
    return [pool]


def _audit(books: Books, status: str, actor: dict[str, str] | None) -> StatusAudit:
    """The status change's record for replays: when, after how many ledger entries (before this
    operation's own, a closing's forfeit), and at which version of the member; and who (`actor`)."""
    at, version = isoformat(books.now), books.read_version
    fields = {
        "member_id": books.member.member_id,
        "status": status,
        "entries": books.read_entries,
        "version": version,  # two changes between the same entries: in this order
        "recorded_at": at,
        "actor": actor,
    }
    return StatusAudit(books.member.member_id, f"{at}#{version:012d}#{status}", fields)


def _set_status(books: Books, status: MemberStatus, reason: str) -> None:
    books.member.status = status
    books.member.status_reason = reason
    books.member.status_changed_at = books.now


def set_status(
    program: Program, member_id: str, status: MemberStatus, reason: str, actor: dict[str, str] | None = None
) -> dict[str, Any]:
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
        writes: list[SideWrite] = [_audit(books, status, actor)]
        others: list[Ledger[Any]] = []
        if status == CLOSED:
            writes += _close(books, reason, actor)
            others += _leave_account(program, books, writes)
        else:
            _set_status(books, status, reason)
        commit_identity(books, writes, foreign, others)
        return member_view(member, program, books.now)

    return retrying(attempt)


def erase(program: Program, member_id: str, actor: dict[str, str] | None = None) -> dict[str, Any]:
    """The right to erasure: close (if open), remove every personal field and replace every free-text
    reason (`loyalty.domain.erasure`). Repeating it changes nothing; repeating an erasure that died half
    way finishes it (each step is idempotent)."""

    foreign: Foreign = set()

    def attempt() -> tuple[dict[str, Any], int]:
        member = store.load_member(member_id)
        if member is None:
            raise MemberNotFound(f"no member {member_id!r}")
        if member.erased_at is not None and not erasure.scrub_member(member.model_copy(deep=True)):
            return member_view(member, program), member.entries
        books = Books(program, member, utcnow())
        writes: list[SideWrite] = []
        others: list[Ledger[Any]] = []
        if member.erased_at is None:
            writes += [
                _audit(books, "erased", actor),
                *(_close(books, "erased", actor) if member.status != CLOSED else []),
            ]
            others += _leave_account(program, books, writes)
            for name in PROFILE_FIELDS:
                setattr(member, name, None)
            member.erased_at = books.now
            writes.append(EnrolmentErased(member_id))
        erasure.scrub_member(member)
        commit_identity(books, writes, foreign, others)
        return member_view(member, program, books.now), member.entries

    view, entries = retrying(attempt)
    _erase_free_text(member_id, entries)
    return view


INDEX_PASSES = 5  # the `ledger` index is eventually consistent (milliseconds behind the table)


def _erase_free_text(member_id: str, entries: int) -> None:
    """Replace the free text of the erased member's records beyond the member item: its adjustments (a
    page of its ledger at a time, in bounded transactions), its kept events, its tier override audits.
    Only text changes; each write is idempotent, so a retried erasure finishes what a failed one began."""
    for attempt in range(INDEX_PASSES):
        seen = 0
        for page, read in erasure_store.adjustment_pages(member_id):
            seen += read
            texts = []
            for entry in page:
                details = erasure.entry_details(entry)
                if details is not None:
                    texts.append((entry.key, details, erasure.entry_response(entry.response, details)))
                other = erasure.other_side(entry)
                if other is not None:
                    texts.append((other[0], other[1], None))
            erasure_store.rewrite_entries(texts)
        if seen >= entries:
            break
        time.sleep(0.05 * 2**attempt)  # the index has not caught up with the member's last entries yet
    else:
        raise Contention("the member's ledger index is behind; repeat the erasure")
    member_events.rewrite(member_id, erasure.event_detail)
    erasure_store.rewrite_tier_audits(member_id, erasure.ERASED)


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
