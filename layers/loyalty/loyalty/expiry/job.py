"""The monthly expiry run: on the 1st of month N, points that expired at the end of N−1 and earlier go.

Members are found through the sparse `expiry` index, never a scan: one message per shard, a Query of
`EXPSK < <N+1>` (earliest expiring month ≤ N). For a member whose earliest month is ≤ N−1 the run
writes one `expire` ledger entry (key `expire#<member_id>#<N>`: once per member per period), takes
the points out of the balance and adds them to `lifetime_expired`. A member with points that expire at
the end of N (found in the same Query, or left with such points after the expiry) gets a warning item
`WARN#<member_id>#<N>`, once, from which PointsExpiringSoon is published (the stream, not this job).

Accounts' pools (v1.2) expire the same way, by their own chunk (`accounts`): the index's `EXPACCT` partition
holds them, the run names them `ACCOUNT#<account_id>`, their entries are keyed
`expire_account#<account_id>#<N>` and their warnings publish PointsExpiringSoon with `account_id`.

Shards: the index is written under 16 partition keys (crc32 of the member id) so one month's members
are not all on one index partition (a hot key) and 16 workers walk them in parallel. 16 shards × ~1,000
writes/s per partition is far above a monthly run's needs; more shards only add empty Queries.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from loyalty.answers.common import Answer
from loyalty.domain import keys
from loyalty.domain.model import Account, Holder, LedgerEntry
from loyalty.domain.writes import ExpiryWarningSent
from loyalty.jobs import registry
from loyalty.jobs import runner as jobs
from loyalty.kernel.clock import utcnow
from loyalty.kernel.config import settings
from loyalty.kernel.errors import AccountNotFound, MemberNotFound
from loyalty.kernel.months import add_months
from loyalty.ledger.funnel import Ledger, open_books
from loyalty.ledger.operations import Plan, request_hash, run_books
from loyalty.program.rules import Program
from loyalty.store import expiry as store
from loyalty.store.codecs import account_pk, pool_of


class _NothingToExpire(Exception):
    """The member has nothing dated N−1 or earlier (any more): at most a warning to give."""

    def __init__(self, member: Holder, warning: dict[str, Any] | None) -> None:
        super().__init__("nothing to expire")
        self.member = member
        self.warning = warning  # the warning of the period, if it was written


class MemberExpired(Answer):
    """What one member's expiry wrote: stored with its entry, so a re-run of the period finds it (never sent)."""

    member_id: str
    period: str
    points: int
    run_id: str
    page: str | None = None  # the run's unit that wrote it: a page, or a member retried on its own
    warned: bool


def _month_start(month: str) -> datetime:
    return datetime(int(month[:4]), int(month[5:7]), 1, tzinfo=UTC)


def _run_id(holder: Holder) -> str:
    """How the run names a holder: a member by its id, a pool as `ACCOUNT#<account_id>`."""
    return account_pk(holder.account_id) if isinstance(holder, Account) else holder.holder_id


def _warning(member: Holder, run: jobs.Run) -> ExpiryWarningSent | None:
    """The warning for points expiring at the end of the run's month, if the holder has any."""
    points = member.buckets.get(run.period, 0)
    if points <= 0:
        return None
    return ExpiryWarningSent(
        _run_id(member),
        run.period,
        {
            "month": run.period,
            "period": run.period,
            "points": points,
            "as_of": run.as_of.isoformat(),
            "run_id": run.run_id,
            "page": run.page,  # the unit that counts it (jobs.Run.counts_here), on every delivery
            "recorded_at": utcnow().isoformat(),
        },
    )


def expire_member(program: Program, run: jobs.Run, member_id: str, item: dict[str, Any] | None) -> jobs.Counts:
    """Expire one member's (or one pool's, `ACCOUNT#<account_id>`) points for the run (idempotent per holder
    and period). Returns its counts."""
    pool = pool_of(member_id)
    entry_key = keys.account_expiry(pool, run.period) if pool else keys.expiry(member_id, run.period)
    hash_ = request_hash({"member_id": member_id, "period": run.period})
    last = add_months(run.period, -1)

    def load() -> tuple[Holder | None, LedgerEntry | None, dict[str, Any] | None]:
        return store.load_for_expiry(member_id, entry_key, run.period)

    def missing() -> Exception:
        return AccountNotFound(f"no account {pool!r}") if pool else MemberNotFound(f"no member {member_id!r}")

    def plan(books: Ledger[Any], warned: dict[str, Any] | None) -> Plan:
        member = books.member
        gone = books.expire_through(last)
        if not gone:
            raise _NothingToExpire(member, warned)
        points = sum(gone.values())
        member.expiry_period = run.period
        books.entry(
            entry_key,
            "expire",
            -points,
            f"expiry:{run.period}",
            _month_start(run.period),  # the points expired at the end of the month before
            details={"months": gone},
            buckets=gone,
        )
        warning = None if warned is not None else _warning(member, run)
        body = MemberExpired(
            member_id=member_id,
            period=run.period,
            points=points,
            run_id=run.run_id,
            page=run.page,
            warned=warning is not None,
        )
        return Plan(body, [warning] if warning else [])

    try:
        outcome = run_books(program, load, entry_key, hash_, plan, lambda h: open_books(program, h, utcnow()), missing)
    except (MemberNotFound, AccountNotFound):
        return {}
    except _NothingToExpire as nothing:
        return _warn(nothing.member, nothing.warning, run)
    body = json.loads(outcome.body)
    if outcome.replayed and not run.counts_here(body.get("run_id"), body.get("page")):
        # expired by an earlier run of this period (nothing changes), or by another unit of this run, which
        # counts it: after its expiry the member's index key moved to this month, still in the walk's range,
        # so a later page of its shard meets it again
        return {}
    who = "accounts" if pool else "members"
    return {f"{who}_affected": 1, "points_expired": int(body["points"]), f"{who}_warned": int(body["warned"])}


def _warn(member: Holder, written: dict[str, Any] | None, run: jobs.Run) -> jobs.Counts:
    """Warn a member with nothing to expire, once per period; counted by the unit of the run that wrote the
    warning, on every delivery of it (a retried page finds its warnings written, and counts them)."""
    warned = {"accounts_warned" if isinstance(member, Account) else "members_warned": 1}
    if written is None:
        warning = _warning(member, run)
        if warning is None:
            return {}
        if store.put_warning(store.warning_item(warning.member_id, warning.month, warning.fields)):
            return warned
        written = store.load_warning(_run_id(member), run.period)  # written meanwhile: by whom?
    return warned if written and run.counts_here(written.get("run_id"), written.get("page")) else {}


ACCOUNTS = "accounts"  # the chunk of accounts' pools


def _fetch(run: jobs.Run, chunk: str, cursor: dict[str, Any] | None, limit: int) -> jobs.Page:
    if chunk == ACCOUNTS:
        ids, next_cursor = store.expiring_accounts_page(add_months(run.period, 1), limit, cursor)
        return jobs.Page([(a, None) for a in ids], next_cursor)
    shard = int(chunk.removeprefix("shard-"))
    ids, next_cursor = store.expiring_page(shard, add_months(run.period, 1), limit, cursor)
    return jobs.Page([(m, None) for m in ids], next_cursor)


def _chunks(program: Program, run: jobs.Run) -> list[str]:
    if program.expiry.policy == "never":
        return []
    return [*(f"shard-{i:02d}" for i in range(store.EXPIRY_SHARDS)), ACCOUNTS]


JOB = jobs.Job(
    name=registry.EXPIRY.name,
    counters=registry.EXPIRY.summary,
    queue_url=lambda: settings().expiry_queue_url,
    chunks=_chunks,
    fetch=_fetch,
    process=expire_member,
    page_size=100,
)
