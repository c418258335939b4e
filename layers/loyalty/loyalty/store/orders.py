"""Orders in the table: the cumulative refund state of an order, read with the refund's member and entries.

| item          | PK                    | SK           |
|---------------|-----------------------|--------------|
| order refunds | `ORDER#<order_id>`    | `REFUNDS`    |
| pending lot   | `PENDING#<member_id>` | `<order_id>` |

A pending lot's marker is in the `expiry` index: EXPPK=`PENDING#<shard>`,
EXPSK=`<available_on>#<member_id>#<order_id>`.

The order itself is its earn entry (`ENTRY#earn#<order_id>`); refunds are entries `ENTRY#refund#<id>`.
A pending lot's marker is only a to-do list for the daily activation: the member item's `pending_lots`
are the truth. Markers live in the `expiry` index under their own partitions (`PENDING#..`, never
`EXP#..`), so the expiry run never sees them and the table needs no extra index.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from loyalty.domain import keys as entry_keys
from loyalty.domain.model import LedgerEntry, Member, OrderRefunds
from loyalty.store.codecs import entry_from_item, entry_pk, member_from_item, member_pk
from loyalty.store.core import batch_get, key, query_items, table_name, to_item


def order_pk(order_id: str) -> str:
    return f"ORDER#{order_id}"


def refunds_from_item(item: dict[str, Any]) -> OrderRefunds:
    return OrderRefunds.model_validate(item)


def load_refund(
    member_id: str, refund_id: str, order_id: str, spends: Sequence[str] = ()
) -> tuple[Member | None, LedgerEntry | None, tuple[LedgerEntry | None, OrderRefunds | None, list[LedgerEntry]]]:
    """One round trip: the member, the refund's entry, the order's earn entry, its refund state, and those of
    the entries under `spends` (a checkout order's reward entries, by key) that exist."""
    member: Member | None = None
    refund: LedgerEntry | None = None
    order: LedgerEntry | None = None
    state: OrderRefunds | None = None
    found: list[LedgerEntry] = []
    order_pk_ = entry_pk(entry_keys.earn(order_id))
    keys = [
        key(member_pk(member_id), "MEMBER"),
        key(entry_pk(entry_keys.refund(refund_id)), "ENTRY"),
        key(order_pk_, "ENTRY"),
        key(order_pk(order_id), "REFUNDS"),
        *(key(entry_pk(k), "ENTRY") for k in dict.fromkeys(spends)),
    ]
    for item in batch_get(keys):
        if item["SK"] == "MEMBER":
            member = member_from_item(item)
        elif item["SK"] == "REFUNDS":
            state = refunds_from_item(item)
        elif item["PK"] == entry_pk(entry_keys.refund(refund_id)):
            refund = entry_from_item(item)
        elif item["PK"] == order_pk_:
            order = entry_from_item(item)
        else:
            found.append(entry_from_item(item))
    return member, refund, (order, state, sorted(found, key=lambda e: e.key))


def put_refunds_op(state: OrderRefunds, expected_version: int) -> dict[str, Any]:
    """A transaction item writing the refund state at its next version (the first must not exist)."""
    item = state.model_dump(mode="json")
    item.update(PK=order_pk(state.order_id), SK="REFUNDS", kind="order_refunds")
    put: dict[str, Any] = {"TableName": table_name(), "Item": to_item(item)}
    if expected_version == 0:
        put["ConditionExpression"] = "attribute_not_exists(PK)"
    else:
        put["ConditionExpression"] = "#v = :v"
        put["ExpressionAttributeNames"] = {"#v": "version"}
        put["ExpressionAttributeValues"] = {":v": {"N": str(expected_version)}}
    return {"Put": put}


# -- pending lots ----------------------------------------------------------------------------------
PENDING_SHARDS = 16


def _pending_partition(member_id: str) -> str:
    return f"PENDING#{zlib.crc32(member_id.encode()) % PENDING_SHARDS:02d}"


def put_pending_marker_op(member_id: str, order_id: str, available_on: date) -> dict[str, Any]:
    item = {
        "PK": f"PENDING#{member_id}",
        "SK": order_id,
        "kind": "pending",
        "member_id": member_id,
        "EXPPK": _pending_partition(member_id),
        "EXPSK": f"{available_on.isoformat()}#{member_id}#{order_id}",
    }
    return {"Put": {"TableName": table_name(), "Item": to_item(item)}}


def delete_pending_marker_op(member_id: str, order_id: str) -> dict[str, Any]:
    return {"Delete": {"TableName": table_name(), "Key": key(f"PENDING#{member_id}", order_id)}}


def members_with_due_pending(as_of: date) -> list[str]:
    """Members with a pending lot due on or before `as_of`: one query per shard, keys only."""
    upper = (as_of + timedelta(days=1)).isoformat()  # EXPSK starts with the date: before the next day
    found: dict[str, None] = {}
    for shard in range(PENDING_SHARDS):
        kwargs: dict[str, Any] = {
            "IndexName": "expiry",
            "KeyConditionExpression": "EXPPK = :p AND EXPSK < :u",
            "ExpressionAttributeValues": {":p": {"S": f"PENDING#{shard:02d}"}, ":u": {"S": upper}},
        }
        for item in query_items(**kwargs):
            found[item["PK"]["S"].removeprefix("PENDING#")] = None
    return list(found)
