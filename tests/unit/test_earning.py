"""The earning rules engine with the demo programme's numbers; no AWS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loyalty.earning import earn
from loyalty.earning import rules as earning
from loyalty.kernel.clock import CLOCK
from loyalty.kernel.errors import ValidationFailed
from loyalty.program.rules import Campaign, Program, bundled_program
from loyalty.requests.earning import EarnRequest
from pydantic import ValidationError as PydanticValidationError

DEMO = bundled_program("demo")
RED, SILVER, GOLD = (DEMO.tier(t) for t in ("red", "silver", "gold"))
MARCH = datetime(2026, 3, 14, 10, tzinfo=UTC)
DECEMBER = datetime(2026, 12, 10, 12, tzinfo=UTC)


def order(amount: str, *items: tuple[str, str], when: datetime = MARCH) -> earning.Order:
    lines = tuple(earning.Item(sku=f"sku-{i}", category=c, amount=Decimal(a)) for i, (c, a) in enumerate(items))
    return earning.Order(amount=Decimal(amount), occurred_at=when, items=lines)


def with_campaigns(*campaigns: dict) -> Program:
    return DEMO.model_copy(update={"campaigns": [Campaign.model_validate(c) for c in campaigns]})


def test_one_point_per_whole_dollar_for_red():
    award = earning.award(DEMO, order("120.00"), RED)
    assert (award.points, award.base) == (120, 120)
    assert award.breakdown == (("base", 120),)
    assert earning.award(DEMO, order("120.99"), RED).points == 120
    assert earning.award(DEMO, order("0.99"), RED).points == 0


def test_the_tier_part_is_floor_of_base_times_multiplier_minus_base():
    assert earning.award(DEMO, order("120.00"), SILVER).breakdown == (("base", 120), ("tier:silver", 60))
    assert earning.award(DEMO, order("121.00"), SILVER).breakdown == (("base", 121), ("tier:silver", 60))
    assert earning.award(DEMO, order("120.00"), GOLD).points == 240


def test_items_earn_on_their_line_amounts_and_gift_cards_are_excluded():
    award = earning.award(DEMO, order("150.00", ("books", "40.00"), ("gift-cards", "100.00")), RED)
    assert award.points == 40 and award.eligible_amount == Decimal("40.00")
    assert earning.award(DEMO, order("25.00", ("gift-cards", "25.00")), SILVER).breakdown == (("base", 0),)


def test_quantity_is_informational():
    line = earning.Item(sku="pen", category="office", amount=Decimal("10.00"), quantity=5)
    assert earning.award(DEMO, earning.Order(Decimal("10.00"), MARCH, (line,)), RED).points == 10


def test_holiday_electronics_gives_ten_percent_of_the_electronics_amount_in_december_only():
    december = order("120.00", ("electronics", "105.00"), ("books", "15.00"), when=DECEMBER)
    award = earning.award(DEMO, december, RED)
    assert award.breakdown == (("base", 120), ("campaign:holiday-electronics", 10))
    assert earning.award(DEMO, december, SILVER).breakdown == (
        ("base", 120),
        ("tier:silver", 60),
        ("campaign:holiday-electronics", 10),
    )
    edges = {
        datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC): 0,
        datetime(2026, 12, 1, tzinfo=UTC): 10,
        datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC): 10,
        datetime(2027, 1, 1, tzinfo=UTC): 0,
    }
    for when, bonus in edges.items():
        award = earning.award(DEMO, order("105.00", ("electronics", "105.00"), when=when), RED)
        assert award.points - award.base == bonus, when


def test_campaign_filters_need_items_and_skip_ineligible_lines():
    assert earning.award(DEMO, order("120.00", when=DECEMBER), RED).points == 120  # no lines: no category
    program = DEMO.model_copy(
        update={"earning": DEMO.earning.model_copy(update={"excluded_categories": ["gift-cards", "electronics"]})}
    )
    award = earning.award(program, order("100.00", ("electronics", "100.00"), when=DECEMBER), RED)
    assert award.points == 0


def test_stackable_campaigns_add_up_and_only_the_best_exclusive_one_applies():
    window = {"recurrence": "yearly", "start": "01-01", "end": "12-31"}
    program = with_campaigns(
        {"id": "all-5", "name": "a", "window": window, "bonus": {"percent": "5"}},
        {"id": "fixed-7", "name": "b", "window": window, "bonus": {"points": 7}, "stackable": False},
        {
            "id": "books-50",
            "name": "c",
            "window": window,
            "categories": ["books"],
            "bonus": {"percent": "50"},
            "stackable": False,
        },
        {"id": "sku", "name": "d", "window": window, "skus": ["sku-0"], "bonus": {"points": 3}},
    )
    award = earning.award(program, order("100.00", ("toys", "60.00"), ("books", "40.00")), RED)
    assert award.breakdown == (("base", 100), ("campaign:all-5", 5), ("campaign:books-50", 20), ("campaign:sku", 3))
    award = earning.award(program, order("100.00", ("books", "10.00"), ("toys", "90.00")), RED)
    assert award.breakdown == (("base", 100), ("campaign:all-5", 5), ("campaign:fixed-7", 7), ("campaign:sku", 3))


def test_minimum_order_amount_and_eligible_categories():
    rules = DEMO.earning.model_copy(update={"min_order_amount": Decimal("10"), "eligible_categories": ["food"]})
    program = DEMO.model_copy(update={"earning": rules})
    assert earning.award(program, order("9.99"), RED).points == 0
    assert earning.award(program, order("10.00"), RED).points == 10
    assert earning.award(program, order("30.00", ("food", "20.00"), ("toys", "10.00")), RED).points == 20
    assert earning.award(program, order("30.00", ("food", "9.00"), ("toys", "21.00")), RED).points == 0


def test_points_per_unit_is_a_decimal():
    program = DEMO.model_copy(update={"earning": DEMO.earning.model_copy(update={"points_per_unit": Decimal("2.5")})})
    assert earning.award(program, order("10.30"), RED).points == 25


def refund(amount: str, before: earning.Reversal | None = None, *, points: int = 180, base: int = 120):
    prior = before or earning.Reversal(0, 0, Decimal(0), Decimal(0))
    return earning.reversal(
        order_amount=Decimal("120.00"),
        order_points=points,
        order_base=base,
        order_eligible=Decimal("120.00"),
        refunded_before=prior.refunded_total,
        points_before=prior.points,
        base_before=prior.base,
        spend_before=prior.spend,
        refund_amount=Decimal(amount),
    )


def test_refund_of_40_of_120_on_a_180_point_order_reverses_60_and_40_base():
    taken = refund("40.00")
    assert taken is not None
    assert (taken.points, taken.base, taken.spend) == (60, 40, Decimal("40.00"))


def test_cumulative_refunds_reverse_the_share_of_the_total_refunded():
    first = refund("50.00", points=100, base=100)
    assert first is not None and first.points == 41  # floor(100 × 50/120)
    total = earning.Reversal(41, 41, first.spend, first.refunded_total)
    second = refund("70.00", total, points=100, base=100)
    assert second is not None and second.points == 59 and second.refunded_total == Decimal("120.00")
    assert refund("120.01") is None


def test_the_request_side_refuses_another_currency_and_the_far_future():
    now = datetime(2026, 3, 14, 10, tzinfo=UTC)
    request = EarnRequest(member_id="m", order_id="o", amount="10.00", currency="EUR")
    with pytest.raises(ValidationFailed) as refused:
        earn.order_of(DEMO, request, now)
    assert refused.value.details == [{"field": "currency", "message": "the programme's currency is USD"}]
    fields = {"member_id": "m", "order_id": "o", "amount": "1", "currency": "USD"}
    CLOCK.set(now)  # the request model checks the posting window by the clock
    try:
        with pytest.raises(PydanticValidationError):
            EarnRequest(**fields, occurred_at=now + timedelta(minutes=6))
        ahead = EarnRequest.model_construct(**fields, occurred_at=now + timedelta(minutes=6))  # past the edge
        with pytest.raises(ValidationFailed) as refused:
            earn.order_of(DEMO, ahead, now)
        assert refused.value.details and refused.value.details[0]["field"] == "occurred_at"
        soon = EarnRequest(**fields, occurred_at=now + timedelta(minutes=5))
        assert earn.order_of(DEMO, soon, now).occurred_at == now + timedelta(minutes=5)
    finally:
        CLOCK.set(None)
    over = EarnRequest(
        member_id="m",
        order_id="o",
        amount="10",
        currency="USD",
        items=[{"sku": "a", "category": "toys", "amount": "10.01"}],
    )
    with pytest.raises(ValidationFailed):
        earn.order_of(DEMO, over, now)


def test_activity_counters_are_keyed_by_the_period_of_occurrence():
    from loyalty.ledger.funnel import activity_counter

    assert activity_counter("review", "month", MARCH) == "activity:review:2026-03"
    assert activity_counter("birthday", "year", MARCH) == "activity:birthday:2026"
    assert activity_counter("x", "lifetime", MARCH) == "activity:x:lifetime"


# -- properties ----------------------------------------------------------------------------------
money = st.decimals(min_value=0, max_value=Decimal("99999.9999"), places=4, allow_nan=False, allow_infinity=False)
categories = st.sampled_from(["electronics", "gift-cards", "books", "toys"])
moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC))
tiers_ = st.sampled_from([RED, SILVER, GOLD])


@st.composite
def orders(draw: st.DrawFn) -> earning.Order:
    lines = draw(st.lists(st.tuples(categories, money), max_size=6))
    items = tuple(earning.Item(sku=f"s{i}", category=c, amount=a) for i, (c, a) in enumerate(lines))
    amount = earning.items_total(items) + draw(money) if items else draw(money)
    return earning.Order(amount=amount, occurred_at=draw(moments), items=items)


@settings(max_examples=200, deadline=None)
@given(orders(), tiers_)
def test_a_purchase_never_earns_negative_points_and_the_breakdown_sums_to_the_points(o, tier):
    award = earning.award(DEMO, o, tier)
    assert award.points >= 0 and award.base >= 0
    assert award.breakdown[0] == ("base", award.base)
    assert sum(p for _, p in award.breakdown) == award.points
    assert all(p > 0 for _, p in award.breakdown[1:])
    assert award.points >= award.base


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=0, max_value=100_000),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999.99"), places=2),
    st.lists(st.integers(min_value=1, max_value=100), min_size=1, max_size=8),
)
def test_refunds_never_reverse_more_than_was_earned(points, amount, weights):
    """Split the order amount into refunds (plus one more that must be refused): cumulative sums hold."""
    shares = [(amount * w / sum(weights)).quantize(Decimal("0.01"), rounding="ROUND_FLOOR") for w in weights]
    shares[-1] += amount - sum(shares)
    reversed_, base_reversed, refunded, spend = 0, 0, Decimal(0), Decimal(0)
    for share in [s for s in shares if s > 0]:
        taken = earning.reversal(
            order_amount=amount,
            order_points=points,
            order_base=points // 2,
            order_eligible=amount,
            refunded_before=refunded,
            points_before=reversed_,
            base_before=base_reversed,
            spend_before=spend,
            refund_amount=share,
        )
        assert taken is not None and taken.points >= 0 and taken.base >= 0
        reversed_, base_reversed = reversed_ + taken.points, base_reversed + taken.base
        refunded, spend = taken.refunded_total, spend + taken.spend
        assert reversed_ <= points and base_reversed <= points // 2
        assert reversed_ == earning.floor(Decimal(points) * refunded / amount)
    assert refunded == amount and reversed_ == points and base_reversed == points // 2
    assert spend == amount
    extra = earning.reversal(
        order_amount=amount,
        order_points=points,
        order_base=0,
        order_eligible=amount,
        refunded_before=refunded,
        points_before=reversed_,
        base_before=0,
        spend_before=spend,
        refund_amount=Decimal("0.01"),
    )
    assert extra is None
