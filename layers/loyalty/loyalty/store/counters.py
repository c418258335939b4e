"""Report counters kept by the stream processor, and the applied-markers that make its updates idempotent.

Keys (`<shard>` is 0-7, crc32 of the change's marker id, so no item is hot; a report Queries 8 partitions):
- `LIABILITY#<shard>` / `<expiry month>` | `never` | `PENDING` | `HELD`: `points` (ADD), kind `liability`.
- `TIERS#<shard>` / `<tier_id>`: `members` (ADD), kind `tiers`: members in the tier, closed ones not counted.
- `ACTIVITY#<shard>` / `<YYYY-MM>`: `enrolled`, `earned`, `redeemed`, `expired`, `adjusted` (ADD), kind
  `activity`: what was recorded in that month (see `loyalty.reports.summary`).
- `APPLIED#<marker id>` / `APPLIED`: kind `applied`, `ttl` (epoch seconds, 7 days on), `txn`: this change's
  counters were added, by the transaction `txn` names. Written in the same transaction as the ADDs, on
  condition that it does not exist, so a redelivered stream record adds nothing. Stream records live 24
  hours; the table's TTL removes markers after 7 days.

A transaction whose answer is lost (a timeout, a dropped connection, a 5xx: it may have committed) is sent
again as it was, with the same `txn` (a random id per transaction), a few times: if its markers now exist
and name that `txn`, the lost attempt committed, and its changes were counted now (their business metrics
are emitted), not before. Without that, the retry found its own markers and the metrics of every change
in it were lost.

A stream batch is applied in as few transactions as TransactWriteItems' 100 items allow (`apply_batch`):
each holds the markers of its changes and their counters summed per item (a batch of the same month
touches a handful of counter items), so about two transactions per 100 records instead of one per
record. A transaction fails whole when one of its markers exists (a redelivered record): DynamoDB's
cancellation reasons name every such marker, those changes are dropped as applied before, and the rest
go again, so every change is counted exactly once whatever the batch's boundaries.
"""

from __future__ import annotations

import random
import time
import uuid
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from loyalty.kernel.clock import utcnow
from loyalty.store.core import (
    ConditionFailed,
    WriteConflict,
    outcome_unknown,
    query_items,
    table_name,
    to_item,
    transact,
)

SHARDS = 8
MARKER_DAYS = 7
MAX_UPDATES = 99  # TransactWriteItems takes 100 items: the marker and up to 99 counter items
ATTEMPTS = 8
UNKNOWN_ATTEMPTS = 4  # sendings of a transaction whose answer was lost, before the batch stops there

# A counter: the item family (its partition is `<family>#<shard>`), the item's sort key, the attribute ADDed.
Counter = tuple[str, str, str]


def shard_of(marker: str) -> int:
    return zlib.crc32(marker.encode()) % SHARDS


def _marker_op(marker: str, txn: str) -> dict[str, Any]:
    ttl = int(utcnow().timestamp()) + MARKER_DAYS * 86400
    return {
        "Put": {
            "TableName": table_name(),
            "Item": to_item({"PK": f"APPLIED#{marker}", "SK": "APPLIED", "kind": "applied", "ttl": ttl, "txn": txn}),
            "ConditionExpression": "attribute_not_exists(PK)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",  # whose marker: ours (a lost answer) or before
        }
    }


def _txn() -> str:
    return uuid.uuid4().hex


def _pause(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.02 * 2**attempt))  # noqa: S311 - jitter, not crypto


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


def _by_item(counters: dict[Counter, int]) -> list[tuple[str, str, dict[str, int]]]:
    items: dict[tuple[str, str], dict[str, int]] = {}
    for (family, name, attribute), delta in counters.items():
        if delta:
            items.setdefault((family, name), {})[attribute] = delta
    return [(family, name, adds) for (family, name), adds in sorted(items.items())]


@dataclass
class _Tries:
    """How often a writer has sent again, for each reason: each reason has its own bound."""

    conflicts: int = 0
    unknown: int = 0


def _send(ops: list[dict[str, Any]], tries: _Tries) -> ConditionFailed | None:
    """`transact(ops)`, sent again (after a pause) on a write conflict, up to ATTEMPTS, and when its outcome
    is unknown (an answer lost), up to UNKNOWN_ATTEMPTS, counted in `tries` across the caller's sendings. The
    refusal of a condition is returned for the caller to read (None: written); anything else is raised."""
    while True:
        try:
            transact(ops)
            return None
        except ConditionFailed as failed:
            return failed
        except WriteConflict:
            tries.conflicts += 1
            if tries.conflicts == ATTEMPTS:
                raise
            _pause(tries.conflicts)
        except Exception as exc:
            tries.unknown += 1
            if not outcome_unknown(exc) or tries.unknown == UNKNOWN_ATTEMPTS:
                raise
            _pause(tries.unknown)


def _write_marked(ops: list[dict[str, Any]], txn: str) -> bool:
    """Write `ops` (its first a marker of `txn`). True: written now, by this call (or by an attempt of it
    whose answer was lost); False: the marker existed, from an earlier delivery."""
    failed = _send(ops, _Tries())
    # only the marker has a condition
    return failed is None or (failed.items.get(0) or {}).get("txn") == txn


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
        txn = _txn()
        ops = [_marker_op(name, txn), *[_counter_op(shard, family, sk, adds) for family, sk, adds in chunk]]
        # a marker alone (an entry's metrics) goes as one conditional Put, not a transaction (loyalty.store.core)
        if _write_marked(ops, txn) and index == 0:
            first = True
    return first


class BatchStopped(Exception):
    """A transaction of `apply_batch` failed (not for a marker): `applied` says, for each change before the
    failed transaction's first, whether it was counted now (True) or before (False); none after is."""

    def __init__(self, applied: list[bool], cause: Exception) -> None:
        super().__init__(f"counters applied for the first {len(applied)} change(s) only: {cause}")
        self.applied = applied
        self.cause = cause


def _plan(changes: Sequence[tuple[str, dict[Counter, int]]]) -> list[list[int]]:
    """The changes (by index, in order) grouped into transactions of at most 100 items: each change's marker
    and the union of the counter items the group touches. A change with more than 99 counter items of its
    own is a group alone (applied by `apply_once`, in several transactions with markers of their own)."""
    groups: list[list[int]] = []
    current: list[int] = []
    touched: set[tuple[str, str]] = set()
    for index, (_, counters) in enumerate(changes):
        own = {(family, name) for (family, name, _), delta in counters.items() if delta}
        if len(own) > MAX_UPDATES:
            if current:
                groups.append(current)
            groups.append([index])
            current, touched = [], set()
            continue
        if current and len(current) + 1 + len(touched | own) > MAX_UPDATES + 1:
            groups.append(current)
            current, touched = [], set()
        current.append(index)
        touched |= own
    if current:
        groups.append(current)
    return groups


def _group_ops(markers: list[str], counters: list[dict[Counter, int]], shard: int, txn: str) -> list[dict[str, Any]]:
    """The markers' Puts (first, in order: a cancellation reason's index is a marker's) and one Update per
    counter item with the changes' deltas summed."""
    summed: dict[Counter, int] = {}
    for one in counters:
        for counter, delta in one.items():
            summed[counter] = summed.get(counter, 0) + delta
    ops = [_marker_op(marker, txn) for marker in markers]
    ops.extend(_counter_op(shard, family, name, adds) for family, name, adds in _by_item(summed))
    return ops


def _apply_group(changes: Sequence[tuple[str, dict[Counter, int]]], group: list[int]) -> dict[int, bool]:
    """One group's transaction: True for each change counted now, False for one whose marker existed."""
    if len(group) == 1 and len(_by_item(changes[group[0]][1])) > MAX_UPDATES:
        marker, counters = changes[group[0]]
        return {group[0]: apply_once(marker, counters)}
    shard = shard_of(changes[group[0]][0])  # the group's counters go to one shard, spread by its first change
    out: dict[int, bool] = {}
    live = list(group)
    tries = _Tries()  # across the group's sendings, as one write
    txn = _txn()  # the same for every sending of this group: a marker naming it was written by one of them
    while live:
        ops = _group_ops([changes[i][0] for i in live], [changes[i][1] for i in live], shard, txn)
        failed = _send(ops, tries)
        if failed is None:
            out.update(dict.fromkeys(live, True))
            break
        # only a marker has a condition: every one named exists, written by a sending of ours whose answer
        # was lost (counted now: the whole group then, a transaction being whole) or by an earlier delivery
        named = [i for i in failed.indexes if i < len(live)]
        if not named:
            raise failed
        ours = {live[i] for i in named if (failed.items.get(i) or {}).get("txn") == txn}
        before = {live[i] for i in named} - ours
        out.update(dict.fromkeys(ours, True))
        out.update(dict.fromkeys(before, False))
        live = [i for i in live if i not in ours and i not in before]
    return out


def apply_batch(changes: Sequence[tuple[str, dict[Counter, int]]]) -> list[bool]:
    """Add each change's counters unless its marker says it was applied before, in stream order, in as few
    transactions as fit: for each change, True if applied now (the first time), False if before.

    A marker that appears twice in `changes` counts once (the first), as two deliveries would. Raises
    BatchStopped when a transaction fails other than on a marker: the changes before it are applied.
    """
    seen: dict[str, int] = {}
    unique: list[int] = []
    for index, (marker, _) in enumerate(changes):
        if marker not in seen:
            seen[marker] = index
            unique.append(index)
    firsts = [changes[i] for i in unique]
    applied: dict[int, bool] = {}
    for group in _plan(firsts):
        try:
            done = _apply_group(firsts, group)
        except Exception as exc:
            stop = unique[group[0]]
            raise BatchStopped([applied.get(i, False) for i in range(stop)], exc) from exc
        applied.update({unique[i]: first for i, first in done.items()})
    return [applied.get(i, False) for i in range(len(changes))]


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
