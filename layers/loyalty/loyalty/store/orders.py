"""Orders in the table: the cumulative refund state of an order, read with the refund's member and entries.

| item          | PK                  | SK        |
|---------------|---------------------|-----------|
| order refunds | `ORDER#<order_id>`  | `REFUNDS` |

The order itself is its earn entry (`ENTRY#earn#<order_id>`); refunds are entries `ENTRY#refund#<id>`.
"""

from __future__ import annotations

from typing import Any

from loyalty.model import LedgerEntry, Member, OrderRefunds
from loyalty.store.core import batch_get, key, table_name, to_item
from loyalty.store.members import entry_from_item, entry_pk, member_from_item, member_pk


def order_pk(order_id: str) -> str:
    return f"ORDER#{order_id}"


def earn_key(order_id: str) -> str:
    return f"earn#{order_id}"


def refund_key(refund_id: str) -> str:
    return f"refund#{refund_id}"


def refunds_from_item(item: dict[str, Any]) -> OrderRefunds:
    return OrderRefunds.model_validate(item)


def load_refund(
    member_id: str, refund_id: str, order_id: str
) -> tuple[Member | None, LedgerEntry | None, tuple[LedgerEntry | None, OrderRefunds | None]]:
    """One round trip: the member, the refund's entry, the order's earn entry and its refund state."""
    member: Member | None = None
    refund: LedgerEntry | None = None
    order: LedgerEntry | None = None
    state: OrderRefunds | None = None
    keys = [
        key(member_pk(member_id), "MEMBER"),
        key(entry_pk(refund_key(refund_id)), "ENTRY"),
        key(entry_pk(earn_key(order_id)), "ENTRY"),
        key(order_pk(order_id), "REFUNDS"),
    ]
    for item in batch_get(keys):
        if item["SK"] == "MEMBER":
            member = member_from_item(item)
        elif item["SK"] == "REFUNDS":
            state = refunds_from_item(item)
        elif item["PK"] == entry_pk(refund_key(refund_id)):
            refund = entry_from_item(item)
        else:
            order = entry_from_item(item)
    return member, refund, (order, state)


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
