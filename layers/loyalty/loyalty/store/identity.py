"""Identifiers (email, phone, card_id) and stored enrolments in the table.

Keys:
- `IDENT#<kind>#<value>` / `IDENT`: kind `identifier`, `member_id`. The uniqueness guard: written in the
  transaction that gives a member the identifier, on condition that no other member holds it, deleted
  in the one that takes it away. `value` is the compared form (an email in lower case), so
  `Ana@Example.com` and `ana@example.com` are one identifier.
- `ENROL#<member_id>` / `ENROL`: kind `enrolment`, the enrolment's request hash and first answer (its
  replay). Erasure deletes it.
- The member item carries `IDEMAIL`, `IDPHONE`, `IDCARD` (compared forms) while the member holds them:
  the keys of the sparse indexes `by-email`, `by-phone`, `by-card` (projection ALL), so a lookup reads
  the member in one round trip.

The indexes are eventually consistent (in AWS, milliseconds behind the table). A lookup that finds no
one, two members, or a member that no longer holds the identifier asks the identifier item (strongly
consistent) and then the member: two round trips, and the answer is the table's. A write made for the
member found (a checkout order) re-checks the identifier item in its transaction (`holds_op`).
"""

from __future__ import annotations

from typing import Any

from loyalty.domain.model import Enrolment, IdentifierKind, Member, identifiers
from loyalty.store.codecs import IDENTIFIER_INDEXES as INDEXES
from loyalty.store.codecs import member_from_item, member_pk
from loyalty.store.core import batch_get, from_item, get, key, query, table_name, to_item
from loyalty.store.members import load_member


def identifier_pk(kind: IdentifierKind, value: str) -> str:
    return f"IDENT#{kind}#{value}"


def enrolment_pk(member_id: str) -> str:
    return f"ENROL#{member_id}"


# -- lookups -----------------------------------------------------------------------------------------
def find_member(kind: IdentifierKind, value: str) -> Member | None:
    """The member who holds the identifier (compared form), or None. One round trip when the index
    has caught up; two otherwise (see the module's notes)."""
    index, attribute = INDEXES[kind]
    answer = query(
        IndexName=index,
        KeyConditionExpression="#k = :v",
        ExpressionAttributeNames={"#k": attribute},
        ExpressionAttributeValues={":v": {"S": value}},
        Limit=2,
    )
    items = answer.get("Items", [])
    if len(items) == 1:
        member = member_from_item(from_item(items[0]))
        if identifiers(member).get(kind) == value:
            return member
    return find_member_consistently(kind, value)


def find_member_consistently(kind: IdentifierKind, value: str) -> Member | None:
    """The identifier item, then its member: the table's answer, in two round trips."""
    item = get(identifier_pk(kind, value), "IDENT")
    if item is None:
        return None
    member = load_member(str(item["member_id"]))
    return member if member is not None and identifiers(member).get(kind) == value else None


def load_member_and_enrolment(member_id: str) -> tuple[Member | None, Enrolment | None]:
    """One round trip: the member and its stored enrolment."""
    member: Member | None = None
    enrolment: Enrolment | None = None
    for item in batch_get([key(member_pk(member_id), "MEMBER"), key(enrolment_pk(member_id), "ENROL")]):
        if item["SK"] == "MEMBER":
            member = member_from_item(item)
        else:
            enrolment = Enrolment.model_validate(item)
    return member, enrolment


# -- transaction items -------------------------------------------------------------------------------
def claim_op(kind: IdentifierKind, value: str, member_id: str) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": table_name(),
            "Item": to_item(
                {"PK": identifier_pk(kind, value), "SK": "IDENT", "kind": "identifier", "member_id": member_id}
            ),
            "ConditionExpression": "attribute_not_exists(PK) OR member_id = :m",
            "ExpressionAttributeValues": {":m": {"S": member_id}},
        }
    }


def release_op(kind: IdentifierKind, value: str, member_id: str) -> dict[str, Any]:
    return {
        "Delete": {
            "TableName": table_name(),
            "Key": key(identifier_pk(kind, value), "IDENT"),
            "ConditionExpression": "attribute_not_exists(PK) OR member_id = :m",
            "ExpressionAttributeValues": {":m": {"S": member_id}},
        }
    }


def holds_op(kind: IdentifierKind, value: str, member_id: str) -> dict[str, Any]:
    """A transaction's check that `member_id` still holds the identifier (a write for a member found
    through the eventually consistent index)."""
    return {
        "ConditionCheck": {
            "TableName": table_name(),
            "Key": key(identifier_pk(kind, value), "IDENT"),
            "ConditionExpression": "member_id = :m",
            "ExpressionAttributeValues": {":m": {"S": member_id}},
        }
    }


def put_enrolment_op(enrolment: Enrolment) -> dict[str, Any]:
    item = {"PK": enrolment_pk(enrolment.member_id), "SK": "ENROL", "kind": "enrolment", **enrolment.model_dump()}
    return {
        "Put": {
            "TableName": table_name(),
            "Item": to_item(item),
            "ConditionExpression": "attribute_not_exists(PK)",
        }
    }


def delete_enrolment_op(member_id: str) -> dict[str, Any]:
    return {"Delete": {"TableName": table_name(), "Key": key(enrolment_pk(member_id), "ENROL")}}
