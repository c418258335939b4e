"""Model-based test: a hypothesis state machine drives the domain against moto and, after every step,
compares it with a plain in-memory model of the demo programme.

Checked after every step, for every member: available = the model's balance = the sum of the ledger;
the expiry buckets add up to it when it is not negative (loyalty.ledger.check); lifetime totals and
buckets agree with the ledger (reconciliation); one entry per idempotency key; the tier is the one the
model says. `make soak` runs it with many more examples (MODEL_EXAMPLES, MODEL_STEPS).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from loyalty import earn, members, redeem
from loyalty.clock import CLOCK
from loyalty.contract import ActivityRequest, EarnRequest, RefundRequest
from loyalty.errors import ActivityLimitReached, IdempotencyConflict, InsufficientPoints, RefundExceedsOrder
from loyalty.ledger import check
from loyalty.months import add_months, month_of
from loyalty.program import bundled_program
from loyalty.reconcile import reconcile_member
from loyalty.store import members as store

from tests.support import jobs
from tests.support.aws import mocked_aws

PROGRAM = bundled_program()
EXAMPLES = int(os.environ.get("MODEL_EXAMPLES", "6"))
STEPS = int(os.environ.get("MODEL_STEPS", "25"))
FIGURES = {"runs": 0, "steps": 0, "violations": 0}
OPERATIONS: dict[str, int] = {}
MULTIPLIER = {"red": Decimal("1.0"), "silver": Decimal("1.5"), "gold": Decimal("2.0")}
THRESHOLDS = [("gold", 2500), ("silver", 1000), ("red", 0)]


@dataclass
class Order:
    member: str
    amount: Decimal
    points: int
    base: int
    month: str
    refunded: Decimal = Decimal(0)
    reversed_points: int = 0
    reversed_base: int = 0


@dataclass
class ModelMember:
    balance: int = 100  # the signup bonus
    entries: int = 1
    tier: str = "red"
    qualifying: dict[str, int] = field(default_factory=dict)
    reviews: dict[str, int] = field(default_factory=dict)


class LoyaltyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        FIGURES["runs"] += 1
        self.run = FIGURES["runs"]
        self.now = datetime(2026, 3, 10, 12, tzinfo=UTC)
        CLOCK.set(self.now)
        self.members: dict[str, ModelMember] = {}
        self.orders: dict[str, Order] = {}
        self.redemptions: dict[str, tuple[str, int, bool]] = {}  # id -> (member, points, cancelled)
        self.holds: dict[str, tuple[str, int, str]] = {}  # id -> (member, points, held|captured|voided)
        self.counter = 0

    def _id(self, prefix: str) -> str:
        self.counter += 1
        return f"r{self.run}-{prefix}{self.counter}"

    def _qualifying(self, m: ModelMember) -> int:
        last = month_of(self.now)
        first = add_months(last, -11)
        return sum(v for month, v in m.qualifying.items() if first <= month <= last)

    # -- rules ---------------------------------------------------------------------------------
    @rule()
    def enroll(self) -> None:
        OPERATIONS["enroll"] = OPERATIONS.get("enroll", 0) + 1
        member_id = self._id("m")
        members.enroll(PROGRAM, member_id=member_id, channel="web")
        self.members[member_id] = ModelMember()

    @precondition(lambda self: self.members)
    @rule(data=st.data(), cents=st.integers(0, 300_000))
    def earn(self, data: st.DataObject, cents: int) -> None:
        OPERATIONS["earn"] = OPERATIONS.get("earn", 0) + 1
        member_id = data.draw(st.sampled_from(sorted(self.members)))
        m = self.members[member_id]
        amount = Decimal(cents) / 100
        order_id = self._id("o")
        outcome = earn.earn(
            PROGRAM, EarnRequest(member_id=member_id, order_id=order_id, amount=f"{amount:.2f}", currency="USD")
        )
        body = _json(outcome.body)
        base = int(amount)
        expected = int(base * MULTIPLIER[m.tier])  # the tier part is floor(base × multiplier) − base
        assert body["points"] == expected, (body, m.tier)
        m.balance += expected
        m.entries += 1
        m.qualifying[month_of(self.now)] = m.qualifying.get(month_of(self.now), 0) + base
        value = self._qualifying(m)
        reached = next(t for t, threshold in THRESHOLDS if value >= threshold)
        if [t for t, _ in THRESHOLDS].index(reached) < [t for t, _ in THRESHOLDS].index(m.tier):
            m.tier = reached  # upgrades happen at once, after the earn that crosses
        assert body["tier"]["id"] == m.tier
        self.orders[order_id] = Order(member_id, amount, expected, base, month_of(self.now))

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def replay_earn(self, data: st.DataObject) -> None:
        OPERATIONS["replay_earn"] = OPERATIONS.get("replay_earn", 0) + 1
        order_id = data.draw(st.sampled_from(sorted(self.orders)))
        order = self.orders[order_id]
        request = EarnRequest(member_id=order.member, order_id=order_id, amount=f"{order.amount:.2f}", currency="USD")
        outcome = earn.earn(PROGRAM, request)
        assert outcome.replayed and outcome.status == 200 and _json(outcome.body)["points"] == order.points
        with pytest.raises(IdempotencyConflict):
            earn.earn(PROGRAM, request.model_copy(update={"amount": f"{order.amount + 1:.2f}"}))

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), share=st.integers(1, 120))
    def refund(self, data: st.DataObject, share: int) -> None:
        OPERATIONS["refund"] = OPERATIONS.get("refund", 0) + 1
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
        body = _json(earn.refund(PROGRAM, request).body)
        order.refunded += amount
        total = int(order.points * order.refunded / order.amount) if order.amount else 0
        expected = total - order.reversed_points
        order.reversed_points = total
        assert body["points"] == -expected
        assert order.reversed_points <= order.points
        base_total = int(order.base * order.refunded / order.amount) if order.amount else 0
        m = self.members[order.member]
        m.qualifying[order.month] -= base_total - order.reversed_base
        order.reversed_base = base_total
        m.balance -= expected
        m.entries += 1

    @precondition(lambda self: self.members)
    @rule(data=st.data())
    def review(self, data: st.DataObject) -> None:
        OPERATIONS["review"] = OPERATIONS.get("review", 0) + 1
        member_id = data.draw(st.sampled_from(sorted(self.members)))
        m = self.members[member_id]
        month = month_of(self.now)
        request = ActivityRequest(member_id=member_id, activity_id=self._id("a"), type="review")
        if m.reviews.get(month, 0) >= 3:
            with pytest.raises(ActivityLimitReached):
                earn.record_activity(PROGRAM, request)
            return
        body = _json(earn.record_activity(PROGRAM, request).body)
        assert body["points"] == 20
        m.reviews[month] = m.reviews.get(month, 0) + 1
        m.balance += 20
        m.entries += 1

    @precondition(lambda self: self.members)
    @rule(data=st.data(), points=st.integers(-400, 400).filter(bool))
    def adjust(self, data: st.DataObject, points: int) -> None:
        OPERATIONS["adjust"] = OPERATIONS.get("adjust", 0) + 1
        member_id = data.draw(st.sampled_from(sorted(self.members)))
        adjustment_id = self._id("adj")
        first = members.adjust(PROGRAM, member_id, adjustment_id, points, "model")
        again = members.adjust(PROGRAM, member_id, adjustment_id, points, "model")
        assert again.replayed and again.body == first.body
        self.members[member_id].balance += points
        self.members[member_id].entries += 1

    @precondition(lambda self: self.members)
    @rule(data=st.data(), reward=st.sampled_from([("free-item", 50), ("coffee", 150)]))
    def partner_redeem(self, data: st.DataObject, reward: tuple[str, int]) -> None:
        OPERATIONS["partner_redeem"] = OPERATIONS.get("partner_redeem", 0) + 1
        member_id = data.draw(st.sampled_from(sorted(self.members)))
        m = self.members[member_id]
        redemption_id = self._id("red")
        if m.balance < reward[1]:
            with pytest.raises(InsufficientPoints):
                redeem.partner_redeem(PROGRAM, "demo-partner", redemption_id, member_id, reward[0])
            return
        outcome = redeem.partner_redeem(PROGRAM, "demo-partner", redemption_id, member_id, reward[0])
        assert _json(outcome.body)["balance"] == m.balance - reward[1]
        m.balance -= reward[1]
        m.entries += 1
        self.redemptions[redemption_id] = (member_id, reward[1], False)

    @precondition(lambda self: self.redemptions)
    @rule(data=st.data())
    def partner_cancel(self, data: st.DataObject) -> None:
        OPERATIONS["partner_cancel"] = OPERATIONS.get("partner_cancel", 0) + 1
        redemption_id = data.draw(st.sampled_from(sorted(self.redemptions)))
        member_id, points, cancelled = self.redemptions[redemption_id]
        body = _json(redeem.partner_cancel(PROGRAM, "demo-partner", redemption_id).body)
        assert body["status"] == "cancelled" and body["points"] == points
        if not cancelled:  # a repeated cancel changes nothing
            self.members[member_id].balance += points
            self.members[member_id].entries += 1
            self.redemptions[redemption_id] = (member_id, points, True)

    @precondition(lambda self: self.members)
    @rule(data=st.data(), hundreds=st.integers(1, 5), capture=st.booleans())
    def pay_with_points(self, data: st.DataObject, hundreds: int, capture: bool) -> None:
        OPERATIONS["pay_with_points"] = OPERATIONS.get("pay_with_points", 0) + 1
        member_id = data.draw(st.sampled_from(sorted(self.members)))
        m = self.members[member_id]
        redemption_id = self._id("pwp")
        points = hundreds * 100
        if m.balance < points:
            with pytest.raises(InsufficientPoints):
                redeem.pay_with_points(PROGRAM, redemption_id, member_id, points, capture)
            return
        body = _json(redeem.pay_with_points(PROGRAM, redemption_id, member_id, points, capture).body)
        assert body["status"] == ("completed" if capture else "held") and body["value"]["amount"] == f"{hundreds}.00"
        m.balance -= points
        m.entries += 1
        if not capture:
            self.holds[redemption_id] = (member_id, points, "held")

    @precondition(lambda self: any(state == "held" for _, _, state in self.holds.values()))
    @rule(data=st.data(), settle=st.sampled_from(["capture", "void"]))
    def settle_hold(self, data: st.DataObject, settle: str) -> None:
        OPERATIONS["settle_hold"] = OPERATIONS.get("settle_hold", 0) + 1
        held = sorted(k for k, (_, _, state) in self.holds.items() if state == "held")
        redemption_id = data.draw(st.sampled_from(held))
        member_id, points, _ = self.holds[redemption_id]
        if settle == "capture":
            assert redeem.capture(PROGRAM, redemption_id)["status"] == "completed"
            self.holds[redemption_id] = (member_id, points, "captured")
        else:
            assert _json(redeem.void(PROGRAM, redemption_id).body)["status"] == "voided"
            self.members[member_id].balance += points
            self.members[member_id].entries += 1
            self.holds[redemption_id] = (member_id, points, "voided")

    @precondition(lambda self: self.members)
    @rule()
    def run_expiry(self) -> None:
        OPERATIONS["run_expiry"] = OPERATIONS.get("run_expiry", 0) + 1
        period = month_of(self.now)
        before = {mid: store.load_member(mid) for mid in self.members}
        jobs.run("expiry", f"{period}-01")
        for member_id, m in self.members.items():
            old = before[member_id]
            assert old is not None
            due = sum(p for month, p in old.buckets.items() if month < period)
            m.balance -= due
            m.entries += 1 if due else 0
        again = jobs.run("expiry", f"{period}-01")  # a re-run for the same period changes nothing
        assert again["points_expired"] == 0

    @precondition(lambda self: self.members)
    @rule()
    def run_tier_evaluation(self) -> None:
        OPERATIONS["run_tier_evaluation"] = OPERATIONS.get("run_tier_evaluation", 0) + 1
        period = month_of(self.now)
        order = [t for t, _ in THRESHOLDS]  # gold, silver, red
        for m in self.members.values():
            first, last = add_months(period, -12), add_months(period, -1)
            value = sum(v for month, v in m.qualifying.items() if first <= month <= last)
            reached = next(t for t, threshold in THRESHOLDS if value >= threshold)
            current = order.index(m.tier)
            if order.index(reached) < current:
                m.tier = reached
            elif order.index(reached) > current:
                m.tier = order[current + 1]  # one_down: at most one tier per evaluation
        jobs.run("tier-evaluation", f"{period}-01")
        again = jobs.run("tier-evaluation", f"{period}-01")
        assert again["upgraded"] == again["downgraded"] == 0

    @rule(days=st.integers(1, 75))
    def move_clock(self, days: int) -> None:
        OPERATIONS["move_clock"] = OPERATIONS.get("move_clock", 0) + 1
        self.now += timedelta(days=days)
        CLOCK.set(self.now)

    # -- invariants ----------------------------------------------------------------------------
    @invariant()
    def the_store_agrees_with_the_model(self) -> None:
        FIGURES["steps"] += 1
        for member_id, m in self.members.items():
            member = store.load_member(member_id)
            assert member is not None
            entries = store.all_entries(member_id)
            try:
                assert member.available == m.balance == sum(e.points for e in entries)
                assert len(entries) == m.entries == len({e.key for e in entries})
                check(member)
                assert reconcile_member(member, entries).differences == []
                assert member.tier_id == m.tier
            except AssertionError:
                FIGURES["violations"] += 1
                raise


def _json(text: str) -> dict:
    import json

    return json.loads(text)


def test_the_domain_matches_the_model():
    with mocked_aws():
        run_state_machine_as_test(
            LoyaltyMachine,
            settings=settings(
                max_examples=EXAMPLES,
                stateful_step_count=STEPS,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    print(
        f"\nmodel-based: {FIGURES['runs']} runs, {FIGURES['steps']} checked steps, {FIGURES['violations']} violations"
        f"\n  operations tried: {dict(sorted(OPERATIONS.items()))}"
    )
    assert FIGURES["violations"] == 0
