"""The one funnel every point moves through.

A service never touches a member's figures itself: it opens the member's `Books`, says what moves
(`earn`, `grant`, `bring`, `adjust`, `spend`, `give_back`, `take_back`, `expire_through`, `activate`), writes
ledger lines with `entry`, and hands the books to the operation runner (`loyalty.ledger.operations`), which
closes them (`close`) and commits them in one transaction. The programme's time rules live here and
nowhere else:

- the posting window (`posting_time`): a client's `occurred_at` lies between the first day of the
  previous month and 5 minutes ahead of now (`loyalty.domain.posting`);
- the expiry month of new points (`expiry_month`): the programme's `fixed_months` after the month the
  points were earned in, or `never`;
- `activity_extends`: any earning moves every live point to the latest expiry month (never shortens a
  life: a back-dated earn keeps the later month); points given back join that month too;
- points never outlive their month: points put back into a month that is already over (a late cancel,
  void or release, a refund's restore) are expired whole at once, by an `expire` entry in the same
  transaction (key `lapse#<the entry's key>`), so no expired point is ever spendable, nor repays a debt;
- a closed member's points never move again: an operation that would write a ledger line for a member
  who was closed before it is refused (409 member_inactive);
- the period counters caps and limits count in are kept for every period the posting window reaches,
  and pruned beyond it (the member item does not grow with age).

`close` bumps the version once, prunes history and checks the invariants before anything is written:
the ledger maths (`loyalty.ledger.maths.check`), that no month that is over gained a point, that the entries
account for every point that moved, that no cap or limit is exceeded in any period. A violation is a
bug: it raises and nothing is written.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from loyalty.domain import keys, posting
from loyalty.domain.model import NEVER, Account, EntryType, Holder, LedgerEntry, Member, PendingLot, snapshot
from loyalty.domain.writes import SideWrite
from loyalty.kernel.errors import InsufficientPoints, MemberInactive
from loyalty.kernel.months import add_months, month_of
from loyalty.ledger import maths as ledger
from loyalty.ledger.maths import InvariantViolation
from loyalty.program.rules import Program

# Qualifying and spend history the member item keeps: a qualifying window is at most 24 months.
HISTORY_MONTHS = 25


def entry_id_for(entry_key: str) -> str:
    return "le_" + hashlib.sha256(entry_key.encode()).hexdigest()[:26]


H = TypeVar("H", bound=Holder)


class Ledger(Generic[H]):
    """One holder's figures (a member's, or an account's pool) while one operation changes them."""

    def __init__(self, program: Program, holder: H, now: datetime) -> None:
        self.program = program
        self.member: H = holder  # the holder: a member's books call it what it is
        self.now = now
        self.month = month_of(now)
        self.read_version = holder.version
        self.read_entries = holder.entries  # the ledger's length when the operation read the holder
        self.entries: list[LedgerEntry] = []
        self._before = snapshot(holder)
        self._lapsing: dict[str, int] = {}
        self._closed = False
        self.actor = ""

    @property
    def changed(self) -> bool:
        """Whether the operation changed anything of the member so far."""
        return self.member != self._before

    # -- time rules --------------------------------------------------------------------------------
    def posting_time(self, when: datetime | None) -> datetime:
        """A client's `occurred_at` (default now), inside the posting window."""
        return self.now if when is None else posting.check(when, self.now)

    def expiry_month(self, occurred: datetime) -> str:
        return expiry_month_for(self.program, occurred)

    def is_over(self, month: str) -> bool:
        return month != NEVER and month < self.month

    def _live_dated(self) -> list[str]:
        return [m for m in self.member.buckets if m != NEVER and not self.is_over(m)]

    def _extends(self) -> bool:
        return self.program.expiry.policy == "activity_extends"

    def _extend_to(self, month: str) -> str:
        """activity_extends: every live point moves to the latest month (`month` or a later one held)."""
        if month == NEVER or not self._extends():
            return month
        months = self._live_dated()
        target = max([month, *months])
        live = sum(self.member.buckets.pop(m) for m in months)
        if live:
            self.member.buckets[target] = self.member.buckets.get(target, 0) + live
        return target

    def _credit(self, points: int, month: str) -> dict[str, int]:
        if self.is_over(month):
            return self._into_ended({month: points})
        return ledger.credit(self.member, points, month)

    def _into_ended(self, months: dict[str, int]) -> dict[str, int]:
        """Points into months that are over: they expire whole at the next ledger line, before anything else
        uses them (they never repay a debt: a refund's own reversal is not paid with expired points)."""
        put = ledger.put_into_ended(self.member, months)
        for m, p in put.items():
            self._lapsing[m] = self._lapsing.get(m, 0) + p
        return put

    # -- movements ---------------------------------------------------------------------------------
    def earn(self, points: int, occurred: datetime) -> dict[str, int]:
        """An order's points, spendable now, into the expiry month of the order's month."""
        self.member.lifetime_earned += points
        return self._credit(points, self._extend_to(self.expiry_month(occurred)))

    def earn_pending(self, order_id: str, points: int, lot: PendingLot) -> None:
        """An order's points inside the return window: pending until `lot.available_on`."""
        self.member.lifetime_earned += points
        self.member.pending += points
        self.member.pending_lots[order_id] = lot

    def grant(self, points: int, occurred: datetime) -> dict[str, int]:
        """A bonus (signup, referral, activity): spendable, never qualifying."""
        return self.earn(points, occurred)

    def adjust(self, points: int) -> dict[str, int]:
        """An admin's signed correction, dated now; a debit may leave a debt. Counted in `lifetime_adjusted`,
        never in `lifetime_earned` (what orders and bonuses earned: a typo must not make it negative)."""
        self.member.lifetime_adjusted += points
        if points > 0:
            return self._credit(points, self._extend_to(self.expiry_month(self.now)))
        return ledger.debit(self.member, -points)

    def forfeit(self) -> tuple[int, dict[str, int]]:
        """Closing the account: every available and pending point goes, a debt is written off. Returns
        the signed points that moved (the closing `adjust` entry's figure) and the months they left."""
        member = self.member
        moved = -(member.available + member.pending)
        months = self.adjust(-member.available) if member.available > 0 else {}
        if member.available < 0:
            self.adjust(-member.available)  # the debt is written off: nothing reaches a month
        member.lifetime_adjusted -= member.pending  # the closing entry (an `adjust`) takes them too
        member.pending = 0
        member.pending_lots = {}
        return moved, months

    def spend(self, points: int) -> dict[str, int]:
        """A redemption: soonest-expiring points first; refused unless the balance covers it."""
        if self.member.available < points:
            raise InsufficientPoints(f"{points} points needed, {max(self.member.available, 0)} available")
        consumed = ledger.debit(self.member, points)
        self.member.lifetime_redeemed += points
        return consumed

    def give_back(self, points: int, consumed: dict[str, int]) -> dict[str, int]:
        """Points a redemption took, back into the months they came from (a debt is repaid first).

        Months that are over take them only to expire them whole at once (an `expire` line after the next
        ledger line), before anything else uses them: they repay no debt. Under `activity_extends` the
        points of running months join the member's latest month.
        """
        self.member.lifetime_redeemed -= points
        ended = {m: p for m, p in consumed.items() if self.is_over(m)}
        live = {m: p for m, p in consumed.items() if m not in ended}
        if self._extends():
            dated = {m: p for m, p in live.items() if m != NEVER}
            if dated:
                target = self._extend_to(max(dated))
                live = {m: p for m, p in live.items() if m not in dated}
                live[target] = live.get(target, 0) + sum(dated.values())
        restored = ledger.restore(self.member, live)
        rest = points - sum(consumed.values())  # an entry without months (should not happen): new points
        if rest > 0:
            month = self._extend_to(self.expiry_month(self.now))
            for m, p in ledger.credit(self.member, rest, month).items():
                restored[m] = restored.get(m, 0) + p
        for m, p in self._into_ended(ended).items():  # last: the running months' points repay the debt
            restored[m] = restored.get(m, 0) + p
        return restored

    def send(self, points: int) -> dict[str, int]:
        """A transfer's giving side: soonest-expiring points first; refused unless the balance covers it.
        Counted as spent (`lifetime_redeemed`): the holder used them, on someone else."""
        return self.spend(points)

    def receive(self, months: dict[str, int]) -> dict[str, int]:
        """A transfer's receiving side: the points keep the months they expire in (`lifetime_earned`). A month
        that is over takes them only to expire them at once; under `activity_extends` they join the latest."""
        received: dict[str, int] = {}
        self.member.lifetime_earned += sum(months.values())
        ended = {m: p for m, p in months.items() if self.is_over(m)}
        for month, points in sorted(months.items()):  # the running months' points first: they repay a debt
            if month not in ended:
                for m, p in self._credit(points, self._extend_to(month)).items():
                    received[m] = received.get(m, 0) + p
        for m, p in self._into_ended(ended).items():  # last: points of a month that is over expire at once
            received[m] = received.get(m, 0) + p
        return received

    def bring(self, months: dict[str, int]) -> dict[str, int]:
        """An imported opening balance (v1.2): points earned on another platform, into the months they were promised
        to expire in (`never` included), counted as earned. A month that is over is refused: the import checks its
        rows against the clock first, so this is a bug if it happens."""
        ended = [m for m in months if self.is_over(m)]
        if ended or any(p <= 0 for p in months.values()):
            raise InvariantViolation(f"{self.member.holder_id}: an opening balance into {months}")
        self.member.lifetime_earned += sum(months.values())
        for month, points in sorted(months.items()):
            ledger.credit(self.member, points, month)
        return dict(months)

    def take_back(self, points: int, prefer: str | None) -> dict[str, int]:
        """A refund's reversal: `prefer` (the order's month) first, then soonest-expiring."""
        self.member.lifetime_earned -= points
        return ledger.debit(self.member, points, prefer=prefer)

    def take_back_pending(self, order_id: str, points: int) -> int:
        """A refund's share taken from the order's pending lot first. Returns what it took."""
        lot = self.member.pending_lots.get(order_id)
        taken = min(points, lot.points) if lot else 0
        if lot is not None and taken:
            lot.points -= taken
            self.member.pending -= taken
            self.member.lifetime_earned -= taken
            if lot.points == 0:
                del self.member.pending_lots[order_id]
        return taken

    def activate(self, order_id: str) -> int:
        """A pending lot becomes spendable (no ledger line: the earn is already on it)."""
        lot = self.member.pending_lots.pop(order_id)
        self.member.pending -= lot.points
        self._credit(lot.points, self._extend_to(lot.expiry_month))
        cause = keys.pool(keys.earn(order_id)) if isinstance(self.member, Account) else keys.earn(order_id)
        self._lapse(cause, order_id)  # a lot whose month is over by now expires at once
        return lot.points

    def expire_through(self, last_month: str) -> dict[str, int]:
        """The expiry run: every bucket of `last_month` or earlier goes."""
        gone = ledger.expire_through(self.member, last_month)
        self.member.lifetime_expired += sum(gone.values())
        return gone

    def count(self, counter: str, limit: int) -> bool:
        """Use one of a cap's `limit` uses in the counter's period; False (nothing counted) when used up."""
        used = self.member.counters.get(counter, 0)
        if used >= limit:
            return False
        self.member.counters[counter] = used + 1
        return True

    def uncount(self, counter: str) -> None:
        if self.member.counters.get(counter, 0) > 0:
            self.member.counters[counter] -= 1

    # -- the ledger --------------------------------------------------------------------------------
    def entry(
        self,
        entry_key: str,
        type_: EntryType,
        points: int,
        reference: str,
        occurred_at: datetime,
        *,
        details: dict[str, Any] | None = None,
        buckets: dict[str, int] | None = None,
        pending: bool = False,
    ) -> LedgerEntry:
        """Append a ledger line for what the movements since the last line did; then expire at once any
        points they put into a month that is over (an `expire` line of its own)."""
        entry = self._line(entry_key, type_, points, reference, occurred_at, details, buckets, pending)
        self._lapse(entry_key, reference)
        return entry

    def _line(
        self,
        entry_key: str,
        type_: EntryType,
        points: int,
        reference: str,
        occurred_at: datetime,
        details: dict[str, Any] | None,
        buckets: dict[str, int] | None,
        pending: bool,
    ) -> LedgerEntry:
        self.member.entries += 1
        entry = LedgerEntry(
            entry_id=entry_id_for(entry_key),
            key=entry_key,
            # a pool's line names the member whose operation wrote it; an expiry of its own names none
            member_id=(self.actor if type_ != "expire" else "")
            if isinstance(self.member, Account)
            else self.member.holder_id,
            account_id=self.member.account_id if isinstance(self.member, Account) else None,
            seq=self.member.entries,
            type=type_,
            points=points,
            balance_after=self.member.available,
            reference=reference,
            occurred_at=occurred_at,
            recorded_at=self.now,
            details=details or {},
            buckets=buckets or {},
            pending=pending,
        )
        self.entries.append(entry)
        return entry

    def _lapse(self, cause: str, reference: str) -> None:
        if not self._lapsing:
            return
        gone: dict[str, int] = {}
        for month, points in sorted(self._lapsing.items()):
            held = self.member.buckets.get(month, 0)
            take = min(points, held)
            if take:
                ledger.debit(self.member, take, prefer=month)
                gone[month] = take
        self._lapsing = {}
        if gone:
            total = sum(gone.values())
            self.member.lifetime_expired += total
            self._line(
                keys.lapse(cause),
                "expire",
                -total,
                reference,
                self.now,
                {"months": gone, "reason": "given back into a month that is over"},
                gone,
                False,
            )

    # -- closing -----------------------------------------------------------------------------------
    def close(self, lapse_cause: str | None = None) -> H:
        """Prune, bump the version, check every invariant. Returns the member to write."""
        if self._closed:
            raise InvariantViolation("books closed twice")
        if self._before.closed and self.entries:
            raise MemberInactive(f"member {self.member.holder_id!r} is closed: its points no longer move")
        if self._lapsing:
            if lapse_cause is None:
                raise InvariantViolation(f"{self.member.holder_id}: points left in ended months {self._lapsing}")
            self._lapse(lapse_cause, lapse_cause)
        prune_history(self.member, self.now)
        if self.member.available != self._before.available:  # when a RewardUnlocked it publishes happened
            self.member.available_changed_at = self.now
        self.member.version = self.read_version + 1
        self.check()
        self._closed = True
        return self.member

    def check(self) -> None:
        member, before = self.member, self._before
        ledger.check(member)
        for month, points in member.buckets.items():
            if self.is_over(month) and points > before.buckets.get(month, 0):
                raise InvariantViolation(f"{member.holder_id}: month {month} is over and gained points")
        moved = (member.available + member.pending) - (before.available + before.pending)
        written = sum(e.points for e in self.entries)
        if moved != written:
            raise InvariantViolation(f"{member.holder_id}: {moved} points moved, the entries say {written}")
        if sum(lot.points for lot in member.pending_lots.values()) != member.pending:
            raise InvariantViolation(f"{member.holder_id}: pending lots disagree with pending")
        if member.held < 0:
            raise InvariantViolation(f"{member.holder_id}: held is negative")
        seqs = [e.seq for e in self.entries]
        if seqs != list(range(before.entries + 1, member.entries + 1)):
            raise InvariantViolation(f"{member.holder_id}: entry sequence {seqs} after {before.entries}")
        for counter, used in member.counters.items():
            limit = counter_limit(self.program, counter)
            if limit is not None and used > limit and used > before.counters.get(counter, 0):
                raise InvariantViolation(f"{member.holder_id}: {counter} is {used}, over its limit {limit}")


class Books(Ledger[Member]):
    """A member's books."""


class PoolBooks(Ledger[Account]):
    """An account's pool's books. `actor`: the member whose operation moves the pool's points (every entry
    it writes names them, `member_id`); empty for the account's own runs (expiry)."""

    def __init__(self, program: Program, account: Account, now: datetime, actor: str = "") -> None:
        super().__init__(program, account, now)
        self.actor = actor

    @property
    def account(self) -> Account:
        return self.member


def open_books(program: Program, holder: Holder, now: datetime) -> Ledger[Any]:
    """The books of a holder read as a member or an account (a monthly run, the daily activation)."""
    if isinstance(holder, Account):
        return PoolBooks(program, holder, now)
    assert isinstance(holder, Member)
    return Books(program, holder, now)


@dataclass
class Txn:
    """What one business operation writes, in one transaction."""

    books: list[Ledger[Any]]
    writes: list[SideWrite] = field(default_factory=list)

    @property
    def entries(self) -> list[LedgerEntry]:
        return [e for b in self.books for e in b.entries]


# -- programme time rules used outside an operation ---------------------------------------------------
def expiry_month_for(program: Program, occurred: datetime) -> str:
    if program.expiry.policy == "never":
        return NEVER
    return add_months(month_of(occurred), program.expiry.months)


def period_key(period: str, when: datetime) -> str:
    """The key of the cap period (`month`, `year`, `lifetime`) that `when` falls in."""
    if period == "month":
        return month_of(when)
    if period == "year":
        return f"{when.year:04d}"
    return "lifetime"


def activity_counter(activity: str, period: str, when: datetime) -> str:
    return f"activity:{activity}:{period_key(period, when)}"


def transfer_counter(when: datetime) -> str:
    """Points a member sent in the calendar month of `when` (the programme's `transfers` limit)."""
    return f"transfer:sent:{month_of(when)}"


def reward_counter(reward_id: str, period: str, when: datetime) -> str:
    return f"reward:{reward_id}:{period_key(period, when)}"


def counter_limit(program: Program, counter: str) -> int | None:
    kind, _, rest = counter.partition(":")
    name = rest.rsplit(":", 1)[0]
    if kind == "activity":
        activity = program.activities.types.get(name)
        return activity.cap.count if activity and activity.cap else None
    if kind == "reward":
        reward = program.reward(name)
        return reward.limit_per_member.count if reward and reward.limit_per_member else None
    if kind == "transfer":
        return program.transfers.max_points_per_month
    return None


def prune_history(member: Holder, now: datetime) -> None:
    """Keep qualifying history for the longest window, and counters for every period the posting window
    reaches (a write dated in the previous month, or the previous year in January, still counts)."""
    first_month = add_months(month_of(now), -(HISTORY_MONTHS - 1))
    member.qualifying = {m: v for m, v in member.qualifying.items() if m >= first_month}
    member.spend = {m: v for m, v in member.spend.items() if m >= first_month}
    earliest, _ = posting.window(now)
    first_counter_month, first_year = month_of(earliest), f"{earliest.year:04d}"

    def keep(key: str) -> bool:
        period = key.rsplit(":", 1)[-1]
        if len(period) == 7 and period[4] == "-":
            return period >= first_counter_month
        if len(period) == 4 and period.isdigit():
            return period >= first_year
        return True  # lifetime

    member.counters = {k: v for k, v in member.counters.items() if keep(k)}
