"""The one transaction of a business operation: new ledger entries, members at their expected version and
the typed side writes under their conditions, all or nothing; and the enrolment's. A failed condition comes
back as the domain's reading of it (the entry exists, the member moved on, a side write refused)."""

from __future__ import annotations

from typing import Any

from loyalty.domain.model import Account, Holder, LedgerEntry, Member
from loyalty.domain.writes import SideWrite, WriteRefused
from loyalty.store import conflicts
from loyalty.store.codecs import entry_from_item, entry_to_item, holder_to_item, member_pk, member_to_item
from loyalty.store.core import ConditionFailed, WriteConflict, key, table_name, to_item, transact
from loyalty.store.writes import op

__all__ = [
    "EntryExists",
    "GroupRefused",
    "MemberAlreadyExists",
    "ReferrerMissing",
    "VersionConflict",
    "WriteConflict",
    "WriteRefused",
    "commit",
    "enroll",
]


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


def put_member_op(member: Holder, expected_version: int) -> dict[str, Any]:
    """A member's or an account's item at its next version (0: a new one, which must not exist)."""
    if expected_version == 0:
        return {
            "Put": {
                "TableName": table_name(),
                "Item": to_item(holder_to_item(member)),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }
    put: dict[str, Any] = {
        "TableName": table_name(),
        "Item": to_item(holder_to_item(member)),
        "ConditionExpression": "#v = :v",
        "ExpressionAttributeNames": {"#v": "version"},
        "ExpressionAttributeValues": {":v": {"N": str(expected_version)}},
    }
    if isinstance(member, Account):  # a hot pool: a lost race answers the pool as it is now
        put["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    return {"Put": put}


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
    writes: list[tuple[Holder, int]],
    entries: list[LedgerEntry],
    side_writes: list[SideWrite] | None = None,
) -> None:
    """One transaction: new ledger entries (each must not exist), members at their expected version
    (version 0: a new member, which must not exist) and typed side writes under their own conditions.

    Raises EntryExists (with the stored entry, when DynamoDB returns it), VersionConflict, or
    WriteRefused carrying the side write whose condition failed.
    """
    side = list(side_writes or [])
    ops = [put_entry_op(e) for e in entries] + [put_member_op(m, v) for m, v in writes] + [op(s) for s in side]
    conflicts.forget()
    try:
        transact(ops)
    except ConditionFailed as failed:
        if failed.index < len(entries):
            raise EntryExists(entry_from_item(failed.item) if failed.item else None) from None
        if failed.index < len(entries) + len(writes):
            holders = {len(entries) + i: m for i, (m, _) in enumerate(writes)}
            lost = [(holders.get(i), i) for i in failed.indexes]
            if all(isinstance(m, Account) and i in failed.items for m, i in lost):
                conflicts.record({str(failed.items[i]["PK"]): failed.items[i] for _, i in lost})
            raise VersionConflict() from None
        raise WriteRefused(side[failed.index - len(entries) - len(writes)]) from None


def enroll(member: Member, entries: list[LedgerEntry], referrer_id: str | None, side_writes: list[SideWrite]) -> None:
    """The member (must not exist), its signup entries and side writes (its identifiers, its stored
    enrolment), on condition that the referrer exists. A failed condition is reported in that order:
    MemberAlreadyExists, then WriteRefused(the side write), then ReferrerMissing."""
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


class GroupRefused(Exception):
    """A condition of one of the group's enrolments failed (a member or an identifier exists): nothing was written."""


def enroll_group(rows: list[tuple[Member, list[LedgerEntry], list[SideWrite]]]) -> None:
    """Several new members, each with its entries and side writes (an import's rows), in one transaction: all or
    none (at most 100 items). Raises GroupRefused when any condition fails or the transaction conflicts; each row
    then goes on its own (`enroll`), which says why."""
    ops: list[dict[str, Any]] = []
    for member, entries, side_writes in rows:
        ops.append(
            {
                "Put": {
                    "TableName": table_name(),
                    "Item": to_item(member_to_item(member)),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
        )
        ops += [put_entry_op(e) for e in entries]
        ops += [op(w) for w in side_writes]
    try:
        transact(ops)
    except (ConditionFailed, WriteConflict):
        raise GroupRefused() from None
