"""Members, ledger entries and API keys in the table."""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from loyalty.domain.model import NEVER, IdentifierKind, LedgerEntry, Member, identifiers
from loyalty.domain.writes import SideWrite, WriteRefused
from loyalty.kernel.errors import ValidationFailed
from loyalty.store.core import (
    ConditionFailed,
    WriteConflict,
    batch_get,
    client,
    from_item,
    get,
    key,
    query,
    query_items,
    table_name,
    to_item,
    transact,
)

__all__ = ["WriteConflict", "WriteRefused"]

EXPIRY_SHARDS = 16  # see README: spreads the expiry and members indexes over 16 partitions

# Identifier kind -> (the sparse index that finds a member by it, the member item attribute it keys on).
IDENTIFIER_INDEXES: dict[IdentifierKind, tuple[str, str]] = {
    "email": ("by-email", "IDEMAIL"),
    "phone": ("by-phone", "IDPHONE"),
    "card_id": ("by-card", "IDCARD"),
}


class EntryExists(Exception):
    def __init__(self, entry: LedgerEntry | None) -> None:
        super().__init__("ledger entry exists")
        self.entry = entry


class VersionConflict(Exception):
    pass


class MemberAlreadyExists(Exception):
    pass


class ReferrerMissing(Exception):
    pass


def member_pk(member_id: str) -> str:
    return f"MEMBER#{member_id}"


def entry_pk(entry_key: str) -> str:
    return f"ENTRY#{entry_key}"


def expiry_shard(member_id: str) -> int:
    return zlib.crc32(member_id.encode()) % EXPIRY_SHARDS


def member_to_item(member: Member) -> dict[str, Any]:
    item = member.model_dump(mode="json", exclude_none=True)
    item.update(PK=member_pk(member.member_id), SK="MEMBER", kind="member")
    # the `members` index holds members only (not the ledger): the tier evaluation walks it by shard
    item["MEMBERPK"] = f"MEMBERS#{expiry_shard(member.member_id):02d}"
    for kind, value in identifiers(member).items():  # sparse: only what the member holds, none once closed
        item[IDENTIFIER_INDEXES[kind][1]] = value
    dated = sorted(m for m, p in member.buckets.items() if m != NEVER and p > 0)
    if dated:  # sparse index: only members with points that can expire are in it
        item["EXPPK"] = f"EXP#{expiry_shard(member.member_id):02d}"
        item["EXPSK"] = f"{dated[0]}#{member.member_id}"
    return item


def member_from_item(item: dict[str, Any]) -> Member:
    return Member.model_validate(item)


def entry_to_item(entry: LedgerEntry) -> dict[str, Any]:
    item = entry.model_dump(mode="json", exclude_none=True)
    item.update(
        PK=entry_pk(entry.key),
        SK="ENTRY",
        kind="entry",
        GSI1PK=member_pk(entry.member_id),
        GSI1SK=f"{entry.seq:012d}",
    )
    return item


def _plain(value: Any) -> Any:
    """DynamoDB gives numbers back as Decimal: whole ones become int, the rest decimal strings."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def entry_from_item(item: dict[str, Any]) -> LedgerEntry:
    details = item.get("details")
    return LedgerEntry.model_validate({**item, "details": _plain(details)} if details else item)


def load_member(member_id: str) -> Member | None:
    item = get(member_pk(member_id), "MEMBER")
    return member_from_item(item) if item else None


def load_member_and_entry(member_id: str, entry_key: str) -> tuple[Member | None, LedgerEntry | None]:
    """One round trip: the member and, if it exists, the entry with this idempotency key."""
    member: Member | None = None
    entry: LedgerEntry | None = None
    for item in batch_get([key(member_pk(member_id), "MEMBER"), key(entry_pk(entry_key), "ENTRY")]):
        if item["SK"] == "MEMBER":
            member = member_from_item(item)
        else:
            entry = entry_from_item(item)
    return member, entry


def load_entry(entry_key: str) -> LedgerEntry | None:
    item = get(entry_pk(entry_key), "ENTRY")
    return entry_from_item(item) if item else None


def put_member_op(member: Member, expected_version: int) -> dict[str, Any]:
    if expected_version == 0:
        return {
            "Put": {
                "TableName": table_name(),
                "Item": to_item(member_to_item(member)),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }
    return {
        "Put": {
            "TableName": table_name(),
            "Item": to_item(member_to_item(member)),
            "ConditionExpression": "#v = :v",
            "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": {":v": {"N": str(expected_version)}},
        }
    }


def put_entry_op(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": table_name(),
            "Item": to_item(entry_to_item(entry)),
            "ConditionExpression": "attribute_not_exists(PK)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def commit(
    writes: list[tuple[Member, int]],
    entries: list[LedgerEntry],
    side_writes: list[SideWrite] | None = None,
) -> None:
    """One transaction: new ledger entries (each must not exist), members at their expected version
    (version 0: a new member, which must not exist) and typed side writes under their own conditions.

    Raises EntryExists (with the stored entry, when DynamoDB returns it), VersionConflict, or
    WriteRefused carrying the side write whose condition failed.
    """
    from loyalty.store.writes import op

    side = list(side_writes or [])
    ops = [put_entry_op(e) for e in entries] + [put_member_op(m, v) for m, v in writes] + [op(s) for s in side]
    try:
        transact(ops)
    except ConditionFailed as failed:
        if failed.index < len(entries):
            raise EntryExists(entry_from_item(failed.item) if failed.item else None) from None
        if failed.index < len(entries) + len(writes):
            raise VersionConflict() from None
        raise WriteRefused(side[failed.index - len(entries) - len(writes)]) from None


def enroll(member: Member, entries: list[LedgerEntry], referrer_id: str | None, side_writes: list[SideWrite]) -> None:
    """The member (must not exist), its signup entries and side writes (its identifiers, its stored
    enrolment), on condition that the referrer exists. A failed condition is reported in that order:
    MemberAlreadyExists, then WriteRefused(the side write), then ReferrerMissing."""
    from loyalty.store.writes import op

    ops: list[dict[str, Any]] = [
        {
            "Put": {
                "TableName": table_name(),
                "Item": to_item(member_to_item(member)),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        },
        *[put_entry_op(e) for e in entries],
        *[op(w) for w in side_writes],
    ]
    if referrer_id:
        ops.append(
            {
                "ConditionCheck": {
                    "TableName": table_name(),
                    "Key": key(member_pk(referrer_id), "MEMBER"),
                    "ConditionExpression": "attribute_exists(PK)",
                }
            }
        )
    try:
        transact(ops)
    except ConditionFailed as failed:
        first_side = 1 + len(entries)
        if failed.index == len(ops) - 1 and referrer_id:
            raise ReferrerMissing() from None
        if first_side <= failed.index < first_side + len(side_writes):
            raise WriteRefused(side_writes[failed.index - first_side]) from None
        raise MemberAlreadyExists() from None


def _encode_cursor(last_key: dict[str, Any]) -> str:
    plain = {k: v["S"] for k, v in last_key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, member_id: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        plain = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(plain, dict) or plain.get("GSI1PK") != member_pk(member_id):
            raise ValueError
        if set(plain) != {"PK", "SK", "GSI1PK", "GSI1SK"} or not all(isinstance(v, str) for v in plain.values()):
            raise ValueError
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed.field("cursor", "not a cursor this endpoint gave out") from None
    return {k: {"S": v} for k, v in plain.items()}


def ledger_page(member_id: str, limit: int, cursor: str | None) -> tuple[list[LedgerEntry], str | None]:
    """Newest first. The `ledger` index is eventually consistent in AWS (milliseconds behind)."""
    kwargs: dict[str, Any] = {
        "IndexName": "ledger",
        "KeyConditionExpression": "GSI1PK = :pk",
        "ExpressionAttributeValues": {":pk": {"S": member_pk(member_id)}},
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if cursor:
        kwargs["ExclusiveStartKey"] = _decode_cursor(cursor, member_id)
    answer = query(**kwargs)
    entries = [entry_from_item(from_item(i)) for i in answer.get("Items", [])]
    last = answer.get("LastEvaluatedKey")
    return entries, (_encode_cursor(last) if last else None)


def all_entries(member_id: str) -> list[LedgerEntry]:
    """Every entry of a member, oldest first (reconciliation and tests; never on a request path)."""
    entries: list[LedgerEntry] = []
    kwargs: dict[str, Any] = {
        "IndexName": "ledger",
        "KeyConditionExpression": "GSI1PK = :pk",
        "ExpressionAttributeValues": {":pk": {"S": member_pk(member_id)}},
    }
    entries.extend(entry_from_item(from_item(i)) for i in query_items(**kwargs))
    return entries


# -- API keys -----------------------------------------------------------------------------------
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


def scan_members(segments: int = 4) -> Iterator[Member]:
    """Every member, by parallel-scan segments walked in turn (operator tools only, never a request path)."""
    for segment in range(segments):
        kwargs: dict[str, Any] = {
            "TableName": table_name(),
            "Segment": segment,
            "TotalSegments": segments,
            "FilterExpression": "SK = :member",
            "ExpressionAttributeValues": {":member": {"S": "MEMBER"}},
        }
        while True:
            answer = client().scan(**kwargs)
            for item in answer.get("Items", []):
                yield member_from_item(from_item(item))
            if "LastEvaluatedKey" not in answer:
                break
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
