"""The checkout's arithmetic (loyalty.checkout.pricing), no AWS: the contract's worked example line by
line, the rules' edges, and properties over any basket."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from loyalty.checkout import pricing
from loyalty.earning import rules as earning
from loyalty.kernel.errors import InsufficientPoints, RewardNotEligible, ValidationFailed
from loyalty.program.rules import bundled_program, load_program_file, parse_program

ROOT = Path(__file__).resolve().parents[2]
DEMO = bundled_program()
B2B = load_program_file(ROOT / "programs" / "b2b-supplier.yaml")
MARCH = datetime(2026, 3, 14, 10, tzinfo=UTC)
DECEMBER = datetime(2026, 12, 5, 10, tzinfo=UTC)
D = Decimal


def item(sku: str, category: str, amount: str, quantity: int = 1) -> earning.Item:
    return earning.Item(sku=sku, category=category, amount=D(amount), quantity=quantity)


def test_the_contracts_worked_example_line_by_line():
    lines = [item("latte", "drinks", "4.50"), item("sandwich", "food", "8.00"), item("gc", "gift-cards", "25.00")]
    basket = pricing.price(DEMO, DEMO.tier("silver"), lines, [DEMO.reward("free-drink")], 500, MARCH, 932 - 300)
    assert [(d.rule, d.sku, d.amount) for d in basket.discounts] == [
        ("reward:free-drink", "latte", D("4.50")),  # 1. the reward: the latte is free (under the 5.00 cap)
        ("tier:silver", "sandwich", D("0.40")),  # 2. 5% of what is left of each line; the gift card none
    ]
    assert basket.after == (D("0.00"), D("7.60"), D("25.00"))
    assert (basket.subtotal, basket.discount_total, basket.points_amount, basket.total) == (
        D("37.50"),
        D("4.90"),
        D("5.00"),  # 3. the points payment, last
        D("27.60"),
    )
    assert basket.eligible == D("2.60")  # 4. 7.60 of eligible lines less the 5.00 paid in points
    assert basket.max_points_payable == 600  # 632 points left, 32.60 payable
    order = earning.Order(amount=basket.total, occurred_at=MARCH, items=basket.lines_after())
    award = earning.award(DEMO, order, DEMO.tier("silver"), eligible=basket.eligible)
    assert award.breakdown == (("base", 2), ("tier:silver", 1))


def test_the_item_reward_frees_one_unit_of_the_dearest_line_up_to_its_cap():
    drinks = [
        item("tea", "drinks", "3.00"),
        item("latte", "drinks", "9.00", quantity=2),  # 4.50 a unit
        item("shake", "drinks", "6.00", quantity=1),  # 6.00: the dearest, above the 5.00 cap
        item("smoothie", "drinks", "6.00"),  # as dear: the first listed wins
    ]
    basket = pricing.price(DEMO, DEMO.tier("red"), drinks, [DEMO.reward("free-drink")], 0, MARCH, 0)
    assert [(d.rule, d.sku, d.amount) for d in basket.discounts] == [("reward:free-drink", "shake", D("5.00"))]
    two = [item("latte", "drinks", "9.00", quantity=2)]
    basket = pricing.price(DEMO, DEMO.tier("red"), two, [DEMO.reward("free-drink")], 0, MARCH, 0)
    assert basket.total == D("4.50")  # one unit of two


def test_a_reward_with_no_line_to_apply_to_is_not_eligible():
    for lines in ([item("sandwich", "food", "8.00")], [item("gc", "drinks-gift-cards", "5.00")], []):
        with pytest.raises(RewardNotEligible):
            pricing.price(DEMO, DEMO.tier("red"), lines, [DEMO.reward("free-drink")], 0, MARCH, 1000)


def test_a_reward_whose_discount_rounds_to_nothing_is_not_eligible():
    """A reward that would take 0.00 off (issue 30) is refused, not charged for nothing: a `drinks` line of
    0.04 for 5 units (0.008 a unit, 0.00 to the cent), a fixed reward on a 0.004 line."""
    cheap = [item("sugar", "drinks", "0.04", quantity=5)]
    with pytest.raises(RewardNotEligible):
        pricing.price(DEMO, DEMO.tier("red"), cheap, [DEMO.reward("free-drink")], 0, MARCH, 1000)
    with pytest.raises(RewardNotEligible):
        pricing.price(FIXED, FIXED.tier("red"), [item("mint", "food", "0.004")], [FIXED.reward("ten-off")], 0, MARCH, 0)
    # one cent to take is enough: the reward applies
    basket = pricing.price(
        FIXED, FIXED.tier("red"), [item("mint", "food", "0.01")], [FIXED.reward("ten-off")], 0, MARCH, 0
    )
    assert [(d.rule, d.amount) for d in basket.discounts] == [("reward:ten-off", D("0.01"))]


def test_points_are_checked_against_the_rate_the_total_and_the_points_left():
    lines = [item("sandwich", "food", "8.00")]
    with pytest.raises(ValidationFailed) as not_multiple:
        pricing.price(DEMO, DEMO.tier("red"), lines, [], 150, MARCH, 1000)
    assert not_multiple.value.details == [{"field": "points", "message": "must be a multiple of 100"}]
    with pytest.raises(ValidationFailed):  # 9.00 of points for an 8.00 basket
        pricing.price(DEMO, DEMO.tier("red"), lines, [], 900, MARCH, 1000)
    with pytest.raises(InsufficientPoints):
        pricing.price(DEMO, DEMO.tier("red"), lines, [], 800, MARCH, 799)
    paid = pricing.price(DEMO, DEMO.tier("red"), lines, [], 800, MARCH, 800)
    assert (paid.total, paid.eligible, paid.max_points_payable) == (D("0.00"), D("0.00"), 800)


def test_a_refusal_for_points_says_the_real_figures_and_a_debt_alone_refuses_nothing():
    """Issue 30, defect 8: an unaffordable reward answered "0 points asked for, 0 left after the rewards"."""
    drinks = [item("latte", "drinks", "4.50"), item("sandwich", "food", "8.00")]
    free_drink = DEMO.reward("free-drink")  # 300 points
    with pytest.raises(InsufficientPoints) as reward:
        pricing.price(DEMO, DEMO.tier("red"), drinks, [free_drink], 0, MARCH, 100 - 300)
    assert reward.value.message == "the rewards cost 300 points; the member has 100 available"
    with pytest.raises(InsufficientPoints) as points:
        pricing.price(DEMO, DEMO.tier("red"), drinks, [free_drink], 100, MARCH, 0)
    assert points.value.message == "100 points asked for, 0 left after the rewards"
    with pytest.raises(InsufficientPoints) as debt:
        pricing.price(DEMO, DEMO.tier("red"), drinks, [], 100, MARCH, -20)
    assert debt.value.message == "100 points asked for, -20 available"
    paid_in_money = pricing.price(DEMO, DEMO.tier("red"), drinks, [], 0, MARCH, -20)
    assert (paid_in_money.total, paid_in_money.max_points_payable) == (D("12.50"), 0)


def test_percentages_add_up_one_rounding_per_line_split_between_the_rules():
    lines = [
        item("LED-STRIP", "led-lighting", "99.99"),
        item("BEAR", "toys", "10.00"),
        item("BOX", "packaging", "10.00"),
        item("FREIGHT", "shipping", "50.00"),  # excluded from earning: no discount
    ]
    preferred = B2B.tier("preferred")  # 3%
    basket = pricing.price(B2B, preferred, lines, [], 0, DECEMBER, 0)
    assert [(d.rule, d.sku, d.amount) for d in basket.discounts] == [
        ("tier:preferred", "LED-STRIP", D("2.99")),  # 13% of 99.99 is 12.9987 → 12.99, split 2.99 + 10.00
        ("campaign:holiday-top-sellers", "LED-STRIP", D("10.00")),
        ("tier:preferred", "BEAR", D("0.30")),  # 3% + 5% of 10.00
        ("campaign:holiday-seasonal", "BEAR", D("0.50")),
        ("tier:preferred", "BOX", D("0.30")),
    ]
    assert pricing.price(B2B, preferred, lines, [], 0, MARCH, 0).discount_total == D("3.59")  # no campaign


def test_a_discount_campaign_gives_no_points_and_a_points_campaign_no_discount():
    lines = [item("tv", "electronics", "100.00")]
    basket = pricing.price(DEMO, DEMO.tier("red"), lines, [], 0, datetime(2026, 12, 5, tzinfo=UTC), 0)
    assert basket.discounts == ()  # holiday-electronics is points only
    order = earning.Order(amount=basket.total, occurred_at=DECEMBER, items=basket.lines_after())
    assert earning.award(DEMO, order, DEMO.tier("red"), eligible=basket.eligible).points == 110
    december = pricing.price(B2B, B2B.tier("trade"), [item("led", "led-lighting", "100.00")], [], 0, DECEMBER, 0)
    order = earning.Order(amount=december.total, occurred_at=DECEMBER, items=december.lines_after())
    assert earning.award(B2B, order, B2B.tier("trade"), eligible=december.eligible).breakdown == (("base", 90),)


def test_the_programme_schema_refuses_half_an_in_store_reward():
    from loyalty.program.rules import ProgramError

    document = DEMO.model_dump(mode="json")
    for bad in (
        {"id": "x", "name": "X", "points": 10, "partner_id": None},  # no discount
        {"id": "x", "name": "X", "points": 10, "partner_id": "demo-partner", "discount": {"amount": "1.00"}},
        {"id": "x", "name": "X", "points": 10, "partner_id": None, "discount": {}},
        {"id": "x", "name": "X", "points": 10, "partner_id": None, "discount": {"amount": "1", "item": {"max": "1"}}},
    ):
        with pytest.raises(ProgramError):
            parse_program({**document, "rewards": [bad]})
    campaign = {"id": "c", "name": "C", "window": {"start": "2026-01-01", "end": "2026-01-02"}}
    with pytest.raises(ProgramError):
        parse_program({**document, "campaigns": [campaign]})  # neither bonus nor discount
    both = parse_program({**document, "campaigns": [{**campaign, "bonus": {"points": 5}, "discount": {"percent": 5}}]})
    assert both.campaigns[0].discount is not None and both.campaigns[0].bonus is not None


# -- properties ----------------------------------------------------------------------------------
MONEY = st.integers(min_value=0, max_value=50_000).map(lambda c: D(c) / 100)
# distinct skus in a basket: a discount names its line by sku (the contract's `discounts[].sku`)
LINE = st.builds(
    lambda category, amount, quantity, n: earning.Item(f"sku-{n}", category, amount, quantity),
    st.sampled_from(["drinks", "food", "gift-cards", "electronics", "led-lighting", "toys", "shipping"]),
    MONEY,
    st.integers(min_value=1, max_value=5),
    st.integers(min_value=0, max_value=10**6),
)
FIXED = parse_program(
    {
        **DEMO.model_dump(mode="json"),
        "rewards": [
            *DEMO.model_dump(mode="json")["rewards"],
            {"id": "ten-off", "name": "Ten off", "points": 100, "partner_id": None, "discount": {"amount": "10.00"}},
            {"id": "any-item", "name": "Any", "points": 100, "partner_id": None, "discount": {"item": {"max": "3"}}},
        ],
    }
)


@given(
    lines=st.lists(LINE, min_size=1, max_size=6, unique_by=lambda line: line.sku),
    rewards=st.lists(st.sampled_from(["free-drink", "ten-off", "any-item"]), unique=True, max_size=3),
    tier=st.sampled_from(["red", "silver", "gold"]),
    hundreds=st.integers(min_value=0, max_value=300),
    points_left=st.integers(min_value=-500, max_value=30_000),
    when=st.sampled_from([MARCH, DECEMBER]),
)
def test_any_basket_adds_up_and_never_goes_negative(lines, rewards, tier, hundreds, points_left, when):
    chosen = [FIXED.reward(r) for r in rewards]
    try:
        basket = pricing.price(FIXED, FIXED.tier(tier), lines, chosen, hundreds * 100, when, points_left)
    except (RewardNotEligible, ValidationFailed, InsufficientPoints):
        return
    assert {d.rule for d in basket.discounts} >= {f"reward:{r}" for r in rewards}  # no reward for nothing
    by_line: dict[int, Decimal] = {}
    for d in basket.discounts:
        assert d.amount > 0 and d.amount == d.amount.quantize(D("0.01"))  # down to the cent, only above 0
        i = next(n for n, line in enumerate(lines) if line.sku == d.sku)
        by_line[i] = by_line.get(i, D(0)) + d.amount
    for i, line in enumerate(lines):
        taken = sum((d.amount for d in basket.discounts if d.sku == line.sku), D(0))
        assert D(0) <= basket.after[i] <= line.amount  # a discount never exceeds its line
        if not earning.is_eligible(FIXED, line):
            assert taken == 0  # lines that do not earn get no discount
    assert basket.discount_total + basket.points_amount + basket.total == basket.subtotal
    assert basket.total >= 0 and basket.eligible >= 0
    assert basket.max_points_payable % 100 == 0 and basket.max_points_payable <= max(points_left, 0)
    assert pricing.points_value(FIXED, basket.max_points_payable) <= basket.subtotal - basket.discount_total
    assert basket.points <= basket.max_points_payable


@given(
    lines=st.lists(LINE, min_size=1, max_size=6, unique_by=lambda line: line.sku),
    points_left=st.integers(min_value=0, max_value=30_000),
)
def test_max_points_payable_does_not_depend_on_the_points_asked_for(lines, points_left):
    tier = DEMO.tier("gold")
    most = pricing.price(DEMO, tier, lines, [], 0, MARCH, points_left).max_points_payable
    if most:
        assert pricing.price(DEMO, tier, lines, [], most, MARCH, points_left).max_points_payable == most
        with pytest.raises((ValidationFailed, InsufficientPoints)):
            pricing.price(DEMO, tier, lines, [], most + 100, MARCH, points_left)
