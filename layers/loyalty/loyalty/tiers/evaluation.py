"""The monthly tier evaluation: downgrades happen only here; upgrades the earn missed are caught here.

The run on the 1st of month N (period N) measures the qualifying value over months N−12 … N−1.
Rules, in order:
- a manual tier (source `manual`) is kept until `manual_until` (for ever when unset); when it ends the
  member goes to the tier they qualify for (with the paid floor below);
- a paid tier (source `paid`) whose subscription has ended falls to the tier the member qualifies for;
- an upgrade when the value reaches a higher tier;
- a downgrade when the value is below the current tier's threshold, unless the tier was reached less
  than `retain_months` ago: `one_down` goes one tier down, `to_qualified` to the highest qualified;
- never below a paid tier while `paid_until` is after as_of (the member then shows source `paid`).

Every member evaluated is written once per period, at the version read, with `tier_period` = N: that
record makes the run idempotent whatever happens in between. A re-run of N, a retried message or an
overlapping run finds `tier_period` = N and changes nothing; a back-fill of an older period after N
changes nothing either (a member is never walked down twice by two periods' runs). A tier reached after
the evaluation's `as_of` (an upgrade by an earn of this month, before a late or repeated run) is not
judged by a window that ends before it. A member enrolled after the run's clock is not evaluated. The
change is left on the member (`tier_change`, `tier_run`) for the TierChanged event published from the
table stream, and what the run itself did (`tier_run_change`) for a retry of its page to count.

(v1.2) When the run keeps a holder's tier but the next evaluation, its window moved a month on, would drop it
(`upcoming_drop`: the next run played on the holder as it is now, nothing more added), the same write records a
warning (`TIERWARN#<period>#<shard>` / `<holder id>`, loyalty.store.tiers) with the figures, from which the stream
publishes TierDowngradeUpcoming: once per holder and period, since the member's own `tier_period` makes a re-run
write nothing. Not for a suspended member (no message goes to one); an account's tier is warned as a member's.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from loyalty.domain.model import Account, Holder, Member, TierSource, snapshot
from loyalty.domain.writes import TierWarningSent
from loyalty.jobs import registry
from loyalty.jobs import runner as jobs
from loyalty.kernel.clock import utcnow
from loyalty.kernel.config import settings
from loyalty.kernel.months import add_months
from loyalty.ledger.funnel import Txn, open_books
from loyalty.ledger.operations import commit, retrying
from loyalty.program.rules import Program, Tier
from loyalty.store import accounts as account_store
from loyalty.store import codecs
from loyalty.store import members as member_store
from loyalty.store import tiers as store
from loyalty.tiers import maths as tiers

# One message per shard of the sparse `members` index (members only: the ledger's entries, which
# outnumber members many times, are never read). A shard of 1M members is ~4k pages of 200.
SHARDS = codecs.EXPIRY_SHARDS

MAX_ATTEMPTS = 10


@dataclass(frozen=True)
class TierChange:
    before: str
    after: str
    reason: str  # upgrade, downgrade, subscription_ended, override_ended
    source: TierSource


def start_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def add_months_to(when: datetime, months: int) -> datetime:
    month = add_months(f"{when.year:04d}-{when.month:02d}", months)
    year, mon = int(month[:4]), int(month[5:7])
    # the 31st of a shorter month is its last day
    return when.replace(year=year, month=mon, day=min(when.day, calendar.monthrange(year, mon)[1]))


def _retained(member: Holder, program: Program, as_of: datetime) -> bool:
    months = program.qualification.retain_months
    reached = member.tier_reached_at or member.tier_since
    return months > 0 and as_of < add_months_to(reached, months)


def _reached_after(member: Holder, as_of: datetime) -> bool:
    """The current tier was reached after the evaluation's as_of: a window ending before it cannot judge it."""
    reached = member.tier_reached_at or member.tier_since
    return reached > as_of


def _one_down(program: Program, current: Tier) -> Tier:
    below = [t for t in program.qualifying_tiers() if t.threshold < current.threshold]
    return below[-1] if below else program.base_tier


def evaluate_tier(member: Holder, program: Program, period: str, as_of: date) -> TierChange | None:
    """What the evaluation of `period` does to `member` (None: nothing). Pure."""
    if member.tier_period is not None and member.tier_period >= period:
        return None  # evaluated for this period already, or for a later one: a back-fill changes nothing
    now = start_of(as_of)
    rank = program.tier_rank
    current = program.tier(member.tier_id)
    value = tiers.qualifying_value(member, program, add_months(period, -1))
    qualified = tiers.highest_qualified(program, value)
    paid = None  # an account has no paid tier
    if isinstance(member, Member) and member.paid_tier is not None and member.paid_until is not None:
        paid = program.tier(member.paid_tier) if member.paid_until > now else None

    target, reason = current, ""
    if member.tier_source == "manual":
        if member.manual_until is None or member.manual_until > now:
            return None
        target, reason = qualified, "override_ended"
    elif member.tier_source == "paid" and paid is None:
        target, reason = qualified, "subscription_ended"
    elif rank(qualified.id) > rank(current.id):
        target, reason = qualified, "upgrade"
    elif value < current.threshold and not _retained(member, program, now) and not _reached_after(member, now):
        policy = program.qualification.downgrade
        target = _one_down(program, current) if policy == "one_down" else qualified
        reason = "downgrade"

    source: TierSource = "qualified"
    if paid is not None and rank(paid.id) >= rank(target.id):
        target, source = paid, "paid"
        reason = reason or "subscription"
    if target.id == current.id and source == member.tier_source:
        return None
    return TierChange(current.id, target.id, reason or "evaluation", source)


def _plain_number(value: Decimal) -> int | Decimal:
    return int(value) if value == value.to_integral_value() else value


def upcoming_drop(member: Holder, program: Program, period: str) -> dict[str, Any] | None:
    """After the evaluation of `period` kept `member`'s tier: the figures of TierDowngradeUpcoming when the next
    evaluation (the 1st of the month after) would drop it with nothing more added, else None. Pure.

    The next evaluation is played as it would run on the member as it is now (an override or a subscription that
    lasts past it, a tier retained by `retain_months`, the lowest tier: no drop); `qualifying_then` is the value of
    its window (`period`'s month the last one, what it holds so far included)."""
    current = program.tier(member.tier_id)
    then = tiers.qualifying_value(member, program, period)
    if then >= current.threshold:
        return None
    following = add_months(period, 1)
    on = date(int(following[:4]), int(following[5:7]), 1)
    probe = snapshot(member)
    probe.tier_period = period
    change = evaluate_tier(probe, program, following, on)
    if change is None or program.tier_rank(change.after) >= program.tier_rank(change.before):
        return None
    return {
        "tier_id": current.id,
        "evaluation_on": on.isoformat(),
        "threshold": current.threshold,
        "qualifying_then": _plain_number(then),
        "remaining": _plain_number(current.threshold - then),
    }


def _warning(member: Holder, program: Program, run: jobs.Run, holder_id: str) -> TierWarningSent | None:
    if isinstance(member, Member) and member.status != "active":
        return None
    figures = upcoming_drop(member, program, run.period)
    if figures is None:
        return None
    fields = {**figures, "as_of": run.as_of.isoformat(), "run_id": run.run_id}
    return TierWarningSent(holder_id, run.period, fields)


def apply_change(member: Holder, change: TierChange, period: str, as_of: date, run_id: str) -> None:
    now = start_of(as_of)
    if change.after != member.tier_id:
        member.tier_since = now
    if change.source == "qualified":
        member.tier_reached_at = now
    if member.tier_source == "manual":
        member.manual_until = None
    member.tier_id = change.after
    member.tier_source = change.source
    member.tier_reason = change.reason
    member.tier_period = period
    member.tier_run = run_id
    member.tier_run_change = {"from": change.before, "to": change.after}
    member.tier_change = {
        "from": change.before,
        "to": change.after,
        "reason": change.reason,
        "as_of": as_of.isoformat(),
        "source": change.source,
    }


def _counts(program: Program, before: str, after: str, *, pool: bool = False) -> jobs.Counts:
    moved = program.tier_rank(after) - program.tier_rank(before)
    outcome = "upgraded" if moved > 0 else "downgraded" if moved < 0 else "unchanged"
    if pool:
        return {"accounts_evaluated": 1, f"accounts_{outcome}": 1}
    return {"members_evaluated": 1, outcome: 1}


def _load(holder_id: str, item: dict[str, Any] | None) -> Member | Account | None:
    pool = codecs.pool_of(holder_id)
    if pool is not None:
        return codecs.account_from_item(item) if item else account_store.load_account(pool)
    return codecs.member_from_item(item) if item else member_store.load_member(holder_id)


def evaluate_member(program: Program, run: jobs.Run, member_id: str, item: dict[str, Any] | None) -> jobs.Counts:
    """Evaluate one member (or one account, `ACCOUNT#<account_id>`: v1.2) for the run and record the period
    on it (one write per holder and period). Returns its counts."""
    given = [item]
    pool = codecs.pool_of(member_id) is not None

    def unchanged() -> jobs.Counts:
        return {"accounts_evaluated": 1, "accounts_unchanged": 1} if pool else {"members_evaluated": 1, "unchanged": 1}

    def attempt() -> jobs.Counts:
        member = _load(member_id, given.pop() if given else None)
        if member is None or member.closed:  # a closed member has no tier to keep or reach
            return {}
        now = utcnow()
        born = member.created_at if isinstance(member, Account) else member.enrolled_at
        if born > now:
            # Not a member yet at this run's time: only a clock put back behind members it already holds
            # (the local stack's) shows one, and a replay of the history, in time order, would not meet it.
            return {}
        if member.tier_period == run.period:
            # Evaluated for this period already: by this very run (a retried page), it counts again as what
            # the run did (not what an admin's override or subscription did since); by an earlier or
            # overlapping run, it is unchanged now.
            moved = member.tier_run_change or member.tier_change  # (members the run changed before the field)
            if member.tier_run == run.run_id and moved:
                return _counts(program, moved["from"], moved["to"], pool=pool)
            return unchanged()
        if member.tier_period is not None and member.tier_period > run.period:
            return unchanged()  # a back-fill behind a later period
        books = open_books(program, member, now)
        change = evaluate_tier(member, program, run.period, run.as_of)
        if change is not None:
            apply_change(member, change, run.period, run.as_of, run.run_id)
        member.tier_period = run.period
        kept = change is None or change.after == change.before
        warning = _warning(member, program, run, member_id) if kept else None
        commit(Txn([books], [warning] if warning else []))
        return _counts(program, change.before, change.after, pool=pool) if change else unchanged()

    return retrying(attempt, attempts=MAX_ATTEMPTS)


ACCOUNTS = "accounts"  # the chunk of accounts (v1.2: an account's tier falls only here, as a member's)


def _fetch(run: jobs.Run, chunk: str, cursor: dict[str, Any] | None, limit: int) -> jobs.Page:
    if chunk == ACCOUNTS:
        items, next_cursor = store.accounts_page(limit, cursor)
        return jobs.Page([(str(i["PK"]), i) for i in items], next_cursor)  # `ACCOUNT#<account_id>`
    items, next_cursor = store.members_page(int(chunk.removeprefix("shard-")), limit, cursor)
    return jobs.Page([(str(i["PK"]).removeprefix("MEMBER#"), i) for i in items], next_cursor)


JOB = jobs.Job(
    name=registry.TIER_EVALUATION.name,
    counters=registry.TIER_EVALUATION.summary,
    queue_url=lambda: settings().tier_queue_url,
    chunks=lambda program, run: [*(f"shard-{i:02d}" for i in range(SHARDS)), ACCOUNTS],
    fetch=_fetch,
    process=evaluate_member,
    page_size=200,  # members are ~1-2 KB: a page stays far under 1 MB; few are written
)
