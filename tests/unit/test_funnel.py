"""The funnel's own rules, without AWS: what `Books.close` refuses, and a pending lot that activates late."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from loyalty.domain.model import Member, PendingLot
from loyalty.ledger.funnel import Books
from loyalty.ledger.maths import InvariantViolation
from loyalty.program.rules import bundled_program

PROGRAM = bundled_program()
MARCH = datetime(2026, 3, 12, 10, tzinfo=UTC)


def member(**fields: object) -> Member:
    base: dict[str, object] = {
        "member_id": "ana",
        "channel": "web",
        "enrolled_at": datetime(2025, 1, 1, tzinfo=UTC),
        "tier_id": "red",
        "tier_since": datetime(2025, 1, 1, tzinfo=UTC),
        "version": 3,
    }
    return Member.model_validate({**base, **fields})


def test_close_refuses_points_put_into_a_month_that_is_over_without_an_entry():
    books = Books(PROGRAM, member(), MARCH)
    books.member.buckets["2026-02"] = 10  # a service writing points past the funnel
    books.member.available += 10
    books.member.lifetime_earned += 10
    with pytest.raises(InvariantViolation):
        books.close()


def test_close_refuses_points_that_no_entry_accounts_for():
    books = Books(PROGRAM, member(), MARCH)
    books.earn(50, MARCH)  # no ledger line written
    with pytest.raises(InvariantViolation):
        books.close()


def test_close_refuses_a_cap_used_beyond_its_limit():
    books = Books(PROGRAM, member(counters={"activity:review:2026-03": 3}), MARCH)
    books.member.counters["activity:review:2026-03"] = 4
    with pytest.raises(InvariantViolation):
        books.close()


def test_close_bumps_the_version_once_whatever_moved():
    books = Books(PROGRAM, member(), MARCH)
    moved = books.earn(40, MARCH)
    books.entry("earn#o1", "earn", 40, "o1", MARCH, buckets=moved)
    moved = books.grant(20, MARCH)
    books.entry("activity#ana#a1", "bonus", 20, "a1", MARCH, buckets=moved)
    assert books.close().version == 4


def test_a_pending_lot_whose_month_is_over_when_it_activates_expires_at_once():
    lot = PendingLot(points=30, available_on=date(2026, 3, 12), expiry_month="2026-02")
    books = Books(PROGRAM, member(pending=30, lifetime_earned=30, pending_lots={"o1": lot}), MARCH)
    assert books.activate("o1") == 30
    closed = books.close()
    assert (closed.available, closed.pending, closed.lifetime_expired, closed.buckets) == (0, 0, 30, {})
    (lapse,) = books.entries
    assert (lapse.key, lapse.type, lapse.points, lapse.buckets) == ("lapse#earn#o1", "expire", -30, {"2026-02": 30})


def test_points_given_back_into_a_month_that_is_over_expire_whole_and_never_repay_a_debt():
    """Issue 30: a debt (a refund's reversal) was repaid with points given back into an ended month, and only
    the rest expired. They expire whole, first; points given back into a running month still repay it."""
    books = Books(PROGRAM, member(available=-10, lifetime_earned=80, lifetime_redeemed=90), MARCH)
    restored = books.give_back(90, {"2026-02": 90})
    books.entry("cancel#1", "redeem_cancel", 90, "r1", MARCH, buckets=restored)
    closed = books.close()
    assert (closed.available, closed.buckets, closed.lifetime_expired) == (-10, {}, 90)
    assert [(e.type, e.points) for e in books.entries] == [("redeem_cancel", 90), ("expire", -90)]

    books = Books(PROGRAM, member(available=-10, lifetime_earned=80, lifetime_redeemed=90), MARCH)
    restored = books.give_back(130, {"2026-02": 90, "2026-03": 40})  # 40 into the running month repay 10
    books.entry("cancel#2", "redeem_cancel", 130, "r2", MARCH, buckets=restored)
    closed = books.close()
    assert (closed.available, closed.buckets, closed.lifetime_expired) == (30, {"2026-03": 30}, 90)


def test_a_pending_lot_whose_month_is_over_expires_whole_beside_a_debt():
    lot = PendingLot(points=30, available_on=date(2026, 3, 12), expiry_month="2026-02")
    fields = {
        "available": -10,
        "pending": 30,
        "lifetime_earned": 30,
        "lifetime_redeemed": 10,
        "pending_lots": {"o1": lot},
    }
    books = Books(PROGRAM, member(**fields), MARCH)
    books.activate("o1")
    closed = books.close()
    assert (closed.available, closed.pending, closed.lifetime_expired, closed.buckets) == (-10, 0, 30, {})


def test_points_given_back_into_the_month_still_running_stay_spendable():
    """Issue 30: `is_over` must not count the current month as over (`<`, not `<=`): points given back into
    it stay in the balance, with no `expire` line."""
    books = Books(PROGRAM, member(available=0, lifetime_earned=100, lifetime_redeemed=100), MARCH)
    restored = books.give_back(100, {"2026-03": 100})
    books.entry("cancel#1", "redeem_cancel", 100, "r1", MARCH, buckets=restored)
    closed = books.close()
    assert (closed.available, closed.buckets, closed.lifetime_expired) == (100, {"2026-03": 100}, 0)
    assert [e.type for e in books.entries] == ["redeem_cancel"]


def test_a_large_negative_adjustment_leaves_lifetime_earned_and_is_counted_as_adjusted():
    # issue 28: a typo of -100000 read "Earned (lifetime) -94,026"; earned is what orders and bonuses earned
    books = Books(PROGRAM, member(available=5974, lifetime_earned=5974, buckets={"2027-03": 5974}), MARCH)
    moved = books.adjust(-100000)
    books.entry("adjust#ana#typo", "adjust", -100000, "typo", MARCH, buckets=moved)
    moved = books.adjust(300)
    books.entry("adjust#ana#goodwill", "adjust", 300, "goodwill", MARCH, buckets=moved)
    closed = books.close()  # the ledger invariant holds: earned + adjusted - redeemed - expired = available
    assert (closed.lifetime_earned, closed.lifetime_adjusted, closed.available) == (5974, -99700, -93726)


def test_closing_forfeits_available_and_pending_into_adjusted_never_below_zero_earned():
    lot = PendingLot(points=30, available_on=date(2026, 3, 20), expiry_month="2027-03")
    books = Books(
        PROGRAM,
        member(available=70, pending=30, lifetime_earned=100, buckets={"2027-03": 70}, pending_lots={"o1": lot}),
        MARCH,
    )
    moved, months = books.forfeit()
    books.entry("close#ana", "adjust", moved, "closed", MARCH, buckets=months)
    closed = books.close()
    assert (closed.lifetime_earned, closed.lifetime_adjusted, closed.available, closed.pending) == (100, -100, 0, 0)


def test_the_funnel_s_snapshot_of_a_holder_is_pydantic_s_deep_copy_and_shares_nothing_that_changes():
    """The books compare the holder with a snapshot taken as they opened (`changed`, the events of `close`): the
    snapshot must be `model_copy(deep=True)` field for field, and moving the holder must leave it as it was."""
    from decimal import Decimal

    from loyalty.domain.model import Account, snapshot

    full = member(
        email="ana@example.com",
        buckets={"2026-12": 120, "never": 5},
        qualifying={"2026-02": 80},
        spend={"2026-02": Decimal("41.50")},
        counters={"activity:2026-03": 2},
        pending_lots={"o-1": PendingLot(points=30, available_on=date(2026, 3, 26), expiry_month="2027-03")},
        tier_change={"from": "red", "to": "gold", "reason": "qualified"},
        manual_until=datetime(2026, 6, 1, tzinfo=UTC),
    )
    pool = Account.model_validate(
        {
            "account_id": "acme",
            "kind": "company",
            "name": "Acme",
            "tier_id": "red",
            "tier_since": MARCH,
            "created_at": MARCH,
            "max_members": 20,
            "buckets": {"2026-12": 7},
        }
    )
    for holder in (full, pool):
        made, expected = snapshot(holder), holder.model_copy(deep=True)
        assert type(made) is type(expected) and made == expected
        assert made.__dict__ == expected.__dict__ and made.model_fields_set == expected.model_fields_set
        assert made.__pydantic_extra__ == expected.__pydantic_extra__
        assert made.__pydantic_private__ == expected.__pydantic_private__
    copied = snapshot(full)
    books = Books(PROGRAM, full, MARCH)
    books.earn(10, MARCH)
    full.pending_lots["o-1"].points -= 5
    full.tier_change["to"] = "silver"  # type: ignore[index]
    full.spend["2026-03"] = Decimal("1")
    assert copied.buckets == {"2026-12": 120, "never": 5} and copied.pending_lots["o-1"].points == 30
    assert copied.tier_change == {"from": "red", "to": "gold", "reason": "qualified"}
    assert copied.spend == {"2026-02": Decimal("41.50")}
    assert books.changed
