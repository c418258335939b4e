"""Checkout reads: the member (by id or by identifier), the order's entry and the stock of stocked
in-store rewards, in one round trip.

The order's writes go through `members.commit` like every operation's (loyalty.operations).
"""

from __future__ import annotations

from loyalty.errors import MemberNotFound
from loyalty.model import LedgerEntry, Member
from loyalty.store.core import batch_get, key
from loyalty.store.members import entry_from_item, entry_pk, member_from_item, member_pk
from loyalty.store.redemptions import stock_pk

Loaded = tuple[Member | None, LedgerEntry | None, dict[str, int]]


def load_for_checkout(member_id: str, entry_key: str | None, stocked: list[str]) -> Loaded:
    """One BatchGetItem: the member, the entry under `entry_key` (an order's; None for a quote) and the
    remaining stock of each reward in `stocked` that has a stock item yet."""
    keys = [key(member_pk(member_id), "MEMBER"), *(key(stock_pk(r), "STOCK") for r in stocked)]
    if entry_key is not None:
        keys.append(key(entry_pk(entry_key), "ENTRY"))
    member: Member | None = None
    entry: LedgerEntry | None = None
    stock: dict[str, int] = {}
    for item in batch_get(keys):
        if item["SK"] == "MEMBER":
            member = member_from_item(item)
        elif item["SK"] == "STOCK":
            stock[item["PK"].removeprefix("REWARD#")] = int(item["remaining"])
        else:
            entry = entry_from_item(item)
    return member, entry, stock


def load_by_lookup(kind: str, value: str, entry_key: str | None, stocked: list[str]) -> Loaded:
    """`load_for_checkout` for a member given by identifier (`kind`: email, phone or card_id).

    The hook for the identifier items of issue 14 (built beside this on main): resolve the identifier
    to its member in the same round trip (or one more GetItem of the identifier item before it) and
    answer what `load_for_checkout` answers. Until then no identifier is known to the table.
    """
    raise MemberNotFound(f"no member with that {kind}")
