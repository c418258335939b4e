"""Identity: finding a member by an identifier, and editing the profile (identifiers move atomically)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loyalty.domain.model import IdentifierKind, Member, identifier_value, identifiers
from loyalty.domain.status import ensure_open
from loyalty.domain.writes import IdentifierClaimed, IdentifierReleased, SideWrite, WriteRefused
from loyalty.kernel.clock import utcnow
from loyalty.kernel.errors import IdentifierInUse, MemberNotFound
from loyalty.ledger.funnel import Books, Ledger, Txn
from loyalty.ledger.operations import Retry, commit, retrying
from loyalty.members.views import member_view
from loyalty.program.rules import Program
from loyalty.store import identity as identity_store
from loyalty.store import members as store


def find(kind: IdentifierKind, value: str) -> Member:
    """The member who holds the identifier now (a closed member holds none); 404 otherwise."""
    member = identity_store.find_member(kind, identifier_value(kind, value))
    if member is None:
        raise MemberNotFound(f"no member holds this {kind}")
    return member


def identity_writes(
    member_id: str, before: dict[IdentifierKind, str], after: dict[IdentifierKind, str]
) -> list[SideWrite]:
    """The identifier items a change of identifiers writes: released ones deleted, new ones claimed."""
    released: list[SideWrite] = [IdentifierReleased(k, v, member_id) for k, v in before.items() if after.get(k) != v]
    claimed: list[SideWrite] = [IdentifierClaimed(k, v, member_id) for k, v in after.items() if before.get(k) != v]
    return released + claimed


def identifier_in_use(kind: IdentifierKind) -> IdentifierInUse:
    return IdentifierInUse(f"this {kind} belongs to another member", details=[{"field": kind, "message": "in use"}])


Foreign = set[tuple[IdentifierKind, str]]


def commit_identity(
    books: Books, writes: list[SideWrite], foreign: Foreign, others: Sequence[Ledger[Any]] = ()
) -> None:
    """Commit the member's books (and `others`: the pool of the account a closing member leaves) with its
    identifier writes. A claim refused is `identifier_in_use` (nothing written). A release refused means
    another member holds the item (a member written before identifier items existed shares no item to
    release): it goes into `foreign`, and the operation decides again without it."""
    kept = [w for w in writes if not (isinstance(w, IdentifierReleased) and (w.kind, w.value) in foreign)]
    try:
        commit(Txn([books, *others], kept))
    except WriteRefused as refused:
        if isinstance(refused.write, IdentifierClaimed):
            raise identifier_in_use(refused.write.kind) from None
        if isinstance(refused.write, IdentifierReleased):
            foreign.add((refused.write.kind, refused.write.value))
            raise Retry() from None
        raise


def update_profile(program: Program, member_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """PATCH the profile: the member and its identifier items in one transaction; a released
    identifier is free at once, a taken one is `identifier_in_use` (nothing written)."""

    foreign: Foreign = set()

    def attempt() -> dict[str, Any]:
        member = store.load_member(member_id)
        if member is None:
            raise MemberNotFound(f"no member {member_id!r}")
        ensure_open(member)
        books = Books(program, member, utcnow())
        before = identifiers(member)
        for name, value in changes.items():
            setattr(member, name, value)
        if not books.changed:  # nothing changes: nothing to write
            return member_view(member, program, books.now)
        commit_identity(books, identity_writes(member_id, before, identifiers(member)), foreign)
        return member_view(member, program, books.now)

    return retrying(attempt)
