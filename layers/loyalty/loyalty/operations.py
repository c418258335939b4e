"""The shape every ledger-writing operation shares: read, decide, one conditional transaction.

An operation reads the member and the entry under its idempotency key in one round trip. If the entry
exists, the stored answer is replayed (or refused as a conflict when the request differs). Otherwise
the pure domain plans the new member state and entry, and one transaction writes both under two
conditions: the entry does not exist, the member is at the version read. A lost race retries.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from loyalty.errors import Contention, IdempotencyConflict, MemberNotFound
from loyalty.model import LedgerEntry, Member
from loyalty.store import members as store
from loyalty.store.core import ConditionFailed

MAX_ATTEMPTS = 30
T = TypeVar("T")


@dataclass
class Outcome:
    status: int
    body: str
    replayed: bool = False
    entry: LedgerEntry | None = None
    member: Member | None = None


@dataclass
class Plan:
    """What an operation wants written: the member, its entries, and other members or items."""

    member: Member
    entries: list[LedgerEntry]
    body: dict[str, Any]
    others: list[tuple[Member, int]] = field(default_factory=list)
    extra: list[dict[str, Any]] = field(default_factory=list)


def request_hash(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def entry_id_for(entry_key: str) -> str:
    return "le_" + hashlib.sha256(entry_key.encode()).hexdigest()[:26]


def dumps(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def replay(entry: LedgerEntry, hash_: str) -> Outcome:
    if entry.request_hash != hash_ or entry.response is None:
        raise IdempotencyConflict("this idempotency key was used with a different request")
    return Outcome(200, entry.response, replayed=True, entry=entry)


def backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))  # noqa: S311 - jitter, not crypto


def run(
    member_id: str,
    entry_key: str,
    hash_: str,
    plan: Callable[[Member], Plan],
) -> Outcome:
    """Run one idempotent ledger operation for `member_id` under `entry_key`."""
    return run_with(
        lambda: (*store.load_member_and_entry(member_id, entry_key), None),
        member_id,
        entry_key,
        hash_,
        lambda member, _: plan(member),
    )


def run_with(
    load: Callable[[], tuple[Member | None, LedgerEntry | None, T]],
    member_id: str,
    entry_key: str,
    hash_: str,
    plan: Callable[[Member, T], Plan],
) -> Outcome:
    """`run`, for an operation that needs more than the member and its entry: `load` reads the member,
    the entry under `entry_key` and whatever else the plan needs, in one round trip (a refund reads
    the order's entry and refund state with them)."""
    for attempt in range(MAX_ATTEMPTS):
        member, existing, context = load()
        if existing is not None:
            return replay(existing, hash_)
        if member is None:
            raise MemberNotFound(f"no member {member_id!r}")
        decided = plan(member.model_copy(deep=True), context)
        primary = decided.entries[0]
        primary.request_hash = hash_
        primary.response = dumps(decided.body)
        try:
            store.commit([(decided.member, member.version), *decided.others], decided.entries, decided.extra)
        except store.EntryExists as exists:
            stored = exists.entry if exists.entry is not None and exists.entry.key == entry_key else None
            stored = stored or store.load_entry(entry_key)
            if stored is None:  # another entry of the plan exists: the world moved, plan again
                backoff(attempt)
                continue
            return replay(stored, hash_)
        except (store.VersionConflict, store.WriteConflict, ConditionFailed):
            # ConditionFailed: a condition of `extra` (an item versioned beside the member) failed
            backoff(attempt)
            continue
        return Outcome(201, primary.response, entry=primary, member=decided.member)
    raise Contention("the member is busy; retry the request")
