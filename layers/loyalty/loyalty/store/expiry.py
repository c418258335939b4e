"""The expiry job's reads and its warning items.

The `expiry` index (KEYS_ONLY, sparse) holds one key per member with points that can expire:
EXPPK = `EXP#<shard 00-15>` (crc32 of the member id), EXPSK = `<earliest dated bucket month>#<member_id>`.

Warning items: `WARN#<member_id>#<month>` / `WARN`: the member was told their points expire at the end
of `month` (PointsExpiringSoon is published from the stream's INSERT of this item), at most once.
"""

from __future__ import annotations

from typing import Any

from loyalty.domain.model import LedgerEntry, Member
from loyalty.store.codecs import EXPIRY_SHARDS, entry_from_item, entry_pk, member_from_item, member_pk
from loyalty.store.core import batch_get, client, get, key, query, table_name, to_item

__all__ = ["EXPIRY_SHARDS"]


def expiring_page(
    shard: int, before_month: str, limit: int, cursor: dict[str, Any] | None
) -> tuple[list[str], dict[str, Any] | None]:
    """Member ids of one shard whose earliest expiring month is before `before_month`, oldest first."""
    kwargs: dict[str, Any] = {
        "IndexName": "expiry",
        "KeyConditionExpression": "EXPPK = :shard AND EXPSK < :before",
        "ExpressionAttributeValues": {":shard": {"S": f"EXP#{shard:02d}"}, ":before": {"S": before_month}},
        "Limit": limit,
    }
    if cursor:
        kwargs["ExclusiveStartKey"] = cursor
    answer = query(**kwargs)
    ids = [i["PK"]["S"].removeprefix("MEMBER#") for i in answer.get("Items", [])]
    return ids, answer.get("LastEvaluatedKey")


def warning_pk(member_id: str, month: str) -> str:
    return f"WARN#{member_id}#{month}"


def load_for_expiry(
    member_id: str, entry_key: str, month: str
) -> tuple[Member | None, LedgerEntry | None, dict[str, Any] | None]:
    """One round trip: the member, the expiry entry of this period if written, its warning if written."""
    member: Member | None = None
    entry: LedgerEntry | None = None
    warned: dict[str, Any] | None = None
    keys = [
        key(member_pk(member_id), "MEMBER"),
        key(entry_pk(entry_key), "ENTRY"),
        key(warning_pk(member_id, month), "WARN"),
    ]
    for item in batch_get(keys):
        if item["SK"] == "MEMBER":
            member = member_from_item(item)
        elif item["SK"] == "ENTRY":
            entry = entry_from_item(item)
        else:
            warned = item
    return member, entry, warned


def load_warning(member_id: str, month: str) -> dict[str, Any] | None:
    return get(warning_pk(member_id, month), "WARN")


def warning_item(member_id: str, month: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "PK": warning_pk(member_id, month),
        "SK": "WARN",
        "kind": "expiry_warning",
        "member_id": member_id,
        **fields,
    }


def put_warning_op(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "Put": {"TableName": table_name(), "Item": to_item(item), "ConditionExpression": "attribute_not_exists(PK)"}
    }


def put_warning(item: dict[str, Any]) -> bool:
    """False when the member was warned for this month already."""
    from botocore.exceptions import ClientError

    try:
        client().put_item(TableName=table_name(), Item=to_item(item), ConditionExpression="attribute_not_exists(PK)")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True
