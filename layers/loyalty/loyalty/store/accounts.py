"""Accounts in the table: the account's pool, its memberships, its creation record and its ledger.

| item                 | PK                    | SK                   |
|----------------------|-----------------------|----------------------|
| account (the pool)   | `ACCOUNT#<account_id>` | `ACCOUNT`           |
| membership           | `ACCOUNT#<account_id>` | `MEMBER#<member_id>` |
| creation record      | `ACCOUNT#<account_id>` | `CREATED`           |

The pool's ledger entries are ledger entries (`ENTRY#<key>`) whose `ledger` index key is the account's
(`GSI1PK` = `ACCOUNT#<account_id>`), so a page of the pool's ledger is one Query, as a member's is.

Which account a member belongs to is on the member item (`account_id`). An earn reads the member, its entry
and the pool in one round trip when the process already knows the member's account (`remember`): the
account of a member changes only when it joins or leaves, and a wrong guess costs one more read, never a
wrong write (the transaction holds the member and the pool at the versions read).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from loyalty.domain.model import Account, AccountMembership, LedgerEntry, Member
from loyalty.store.codecs import (
    account_from_item,
    account_pk,
    entry_from_item,
    entry_pk,
    member_from_item,
    member_pk,
    membership_from_item,
    membership_sk,
    membership_to_item,
)
from loyalty.store.conflicts import accounts_moved_on
from loyalty.store.core import (
    ConditionFailed,
    batch_get,
    from_item,
    get,
    key,
    query_items,
    table_name,
    to_item,
)
from loyalty.store.members import all_entries_of, ledger_page_of, scan_items

_KNOWN_LIMIT = 10_000
_known: OrderedDict[str, str | None] = OrderedDict()
_known_lock = threading.Lock()


def remember(member_id: str, account_id: str | None) -> None:
    """The account `member_id` belonged to when last read (a bounded, per-process memory)."""
    with _known_lock:
        _known[member_id] = account_id
        _known.move_to_end(member_id)
        while len(_known) > _KNOWN_LIMIT:
            _known.popitem(last=False)


def guess(member_id: str) -> str | None:
    with _known_lock:
        return _known.get(member_id)


def forget_all() -> None:
    with _known_lock:
        _known.clear()


class _LastRead(threading.local):
    """The last earn read of this thread: its member (as read, untouched), its entry's key, its account's id."""

    read: tuple[str, str, Member, str] | None = None


_last = _LastRead()


def load_for_earn(
    member_id: str, entry_key: str, guessed: str | None
) -> tuple[Member | None, LedgerEntry | None, Account | None]:
    """The member, the entry under `entry_key` and the member's account (its pool, when `guessed` right; else
    None, and the caller reads it), in one round trip.

    A retry after losing the race only on the pool (`conflicts.accounts_moved_on`: the pool as it is now,
    answered with the cancellation) reads nothing: the member and the entry were what the lost transaction
    checked (its conditions on them held), the pool is the one that beat it. The retry's window is one round
    trip, not two."""
    moved = accounts_moved_on()
    last = _last.read
    if moved is not None and last is not None and last[:2] == (member_id, entry_key):
        image = moved.get(account_pk(last[3]))
        if image is not None and set(moved) == {account_pk(last[3])}:
            return last[2].model_copy(deep=True), None, account_from_item(image)
    members, accounts, entries = load_holders([member_id], [guessed] if guessed else [], [entry_key])
    member = members.get(member_id)
    entry = entries.get(entry_key)
    account = accounts.get(member.account_id) if member is not None and member.account_id else None
    pooled = member is not None and entry is None and member.account_id is not None
    _last.read = (member_id, entry_key, member.model_copy(deep=True), str(member.account_id)) if pooled else None  # type: ignore[union-attr]
    return member, entry, account


def account_key(account_id: str) -> dict[str, Any]:
    return key(account_pk(account_id), "ACCOUNT")


def load_account(account_id: str) -> Account | None:
    item = get(account_pk(account_id), "ACCOUNT")
    return account_from_item(item) if item else None


def load_many(keys: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """One consistent round trip: the items found, by `PK|SK`."""
    return {f"{item['PK']}|{item['SK']}": item for item in batch_get(keys)}


def read(found: dict[str, dict[str, Any]], pk: str, sk: str) -> dict[str, Any] | None:
    return found.get(f"{pk}|{sk}")


def load_holders(
    member_ids: list[str], account_ids: list[str], entry_keys: list[str]
) -> tuple[dict[str, Member], dict[str, Account], dict[str, LedgerEntry]]:
    """Members, accounts and entries (by key) in one consistent round trip; what is missing is absent."""
    keys = [
        *(key(member_pk(m), "MEMBER") for m in dict.fromkeys(member_ids)),
        *(account_key(a) for a in dict.fromkeys(account_ids)),
        *(key(entry_pk(k), "ENTRY") for k in dict.fromkeys(entry_keys)),
    ]
    members: dict[str, Member] = {}
    accounts: dict[str, Account] = {}
    entries: dict[str, LedgerEntry] = {}
    if len(keys) == 1:  # one item: a GetItem (the same round trip, a simpler call)
        found = get(keys[0]["PK"]["S"], keys[0]["SK"]["S"])
        items = [found] if found else []
    else:
        items = batch_get(keys)
    for item in items:
        if item["SK"] == "MEMBER":
            member = member_from_item(item)
            members[member.member_id] = member
            remember(member.member_id, member.account_id)
        elif item["SK"] == "ACCOUNT":
            account = account_from_item(item)
            accounts[account.account_id] = account
        else:
            entry = entry_from_item(item)
            entries[entry.key] = entry
    return members, accounts, entries


def load_creation(account_id: str) -> dict[str, Any] | None:
    return get(account_pk(account_id), "CREATED")


def load_membership(account_id: str, member_id: str) -> AccountMembership | None:
    item = get(account_pk(account_id), membership_sk(member_id))
    return membership_from_item(item) if item else None


def memberships(account_id: str) -> list[AccountMembership]:
    """Every membership of the account, current and past (at most a few hundred: one Query)."""
    items = query_items(
        KeyConditionExpression="PK = :pk AND begins_with(SK, :m)",
        ExpressionAttributeValues={":pk": {"S": account_pk(account_id)}, ":m": {"S": "MEMBER#"}},
        ConsistentRead=True,
    )
    return [membership_from_item(from_item(i)) for i in items]


def ledger_page(account_id: str, limit: int, cursor: str | None) -> tuple[list[LedgerEntry], str | None]:
    """The pool's ledger, newest first (the `ledger` index, as a member's)."""
    return ledger_page_of(account_pk(account_id), limit, cursor)


def all_entries(account_id: str) -> list[LedgerEntry]:
    """Every entry of the pool, oldest first (reconciliation and tests; never on a request path)."""
    return all_entries_of(account_pk(account_id))


def scan_accounts(segments: int = 4) -> Iterator[Account]:
    """Every account, by parallel-scan segments walked in turn (operator tools only, never a request path)."""
    for item in scan_items("ACCOUNT", segments):
        yield account_from_item(item)


# -- side writes ---------------------------------------------------------------------------------------
def put_creation_op(account_id: str, request_hash: str, response: str) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": table_name(),
            "Item": to_item(
                {
                    "PK": account_pk(account_id),
                    "SK": "CREATED",
                    "kind": "account_created",
                    "request_hash": request_hash,
                    "response": response,
                }
            ),
            "ConditionExpression": "attribute_not_exists(PK)",
        }
    }


def put_membership_op(membership: AccountMembership) -> dict[str, Any]:
    return {"Put": {"TableName": table_name(), "Item": to_item(membership_to_item(membership))}}


def count_membership_op(account_id: str, member_id: str, contributed: int, spent: int) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": table_name(),
            "Key": key(account_pk(account_id), membership_sk(member_id)),
            "UpdateExpression": "ADD contributed :c, spent :s",
            "ConditionExpression": "attribute_exists(PK)",
            "ExpressionAttributeValues": {":c": {"N": str(contributed)}, ":s": {"N": str(spent)}},
        }
    }


__all__ = ["ConditionFailed"]
