"""Report counters kept by the stream processor, and the applied-markers that make its updates idempotent.

Keys (`<shard>` is 0-7, crc32 of the change's marker id, so no item is hot; a report Queries 8 partitions):
- `LIABILITY#<shard>` / `<expiry month>` | `never` | `PENDING` | `HELD`: `points` (ADD), kind `liability`.
- `TIERS#<shard>` / `<tier_id>`: `members` (ADD), kind `tiers`: members in the tier, closed ones not counted.
- `ACTIVITY#<shard>` / `<YYYY-MM>`: `enrolled`, `earned`, `redeemed`, `expired`, `adjusted` (ADD), kind
  `activity`: what was recorded in that month (see `loyalty.reports`).
- `APPLIED#<marker id>` / `APPLIED`: kind `applied`, `ttl` (epoch seconds, 7 days on): this change's
  counters were added. Written in the same transaction as the ADDs, on condition that it does not
  exist, so a redelivered stream record adds nothing. Stream records live 24 hours; the table's TTL
  removes markers after 7 days.
"""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Iterable
from typing import Any

from loyalty.clock import utcnow
from loyalty.store.core import ConditionFailed, WriteConflict, client, query_items, table_name, to_item, transact

SHARDS = 8
MARKER_DAYS = 7
MAX_UPDATES = 99  # TransactWriteItems takes 100 items: the marker and up to 99 counter items
ATTEMPTS = 8

# A counter: the item family (its partition is `<family>#<shard>`), the item's sort key, the attribute ADDed.
Counter = tuple[str, str, str]


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


def _counter_op(shard: int, family: str, name: str, adds: dict[str, int]) -> dict[str, Any]:
    """One Update of one counter item, ADDing every attribute of `adds` (sorted: the same op every time)."""
    names = {"#k": "kind"}
    values: dict[str, Any] = {":k": {"S": family.lower()}}
    parts = []
    for index, (attribute, delta) in enumerate(sorted(adds.items())):
        names[f"#a{index}"] = attribute
        values[f":d{index}"] = {"N": str(delta)}
        parts.append(f"#a{index} :d{index}")
    return {
        "Update": {
            "TableName": table_name(),
            "Key": {"PK": {"S": f"{family}#{shard}"}, "SK": {"S": name}},
            "UpdateExpression": "ADD " + ", ".join(parts) + " SET #k = :k",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
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


def _by_item(counters: dict[Counter, int]) -> list[tuple[str, str, dict[str, int]]]:
    items: dict[tuple[str, str], dict[str, int]] = {}
    for (family, name, attribute), delta in counters.items():
        if delta:
            items.setdefault((family, name), {})[attribute] = delta
    return [(family, name, adds) for (family, name), adds in sorted(items.items())]


def apply_once(marker: str, counters: dict[Counter, int]) -> bool:
    """Add `counters` unless the change `marker` was applied before. True: applied now (first time).

    One transaction per 99 counter items (in practice one): each with its own marker, so a change is never
    half counted twice. Concurrent processors touching the same counter conflict and retry here.
    """
    items = _by_item(counters)
    chunks = [items[i : i + MAX_UPDATES] for i in range(0, len(items), MAX_UPDATES)] or [[]]
    first = False
    for index, chunk in enumerate(chunks):
        name = marker if index == 0 else f"{marker}#{index}"
        shard = shard_of(name)
        ops = [_marker_op(name), *[_counter_op(shard, family, sk, adds) for family, sk, adds in chunk]]
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


def totals(family: str, *, between: tuple[str, str] | None = None) -> dict[str, dict[str, int]]:
    """Every counter item of `family` (sort key in `between`, inclusive, when given) summed over the shards:
    {sort key: {attribute: total}}. SHARDS Queries, each a page or two."""
    out: dict[str, dict[str, int]] = {}
    for shard in range(SHARDS):
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"{family}#{shard}"}},
            "ConsistentRead": True,
        }
        if between is not None:
            kwargs["KeyConditionExpression"] += " AND SK BETWEEN :lo AND :hi"
            kwargs["ExpressionAttributeValues"].update({":lo": {"S": between[0]}, ":hi": {"S": between[1]}})
        for item in query_items(**kwargs):
            sums = out.setdefault(item["SK"]["S"], {})
            for attribute, value in _numbers(item):
                sums[attribute] = sums.get(attribute, 0) + value
    return out


def _numbers(item: dict[str, Any]) -> Iterable[tuple[str, int]]:
    for attribute, value in item.items():
        if "N" in value and attribute != "ttl":
            yield attribute, int(value["N"])
