"""API keys in the table (`APIKEYS` / `<sha256 of the key>`): the authorizer's one read, the CLI's writes."""

from __future__ import annotations

from typing import Any

from loyalty.store.core import client, from_item, get, key, query_items, table_name, to_item


def put_api_key(record: dict[str, Any]) -> None:
    item = {"PK": "APIKEYS", "SK": record["key_hash"], "kind": "apikey", **record}
    client().put_item(TableName=table_name(), Item=to_item(item))


def get_api_key(key_hash: str) -> dict[str, Any] | None:
    return get("APIKEYS", key_hash)


def list_api_keys() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": "PK = :pk",
        "ExpressionAttributeValues": {":pk": {"S": "APIKEYS"}},
    }
    out.extend(from_item(i) for i in query_items(**kwargs))
    return out


def revoke_api_key(key_hash: str, revoked_at: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        client().update_item(
            TableName=table_name(),
            Key=key("APIKEYS", key_hash),
            UpdateExpression="SET revoked_at = :t",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues={":t": {"S": revoked_at}},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True
