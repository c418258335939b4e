"""Model-based test: a hypothesis state machine drives the domain against moto and, after every step,
compares it with a plain in-memory model of the demo programme, travelling in time adversarially.

The machine moves the clock by days, to 23:50 on the last day of a month, and by whole months; it
back-dates earns and reviews inside and outside the posting window, takes holds that cross a month end
and voids or releases them after the expiry run, cancels partner redemptions after the expiry run,
re-runs the monthly jobs and back-fills older periods.

Checked after every step, for every member: available = the model's balance = the sum of the ledger;
the expiry buckets are the model's and add up to it (loyalty.ledger.maths.check); lifetime totals and buckets
agree with the ledger (reconciliation); one entry per idempotency key; the tier is the one the model
says; no month that is over gained a point since the step before; `expiring` never lists a month that
is over; no cap is exceeded in any period. Each job is run twice: the second run writes nothing.

The run's seed is printed; `MODEL_SEED=<seed>` replays it. `make soak` runs it with many more examples
(MODEL_EXAMPLES, MODEL_STEPS).
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    get_state_machine_test,
    initialize,
    invariant,
    rule,
)
from loyalty.domain.posting import window
from loyalty.earning import earn
from loyalty.kernel.clock import CLOCK
from loyalty.kernel.errors import (
    ActivityLimitReached,
    IdempotencyConflict,
    InsufficientPoints,
    RefundExceedsOrder,
    ValidationFailed,
)
from loyalty.kernel.months import add_months, month_of
from loyalty.ledger.maths import check
from loyalty.members import enrolment, records, views
from loyalty.program.rules import bundled_program
from loyalty.redemption import redeem
from loyalty.reports.reconcile import reconcile_member
from loyalty.requests.earning import ActivityRequest, EarnRequest, RefundRequest
from loyalty.store import members as store
from pydantic import ValidationError

from tests.support import jobs
from tests.support.aws import mocked_aws

PROGRAM = bundled_program()
EXAMPLES = int(os.environ.get("MODEL_EXAMPLES", "6"))
STEPS = int(os.environ.get("MODEL_STEPS", "30"))
SEED = int(os.environ.get("MODEL_SEED") or random.randrange(2**32))
FIGURES = {"runs": 0, "steps": 0, "violations": 0}
OPERATIONS: Counter[str] = Counter()
MULTIPLIER = {"red": Decimal("1.0"), "silver": Decimal("1.5"), "gold": Decimal("2.0")}
THRESHOLDS = [("gold", 2500), ("silver", 1000), ("red", 0)]
ORDER = [t for t, _ in THRESHOLDS]  # gold, silver, red
CAPS = {"review": (3, "month"), "birthday": (1, "year")}
TIME_TRAVEL = ("move_clock", "move_clock_months", "to_the_last_minutes_of_the_month", "a_few_minutes_later")
WEIGHTED = [  # the first is what hypothesis draws most when it draws small
    *["earn"] * 4,
    *["pay_with_points", "settle_hold", "partner_redeem", "partner_cancel", "activity", "refund"] * 2,
    "replay_earn",
    "adjust",
    "release_holds",
    *["run_expiry", "run_tier_evaluation"] * 2,
    *TIME_TRAVEL,
    "move_clock",
    "to_the_last_minutes_of_the_month",
    "enroll",
]


# -- the model ----------------------------------------------------------------------------------------
@dataclass
class Order:
    member: str
    amount: Decimal
    points: int
    base: int
    month: str  # the qualifying month (the order's occurred_at)
    expiry: str  # the bucket its points went to
    refunded: Decimal = Decimal(0)
    reversed_points: int = 0
    reversed_base: int = 0


@dataclass
class ModelMember:
    reached_at: datetime  # when the current tier was reached
    balance: int = 0
    entries: int = 0
    tier: str = "red"
    buckets: dict[str, int] = field(default_factory=dict)
    qualifying: dict[str, int] = field(default_factory=dict)
    evaluated: str | None = None  # the last tier-evaluation period applied

    # the ledger maths, written again from the contract, independently of loyalty.ledger.maths
    def credit(self, points: int, month: str) -> None:
        self.balance += points
        into = max(0, min(points, self.balance))  # a debt is repaid first
        if into:
            self.buckets[month] = self.buckets.get(month, 0) + into

    def debit(self, points: int, prefer: str | None = None) -> dict[str, int]:
        taken: dict[str, int] = {}
        left = points
        months = sorted(self.buckets)
        if prefer in self.buckets:
            months.remove(prefer)
            months.insert(0, prefer)
        for month in months:
            if not left:
                break
            take = min(left, self.buckets[month])
            taken[month] = take
            self.buckets[month] -= take
            if not self.buckets[month]:
                del self.buckets[month]
            left -= take
        self.balance -= points
        return taken

    def give_back(self, consumed: dict[str, int], now_month: str) -> int:
        """Points back into their months; those of months that are over expire whole at once, before
        anything else uses them (they repay no debt; issue 30). Returns the number of entries written (the
        give-back, and the lapse when there is one)."""
        ended = sum(p for m, p in consumed.items() if m < now_month)
        live = {m: p for m, p in consumed.items() if m >= now_month}
        total = sum(live.values())
        self.balance += total
        room = max(0, min(total, self.balance))  # a debt is repaid first, by the running months' points
        for month in sorted(live, reverse=True):
            give = min(room, live[month])
            room -= give
            if give:
                self.buckets[month] = self.buckets.get(month, 0) + give
        return 2 if ended else 1

    def expire_before(self, period: str) -> int:
        gone = sum(p for m, p in self.buckets.items() if m < period)
        self.buckets = {m: p for m, p in self.buckets.items() if m >= period}
        self.balance -= gone
        return gone


class LoyaltyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        FIGURES["runs"] += 1
        self.run = FIGURES["runs"]
        self._aws = mocked_aws()  # each run starts from an empty table: the jobs' summaries are exact
        self._aws.__enter__()
        self.now = datetime(2026, 3, 10, 12, tzinfo=UTC)
        CLOCK.set(self.now)
        self.members: dict[str, ModelMember] = {}
        self.orders: dict[str, Order] = {}
        self.redemptions: dict[str, tuple[str, dict[str, int], bool]] = {}  # id -> (member, consumed, cancelled)
        self.holds: dict[str, tuple[str, dict[str, int], str]] = {}  # id -> (member, consumed, state)
        self.hold_expiry: dict[str, datetime] = {}
        self.seen_buckets: dict[str, dict[str, int]] = {}
        self.counter = 0

    def _id(self, prefix: str) -> str:
        self.counter += 1
        return f"r{self.run}-{prefix}{self.counter}"

    def _month(self) -> str:
        return month_of(self.now)

    def _qualifying(self, m: ModelMember, last: str) -> int:
        first = add_months(last, -11)
        return sum(v for month, v in m.qualifying.items() if first <= month <= last)

    def _upgrade_after_earn(self, m: ModelMember) -> None:
        value = self._qualifying(m, self._month())
        reached = next(t for t, threshold in THRESHOLDS if value >= threshold)
        if ORDER.index(reached) < ORDER.index(m.tier):
            m.tier, m.reached_at = reached, self.now

    def _back_dated(self, days_back: int) -> tuple[datetime, bool]:
        when = self.now - timedelta(days=days_back, minutes=1)
        earliest, _ = window(self.now)
        return when, when >= earliest

    # -- rules: members and earning ---------------------------------------------------------------
    @initialize()
    def three_members(self) -> None:
        for _ in range(3):
            self.enroll()

    def enroll(self) -> None:
        OPERATIONS["enroll"] += 1
        member_id = self._id("m")
        enrolment.enroll(PROGRAM, member_id=member_id, channel="web")
        m = ModelMember(reached_at=self.now)
        m.credit(100, add_months(self._month(), 12))  # the signup bonus
        m.entries = 1
        self.members[member_id] = m

    def earn(self, data: st.DataObject, cents: int, days_back: int) -> None:
        member_id = data.draw(st.sampled_from(sorted(self.members)))
        m = self.members[member_id]
        amount = Decimal(cents) / 100
        order_id = self._id("o")
        when, inside = self._back_dated(days_back) if days_back else (self.now, True)
        body: dict[str, Any] = {"member_id": member_id, "order_id": order_id, "amount": f"{amount:.2f}"}
        body |= {"currency": "USD", **({"occurred_at": when.isoformat()} if days_back else {})}
        if not inside:
            OPERATIONS["earn_outside_window"] += 1
            with pytest.raises((ValidationError, ValidationFailed)):
                earn.earn(PROGRAM, EarnRequest.model_validate(body))
            return
        OPERATIONS["earn_back_dated" if days_back else "earn"] += 1
        outcome = earn.earn(PROGRAM, EarnRequest.model_validate(body))
        answer = json.loads(outcome.body)
        base = int(amount)
        expected = int(base * MULTIPLIER[m.tier])  # the tier part is floor(base × multiplier) − base
        holiday = 0  # no electronics lines in these orders
        assert answer["points"] == expected + holiday, (answer, m.tier)
        expiry = add_months(month_of(when), 12)
        m.credit(expected, expiry)
        m.entries += 1
        m.qualifying[month_of(when)] = m.qualifying.get(month_of(when), 0) + base
        self._upgrade_after_earn(m)
        assert answer["tier"]["id"] == m.tier
        self.orders[order_id] = Order(member_id, amount, expected, base, month_of(when), expiry)

    def replay_earn(self, data: st.DataObject) -> None:
        OPERATIONS["replay_earn"] += 1
        order_id = data.draw(st.sampled_from(sorted(self.orders)))
        order = self.orders[order_id]
        stored = store.load_entry(f"earn#{order_id}")
        assert stored is not None
        request = {"member_id": order.member, "order_id": order_id, "amount": f"{order.amount:.2f}", "currency": "USD"}
        if stored.occurred_at != stored.recorded_at:
            request["occurred_at"] = stored.occurred_at.isoformat()
        try:
            outcome = earn.earn(PROGRAM, EarnRequest.model_validate(request))
        except ValidationError:  # its occurred_at has left the posting window: refused before any read
            return
        assert outcome.replayed and outcome.status == 200 and json.loads(outcome.body)["points"] == order.points
        with pytest.raises(IdempotencyConflict):
            earn.earn(PROGRAM, EarnRequest.model_validate({**request, "amount": f"{order.amount + 1:.2f}"}))

    def refund(self, data: st.DataObject, share: int) -> None:
        OPERATIONS["refund"] += 1
        order_id = data.draw(st.sampled_from(sorted(self.orders)))
        order = self.orders[order_id]
        amount = (order.amount * share / 100).quantize(Decimal("0.01"))
        if amount <= 0:
            return
        request = RefundRequest(
            member_id=order.member, order_id=order_id, refund_id=self._id("r"), amount=f"{amount:.2f}"
        )
        if order.refunded + amount > order.amount:
            with pytest.raises(RefundExceedsOrder):
                earn.refund(PROGRAM, request)
            return
        body = json.loads(earn.refund(PROGRAM, request).body)
        order.refunded += amount
        total = int(order.points * order.refunded / order.amount) if order.amount else 0
        expected = total - order.reversed_points
        order.reversed_points = total
        assert body["points"] == -expected
        base_total = int(order.base * order.refunded / order.amount) if order.amount else 0
        m = self.members[order.member]
        month = order.month
        if month in m.qualifying:
            m.qualifying[month] = max(0, m.qualifying[month] - (base_total - order.reversed_base))
        order.reversed_base = base_total
        m.debit(expected, prefer=order.expiry)
        m.entries += 1

    def activity(self, data: st.DataObject, kind: str, days_back: int) -> None:
        member_id = data.draw(st.sampled_from(sorted(self.members)))
        m = self.members[member_id]
        when, inside = self._back_dated(days_back) if days_back else (self.now, True)
        body: dict[str, Any] = {"member_id": member_id, "activity_id": self._id("a"), "type": kind}
        if days_back:
            body["occurred_at"] = when.isoformat()
        if not inside:
            OPERATIONS["activity_outside_window"] += 1
            with pytest.raises((ValidationError, ValidationFailed)):
                earn.record_activity(PROGRAM, ActivityRequest.model_validate(body))
            return
        OPERATIONS[f"{kind}_back_dated" if days_back else kind] += 1
        limit, period = CAPS[kind]
        key = month_of(when) if period == "month" else f"{when.year}"
        used = self._activities(member_id, kind).get(key, 0)
        if used >= limit:
            with pytest.raises(ActivityLimitReached):
                earn.record_activity(PROGRAM, ActivityRequest.model_validate(body))
            return
        points = PROGRAM.activities.types[kind].points
        answer = json.loads(earn.record_activity(PROGRAM, ActivityRequest.model_validate(body)).body)
        assert answer["points"] == points
        m.credit(points, add_months(month_of(when), 12))
        m.entries += 1

    def _activities(self, member_id: str, kind: str) -> Counter[str]:
        _, period = CAPS[kind]
        used: Counter[str] = Counter()
        for entry in store.all_entries(member_id):
            if entry.type == "bonus" and entry.details.get("activity") == kind:
                used[month_of(entry.occurred_at) if period == "month" else f"{entry.occurred_at.year}"] += 1
        return used

    def adjust(self, data: st.DataObject, points: int) -> None:
        OPERATIONS["adjust"] += 1
        member_id = data.draw(st.sampled_from(sorted(self.members)))
        adjustment_id = self._id("adj")
        first = records.adjust(PROGRAM, member_id, adjustment_id, points, "model")
        again = records.adjust(PROGRAM, member_id, adjustment_id, points, "model")
        assert again.replayed and again.body == first.body
        m = self.members[member_id]
        if points > 0:
            m.credit(points, add_months(self._month(), 12))
        else:
            m.debit(-points)
        m.entries += 1

    # -- rules: redemptions ---------------------------------------------------------------------------
    def partner_redeem(self, data: st.DataObject, reward: tuple[str, int]) -> None:
        OPERATIONS["partner_redeem"] += 1
        member_id = data.draw(st.sampled_from(sorted(self.members)))
        m = self.members[member_id]
        redemption_id = self._id("red")
        if m.balance < reward[1]:
            with pytest.raises(InsufficientPoints):
                redeem.partner_redeem(PROGRAM, "demo-partner", redemption_id, member_id, reward[0])
            return
        outcome = redeem.partner_redeem(PROGRAM, "demo-partner", redemption_id, member_id, reward[0])
        consumed = m.debit(reward[1])
        assert json.loads(outcome.body)["balance"] == m.balance
        m.entries += 1
        self.redemptions[redemption_id] = (member_id, consumed, False)

    def partner_cancel(self, data: st.DataObject) -> None:
        OPERATIONS["partner_cancel"] += 1
        redemption_id = data.draw(st.sampled_from(sorted(self.redemptions)))
        member_id, consumed, cancelled = self.redemptions[redemption_id]
        body = json.loads(redeem.partner_cancel(PROGRAM, "demo-partner", redemption_id).body)
        assert body["status"] == "cancelled" and body["points"] == sum(consumed.values())
        if not cancelled:  # a repeated cancel changes nothing
            m = self.members[member_id]
            if any(month < self._month() for month in consumed):
                OPERATIONS["partner_cancel_into_ended_month"] += 1
            m.entries += m.give_back(consumed, self._month())
            self.redemptions[redemption_id] = (member_id, consumed, True)

    def pay_with_points(self, data: st.DataObject, hundreds: int, capture: bool) -> None:
        OPERATIONS["pay_with_points"] += 1
        member_id = data.draw(st.sampled_from(sorted(self.members)))
        m = self.members[member_id]
        redemption_id = self._id("pwp")
        points = hundreds * 100
        if m.balance < points:
            with pytest.raises(InsufficientPoints):
                redeem.pay_with_points(PROGRAM, redemption_id, member_id, points, capture)
            return
        body = json.loads(redeem.pay_with_points(PROGRAM, redemption_id, member_id, points, capture).body)
        assert body["status"] == ("completed" if capture else "held") and body["value"]["amount"] == f"{hundreds}.00"
        consumed = m.debit(points)
        m.entries += 1
        if not capture:
            self.holds[redemption_id] = (member_id, consumed, "held")
            self.hold_expiry[redemption_id] = self.now + timedelta(minutes=PROGRAM.pay_with_points.hold_minutes)

    def _open_holds(self) -> list[str]:
        return sorted(k for k, (_, _, state) in self.holds.items() if state == "held")

    def settle_hold(self, data: st.DataObject, settle: str) -> None:
        redemption_id = data.draw(st.sampled_from(self._open_holds()))
        member_id, consumed, _ = self.holds[redemption_id]
        if settle == "capture" and self.now < self.hold_expiry[redemption_id]:
            OPERATIONS["capture"] += 1
            assert json.loads(redeem.capture(PROGRAM, redemption_id).body)["status"] == "completed"
            self.holds[redemption_id] = (member_id, consumed, "captured")
        elif settle == "void":
            OPERATIONS["void" if self._month() == month_of(self.hold_expiry[redemption_id]) else "void_late"] += 1
            assert json.loads(redeem.void(PROGRAM, redemption_id).body)["status"] == "voided"
            self.members[member_id].entries += self.members[member_id].give_back(consumed, self._month())
            self.holds[redemption_id] = (member_id, consumed, "voided")

    def release_holds(self) -> None:
        OPERATIONS["release_holds"] += 1
        summary = redeem.release_expired_holds(PROGRAM)
        due = [k for k in self._open_holds() if self.hold_expiry[k] <= self.now]
        assert summary["released"] == len(due)
        for redemption_id in due:
            member_id, consumed, _ = self.holds[redemption_id]
            self.members[member_id].entries += self.members[member_id].give_back(consumed, self._month())
            self.holds[redemption_id] = (member_id, consumed, "released")
        assert redeem.release_expired_holds(PROGRAM)["released"] == 0  # a re-run changes nothing

    # -- rules: the monthly jobs -------------------------------------------------------------------------
    def _versions(self) -> dict[str, int]:
        return {mid: (store.load_member(mid) or _missing(mid)).version for mid in self.members}

    def run_expiry(self, back: int) -> None:
        OPERATIONS["run_expiry" if not back else "backfill_expiry"] += 1
        period = add_months(self._month(), -back)
        summary = jobs.run("expiry", f"{period}-01")
        expired = 0
        for m in self.members.values():
            gone = m.expire_before(period)
            expired += gone
            m.entries += 1 if gone else 0
        assert summary["points_expired"] == expired
        before = self._versions()
        again = jobs.run("expiry", f"{period}-01")  # a re-run for the same period changes nothing
        assert again["points_expired"] == 0 and self._versions() == before

    def run_tier_evaluation(self, back: int) -> None:
        OPERATIONS["run_tier_evaluation" if not back else "backfill_tier_evaluation"] += 1
        period = add_months(self._month(), -back)
        as_of = datetime.fromisoformat(f"{period}-01T00:00:00+00:00")
        for m in self.members.values():
            if m.evaluated is not None and m.evaluated >= period:
                continue  # evaluated for this period, or a later one: nothing changes
            m.evaluated = period
            reached = next(t for t, threshold in THRESHOLDS if self._qualifying(m, add_months(period, -1)) >= threshold)
            current = ORDER.index(m.tier)
            if ORDER.index(reached) < current:
                m.tier, m.reached_at = reached, as_of
            elif ORDER.index(reached) > current and m.reached_at <= as_of:
                m.tier, m.reached_at = ORDER[current + 1], as_of  # one_down: at most one tier per evaluation
        jobs.run("tier-evaluation", f"{period}-01")
        before = self._versions()
        again = jobs.run("tier-evaluation", f"{period}-01")
        assert again["upgraded"] == again["downgraded"] == 0 and self._versions() == before

    # -- rules: time ---------------------------------------------------------------------------------------
    def move_clock(self, days: int) -> None:
        OPERATIONS["move_clock_days"] += 1
        self.now += timedelta(days=days)
        CLOCK.set(self.now)

    def move_clock_months(self, months: int) -> None:
        OPERATIONS["move_clock_months"] += 1
        month = add_months(self._month(), months)
        self.now = datetime.fromisoformat(f"{month}-01T00:00:00+00:00") + timedelta(days=self.now.day % 28)
        CLOCK.set(self.now)

    def to_the_last_minutes_of_the_month(self) -> None:
        OPERATIONS["month_end"] += 1
        first_of_next = datetime.fromisoformat(f"{add_months(self._month(), 1)}-01T00:00:00+00:00")
        self.now = max(self.now, first_of_next - timedelta(minutes=10))
        CLOCK.set(self.now)

    def a_few_minutes_later(self, minutes: int) -> None:
        OPERATIONS["minutes"] += 1
        self.now += timedelta(minutes=minutes)
        CLOCK.set(self.now)

    # -- the step: one operation, drawn with the weights of a busy programme ---------------------------
    @rule(data=st.data())
    def step(self, data: st.DataObject) -> None:
        """Hypothesis draws a rule index towards 0 and switches rules off per run (swarm testing); with
        one rule that draws from a weighted list every operation is tried in every run."""
        name = data.draw(st.sampled_from(WEIGHTED), label="operation")
        ready = {
            "replay_earn": bool(self.orders),
            "refund": bool(self.orders),
            "partner_cancel": bool(self.redemptions),
            "settle_hold": bool(self._open_holds()),
            "release_holds": bool(self._open_holds()),
        }
        if not ready.get(name, bool(self.members)) and name not in TIME_TRAVEL and name != "enroll":
            return
        draw = data.draw
        match name:
            case "earn":
                self.earn(data, draw(st.integers(0, 300_000)), draw(st.sampled_from([0, 0, 0, 5, 20, 40, 75])))
            case "replay_earn":
                self.replay_earn(data)
            case "refund":
                self.refund(data, draw(st.integers(1, 120)))
            case "activity":
                self.activity(
                    data, draw(st.sampled_from(["review", "review", "birthday"])), draw(st.sampled_from([0, 25, 80]))
                )
            case "adjust":
                self.adjust(data, draw(st.integers(-400, 400).filter(bool)))
            case "partner_redeem":
                self.partner_redeem(data, draw(st.sampled_from([("free-item", 50), ("coffee", 150)])))
            case "partner_cancel":
                self.partner_cancel(data)
            case "pay_with_points":
                self.pay_with_points(data, draw(st.integers(1, 5)), draw(st.booleans()))
            case "settle_hold":
                self.settle_hold(data, draw(st.sampled_from(["capture", "void"])))
            case "release_holds":
                self.release_holds()
            case "run_expiry":
                self.run_expiry(draw(st.sampled_from([0, 0, 0, 1, 2])))
            case "run_tier_evaluation":
                self.run_tier_evaluation(draw(st.sampled_from([0, 0, 0, 1, 3])))
            case "move_clock":
                self.move_clock(draw(st.integers(1, 75)))
            case "move_clock_months":
                self.move_clock_months(draw(st.integers(1, 13)))
            case "to_the_last_minutes_of_the_month":
                self.to_the_last_minutes_of_the_month()
            case "a_few_minutes_later":
                self.a_few_minutes_later(draw(st.sampled_from([20, 45, 90])))
            case "enroll":
                self.enroll()

    def teardown(self) -> None:
        self._aws.__exit__(None, None, None)

    # -- invariants ----------------------------------------------------------------------------------------
    @invariant()
    def the_store_agrees_with_the_model(self) -> None:
        FIGURES["steps"] += 1
        month = self._month()
        for member_id, m in self.members.items():
            member = store.load_member(member_id) or _missing(member_id)
            entries = store.all_entries(member_id)
            try:
                assert member.available == m.balance == sum(e.points for e in entries), (member.available, m.balance)
                assert member.buckets == m.buckets, (member.buckets, m.buckets)
                assert len(entries) == m.entries == len({e.key for e in entries})
                check(member)
                assert reconcile_member(member, entries).differences == []
                assert member.tier_id == m.tier, (member.tier_id, m.tier)
                seen = self.seen_buckets.get(member_id, {})
                for bucket, points in member.buckets.items():
                    assert bucket >= month or points <= seen.get(bucket, 0), f"month {bucket} is over and gained"
                view = views.member_view(member, PROGRAM, self.now)
                assert all(e["month"] >= month for e in view["expiring"]), view["expiring"]
                for kind, (limit, _) in CAPS.items():
                    assert max(self._activities(member_id, kind).values(), default=0) <= limit
            except AssertionError:
                FIGURES["violations"] += 1
                raise
            self.seen_buckets[member_id] = dict(member.buckets)


def _missing(member_id: str) -> Any:
    raise AssertionError(f"member {member_id} is gone")


def test_the_domain_matches_the_model():
    print(f"\nmodel-based seed: {SEED} (replay it: MODEL_SEED={SEED} pytest tests/integration/test_model.py)")
    machine_test = get_state_machine_test(
        LoyaltyMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    try:
        seed(SEED)(machine_test)()
    except BaseException:
        print(f"model-based run FAILED with seed {SEED}: replay it with MODEL_SEED={SEED}")
        raise
    print(
        f"model-based: seed {SEED}, {FIGURES['runs']} runs, {FIGURES['steps']} checked steps, "
        f"{FIGURES['violations']} violations\n  operations tried: {dict(sorted(OPERATIONS.items()))}"
    )
    assert FIGURES["violations"] == 0
