"""Domain events and the liability report over HTTP, on the local stack (stream → outbox → bus)."""

from __future__ import annotations

from tests.support.http import ADMIN


def test_enrol_and_adjust_publish_member_enrolled_and_points_adjusted(api):
    api.enroll("e2e-ev-1")
    body = {"adjustment_id": "adj-ev-1", "points": 25, "reason": "goodwill"}
    assert api.post("/v1/members/e2e-ev-1/adjustments", body, key=ADMIN).status == 201

    # right after the writes: the local stack drains the table stream before it answers
    enrolled = api.get("/_local/events?detail_type=MemberEnrolled", key=None).json["events"]
    mine = [e for e in enrolled if e["detail"]["member_id"] == "e2e-ev-1"]
    assert len(mine) == 1
    assert mine[0]["detail"]["signup_bonus"] == 100 and mine[0]["detail"]["version"] == 1

    adjusted = api.get("/_local/events?detail_type=PointsAdjusted", key=None).json["events"]
    mine = [e["detail"] for e in adjusted if e["detail"]["member_id"] == "e2e-ev-1"]
    assert [(d["points"], d["balance"], d["adjustment_id"]) for d in mine] == [(25, 125, "adj-ev-1")]

    # a replayed adjustment writes nothing, so publishes nothing
    assert api.post("/v1/members/e2e-ev-1/adjustments", body, key=ADMIN).status == 200
    adjusted = api.get("/_local/events?detail_type=PointsAdjusted", key=None).json["events"]
    assert len([e for e in adjusted if e["detail"]["member_id"] == "e2e-ev-1"]) == 1


def test_liability_report_counts_committed_points(api):
    before = api.get("/v1/reports/liability", key=ADMIN)
    assert before.status == 200
    api.enroll("e2e-liab-1")
    api.get("/_local/events", key=None)  # lets the outbox catch up (it also runs in the background)
    after = api.get("/v1/reports/liability", key=ADMIN).json
    assert after["outstanding"]["points"] == before.json["outstanding"]["points"] + 100
    assert after["currency"] == "USD" and after["point_value"] == "0.01"
    assert api.get("/v1/reports/liability").status == 403  # the checkout key lacks `admin`
