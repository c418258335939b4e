"""Members and ledger entries as table items, and back: their keys, the sparse index attributes a member
item carries (its expiry month, its shard of the members index, its identifiers), the codecs."""

from __future__ import annotations

import zlib
from decimal import Decimal
from typing import Any

from loyalty.domain.model import (
    NEVER,
    Account,
    AccountMembership,
    Holder,
    IdentifierKind,
    LedgerEntry,
    Member,
    identifiers,
)

EXPIRY_SHARDS = 16  # see docs/design.md: spreads the expiry and members indexes over 16 partitions
ACCOUNTS = "ACCOUNTS"  # the `members` index's partition of accounts (the tier evaluation walks it)
ACCOUNT_PREFIX = "ACCOUNT#"
EXPIRY_ACCOUNTS = "EXPACCT"  # the expiry index's partition of accounts' pools with points that can expire


# Identifier kind -> (the sparse index that finds a member by it, the member item attribute it keys on).
IDENTIFIER_INDEXES: dict[IdentifierKind, tuple[str, str]] = {
    "email": ("by-email", "IDEMAIL"),
    "phone": ("by-phone", "IDPHONE"),
    "card_id": ("by-card", "IDCARD"),
}


def member_pk(member_id: str) -> str:
    return f"MEMBER#{member_id}"


def account_pk(account_id: str) -> str:
    """An account's key; also how the monthly runs and the daily activation name a pool among members' ids."""
    return f"{ACCOUNT_PREFIX}{account_id}"


def pool_of(holder_id: str) -> str | None:
    """The account id when `holder_id` names an account's pool (`ACCOUNT#<account_id>`: no member id holds a
    `#`); None for a member's id."""
    return holder_id.removeprefix(ACCOUNT_PREFIX) if holder_id.startswith(ACCOUNT_PREFIX) else None


def membership_sk(member_id: str) -> str:
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


def account_to_item(account: Account) -> dict[str, Any]:
    """An account's pool: kept apart from the members (neither in the members index nor the identifiers');
    in the expiry index under a partition of its own, where the expiry run finds pools with points that expire."""
    item = account.model_dump(mode="json", exclude_none=True)
    # `kind` names every item's type in the table (the stream's filter reads it): the account's own kind
    # (company, household) is kept as `account_kind`
    item["account_kind"] = item.pop("kind")
    item.update(PK=account_pk(account.account_id), SK="ACCOUNT", kind="account", MEMBERPK=ACCOUNTS)
    dated = sorted(m for m, p in account.buckets.items() if m != NEVER and p > 0)
    if dated:  # a programme has few accounts: one partition of the index holds them (EXPIRY_ACCOUNTS)
        item["EXPPK"] = EXPIRY_ACCOUNTS
        item["EXPSK"] = f"{dated[0]}#{account.account_id}"
    return item


def account_from_item(item: dict[str, Any]) -> Account:
    return Account.model_validate({**item, "kind": item["account_kind"]})


def holder_to_item(holder: Holder) -> dict[str, Any]:
    if isinstance(holder, Account):
        return account_to_item(holder)
    assert isinstance(holder, Member)
    return member_to_item(holder)


def membership_to_item(membership: AccountMembership) -> dict[str, Any]:
    item = membership.model_dump(mode="json", exclude_none=True)
    item.update(PK=account_pk(membership.account_id), SK=membership_sk(membership.member_id), kind="account_member")
    return item


def membership_from_item(item: dict[str, Any]) -> AccountMembership:
    return AccountMembership.model_validate(_plain(item))


def entry_to_item(entry: LedgerEntry) -> dict[str, Any]:
    item = entry.model_dump(mode="json", exclude_none=True)
    item.update(
        PK=entry_pk(entry.key),
        SK="ENTRY",
        kind="entry",
        GSI1PK=account_pk(entry.account_id) if entry.account_id else member_pk(entry.member_id),
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
