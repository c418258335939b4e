"""The shape every write shares: read, decide through the funnel, one conditional transaction.

An idempotent ledger operation (`run`, `run_with`) reads the member and the entry under its idempotency
key in one round trip. If the entry exists, the stored answer is replayed (or refused as a conflict when
the request differs). Otherwise the service decides on the member's `Books` (loyalty.ledger.funnel), the books
are closed (time rules, version, invariants) and one transaction writes the members, the entries and the
typed side writes under their conditions: the entry does not exist, each member is at the version read.

Every retry of the product goes through `retrying`: a lost race (a version or side-write condition, a
transaction conflict) backs off with jitter and decides again from a fresh read.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from loyalty.answers.common import Answer
from loyalty.domain.model import Holder, LedgerEntry, Member
from loyalty.domain.writes import SideWrite, WriteRefused, coalesced
from loyalty.kernel.clock import utcnow
from loyalty.kernel.errors import Contention, IdempotencyConflict, MemberNotFound
from loyalty.kernel.observability import count
from loyalty.kernel.turns import turn
from loyalty.ledger.funnel import Books, Ledger, Txn
from loyalty.program.rules import Program
from loyalty.store import accounts, conflicts, transaction
from loyalty.store import members as store
from loyalty.store.codecs import account_pk

__all__ = ["Outcome", "Plan", "Retry", "request_hash", "retrying", "run", "run_books", "run_with"]

MAX_ATTEMPTS = 30
# An operation's writes (run_books) retry lost races for up to RACE_SECONDS (or RACE_ATTEMPTS), not 30 times: a
# hot pool's tills lose many races, and a till waits (inside the functions' 10 s timeout) rather than fails
RACE_SECONDS = 8.0
RACE_ATTEMPTS = 200
T = TypeVar("T")
C = TypeVar("C")
H = TypeVar("H", bound=Holder)
L = TypeVar("L", bound=Ledger[Any])


@dataclass
class Outcome:
    status: int
    body: str
    replayed: bool = False
    entry: LedgerEntry | None = None
    member: Holder | None = None


@dataclass
class Plan:
    """What a service decided: the answer (its response model: the text stored and answered), the side
    writes, and other holders' books (a referrer, the member's account's pool, a transfer's receiver)."""

    body: Answer
    writes: list[SideWrite] = field(default_factory=list)
    others: list[Ledger[Any]] = field(default_factory=list)


class Retry(Exception):
    """The world moved between the read and the write: read again and decide again."""


def request_hash(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def dumps(body: Answer) -> str:
    """The answer's text, as it is first sent and stored for its replays."""
    return body.body()


def replay(entry: LedgerEntry, hash_: str, program: Program) -> Outcome:
    if entry.request_hash != hash_ or entry.response is None:
        raise IdempotencyConflict("this idempotency key was used with a different request")
    count("IdempotentReplays", program_id=program.program_id)
    return Outcome(200, entry.response, replayed=True, entry=entry)


def backoff(attempt: int) -> None:
    """Full jitter, doubling from 5 ms to at most 50 ms: a write that has lost many races waits no longer than
    one that lost its first (a longer cap starves the oldest of a hot pool's tills behind its newest)."""
    time.sleep(random.uniform(0, min(0.05, 0.005 * 2**attempt)))  # noqa: S311 - jitter, not crypto


def retrying(
    step: Callable[[], T],
    *,
    attempts: int = MAX_ATTEMPTS,
    program_id: str | None = None,
    seconds: float | None = None,
) -> T:
    """Run `step` until it does not lose a race; `Contention` (503) when it keeps losing. With `program_id`,
    the races lost are counted (`WriteRetries`: a hot member or a hot account's pool shows on the dashboard).

    `seconds`: keep trying while that much time has not passed (up to `attempts`), instead of a count alone:
    a write to a hot account's pool loses many races to its other tills, and a till waits rather than fails,
    inside the function's timeout (10 s)."""
    lost = 0
    deadline = time.monotonic() + seconds if seconds is not None else None
    try:
        for attempt in range(attempts):
            try:
                return step()
            except (Retry, transaction.VersionConflict, transaction.WriteConflict, WriteRefused):
                lost += 1
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if not conflicts.fresh():  # lost to a pool it was answered as it is now: try again at once
                    backoff(attempt)
        raise Contention("the member is busy; retry the request")
    finally:
        if lost and program_id is not None:
            count("WriteRetries", lost, program_id=program_id)


def commit(txn: Txn) -> None:
    """Close every member's books (time rules, version, invariants) and write the transaction."""
    writes = [(books.close(), books.read_version) for books in txn.books]
    transaction.commit(writes, txn.entries, coalesced(txn.writes))


def run(program: Program, member_id: str, entry_key: str, hash_: str, plan: Callable[[Books], Plan]) -> Outcome:
    """Run one idempotent ledger operation for `member_id` under `entry_key`."""
    return run_with(
        program,
        lambda: (*store.load_member_and_entry(member_id, entry_key), None),
        member_id,
        entry_key,
        hash_,
        lambda books, _: plan(books),
    )


def run_with(
    program: Program,
    load: Callable[[], tuple[Member | None, LedgerEntry | None, C]],
    member_id: str,
    entry_key: str,
    hash_: str,
    plan: Callable[[Books, C], Plan],
) -> Outcome:
    """`run`, for an operation that needs more than the member and its entry: `load` reads the member,
    the entry under `entry_key` and whatever else the plan needs, in one round trip (a refund reads
    the order's entry and refund state with them)."""

    def missing() -> Exception:
        return MemberNotFound(f"no member {member_id!r}")

    def hot() -> str | None:  # the member's account's pool, which its company's other tills write too
        account_id = accounts.guess(member_id)
        return account_pk(account_id) if account_id else None

    return run_books(program, load, entry_key, hash_, plan, lambda m: Books(program, m, utcnow()), missing, hot)


def run_books(
    program: Program,
    load: Callable[[], tuple[H | None, LedgerEntry | None, C]],
    entry_key: str,
    hash_: str,
    plan: Callable[[L, C], Plan],
    open_books: Callable[[H], L],
    missing: Callable[[], Exception],
    hot: Callable[[], str | None] | None = None,
) -> Outcome:
    """`run_with` for any holder's books (a member's, an account pool's): `open_books` opens the holder that
    `load` read; `missing` is the error when it read none; `hot` names the hot item the operation writes (a
    pool), if it knows one before reading: each attempt takes that item's turn in this process
    (loyalty.kernel.turns), so the process's other writers to it wait instead of throwing their work away."""
    until = time.monotonic() + RACE_SECONDS

    def attempt() -> Outcome:
        with turn(hot() if hot is not None else None, until - time.monotonic()):
            return decide_and_write()

    def decide_and_write() -> Outcome:
        holder, existing, context = load()
        if existing is not None:
            return replay(existing, hash_, program)
        if holder is None:
            raise missing()
        books = open_books(holder)
        decided = plan(books, context)
        # the entry under the idempotency key holds the request's hash and the answer: usually the first,
        # the last for a checkout order (its rewards and points payment are spent before it earns); the
        # pool's, for a spend of an account's pool (the member's books then write no line)
        written = [*books.entries, *(e for other in decided.others for e in other.entries)]
        primary = next((e for e in written if e.key == entry_key), None)
        if primary is None:
            raise AssertionError(f"the operation under {entry_key!r} wrote no entry under its key")
        primary.request_hash = hash_
        primary.response = dumps(decided.body)
        try:
            commit(Txn([books, *decided.others], decided.writes))
        except transaction.EntryExists as exists:
            stored = exists.entry if exists.entry is not None and exists.entry.key == entry_key else None
            stored = stored or store.load_entry(entry_key)
            if stored is None:  # another entry of the plan exists: the world moved, plan again
                raise Retry() from None
            return replay(stored, hash_, program)
        return Outcome(201, primary.response, entry=primary, member=books.member)

    return retrying(attempt, program_id=program.program_id, attempts=RACE_ATTEMPTS, seconds=RACE_SECONDS)
