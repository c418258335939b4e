"""Liability counters and the applied-markers that make the stream processor's updates idempotent.

Keys:
- `LIABILITY#<shard 0-7>` / `<expiry month>` | `never` | `PENDING` | `HELD`: `points` (ADD), kind `liability`.
  A change's shard is crc32 of its marker id, so no item is hot; the report Queries the 8 partitions.
- `APPLIED#<marker id>` / `APPLIED`: kind `applied`, `ttl` (epoch seconds, 7 days on): this change's
  counters were added. Written in the same transaction as the ADDs, on condition that it does not
  exist, so a redelivered stream record adds nothing. Stream records live 24 hours; the table's TTL
  removes markers after 7 days.
"""

from __future__ import annotations

import random
import time
import zlib
from typing import Any

from loyalty.clock import utcnow
from loyalty.store.core import ConditionFailed, WriteConflict, client, query_items, table_name, to_item, transact

SHARDS = 8
MARKER_DAYS = 7
MAX_COUNTERS = 99  # TransactWriteItems takes 100 items: the marker and up to 99 counters
ATTEMPTS = 8


def shard_of(marker: str) -> int:
    return zlib.crc32(marker.encode()) % SHARDS


def _marker_op(marker: str) -> dict[str, Any]:
    ttl = int(utcnow().timestamp()) + MARKER_DAYS * 86400
    return {
        "Put": {
            "TableName": table_name(),
            "Item": to_item({"PK": f"APPLIED#{marker}", "SK": "APPLIED", "kind": "applied", "ttl": ttl}),
            "ConditionExpression": "attribute_not_exists(PK)",
        }
    }


def _counter_op(shard: int, name: str, points: int) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": table_name(),
            "Key": {"PK": {"S": f"LIABILITY#{shard}"}, "SK": {"S": name}},
            "UpdateExpression": "ADD #p :d SET #k = :k",
            "ExpressionAttributeNames": {"#p": "points", "#k": "kind"},
            "ExpressionAttributeValues": {":d": {"N": str(points)}, ":k": {"S": "liability"}},
        }
    }


def _put_marker(put: dict[str, Any]) -> bool:
    from botocore.exceptions import ClientError

    try:
        client().put_item(**put)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def apply_once(marker: str, counters: dict[str, int]) -> bool:
    """Add `counters` unless the change `marker` was applied before. True: applied now (first time).

    One transaction per 99 counters (in practice one): each with its own marker, so a change is never
    half counted twice. Concurrent processors touching the same counter conflict and retry here.
    """
    items = sorted(counters.items())
    chunks = [items[i : i + MAX_COUNTERS] for i in range(0, len(items), MAX_COUNTERS)] or [[]]
    first = False
    for index, chunk in enumerate(chunks):
        name = marker if index == 0 else f"{marker}#{index}"
        shard = shard_of(name)
        ops = [_marker_op(name), *[_counter_op(shard, key, points) for key, points in chunk]]
        if len(ops) == 1:  # a marker alone (an entry's metrics): one conditional Put, no transaction
            first = _put_marker(ops[0]["Put"])
            continue
        for attempt in range(ATTEMPTS):
            try:
                transact(ops)
            except ConditionFailed:
                break  # applied by an earlier delivery
            except WriteConflict:
                if attempt == ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0, 0.02 * 2**attempt))  # noqa: S311 - jitter, not crypto
                continue
            first = first or index == 0
            break
    return first


def totals() -> dict[str, int]:
    """Every counter summed over the shards (SHARDS Queries, each a page or two)."""
    out: dict[str, int] = {}
    for shard in range(SHARDS):
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"LIABILITY#{shard}"}},
            "ConsistentRead": True,
        }
        for item in query_items(**kwargs):
            name = item["SK"]["S"]
            out[name] = out.get(name, 0) + int(item.get("points", {}).get("N", "0"))
    return out
