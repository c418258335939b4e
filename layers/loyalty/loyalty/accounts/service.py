"""Accounts as the back office runs them: create, read, change, members joining and leaving, the pool's ledger.

Joining moves no points and leaving takes none (CONTRACT.md v1.2): a join or a leave writes the member (its
`account_id` and role), the account (its count of members, under its version: `max_members` holds under any
race) and the membership, in one transaction; the member's version makes a concurrent order see the change or
retry, so no order splits into an account its member has just left.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loyalty.answers.accounts import AccountAnswer
from loyalty.domain.model import Account, AccountKind, AccountMembership, AccountRole, Member
from loyalty.domain.status import ensure_active
from loyalty.domain.writes import AccountCreated, MembershipSaved, WriteRefused
from loyalty.kernel.clock import isoformat, utcnow
from loyalty.kernel.errors import (
    AccountExists,
    AccountFull,
    AccountNotFound,
    MemberInAccount,
    MemberNotFound,
    ValidationFailed,
)
from loyalty.ledger.funnel import Books, Ledger, PoolBooks, Txn
from loyalty.ledger.operations import Outcome, commit, dumps, request_hash, retrying
from loyalty.ledger.views import entry_view
from loyalty.program.rules import Program
from loyalty.store import accounts as store
from loyalty.tiers.views import standing, tier_view

DEFAULT_MAX_MEMBERS = {"company": 200, "household": 6}


# -- views ---------------------------------------------------------------------------------------------
def account_view(
    account: Account, memberships: list[AccountMembership], program: Program, now: datetime
) -> dict[str, Any]:
    figures = standing(account, program, now)
    tier = program.tier(account.tier_id)
    current = sorted((m for m in memberships if m.left_at is None), key=lambda m: (m.joined_at, m.member_id))
    return {
        "account_id": account.account_id,
        "kind": account.kind,
        "name": account.name,
        "member_share_percent": account.member_share_percent,
        "max_members": account.max_members,
        "tier": tier_view(account, program),
        "points": figures["points"],
        "qualifying": figures["qualifying"],
        "expiring": figures["expiring"],
        "benefits": {
            "multiplier": str(tier.multiplier),
            "discount_percent": str(tier.benefits.discount_percent),
            "perks": list(tier.benefits.perks),
        },
        "members": [
            {
                "member_id": m.member_id,
                "role": m.role,
                "joined_at": isoformat(m.joined_at),
                "contributed": m.contributed,
                "spent": m.spent,
            }
            for m in current
        ],
    }


def read(program: Program, account_id: str) -> AccountAnswer:
    account = store.load_account(account_id)
    if account is None:
        raise AccountNotFound(f"no account {account_id!r}")
    return AccountAnswer.model_validate(account_view(account, store.memberships(account_id), program, utcnow()))


def ledger_page(account_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    if store.load_account(account_id) is None:
        raise AccountNotFound(f"no account {account_id!r}")
    entries, next_cursor = store.ledger_page(account_id, limit, cursor)
    return {"entries": [entry_view(e) for e in entries], "next_cursor": next_cursor}


# -- create and change -----------------------------------------------------------------------------------
def create(
    program: Program,
    account_id: str,
    kind: AccountKind,
    name: str,
    member_share_percent: int,
    max_members: int | None,
) -> Outcome:
    """A new account (its pool empty, on the ladder's first tier). The same body again replays the first
    answer; the same id with another body is `409 account_exists`."""
    size = max_members if max_members is not None else DEFAULT_MAX_MEMBERS[kind]
    hash_ = request_hash(
        {"account_id": account_id, "kind": kind, "name": name, "share": member_share_percent, "max": size}
    )

    def replay_or_refuse() -> Outcome | None:
        stored = store.load_creation(account_id)
        if stored is None:
            return None
        if stored.get("request_hash") != hash_:
            raise AccountExists(f"account {account_id!r} exists with other details")
        return Outcome(200, str(stored["response"]), replayed=True)

    def attempt() -> Outcome:
        found = replay_or_refuse()
        if found is not None:
            return found
        now = utcnow()
        account = Account(
            account_id=account_id,
            kind=kind,
            name=name,
            member_share_percent=member_share_percent,
            max_members=size,
            created_at=now,
            tier_id=program.base_tier.id,
            tier_since=now,
        )
        books = PoolBooks(program, account, now)
        body = AccountAnswer.model_validate(account_view(account, [], program, now))
        text = dumps(body)
        try:
            commit(Txn([books], [AccountCreated(account_id, hash_, text)]))
        except WriteRefused:
            again = replay_or_refuse()
            if again is None:  # pragma: no cover - the record was there a moment ago
                raise
            return again
        return Outcome(201, text)

    return retrying(attempt)


def change(
    program: Program, account_id: str, name: str | None, member_share_percent: int | None, max_members: int | None
) -> AccountAnswer:
    """Name, share (for later orders) and size limit; a limit below the members it has is refused."""

    def attempt() -> AccountAnswer:
        account = store.load_account(account_id)
        if account is None:
            raise AccountNotFound(f"no account {account_id!r}")
        if max_members is not None and max_members < account.members:
            raise ValidationFailed.field("max_members", f"the account has {account.members} members")
        books = PoolBooks(program, account, utcnow())
        if name is not None:
            account.name = name
        if member_share_percent is not None:
            account.member_share_percent = member_share_percent
        if max_members is not None:
            account.max_members = max_members
        if books.changed:
            commit(Txn([books]))
        return AccountAnswer.model_validate(account_view(account, store.memberships(account_id), program, books.now))

    return retrying(attempt)


# -- members ---------------------------------------------------------------------------------------------
def _load(account_id: str, member_id: str) -> tuple[Account, Member]:
    members, accounts, _ = store.load_holders([member_id], [account_id], [])
    account = accounts.get(account_id)
    if account is None:
        raise AccountNotFound(f"no account {account_id!r}")
    member = members.get(member_id)
    if member is None:
        raise MemberNotFound(f"no member {member_id!r}")
    return account, member


def join(program: Program, account_id: str, member_id: str, role: AccountRole) -> AccountAnswer:
    """Add `member_id` with `role`, or set the role of a member already in the account (no event then)."""

    def attempt() -> AccountAnswer:
        account, member = _load(account_id, member_id)
        ensure_active(member)
        if member.account_id not in (None, account_id):
            raise MemberInAccount(f"member {member_id!r} belongs to account {member.account_id!r}")
        now = utcnow()
        books, pool = Books(program, member, now), PoolBooks(program, account, now, member_id)
        past = store.load_membership(account_id, member_id)
        holders: list[Ledger[Any]] = [books]
        if member.account_id == account_id and past is not None:
            membership = past.model_copy(update={"role": role})
        else:
            if account.members >= account.max_members:
                raise AccountFull(f"account {account_id!r} has its {account.max_members} members")
            account.members += 1
            # a member who comes back keeps what it put in and spent before
            membership = AccountMembership(
                account_id=account_id,
                member_id=member_id,
                role=role,
                joined_at=now,
                contributed=past.contributed if past else 0,
                spent=past.spent if past else 0,
            )
            holders.append(pool)
        if member.account_id != account_id:
            member.account_changed_at = now
        member.account_id = account_id
        member.account_role = membership.role
        commit(Txn([*holders], [MembershipSaved(membership)]))
        store.remember(member_id, account_id)
        return AccountAnswer.model_validate(account_view(account, store.memberships(account_id), program, now))

    return retrying(attempt)


def leave_on_closing(program: Program, member: Member, now: datetime) -> tuple[PoolBooks, MembershipSaved] | None:
    """A member being closed leaves its account in the closing's transaction: the pool's books (its count of
    members at the version read) and the membership's end. None when it belongs to no account."""
    if member.account_id is None:
        return None
    account = store.load_account(member.account_id)
    membership = store.load_membership(member.account_id, member.member_id)
    if account is None or membership is None:  # pragma: no cover - written together with the member's account_id
        raise LookupError(f"member {member.member_id!r} belongs to a missing account {member.account_id!r}")
    pool = PoolBooks(program, account, now, member.member_id)
    return pool, _part(member, account, membership, now)


def _part(member: Member, account: Account, membership: AccountMembership, now: datetime) -> MembershipSaved:
    """The member and the account part (no point moves): the member's account and role gone, the account one
    member fewer. Returns the membership's end, the write that goes with them."""
    account.members -= 1
    member.account_id = None
    member.account_role = None
    member.account_changed_at = now
    store.remember(member.member_id, None)
    return MembershipSaved(membership.model_copy(update={"left_at": now}))


def leave(program: Program, account_id: str, member_id: str) -> AccountAnswer:
    """The member leaves: what it had stays its own, what went into the pool stays there."""

    def attempt() -> AccountAnswer:
        account, member = _load(account_id, member_id)
        membership = store.load_membership(account_id, member_id)
        if member.account_id != account_id or membership is None:
            raise MemberNotFound(f"member {member_id!r} is not in account {account_id!r}")
        now = utcnow()
        books, pool = Books(program, member, now), PoolBooks(program, account, now, member_id)
        commit(Txn([books, pool], [_part(member, account, membership, now)]))
        return AccountAnswer.model_validate(account_view(account, store.memberships(account_id), program, now))

    return retrying(attempt)
