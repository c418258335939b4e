"""The expiry job's reads and its warning items.

The `expiry` index (KEYS_ONLY, sparse) holds one key per member with points that can expire:
EXPPK = `EXP#<shard 00-15>` (crc32 of the member id), EXPSK = `<earliest dated bucket month>#<member_id>`.

Accounts' pools are in the same index under EXPPK = `EXPACCT` (one partition: a programme has few accounts);
the run names them `ACCOUNT#<account_id>` among its ids.

Warning items: `WARN#<member_id>#<month>` (a pool's: `WARN#ACCOUNT#<account_id>#<month>`) / `WARN`: the member
was told their points expire at the end of `month` (PointsExpiringSoon is published from the stream's INSERT of
this item), at most once.
"""

from __future__ import annotations

from typing import Any

from loyalty.domain.model import Holder, LedgerEntry
from loyalty.store.codecs import (
    EXPIRY_ACCOUNTS,
    EXPIRY_SHARDS,
    account_from_item,
    account_pk,
    entry_from_item,
    entry_pk,
    member_from_item,
    member_pk,
    pool_of,
)
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


def expiring_accounts_page(
    before_month: str, limit: int, cursor: dict[str, Any] | None
) -> tuple[list[str], dict[str, Any] | None]:
    """Accounts (as `ACCOUNT#<account_id>`) whose pool's earliest expiring month is before `before_month`."""
    kwargs: dict[str, Any] = {
        "IndexName": "expiry",
        "KeyConditionExpression": "EXPPK = :pools AND EXPSK < :before",
        "ExpressionAttributeValues": {":pools": {"S": EXPIRY_ACCOUNTS}, ":before": {"S": before_month}},
        "Limit": limit,
    }
    if cursor:
        kwargs["ExclusiveStartKey"] = cursor
    answer = query(**kwargs)
    return [i["PK"]["S"] for i in answer.get("Items", [])], answer.get("LastEvaluatedKey")


def warning_pk(member_id: str, month: str) -> str:
    return f"WARN#{member_id}#{month}"


def load_for_expiry(
    holder_id: str, entry_key: str, month: str
) -> tuple[Holder | None, LedgerEntry | None, dict[str, Any] | None]:
    """One round trip: the member (or the pool of `ACCOUNT#<account_id>`), the expiry entry of this period if
    written, its warning if written."""
    holder: Holder | None = None
    entry: LedgerEntry | None = None
    warned: dict[str, Any] | None = None
    pool = pool_of(holder_id)
    holder_key = key(account_pk(pool), "ACCOUNT") if pool else key(member_pk(holder_id), "MEMBER")
    keys = [holder_key, key(entry_pk(entry_key), "ENTRY"), key(warning_pk(holder_id, month), "WARN")]
    for item in batch_get(keys):
        if item["SK"] == "MEMBER":
            holder = member_from_item(item)
        elif item["SK"] == "ACCOUNT":
            holder = account_from_item(item)
        elif item["SK"] == "ENTRY":
            entry = entry_from_item(item)
        else:
            warned = item
    return holder, entry, warned


def load_warning(member_id: str, month: str) -> dict[str, Any] | None:
    return get(warning_pk(member_id, month), "WARN")


def warning_item(member_id: str, month: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The warning of a member, or of a pool (`ACCOUNT#<account_id>`: the item names its `account_id`)."""
    pool = pool_of(member_id)
    return {
        "PK": warning_pk(member_id, month),
        "SK": "WARN",
        "kind": "expiry_warning",
        "member_id": member_id,
        **({"account_id": pool} if pool else {}),
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
