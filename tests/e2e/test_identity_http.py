"""Identity and lifecycle over HTTP, as a till and a back office use them (CONTRACT.md, Members)."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.support.http import ADMIN, Client, LocalStackProcess


def unique() -> tuple[str, str]:
    """A member id and a phone number no other test of the stack uses."""
    n = uuid.uuid4().int
    return f"till-{n % 10**12}", f"+1{n % 10**10:010d}"


def test_a_till_finds_or_enrols_a_walk_in_customer(api: Client):
    member_id, phone = unique()
    card = f"card-{member_id}"
    missing = api.post("/v1/members/lookup", {"phone": phone})
    assert missing.status == 404 and missing.json["error"]["code"] == "member_not_found"

    enrol = {"member_id": member_id, "channel": "pos", "phone": phone, "card_id": card, "name": "Walk In"}
    created = api.post("/v1/members", enrol)
    assert created.status == 201, created.raw
    assert created.json["profile"]["card_id"] == card
    # the till timed out and sends the same enrolment again: the first answer, not a 409
    again = api.post("/v1/members", enrol)
    assert again.status == 200 and again.headers["Idempotent-Replayed"] == "true" and again.raw == created.raw

    by_card = api.post("/v1/members/lookup", {"card_id": card})
    assert by_card.status == 200 and by_card.json["member_id"] == member_id
    earned = api.post(
        "/v1/earn", {"member_id": member_id, "order_id": f"o-{member_id}", "amount": "12.00", "currency": "USD"}
    )
    assert earned.status == 201 and earned.json["balance"] == 112
    assert api.post("/v1/members/lookup", {"phone": phone}).json["points"]["available"] == 112

    moved = api.request("PATCH", f"/v1/members/{member_id}", {"email": f"{member_id}@Example.com"})
    assert moved.status == 200 and moved.json["profile"]["email"] == f"{member_id}@Example.com"
    found = api.post("/v1/members/lookup", {"email": f"{member_id}@example.COM"})
    assert found.status == 200 and found.json["member_id"] == member_id


def test_a_till_session_from_an_unknown_phone_to_a_return(api: Client):
    """Lookup by phone: not found; enrol with phone and card at the till; quote; order with a reward and
    points; lookup by card; refund half; the points spent come back in proportion."""
    member_id, phone = unique()
    card = f"card-{member_id}"
    assert api.post("/v1/members/lookup", {"phone": phone}).status == 404
    assert (
        api.post("/v1/members", {"member_id": member_id, "channel": "pos", "phone": phone, "card_id": card}).status
        == 201
    )
    gift = {"adjustment_id": "welcome", "points": 800, "reason": "till opening offer"}
    assert api.post(f"/v1/members/{member_id}/adjustments", gift, key=ADMIN).status == 201  # 900 points
    basket = {
        "lookup": {"phone": phone},
        "currency": "USD",
        "items": [
            {"sku": "latte", "category": "drinks", "amount": "4.50", "quantity": 1},
            {"sku": "bagel", "category": "food", "amount": "10.00", "quantity": 1},
        ],
        "rewards": ["free-drink"],
        "points": 500,
    }
    quoted = api.post("/v1/checkout/quote", basket)
    assert quoted.status == 200, quoted.raw
    q = quoted.json
    assert q["member_id"] == member_id and q["discounts"] == [
        {"rule": "reward:free-drink", "amount": "4.50", "sku": "latte"}
    ]
    assert (q["points_payment"], q["total"], q["points"], q["balance"]) == (
        {"points": 500, "amount": "5.00"},
        "5.00",
        5,
        105,
    )
    placed = api.post("/v1/checkout/orders", {**basket, "order_id": f"till-{member_id}"})
    assert placed.status == 201, placed.raw
    assert {k: v for k, v in placed.json.items() if k not in ("order_id", "entry_ids")} == q

    by_card = api.post("/v1/members/lookup", {"card_id": card})
    assert by_card.status == 200 and by_card.json["points"]["available"] == 105
    refund = {
        "member_id": member_id,
        "order_id": f"till-{member_id}",
        "refund_id": f"ret-{member_id}",
        "amount": "2.50",
    }
    returned = api.post("/v1/refunds", refund)
    assert returned.status == 201, returned.raw
    # half of the 5.00 paid: floor(5 x 1/2) = 2 earned points back out, floor(800 x 1/2) = 400 spent points in
    assert (returned.json["reversed"], returned.json["restored"], returned.json["points"]) == (-2, 400, 398)
    assert returned.json["balance"] == 503
    assert api.get(f"/v1/members/{member_id}").json["points"]["available"] == 503


def test_two_tills_enrolling_one_phone_at_once_give_one_member(api: Client):
    _, phone = unique()
    ids = [unique()[0] for _ in range(8)]

    def enrol(member_id: str) -> tuple[int, Any]:
        answer = api.post("/v1/members", {"member_id": member_id, "channel": "pos", "phone": phone}, timeout=120)
        return answer.status, answer.json

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(enrol, ids))
    created = [i for i, (status, _) in zip(ids, answers, strict=True) if status == 201]
    assert len(created) == 1, answers
    refused = [body["error"]["code"] for status, body in answers if status != 201]
    assert refused == ["identifier_in_use"] * 7
    assert api.post("/v1/members/lookup", {"phone": phone}).json["member_id"] == created[0]
    for member_id in ids:
        if member_id not in created:
            assert api.get(f"/v1/members/{member_id}").status == 404


def test_suspend_close_and_erase_from_the_back_office(api: Client, stack: LocalStackProcess):
    member_id, phone = unique()
    email, name, card = f"{member_id}@example.com", f"Name {member_id}", f"card-{member_id}"
    personal = [email, name, phone, card, "1985-07-14"]
    api.enroll(member_id, email=email, name=name, phone=phone, card_id=card, birth_date="1985-07-14")
    api.post("/v1/earn", {"member_id": member_id, "order_id": f"o-{member_id}", "amount": "30.00", "currency": "USD"})

    suspended = api.post(f"/v1/members/{member_id}/status", {"status": "suspended", "reason": "fraud check"}, key=ADMIN)
    assert suspended.status == 200 and suspended.json["status"] == "suspended"
    refused = api.post(
        "/v1/earn", {"member_id": member_id, "order_id": "o2-" + member_id, "amount": "5.00", "currency": "USD"}
    )
    assert refused.status == 409 and refused.json["error"]["code"] == "member_inactive"
    assert (
        api.post(f"/v1/members/{member_id}/status", {"status": "active", "reason": "cleared"}, key=ADMIN).status == 200
    )

    erased = api.request("DELETE", f"/v1/members/{member_id}", key=ADMIN)
    assert erased.status == 200, erased.raw
    assert erased.json["status"] == "closed" and set(erased.json["profile"].values()) == {None}
    assert erased.json["points"]["available"] == 0
    export = api.get(f"/v1/members/{member_id}/export", key=ADMIN).json
    assert [e["type"] for e in export["ledger"]] == ["bonus", "earn", "adjust"]
    assert sum(e["points"] for e in export["ledger"]) == 0
    assert api.post("/v1/members/lookup", {"phone": phone}).status == 404

    held = json.dumps([i for i in stack.table_items() if member_id in json.dumps(i, default=str)], default=str)
    assert member_id in held  # the member and its ledger are still there...
    assert [p for p in personal if p in held] == []  # ...with no personal field left
    assert [p for p in personal if p in json.dumps(stack.table_items(), default=str)] == []
    events = api.get("/_local/events", key=None).json["events"]
    assert [p for p in personal if p in json.dumps(events)] == []  # domain events never carried them
    assert [e for e in events if e["detail"].get("member_id") == member_id]
