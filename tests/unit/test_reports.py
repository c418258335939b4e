"""What one committed change adds to the report counters (pure), and the reports built from counters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from loyalty.domain.events import Change
from loyalty.kernel.errors import ValidationFailed
from loyalty.outbox import processor as outbox
from loyalty.program.rules import bundled_program
from loyalty.reports import summary as reports

from tests.unit.test_events import entry, member

WHEN = datetime(2026, 3, 14, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("before", "after", "moved"),
    [
        (None, {"tier_id": "red"}, {"red": 1}),  # enrolled
        ({"tier_id": "red"}, {"tier_id": "silver"}, {"red": -1, "silver": 1}),  # upgraded
        ({"tier_id": "red"}, {"tier_id": "red", "status": "suspended"}, {}),  # suspended members count
        ({"tier_id": "red", "status": "suspended"}, {"tier_id": "red", "status": "closed"}, {"red": -1}),
        ({"tier_id": "gold", "status": "closed"}, {"tier_id": "gold", "status": "closed", "version": 9}, {}),
        ({"tier_id": "red", "status": "closed"}, {"tier_id": "red"}, {"red": 1}),  # were it ever reopened
        ({"tier_id": "silver"}, {"tier_id": "gold", "status": "closed"}, {"silver": -1}),
    ],
)
def test_members_per_tier_follow_the_member_images(before, after, moved):
    old = member(**before) if before else None
    counters = reports.tier_counters(old, member(**after))
    assert counters == {(reports.TIERS, tier, "members"): n for tier, n in moved.items()}


@pytest.mark.parametrize(
    ("type_", "points", "figure", "value"),
    [
        ("earn", 120, "earned", 120),
        ("bonus", 100, "earned", 100),
        ("reversal", -40, "earned", -40),
        ("redeem", -150, "redeemed", 150),
        ("redeem_cancel", 150, "redeemed", -150),
        ("expire", -30, "expired", 30),
        ("adjust", -20, "adjusted", -20),
        ("adjust", 25, "adjusted", 25),
    ],
)
def test_each_entry_counts_in_the_month_it_was_recorded(type_, points, figure, value):
    # occurred in March (WHEN), recorded on April 1st: April's figure
    recorded = entry(type_, points).model_copy(update={"recorded_at": datetime(2026, 4, 1, 0, 0, 1, tzinfo=UTC)})
    assert reports.entry_counters(recorded) == {(reports.ACTIVITY, "2026-04", figure): value}


def test_an_enrolment_counts_the_member_its_tier_and_its_liability_under_one_marker():
    new = member(version=1, buckets={"2027-03": 100}, available=100)
    done = outbox.effects(Change("INSERT", "member", None, new), bundled_program("demo"))
    assert done.marker == "MEMBER#m-1#1"
    assert done.counters == {
        ("LIABILITY", "2027-03", "points"): 100,
        (reports.TIERS, "red", "members"): 1,
        (reports.ACTIVITY, "2026-03", "enrolled"): 1,
    }


def test_the_tiers_report_lists_every_tier_in_programme_order():
    counters = {"gold": {"members": 2}, "red": {"members": 7}, "retired": {"members": 1}, "old": {"members": 0}}
    report = reports.tiers_report(bundled_program("demo"), counters, WHEN)
    assert report.model_dump() == {
        "as_of": "2026-03-14T10:00:00Z",
        "members": 10,
        "accounts": 0,
        "tiers": [
            {"id": "red", "name": "Red", "members": 7, "accounts": 0},
            {"id": "silver", "name": "Silver", "members": 0, "accounts": 0},
            {"id": "gold", "name": "Gold", "members": 2, "accounts": 0},
            {"id": "retired", "name": "retired", "members": 1, "accounts": 0},  # no longer in the programme
        ],
    }


def test_the_activity_report_lists_every_month_of_the_range():
    report = reports.activity_report("2025-12", "2026-02", {"2026-01": {"earned": 120, "enrolled": 2}})
    zeros = {"redeemed": 0, "expired": 0, "adjusted": 0, "transferred": 0, "imported": 0}
    assert [m.model_dump() for m in report.months] == [
        {"month": "2025-12", "enrolled": 0, "earned": 0, **zeros},
        {"month": "2026-01", "enrolled": 2, "earned": 120, **zeros},
        {"month": "2026-02", "enrolled": 0, "earned": 0, **zeros},
    ]


def test_the_activity_range():
    assert reports.activity_range(None, None, WHEN) == ("2025-04", "2026-03")
    assert reports.activity_range("2026-01", None, WHEN) == ("2026-01", "2026-03")
    assert reports.activity_range(None, "2025-06", WHEN) == ("2024-07", "2025-06")
    assert reports.activity_range("2023-04", "2026-03", WHEN) == ("2023-04", "2026-03")  # 36 months
    for first, last in (("2026-04", "2026-03"), ("2023-03", "2026-03")):
        with pytest.raises(ValidationFailed):
            reports.activity_range(first, last, WHEN)
