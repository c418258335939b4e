"""Reward stock and pay-with-points holds in the table.

| item          | PK                     | SK      | indexes                                                   |
|---------------|------------------------|---------|-----------------------------------------------------------|
| reward stock  | `REWARD#<reward_id>`   | `STOCK` |                                                           |
| hold          | `HOLD#<redemption_id>` | `HOLD`  | `holds` (while held): `HOLD#<shard>`, `<expires_at>#<id>` |

The stock item is created lazily by the first redemption of a stocked reward, from the programme's
`stock`; each redemption decrements it under the condition that some is left, in the redemption's
own transaction. A hold leaves the sparse `holds` index when it is captured, voided or released.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from loyalty.domain.model import Hold, LedgerEntry, Member
from loyalty.store.codecs import entry_from_item, entry_pk, member_from_item, member_pk
from loyalty.store.core import (
    batch_get,
    from_item,
    get,
    key,
    query_items,
    table_name,
    to_item,
)

HOLD_SHARDS = 8  # spreads open holds over 8 index partitions; the release job queries each


def stock_pk(reward_id: str) -> str:
    return f"REWARD#{reward_id}"


def hold_pk(redemption_id: str) -> str:
    return f"HOLD#{redemption_id}"


def hold_shard(redemption_id: str) -> int:
    return zlib.crc32(redemption_id.encode()) % HOLD_SHARDS


def sortable(when: datetime) -> str:
    """Fixed width, so that index keys sort as times do."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- reads ---------------------------------------------------------------------------------------
def _split(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{i['PK']}|{i['SK']}": i for i in items}


def load_for_redemption(
    member_id: str, entry_key: str, stocked_reward: str | None
) -> tuple[Member | None, LedgerEntry | None, int | None]:
    """One round trip: the member, the entry under `entry_key`, and the reward's remaining stock
    (None when the reward has no stock item yet or is not stocked)."""
    keys = [key(member_pk(member_id), "MEMBER"), key(entry_pk(entry_key), "ENTRY")]
    if stocked_reward is not None:
        keys.append(key(stock_pk(stocked_reward), "STOCK"))
    found = _split(batch_get(keys))
    member = found.get(f"{member_pk(member_id)}|MEMBER")
    entry = found.get(f"{entry_pk(entry_key)}|ENTRY")
    stock = found.get(f"{stock_pk(stocked_reward)}|STOCK") if stocked_reward else None
    return (
        member_from_item(member) if member else None,
        entry_from_item(entry) if entry else None,
        int(stock["remaining"]) if stock else None,
    )


def load_member_and_stock(member_id: str | None, reward_ids: list[str]) -> tuple[Member | None, dict[str, int]]:
    """One round trip (none if there is nothing to read): the member and the stocked rewards' stock."""
    keys = [key(stock_pk(r), "STOCK") for r in reward_ids]
    if member_id is not None:
        keys.append(key(member_pk(member_id), "MEMBER"))
    if not keys:
        return None, {}
    found = batch_get(keys)
    member = next((member_from_item(i) for i in found if i["SK"] == "MEMBER"), None)
    stock = {i["PK"].removeprefix("REWARD#"): int(i["remaining"]) for i in found if i["SK"] == "STOCK"}
    return member, stock


def hold_from_item(item: dict[str, Any]) -> Hold:
    return Hold.model_validate(item)


def load_hold(redemption_id: str) -> Hold | None:
    item = get(hold_pk(redemption_id), "HOLD")
    return hold_from_item(item) if item else None


def load_for_release(
    member_id: str, cancel_key: str, redeem_key: str, redemption_id: str
) -> tuple[Member | None, LedgerEntry | None, tuple[LedgerEntry | None, Hold | None]]:
    """One round trip: the member, the release entry (if written), the redemption entry and the hold."""
    found = _split(
        batch_get(
            [
                key(member_pk(member_id), "MEMBER"),
                key(entry_pk(cancel_key), "ENTRY"),
                key(entry_pk(redeem_key), "ENTRY"),
                key(hold_pk(redemption_id), "HOLD"),
            ]
        )
    )
    member = found.get(f"{member_pk(member_id)}|MEMBER")
    cancel = found.get(f"{entry_pk(cancel_key)}|ENTRY")
    redeem = found.get(f"{entry_pk(redeem_key)}|ENTRY")
    hold = found.get(f"{hold_pk(redemption_id)}|HOLD")
    return (
        member_from_item(member) if member else None,
        entry_from_item(cancel) if cancel else None,
        (entry_from_item(redeem) if redeem else None, hold_from_item(hold) if hold else None),
    )


def due_holds(now: datetime, page_size: int = 100) -> Iterator[str]:
    """Redemption ids of open holds that expired at or before `now`, shard by shard (queries, no scan)."""
    bound = sortable(now) + "$"  # `$` sorts after the `#` that follows the time in HOLDSK
    for shard in range(HOLD_SHARDS):
        kwargs: dict[str, Any] = {
            "IndexName": "holds",
            "KeyConditionExpression": "HOLDPK = :pk AND HOLDSK < :bound",
            "ExpressionAttributeValues": {":pk": {"S": f"HOLD#{shard:02d}"}, ":bound": {"S": bound}},
            "Limit": page_size,
        }
        for item in query_items(**kwargs):
            yield from_item(item)["PK"].removeprefix("HOLD#")


# -- transaction items ---------------------------------------------------------------------------
def take_stock_op(reward_id: str, initial: int) -> dict[str, Any]:
    """Decrement the reward's stock, creating it from the programme's figure on first use."""
    return {
        "Update": {
            "TableName": table_name(),
            "Key": key(stock_pk(reward_id), "STOCK"),
            "UpdateExpression": "SET remaining = if_not_exists(remaining, :initial) - :one, kind = :kind",
            "ConditionExpression": "attribute_not_exists(remaining) OR remaining > :zero",
            "ExpressionAttributeValues": {
                ":initial": {"N": str(initial)},
                ":one": {"N": "1"},
                ":zero": {"N": "0"},
                ":kind": {"S": "stock"},
            },
        }
    }


def return_stock_op(reward_id: str) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": table_name(),
            "Key": key(stock_pk(reward_id), "STOCK"),
            "UpdateExpression": "ADD remaining :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }


def hold_to_item(hold: Hold) -> dict[str, Any]:
    item = hold.model_dump(mode="json", exclude_none=True)
    item.update(PK=hold_pk(hold.redemption_id), SK="HOLD", kind="hold")
    if hold.status == "held":
        item["HOLDPK"] = f"HOLD#{hold_shard(hold.redemption_id):02d}"
        item["HOLDSK"] = f"{sortable(hold.expires_at)}#{hold.redemption_id}"
    return item


def put_hold_op(hold: Hold) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": table_name(),
            "Item": to_item(hold_to_item(hold)),
            "ConditionExpression": "attribute_not_exists(PK)",
        }
    }


def settle_hold_op(
    redemption_id: str, status: str, settled_at: datetime, response: str | None = None
) -> dict[str, Any]:
    """Close an open hold (and take it out of the `holds` index), only if it is still open; `response` (a
    capture's answer) is kept with it for the capture's replays."""
    values = {
        ":to": {"S": status},
        ":at": {"S": settled_at.astimezone(UTC).isoformat().replace("+00:00", "Z")},
        ":held": {"S": "held"},
    }
    names = {"#s": "status"}
    update = "SET #s = :to, settled_at = :at"
    if response is not None:  # `response` is a reserved word of DynamoDB's expressions
        update += ", #r = :response"
        names["#r"] = "response"
        values[":response"] = {"S": response}
    return {
        "Update": {
            "TableName": table_name(),
            "Key": key(hold_pk(redemption_id), "HOLD"),
            "UpdateExpression": update + " REMOVE HOLDPK, HOLDSK",
            "ConditionExpression": "#s = :held",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }
