"""Transfers and gifts (CONTRACT.md v1.2): a member gives points to another member or into an account's pool.

The points keep their expiry months (the sender's soonest-expiring first), so a gift never lengthens a
point's life; points of a month that is already over expire at once on arrival (the funnel). Each side
writes a `transfer` entry (negative for the sender) in one transaction, keyed by `transfer_id`. One member
sends at most the programme's `transfers.max_points_per_month` in a calendar month: the abuse control every
anchor adds, counted on the sender (a counter of points, checked by the funnel's invariants too).
Transfers count neither as qualifying value nor as what a member `contributed` to a pool.
"""

from __future__ import annotations

from typing import Any

from loyalty.answers.accounts import Transferred, TransferSide
from loyalty.domain import keys
from loyalty.domain.model import Account, LedgerEntry, Member
from loyalty.domain.status import ensure_active
from loyalty.kernel.errors import AccountNotFound, MemberNotFound, TransferLimitReached
from loyalty.ledger.funnel import Books, Ledger, PoolBooks, transfer_counter
from loyalty.ledger.operations import Outcome, Plan, request_hash, run_with
from loyalty.program.rules import Program
from loyalty.store import accounts as store

Receiver = Member | Account | None


def transfer(
    program: Program,
    transfer_id: str,
    from_member_id: str,
    points: int,
    *,
    to_member_id: str | None = None,
    to_account_id: str | None = None,
    reason: str | None = None,
) -> Outcome:
    """Move `points` from a member to a member (`to_member_id`) or into a pool (`to_account_id`)."""
    entry_key = keys.transfer(transfer_id)
    payload: dict[str, Any] = {"from": from_member_id, "to_member": to_member_id, "to_account": to_account_id}
    payload.update(points=points, reason=reason)
    hash_ = request_hash(payload)

    def load() -> tuple[Member | None, LedgerEntry | None, Receiver]:
        members, accounts, entries = store.load_holders(
            [from_member_id, *([to_member_id] if to_member_id else [])],
            [to_account_id] if to_account_id else [],
            [entry_key],
        )
        receiver: Receiver = members.get(to_member_id) if to_member_id else accounts.get(to_account_id or "")
        return members.get(from_member_id), entries.get(entry_key), receiver

    def plan(books: Books, receiver: Receiver) -> Plan:
        sender = books.member
        ensure_active(sender)
        if receiver is None:
            if to_account_id is not None:
                raise AccountNotFound(f"no account {to_account_id!r}")
            raise MemberNotFound(f"no member {to_member_id!r}")
        counter = transfer_counter(books.now)
        sent = sender.counters.get(counter, 0)
        if sent + points > program.transfers.max_points_per_month:
            left = max(0, program.transfers.max_points_per_month - sent)
            raise TransferLimitReached(
                f"a member sends at most {program.transfers.max_points_per_month} points a month; {left} left"
            )
        other: Ledger[Any]
        if isinstance(receiver, Member):
            ensure_active(receiver)
            other = Books(program, receiver, books.now)
            to = {"member_id": receiver.member_id}
        else:
            other = PoolBooks(program, receiver, books.now, sender.member_id)
            to = {"account_id": receiver.account_id}
        months = books.send(points)  # 409 insufficient_points unless the balance covers it
        sender.counters[counter] = sent + points
        said = {"reason": reason} if reason else {}
        books.entry(
            entry_key,
            "transfer",
            -points,
            transfer_id,
            books.now,
            details={**({"to_member_id": to_member_id} if to_member_id else {"to_account_id": to_account_id}), **said},
            buckets=months,
        )
        received = other.receive(months)
        other.entry(
            keys.transfer_in(transfer_id),
            "transfer",
            points,
            transfer_id,
            books.now,
            # a pool's entry names the member who caused it (`member_id`), as every pool entry does
            details={
                "from_member_id": sender.member_id,
                **({"member_id": sender.member_id} if isinstance(other, PoolBooks) else {}),
                **said,
            },
            buckets=received,
        )
        body = Transferred(
            transfer_id=transfer_id,
            points=points,
            from_=TransferSide(member_id=sender.member_id, balance=sender.available),
            to=TransferSide(**to, balance=other.member.available),
        )
        return Plan(body, [], [other])

    return run_with(program, load, from_member_id, entry_key, hash_, plan)
