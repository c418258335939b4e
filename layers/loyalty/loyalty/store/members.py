"""Members and ledger entries read from the table: a member, a member with the entry under an idempotency
key (one round trip), a ledger page (newest first, opaque cursors), every entry of a member and every member
(operator tools). Their codecs are `loyalty.store.codecs`; their writes, `loyalty.store.transaction`."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from typing import Any

from loyalty.domain.model import LedgerEntry, Member
from loyalty.kernel.errors import ValidationFailed
from loyalty.store.codecs import entry_from_item, entry_pk, member_from_item, member_pk
from loyalty.store.core import batch_get, client, from_item, get, key, query, query_items, table_name


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


def erased_members(member_ids: set[str]) -> set[str]:
    """Which of the members are erased (consistent BatchGetItem, 100 keys a call)."""
    keys = [key(member_pk(m), "MEMBER") for m in sorted(member_ids)]
    found = [item for start in range(0, len(keys), 100) for item in batch_get(keys[start : start + 100])]
    return {str(item["member_id"]) for item in found if item.get("erased_at")}


def load_entry(entry_key: str) -> LedgerEntry | None:
    item = get(entry_pk(entry_key), "ENTRY")
    return entry_from_item(item) if item else None


def encode_cursor(last_key: dict[str, Any]) -> str:
    """A page's cursor: the last key a Query read (string attributes), as URL-safe base64 of its JSON."""
    plain = {k: v["S"] for k, v in last_key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")


LEDGER_KEYS = ("PK", "SK", "GSI1PK", "GSI1SK")  # a key of the `ledger` index's pages


def decode_cursor(
    cursor: str, owner: str, owner_key: str = "GSI1PK", keys: tuple[str, ...] = LEDGER_KEYS
) -> dict[str, Any]:
    """A page's cursor read back, refused unless it is one this query gave out: exactly `keys`, all strings, and
    `owner_key` = `owner` (a ledger's page: its `GSI1PK`; a partition's: its `PK`)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        plain = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(plain, dict) or plain.get(owner_key) != owner:
            raise ValueError
        if set(plain) != set(keys) or not all(isinstance(v, str) for v in plain.values()):
            raise ValueError
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed.field("cursor", "not a cursor this endpoint gave out") from None
    return {k: {"S": v} for k, v in plain.items()}


def ledger_page(member_id: str, limit: int, cursor: str | None) -> tuple[list[LedgerEntry], str | None]:
    """Newest first. The `ledger` index is eventually consistent in AWS (milliseconds behind)."""
    return ledger_page_of(member_pk(member_id), limit, cursor)


def ledger_page_of(ledger_pk: str, limit: int, cursor: str | None) -> tuple[list[LedgerEntry], str | None]:
    """A page of one ledger (`GSI1PK`: a member's, or an account pool's), newest first."""
    kwargs: dict[str, Any] = {
        "IndexName": "ledger",
        "KeyConditionExpression": "GSI1PK = :pk",
        "ExpressionAttributeValues": {":pk": {"S": ledger_pk}},
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if cursor:
        kwargs["ExclusiveStartKey"] = decode_cursor(cursor, ledger_pk)
    answer = query(**kwargs)
    entries = [entry_from_item(from_item(i)) for i in answer.get("Items", [])]
    last = answer.get("LastEvaluatedKey")
    return entries, (encode_cursor(last) if last else None)


def all_entries(member_id: str) -> list[LedgerEntry]:
    """Every entry of a member, oldest first (reconciliation and tests; never on a request path)."""
    return all_entries_of(member_pk(member_id))


def all_entries_of(ledger_pk: str) -> list[LedgerEntry]:
    """Every entry of one ledger (a member's, or an account pool's), oldest first."""
    kwargs: dict[str, Any] = {
        "IndexName": "ledger",
        "KeyConditionExpression": "GSI1PK = :pk",
        "ExpressionAttributeValues": {":pk": {"S": ledger_pk}},
    }
    return [entry_from_item(from_item(i)) for i in query_items(**kwargs)]


def scan_items(sort_key: str, segments: int = 4) -> Iterator[dict[str, Any]]:
    """Every item whose SK is `sort_key` (`MEMBER`, `ACCOUNT`), by parallel-scan segments walked in turn
    (operator tools only, never a request path)."""
    for segment in range(segments):
        kwargs: dict[str, Any] = {
            "TableName": table_name(),
            "Segment": segment,
            "TotalSegments": segments,
            "FilterExpression": "SK = :sk",
            "ExpressionAttributeValues": {":sk": {"S": sort_key}},
        }
        while True:
            answer = client().scan(**kwargs)
            for item in answer.get("Items", []):
                yield from_item(item)
            if "LastEvaluatedKey" not in answer:
                break
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def scan_members(segments: int = 4) -> Iterator[Member]:
    """Every member, by parallel-scan segments walked in turn (operator tools only, never a request path)."""
    for item in scan_items("MEMBER", segments):
        yield member_from_item(item)
