from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loyalty.domain.model import Member
from loyalty.kernel.months import add_months, month_of, months_apart, months_between
from loyalty.ledger import maths as ledger


def member(**kw) -> Member:
    now = datetime(2026, 1, 15, tzinfo=UTC)
    return Member(member_id="m", channel="web", enrolled_at=now, tier_id="red", tier_since=now, **kw)


def test_debit_takes_the_soonest_expiring_points_first_and_restore_puts_them_back():
    m = member()
    ledger.credit(m, 100, "2027-03")
    ledger.credit(m, 50, "2027-01")
    m.lifetime_earned = 150
    taken = ledger.debit(m, 120)
    assert taken == {"2027-01": 50, "2027-03": 70}
    assert m.buckets == {"2027-03": 30} and m.available == 30
    ledger.restore(m, taken)
    assert m.buckets == {"2027-01": 50, "2027-03": 100} and m.available == 150


def test_a_debt_is_repaid_before_buckets_fill():
    m = member()
    ledger.credit(m, 40, "2027-01")
    ledger.debit(m, 100)  # a refund larger than what is left
    assert m.available == -60 and m.buckets == {}
    ledger.credit(m, 100, "2027-05")
    assert m.available == 40 and m.buckets == {"2027-05": 40}


def test_expire_through_removes_only_ended_months():
    m = member()
    ledger.credit(m, 10, "2027-01")
    ledger.credit(m, 20, "2027-02")
    gone = ledger.expire_through(m, "2027-01")
    assert gone == {"2027-01": 10} and m.available == 20 and m.buckets == {"2027-02": 20}


def test_check_catches_buckets_out_of_step():
    m = member()
    ledger.credit(m, 10, "2027-01")
    m.lifetime_earned = 10
    ledger.check(m)
    m.available = 11
    with pytest.raises(ledger.InvariantViolation):
        ledger.check(m)


operations = st.lists(
    st.one_of(
        st.tuples(st.just("credit"), st.integers(0, 500), st.integers(0, 24)),
        st.tuples(st.just("debit"), st.integers(0, 500), st.integers(0, 24)),
        st.tuples(st.just("expire"), st.integers(0, 0), st.integers(0, 24)),
        st.tuples(st.just("restore"), st.integers(0, 0), st.integers(0, 0)),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(operations)
def test_any_sequence_keeps_the_invariants(ops):
    m = member()
    history: list[dict[str, int]] = []
    total = 0
    for op, points, offset in ops:
        month = add_months("2026-01", offset)
        if op == "credit":
            ledger.credit(m, points, month)
            m.lifetime_earned += points
            total += points
        elif op == "debit":
            history.append(ledger.debit(m, points))
            m.lifetime_redeemed += points
            total -= points
        elif op == "expire":
            gone = sum(ledger.expire_through(m, month).values())
            m.lifetime_expired += gone
            total -= gone
        elif history:
            back = history.pop()
            ledger.restore(m, back)
            m.lifetime_redeemed -= sum(back.values())
            total += sum(back.values())
        ledger.check(m)
        assert m.available == total


def test_months():
    assert add_months("2026-01", 12) == "2027-01"
    assert add_months("2026-01", -1) == "2025-12"
    assert months_between("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert months_apart("2025-12", "2026-06") == 6
    assert month_of(datetime(2026, 3, 31, 23, 59, tzinfo=UTC)) == "2026-03"


def test_the_member_item_keeps_bounded_history():
    from decimal import Decimal

    from loyalty.ledger.funnel import prune_history

    m = member()
    for offset in range(60):
        month = add_months("2022-01", offset)
        m.qualifying[month] = 10
        m.spend[month] = Decimal("1.5")
        m.counters[f"activity:review:{month}"] = 1
    m.counters.update({"activity:birthday:2023": 1, "activity:birthday:2026": 1, "reward:x:lifetime": 4})
    prune_history(m, datetime(2026, 12, 15, tzinfo=UTC))
    assert min(m.qualifying) == "2024-12" and len(m.qualifying) == 25 and min(m.spend) == "2024-12"
    months = sorted(k.rsplit(":", 1)[1] for k in m.counters if k.startswith("activity:review:"))
    # counters are kept for every period the posting window reaches: this month and the previous one
    assert months == ["2026-11", "2026-12"]
    assert "activity:birthday:2023" not in m.counters and m.counters["activity:birthday:2026"] == 1
    assert m.counters["reward:x:lifetime"] == 4
    # in January the window reaches back into December: last year's yearly counters still count
    prune_history(m, datetime(2027, 1, 15, tzinfo=UTC))
    assert m.counters["activity:birthday:2026"] == 1 and "activity:review:2026-12" in m.counters
    assert "activity:review:2026-11" not in m.counters
