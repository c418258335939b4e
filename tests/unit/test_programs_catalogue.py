"""Every programme shipped under programs/ validates, is named after its file, and is documented."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from loyalty.earning import rules as earning
from loyalty.program.rules import load_program_file

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = sorted((ROOT / "programs").glob("*.yaml"))


def test_the_catalogue_holds_the_field_programmes():
    assert {p.stem for p in PROGRAMS} >= {
        "demo",
        "boloco",
        "flying-club",
        "b2b-supplier",
        "paid-membership",
        "activities",
    }


@pytest.mark.parametrize("path", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_each_programme_validates_and_is_named_after_its_file(path: Path):
    program = load_program_file(path)
    assert program.program_id == path.stem  # `make simulate` and sim-out/ name results after the file
    assert f"programs/{path.name}" in (ROOT / "docs" / "programs.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("path", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_a_paid_tier_ranks_above_every_free_tier(path: Path):
    # ranks follow thresholds: a paid_only tier below a free one would be "upgraded" away from
    program = load_program_file(path)
    free = [t.threshold for t in program.tiers if not t.paid_only]
    assert all(t.threshold > max(free) for t in program.tiers if t.paid_only)


def test_the_field_programmes_say_what_their_issue_asks():
    flying = load_program_file(ROOT / "programs/flying-club.yaml")
    assert [(t.id, t.multiplier) for t in flying.tiers] == [
        ("red", Decimal("1.0")),
        ("silver", Decimal("1.5")),
        ("gold", Decimal("2.0")),
    ]
    assert "lounge_access" in flying.tier("gold").benefits.perks
    assert flying.expiry.policy == "activity_extends" and flying.qualification.window_months == 12

    b2b = load_program_file(ROOT / "programs/b2b-supplier.yaml")
    assert b2b.qualification.measure == "spend"
    assert [t.benefits.discount_percent for t in b2b.tiers] == [Decimal(0), Decimal(3), Decimal(6)]
    # the holiday promotion is a price discount at checkout (added to the tier's), not points
    assert {c.discount.percent for c in b2b.campaigns if c.discount} == {Decimal(5), Decimal(10)}
    assert all(c.bonus is None for c in b2b.campaigns)
    assert all(c.window.announce_days == 7 and c.categories for c in b2b.campaigns)
    assert [(p.perk, p.after_months) for p in b2b.tenure_perks] == [("fast_payout", 6)]

    paid = load_program_file(ROOT / "programs/paid-membership.yaml")
    prime = paid.tier("prime")
    assert prime.paid_only and prime.multiplier == Decimal("2.0")
    assert [t.id for t in paid.qualifying_tiers()] == ["member", "plus"]

    boloco = load_program_file(ROOT / "programs/boloco.yaml")
    free = boloco.reward("free-item")
    assert free is not None and free.points == 50 and free.in_store  # taken at the till, through checkout
    assert free.discount and free.discount.item and free.discount.item.category is None  # any item
    order = earning.Order(amount=Decimal("50.00"), occurred_at=datetime(2026, 3, 1, tzinfo=UTC))
    assert earning.award(boloco, order, boloco.base_tier).points == 50  # 50 USD: one free item

    acts = load_program_file(ROOT / "programs/activities.yaml").activities
    assert acts.signup_by_channel and acts.referral > 0
    assert all(a.cap is not None for a in acts.types.values())
    assert {"review", "birthday"} <= set(acts.types)
