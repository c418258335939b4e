"""Checkout reads: the member (by id or by identifier), the order's entry and the stock of stocked
in-store rewards, in one round trip.

The order's writes go through `members.commit` like every operation's (loyalty.ledger.operations).
"""

from __future__ import annotations

from loyalty.domain.model import IdentifierKind, LedgerEntry, Member
from loyalty.store import identity
from loyalty.store.codecs import entry_from_item, entry_pk, member_from_item, member_pk
from loyalty.store.core import batch_get, key
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


def load_by_lookup(
    kind: IdentifierKind, value: str, entry_key: str | None, stocked: list[str], *, first: bool
) -> Loaded:
    """`load_for_checkout` for a member given by identifier (`value` in its compared form).

    First attempt: the member from the identifier index in one round trip (two on an index miss), the
    stock (if the programme stocks in-store rewards) in one more, and no entry: the order's transaction
    finds a replay by its entry's condition and checks that the member still holds the identifier. A
    retry reads the identifier item, then the member, entry and stock consistently.
    """
    if first:
        member = identity.find_member(kind, value)
        if member is None or (entry_key is not None and stocked):  # stock decides the plan: read it all
            return (member, None, {}) if member is None else load_for_checkout(member.member_id, entry_key, stocked)
        return member, None, _stock(stocked)
    member = identity.find_member_consistently(kind, value)
    if member is None:
        return None, None, {}
    return load_for_checkout(member.member_id, entry_key, stocked)


def _stock(stocked: list[str]) -> dict[str, int]:
    if not stocked:
        return {}
    return {
        str(item["PK"]).removeprefix("REWARD#"): int(item["remaining"])
        for item in batch_get([key(stock_pk(r), "STOCK") for r in stocked])
    }
