from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from loyalty.program.campaigns import is_active, is_visible
from loyalty.program.rules import ProgramError, bundled_program, load_program_file, parse_program
from loyalty.program.view import public_program

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_programme_has_the_contracts_numbers():
    p = bundled_program()
    assert p.currency == "USD"
    assert [(t.id, t.threshold, t.multiplier) for t in p.tiers] == [
        ("red", 0, Decimal("1.0")),
        ("silver", 1000, Decimal("1.5")),
        ("gold", 2500, Decimal("2.0")),
    ]
    assert p.tier("silver").benefits.perks == ["priority_support"]
    assert p.tier("gold").benefits.discount_percent == Decimal("10")
    assert p.activities.signup == 100 and p.activities.referral == 250
    review = p.activities.types["review"]
    assert review.points == 20 and review.cap and (review.cap.count, review.cap.period) == (3, "month")
    assert p.expiry.months == 12 and p.expiry.policy == "fixed_months"
    assert (p.pay_with_points.points, p.pay_with_points.value) == (100, Decimal("1.00"))
    assert {r.id: (r.points, r.partner_id) for r in p.rewards} == {
        "free-item": (50, "demo-partner"),
        "coffee": (150, "demo-partner"),
        "lounge-pass": (800, "demo-partner"),
        "gift-card-25": (2500, "other-partner"),
        "free-drink": (300, None),
    }
    assert p.reward("lounge-pass").eligible_tiers == ["gold"]
    drink = p.reward("free-drink")
    assert drink is not None and drink.in_store and drink.eligible_tiers is None
    assert (
        drink.discount
        and drink.discount.item
        and (drink.discount.item.category, drink.discount.item.max)
        == (
            "drinks",
            Decimal("5.00"),
        )
    )


def test_invalid_programmes_are_refused_with_every_problem_listed(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("program_id: x\nname: y\ncurrency: usd\ntiers: []\n")
    with pytest.raises(ProgramError) as err:
        load_program_file(bad)
    assert "currency" in str(err.value) and "tiers" in str(err.value)
    with pytest.raises(ProgramError):
        parse_program("not: [valid")
    with pytest.raises(ProgramError, match="unknown partner"):
        parse_program(
            {
                "program_id": "p",
                "name": "n",
                "currency": "USD",
                "tiers": [{"id": "a", "name": "A", "threshold": 0, "multiplier": "1"}],
                "rewards": [{"id": "r", "name": "R", "points": 1, "partner_id": "ghost"}],
            }
        )


def test_every_shipped_programme_validates():
    for path in sorted((ROOT / "programs").glob("*.yaml")):
        load_program_file(path)


def test_the_yearly_holiday_campaign_is_announced_a_week_ahead_and_active_in_december():
    p = bundled_program()
    campaign = p.campaigns[0]
    assert not is_visible(campaign, datetime(2026, 11, 23, tzinfo=UTC))
    assert is_visible(campaign, datetime(2026, 11, 24, tzinfo=UTC))
    assert not is_active(campaign, datetime(2026, 11, 30, 23, 59, tzinfo=UTC))
    assert is_active(campaign, datetime(2026, 12, 1, tzinfo=UTC))
    assert is_active(campaign, datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC))
    assert not is_active(campaign, datetime(2027, 1, 1, tzinfo=UTC))
    shown = public_program(p, datetime(2026, 11, 25, tzinfo=UTC))["campaigns"]
    assert shown[0]["id"] == "holiday-electronics" and shown[0]["status"] == "announced"
    assert shown[0]["starts_at"] == "2026-12-01T00:00:00Z"
    assert public_program(p, datetime(2026, 6, 1, tzinfo=UTC))["campaigns"] == []


def test_the_public_programme_shows_no_partner_secrets():
    text = str(public_program(bundled_program()))
    assert "secret" not in text
