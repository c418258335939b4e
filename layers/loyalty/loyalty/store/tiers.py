"""Tier items: the evaluation's member walk and write, subscriptions (paid tiers) and override audits.

Keys:
- `SUBSCRIPTION#<member_id>#<subscription_id>` / `SUBSCRIPTION`: a paid tier granted; the idempotency
  record of `POST /v1/members/{id}/subscriptions` (request hash and first answer, replayed).
- `TIERAUDIT#<member_id>` / `<recorded_at>#<request id>`: a manual tier override and its reason.
- `STATUSAUDIT#<member_id>` / `<recorded_at>#<entries>`: a status change (no free text), for replays.
- `TIERWARN#<period>#<shard 00-15>` / `<member_id>` (an account's: `ACCOUNT#<account_id>`), kind `tier_warning`
  (v1.2): the evaluation of `period` kept the tier, the next one would drop it; TierDowngradeUpcoming is published
  from its INSERT, and the programme manager's list of a month reads its 16 partitions (never a scan). Sharded by
  crc32 of the holder id, as the expiry index, so one evaluation's records are not all on one partition.
"""

from __future__ import annotations

from typing import Any

from loyalty.domain.model import Member
from loyalty.store.codecs import ACCOUNTS, EXPIRY_SHARDS, expiry_shard, member_from_item, member_pk, pool_of
from loyalty.store.core import batch_get, client, from_item, key, table_name, to_item


def members_page(
    shard: int, limit: int, cursor: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One page of one shard of the `members` index (keys only: member items, never the ledger's
    entries), then the members themselves, strongly consistent, 100 to a BatchGetItem."""
    return _page(f"MEMBERS#{shard:02d}", limit, cursor)


def accounts_page(limit: int, cursor: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """`members_page` for the accounts (their partition of the index: a programme has few)."""
    return _page(ACCOUNTS, limit, cursor)


def _page(
    partition: str, limit: int, cursor: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    kwargs: dict[str, Any] = {
        "TableName": table_name(),
        "IndexName": "members",
        "KeyConditionExpression": "MEMBERPK = :shard",
        "ExpressionAttributeValues": {":shard": {"S": partition}},
        "Limit": limit,
    }
    if cursor:
        kwargs["ExclusiveStartKey"] = cursor
    answer = client().query(**kwargs)
    keys = [key(i["PK"]["S"], i["SK"]["S"]) for i in answer.get("Items", [])]
    found = {item["PK"]: item for start in range(0, len(keys), 100) for item in batch_get(keys[start : start + 100])}
    members = [found[k["PK"]["S"]] for k in keys if k["PK"]["S"] in found]  # in the index's order
    return members, answer.get("LastEvaluatedKey")


# -- subscriptions and overrides -----------------------------------------------------------------
def subscription_pk(member_id: str, subscription_id: str) -> str:
    return f"SUBSCRIPTION#{member_id}#{subscription_id}"


def load_member_and_subscription(member_id: str, subscription_id: str) -> tuple[Member | None, dict[str, Any] | None]:
    """One round trip: the member and, if it exists, the subscription record."""
    member: Member | None = None
    record: dict[str, Any] | None = None
    pk = subscription_pk(member_id, subscription_id)
    for item in batch_get([key(member_pk(member_id), "MEMBER"), key(pk, "SUBSCRIPTION")]):
        if item["SK"] == "MEMBER":
            member = member_from_item(item)
        else:
            record = item
    return member, record


def new_record_op(record: dict[str, Any]) -> dict[str, Any]:
    """A record that must not exist yet (a subscription's idempotency record, an audit item)."""
    return {
        "Put": {
            "TableName": table_name(),
            "Item": to_item(record),
            "ConditionExpression": "attribute_not_exists(PK)",
        }
    }


def subscription_item(member_id: str, subscription_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {"PK": subscription_pk(member_id, subscription_id), "SK": "SUBSCRIPTION", "kind": "subscription", **fields}


def audit_pk(member_id: str) -> str:
    return f"TIERAUDIT#{member_id}"


def audit_item(member_id: str, sort_key: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {"PK": audit_pk(member_id), "SK": sort_key, "kind": "tier_audit", **fields}


def status_audit_item(member_id: str, sort_key: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {"PK": f"STATUSAUDIT#{member_id}", "SK": sort_key, "kind": "status_audit", **fields}


# -- the tier evaluation's warnings (v1.2) -------------------------------------------------------------
TIER_WARNING_SHARDS = EXPIRY_SHARDS


def tier_warning_pk(period: str, shard: int) -> str:
    return f"TIERWARN#{period}#{shard:02d}"


def tier_warning_item(holder_id: str, period: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The warning of a member, or of an account (`ACCOUNT#<account_id>`: the item names its `account_id`)."""
    pool = pool_of(holder_id)
    return {
        "PK": tier_warning_pk(period, expiry_shard(holder_id)),
        "SK": holder_id,
        "kind": "tier_warning",
        "member_id": holder_id,
        **({"account_id": pool} if pool else {}),
        "period": period,
        **fields,
    }


def tier_warnings_page(
    period: str, shard: int, limit: int, cursor: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One page of one shard's warnings of the evaluation of `period`, by holder id."""
    kwargs: dict[str, Any] = {
        "TableName": table_name(),
        "KeyConditionExpression": "PK = :pk",
        "ExpressionAttributeValues": {":pk": {"S": tier_warning_pk(period, shard)}},
        "Limit": limit,
    }
    if cursor:
        kwargs["ExclusiveStartKey"] = cursor
    answer = client().query(**kwargs)
    return [from_item(i) for i in answer.get("Items", [])], answer.get("LastEvaluatedKey")
