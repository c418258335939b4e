from __future__ import annotations

import json
import uuid


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def order(member_id: str, amount: str = "120.00", **extra: object) -> dict:
    return {"member_id": member_id, "order_id": unique("order"), "amount": amount, "currency": "USD", **extra}


def test_earn_replay_preview_refund_and_activity_over_http(api):
    member_id = unique("e2e-earn")
    api.enroll(member_id)
    body = order(member_id)
    first = api.post("/v1/earn", body)
    assert first.status == 201
    assert first.json["points"] == 120 and first.json["balance"] == 220
    assert first.json["breakdown"] == [{"rule": "base", "points": 120}]
    again = api.post("/v1/earn", body)
    assert again.status == 200 and again.raw == first.raw
    assert again.headers.get("Idempotent-Replayed") == "true"

    looked = api.post("/v1/earn/preview", order(member_id, "80.00"))
    assert looked.status == 200 and "entry_id" not in looked.json
    assert looked.json["points"] == 80 and looked.json["balance"] == 300
    assert api.get(f"/v1/members/{member_id}").json["points"]["available"] == 220

    refund_id = unique("r")
    refund = {"member_id": member_id, "order_id": body["order_id"], "refund_id": refund_id, "amount": "40.00"}
    back = api.post("/v1/refunds", refund)
    assert back.status == 201
    assert back.json == {"refund_id": refund_id, "order_id": body["order_id"], "points": -40, "balance": 180}

    review = api.post("/v1/activities", {"member_id": member_id, "activity_id": unique("rev"), "type": "review"})
    assert review.status == 201 and review.json["points"] == 20 and review.json["balance"] == 200
    ledger = api.get(f"/v1/members/{member_id}/ledger").json["entries"]
    lines = [(e["type"], e["points"]) for e in ledger]
    assert lines == [("bonus", 20), ("reversal", -40), ("earn", 120), ("bonus", 100)]


def test_the_december_campaign_by_the_local_clock(api):
    api.set_clock("2026-12-10T12:00:00Z")
    member_id = unique("e2e-dec")
    api.enroll(member_id)
    items = [
        {"sku": "tv", "category": "electronics", "amount": "100.00", "quantity": 1},
        {"sku": "gc", "category": "gift-cards", "amount": "20.00", "quantity": 1},
    ]
    answer = api.post("/v1/earn", order(member_id, items=items))
    assert answer.status == 201
    assert answer.json["breakdown"] == [
        {"rule": "base", "points": 100},
        {"rule": "campaign:holiday-electronics", "points": 10},
    ]
    assert answer.json["points"] == 110


def test_validation_errors_have_the_contract_shape(api):
    member_id = unique("e2e-bad")
    api.enroll(member_id)
    cases = [
        ({**order(member_id), "amount": 120.0}, "amount"),
        (order(member_id, "-5.00"), "amount"),
        (order(member_id, currency="XYZ"), "currency"),
    ]
    for body, field in cases:
        answer = api.request("POST", "/v1/earn", raw=json.dumps(body).encode())
        assert answer.status == 422, body
        error = answer.json["error"]
        assert error["code"] == "validation_error" and error["message"] and error["request_id"]
        assert field in [d["field"] for d in error["details"]]
    assert len(api.get(f"/v1/members/{member_id}/ledger").json["entries"]) == 1
    answer = api.post("/v1/activities", {"member_id": member_id, "activity_id": "a", "type": "selfie"})
    assert answer.status == 422 and answer.json["error"]["details"][0]["field"] == "type"


def test_the_pending_activation_job_runs_on_the_local_stack(api):
    answer = api.post("/_local/jobs/pending-activation", {"as_of": "2026-01-15"}, key=None)
    assert answer.status == 200
    assert answer.json == {
        "job": "pending-activation",
        "as_of": "2026-01-15",
        "members_activated": 0,
        "points_activated": 0,
    }
