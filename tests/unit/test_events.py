"""Stored changes → domain events, counters and metrics: pure, no AWS."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from loyalty.domain import events
from loyalty.domain.events import Change
from loyalty.domain.model import ExpiryWarning, LedgerEntry, Member
from loyalty.outbox import processor as outbox
from loyalty.program.rules import bundled_program
from loyalty.reports import liability

from loyalty_local import events_doc

WHEN = datetime(2026, 3, 14, 10, 0, tzinfo=UTC)


def entry(type_: str, points: int, **extra: Any) -> LedgerEntry:
    return LedgerEntry(
        entry_id=f"le_{type_}",
        key=f"{type_}#m-1#x",
        member_id="m-1",
        seq=7,
        type=type_,  # type: ignore[arg-type]
        points=points,
        balance_after=500,
        reference=extra.pop("reference", "ref-1"),
        occurred_at=WHEN,
        recorded_at=WHEN,
        **extra,
    )


def member(**changes: Any) -> Member:
    base: dict[str, Any] = {
        "member_id": "m-1",
        "channel": "web",
        "enrolled_at": WHEN,
        "tier_id": "red",
        "tier_since": WHEN,
        "version": 3,
        "entries": 2,
        "available": 150,
        "lifetime_earned": 150,
        "buckets": {"2027-03": 150},
    }
    return Member(**{**base, **changes})


def one(change: Change) -> tuple[str, dict[str, Any]]:
    found = events.events_for(change, None)
    assert len(found) == 1
    return found[0].detail_type, found[0].detail_json()


@pytest.mark.parametrize(
    ("type_", "points", "details", "detail_type", "shown"),
    [
        ("earn", 120, {"breakdown": []}, "PointsEarned", 120),
        ("bonus", 20, {"activity": "review"}, "PointsEarned", 20),
        ("reversal", -60, {"order_id": "o-1"}, "PointsReversed", -60),
        ("redeem", -150, {"reward_id": "coffee", "partner_id": "demo-partner"}, "PointsRedeemed", 150),
        ("redeem_cancel", 150, {"status": "voided"}, "RedemptionCancelled", 150),
        ("adjust", -40, {"reason": "typo"}, "PointsAdjusted", -40),
        ("expire", -90, {"months": {"2026-02": 90}}, "PointsExpired", 90),
    ],
)
def test_each_entry_type_publishes_its_event(
    type_: str, points: int, details: dict[str, Any], detail_type: str, shown: int
) -> None:
    got_type, detail = one(Change("INSERT", "entry", None, entry(type_, points, details=details)))
    assert got_type == detail_type
    assert detail["version"] == 1
    assert (detail["event_id"], detail["member_id"], detail["sequence"]) == (f"le_{type_}", "m-1", 7)
    assert (detail["points"], detail["change"], detail["balance"]) == (shown, points, 500)
    assert detail["occurred_at"] == "2026-03-14T10:00:00Z"
    assert events.DETAIL_TYPES[detail_type].model_validate(detail)  # the published schema holds


def test_event_specific_fields() -> None:
    assert (
        one(Change("INSERT", "entry", None, entry("bonus", 20, details={"activity": "review"})))[1]["reason"]
        == "review"
    )
    redeemed = one(
        Change("INSERT", "entry", None, entry("redeem", -150, reference="red-1", details={"reward_id": "coffee"}))
    )[1]
    assert (redeemed["redemption_id"], redeemed["reward_id"], redeemed["status"]) == ("red-1", "coffee", "completed")
    reversed_ = one(
        Change("INSERT", "entry", None, entry("reversal", -60, reference="rf-1", details={"order_id": "o-1"}))
    )[1]
    assert (reversed_["refund_id"], reversed_["order_id"]) == ("rf-1", "o-1")
    expired = one(
        Change("INSERT", "entry", None, entry("expire", -90, reference="expiry:2026-03", buckets={"2026-02": 90}))
    )[1]
    assert (expired["period"], expired["months"]) == ("2026-03", {"2026-02": 90})


def test_the_signup_bonus_is_carried_by_member_enrolled() -> None:
    signup = entry("bonus", 100, details={"activity": "signup", "channel": "web"})
    assert events.events_for(Change("INSERT", "entry", None, signup)) == []
    kind, detail = one(
        Change("INSERT", "member", None, member(version=1, entries=1, available=100, lifetime_earned=100))
    )
    assert kind == "MemberEnrolled"
    assert (detail["signup_bonus"], detail["balance"], detail["tier"], detail["sequence"]) == (100, 100, "red", 1)
    assert "email" not in detail


def test_a_tier_change_publishes_tier_changed_with_direction() -> None:
    demo = bundled_program("demo")
    old = member()
    new = member(
        version=4,
        tier_id="silver",
        tier_reason="evaluation",
        tier_change={
            "from": "red",
            "to": "silver",
            "reason": "evaluation",
            "as_of": "2026-04-01",
            "source": "qualified",
        },
    )
    found = events.events_for(Change("MODIFY", "member", old, new), demo)
    assert [e.detail_type for e in found] == ["TierChanged"]
    detail = found[0].detail_json()
    assert (detail["from"], detail["to"], detail["direction"]) == ("red", "silver", "upgrade")
    assert (detail["reason"], detail["as_of"], detail["source"]) == ("evaluation", "2026-04-01", "qualified")
    down = events.events_for(Change("MODIFY", "member", new, member(version=5, tier_id="red")), demo)
    assert down[0].detail_json()["direction"] == "downgrade"
    assert events.events_for(Change("MODIFY", "member", old, member(version=4, available=10)), demo) == []
    # the same change redelivered: the same event id
    assert events.events_for(Change("MODIFY", "member", old, new), demo)[0].event_id == found[0].event_id
    measures = outbox.effects(Change("MODIFY", "member", old, new), demo).measures
    assert ("TierUpgrades", 1) in measures


def test_an_expiry_warning_item_publishes_points_expiring_soon() -> None:
    warning = ExpiryWarning.model_validate(
        {"member_id": "m-1", "month": "2027-03", "points": 120, "as_of": "2027-03-01", "run_id": "r1", "kind": "x"}
    )
    kind, detail = one(Change("INSERT", "expiry_warning", None, warning))
    assert kind == "PointsExpiringSoon"
    assert (detail["month"], detail["points"], detail["period"]) == ("2027-03", 120, "2027-03")


def test_liability_deltas_follow_the_member_images() -> None:
    old = member(buckets={"2027-03": 150}, held=0)
    new = member(buckets={"2027-03": 50, "2027-04": 30}, held=100, available=80)
    assert liability.deltas(old, new) == {"2027-03": -100, "2027-04": 30, "HELD": 100}
    assert liability.deltas(None, old) == {"2027-03": 150}
    assert liability.deltas(old, old) == {}


def test_the_report_values_points_at_the_point_value() -> None:
    counters = {"2027-04": 30, "never": 5, "2027-03": 120, "HELD": 500, "2027-05": 0}
    report = liability.report(counters, bundled_program("demo"), WHEN)
    assert [r["month"] for r in report["by_expiry_month"]] == ["2027-03", "2027-04", "never"]
    assert report["outstanding"] == {"points": 155, "value": "1.55"}
    assert report["held"] == {"points": 500, "value": "5.00"}
    assert report["pending"] == {"points": 0, "value": "0.00"}


def test_events_doc_is_current() -> None:
    assert events_doc.TARGET.read_text(encoding="utf-8") == events_doc.render(), (
        "docs/events.md is out of date: run python -m loyalty_local.events_doc"
    )
