"""Members and ledger entries as table items, and back: their keys, the sparse index attributes a member
item carries (its expiry month, its shard of the members index, its identifiers), the codecs."""

from __future__ import annotations

import zlib
from decimal import Decimal
from typing import Any

from loyalty.domain.model import NEVER, IdentifierKind, LedgerEntry, Member, identifiers

EXPIRY_SHARDS = 16  # see docs/design.md: spreads the expiry and members indexes over 16 partitions


# Identifier kind -> (the sparse index that finds a member by it, the member item attribute it keys on).
IDENTIFIER_INDEXES: dict[IdentifierKind, tuple[str, str]] = {
    "email": ("by-email", "IDEMAIL"),
    "phone": ("by-phone", "IDPHONE"),
    "card_id": ("by-card", "IDCARD"),
}


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
