"""Tier items: the evaluation's member walk and write, subscriptions (paid tiers) and override audits.

Keys:
- `SUBSCRIPTION#<member_id>#<subscription_id>` / `SUBSCRIPTION`: a paid tier granted; the idempotency
  record of `POST /v1/members/{id}/subscriptions` (request hash and first answer, replayed).
- `TIERAUDIT#<member_id>` / `<recorded_at>#<request id>`: a manual tier override and its reason.
- `STATUSAUDIT#<member_id>` / `<recorded_at>#<entries>`: a status change (no free text), for replays.
"""

from __future__ import annotations

from typing import Any

from loyalty.domain.model import Member
from loyalty.store.codecs import ACCOUNTS, member_from_item, member_pk
from loyalty.store.core import batch_get, client, key, table_name, to_item


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
