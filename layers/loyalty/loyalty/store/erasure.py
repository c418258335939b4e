"""Erasure's rewrites of free text beyond the member's own transaction: its ledger entries (through the
`ledger` index, a page at a time), its tier override audits. Its kept events: `loyalty.store.member_events`.

Every write here sets text only, on items that exist (`attribute_exists(PK)`): never points, keys or
sums, never an item created. Each is idempotent (the same value set again), so an erasure retried after
dying half way finishes the job; the writes go in transactions of at most `WRITE_BATCH` items.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from loyalty.domain.model import LedgerEntry
from loyalty.store.codecs import entry_from_item, entry_pk, member_pk
from loyalty.store.core import from_item, key, query, query_items, table_name, to_item, transact
from loyalty.store.tiers import audit_pk

WRITE_BATCH = 25  # items per TransactWriteItems (at most 100): small, well under 4 MB


def adjustment_pages(member_id: str) -> Iterator[tuple[list[LedgerEntry], int]]:
    """The member's `adjust` and `transfer` entries (the only ones with text), a page of its ledger at a time,
    each with how many entries the page read (the index is eventually consistent: the caller compares the total
    with the member's own count)."""
    kwargs: dict[str, Any] = {
        "IndexName": "ledger",
        "KeyConditionExpression": "GSI1PK = :pk",
        "FilterExpression": "#t IN (:adjust, :transfer)",
        "ExpressionAttributeNames": {"#t": "type"},
        "ExpressionAttributeValues": {
            ":pk": {"S": member_pk(member_id)},
            ":adjust": {"S": "adjust"},
            ":transfer": {"S": "transfer"},
        },
    }
    while True:
        answer = query(**kwargs)
        yield [entry_from_item(from_item(i)) for i in answer.get("Items", [])], int(answer.get("ScannedCount", 0))
        if "LastEvaluatedKey" not in answer:
            return
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def _set_op(pk: str, sk: str, fields: dict[str, Any]) -> dict[str, Any]:
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    values = to_item({f":f{i}": value for i, value in enumerate(fields.values())})
    return {
        "Update": {
            "TableName": table_name(),
            "Key": key(pk, sk),
            "UpdateExpression": "SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(fields))),
            "ConditionExpression": "attribute_exists(PK)",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }


def _write(ops: list[dict[str, Any]]) -> None:
    for start in range(0, len(ops), WRITE_BATCH):
        transact(ops[start : start + WRITE_BATCH])


def rewrite_entries(texts: list[tuple[str, dict[str, Any], str | None]]) -> None:
    """Set each entry's `details` (and stored `response`, when it has one): (entry key, details, response)."""
    ops = []
    for entry_key, details, response in texts:
        fields: dict[str, Any] = {"details": details}
        if response is not None:
            fields["response"] = response
        ops.append(_set_op(entry_pk(entry_key), "ENTRY", fields))
    _write(ops)


def rewrite_tier_audits(member_id: str, reason: str) -> int:
    """Set `reason` on every tier override audit of the member that holds another; how many changed."""
    ops = [
        _set_op(item["PK"], item["SK"], {"reason": reason})
        for item in (
            from_item(i)
            for i in query_items(
                KeyConditionExpression="PK = :pk",
                ExpressionAttributeValues={":pk": {"S": audit_pk(member_id)}},
                ConsistentRead=True,
            )
        )
        if item.get("reason") not in (None, reason)
    ]
    _write(ops)
    return len(ops)
