"""The monthly jobs over HTTP on the local stack: /_local/jobs/<job> with a set clock."""

from __future__ import annotations

import uuid

from tests.support.http import ADMIN


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_a_job_refuses_an_as_of_later_than_now(api):
    api.set_clock("2026-05-10T12:00:00Z")
    for job in ("tier-evaluation", "expiry"):
        answer = api.post(f"/_local/jobs/{job}", {"as_of": "2026-05-11"}, key=None)
        assert answer.status == 422
        assert answer.json["error"]["code"] == "validation_error"
        assert answer.json["error"]["details"][0]["field"] == "as_of"


def test_adjusted_points_expire_thirteen_months_later_once(api):
    member_id = unique("e2e-exp")
    api.set_clock("2026-01-15T10:00:00Z")
    api.enroll(member_id)  # 100 signup points, expiring at the end of 2027-01
    body = {"adjustment_id": "adj-1", "points": 200, "reason": "goodwill"}
    assert api.post(f"/v1/members/{member_id}/adjustments", body, key=ADMIN).status == 201

    api.set_clock("2027-02-01T00:30:00Z")
    first = api.post("/_local/jobs/expiry", {"as_of": "2027-02-01"}, key=None)
    assert first.status == 200
    assert first.json["job"] == "expiry" and first.json["as_of"] == "2027-02-01"
    assert first.json["members_affected"] >= 1 and first.json["points_expired"] >= 300

    member = api.get(f"/v1/members/{member_id}").json
    assert member["points"]["available"] == 0
    assert member["points"]["lifetime_expired"] == 300
    assert member["expiring"] == []
    entries = api.get(f"/v1/members/{member_id}/ledger").json["entries"]
    newest = entries[0]
    assert (newest["type"], newest["points"], newest["balance_after"]) == ("expire", -300, 0)

    again = api.post("/_local/jobs/expiry", {"as_of": "2027-02-01"}, key=None)
    assert again.status == 200
    assert api.get(f"/v1/members/{member_id}").json["points"]["lifetime_expired"] == 300
    entries = api.get(f"/v1/members/{member_id}/ledger").json["entries"]
    assert [e["type"] for e in entries].count("expire") == 1


def test_tier_evaluation_moves_a_silver_member_down_once_a_year_later(api):
    member_id = unique("e2e-tier")
    api.set_clock("2026-01-15T10:00:00Z")
    api.enroll(member_id)
    earn = {"member_id": member_id, "order_id": "o-1", "amount": "1200.00", "currency": "USD"}
    assert api.post("/v1/earn", earn).status == 201
    assert api.get(f"/v1/members/{member_id}").json["tier"]["id"] == "silver"

    api.set_clock("2027-03-01T01:30:00Z")  # the window 2026-03 … 2027-02 holds nothing
    first = api.post("/_local/jobs/tier-evaluation", {"as_of": "2027-03-01"}, key=None)
    assert first.status == 200
    assert set(first.json) == {"job", "as_of", "members_evaluated", "upgraded", "downgraded", "unchanged"} | {
        f"accounts_{figure}" for figure in ("evaluated", "upgraded", "downgraded", "unchanged")
    }
    assert first.json["downgraded"] >= 1
    tier = api.get(f"/v1/members/{member_id}").json["tier"]
    assert (tier["id"], tier["source"], tier["since"]) == ("red", "qualified", "2027-03-01T00:00:00Z")

    again = api.post("/_local/jobs/tier-evaluation", {"as_of": "2027-03-01"}, key=None).json
    assert (again["upgraded"], again["downgraded"]) == (0, 0)
    assert api.get(f"/v1/members/{member_id}").json["tier"]["id"] == "red"


def test_a_paid_tier_over_http(api):
    member_id = unique("e2e-paid")
    api.set_clock("2026-06-01T09:00:00Z")
    api.enroll(member_id)
    body = {"subscription_id": "sub-1", "tier_id": "gold", "months": 2}
    first = api.post(f"/v1/members/{member_id}/subscriptions", body, key=ADMIN)
    assert first.status == 201 and first.json["ends_at"] == "2026-08-01T09:00:00Z"
    again = api.post(f"/v1/members/{member_id}/subscriptions", body, key=ADMIN)
    assert again.status == 200 and again.raw == first.raw and again.headers["Idempotent-Replayed"] == "true"
    assert api.get(f"/v1/members/{member_id}").json["tier"]["source"] == "paid"
    assert api.post(f"/v1/members/{member_id}/subscriptions", body).status == 403  # checkout key: no admin
