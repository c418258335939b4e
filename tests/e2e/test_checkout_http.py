"""Checkout over HTTP against the local stack: the contract's worked example to the cent, the till's
session (quote while scanning, order at payment, a retry, a return), as a till integrator would see it."""

from __future__ import annotations

import uuid

from tests.support.http import ADMIN, Client

LATTE = {"sku": "latte", "category": "drinks", "amount": "4.50", "quantity": 1}
SANDWICH = {"sku": "sandwich", "category": "food", "amount": "8.00", "quantity": 1}
GIFT_CARD = {"sku": "gift-card", "category": "gift-cards", "amount": "25.00", "quantity": 1}


def silver_member_with_932_points(api: Client) -> str:
    member_id = f"e2e-co-{uuid.uuid4().hex[:8]}"
    api.enroll(member_id, channel="pos")  # 100 signup points
    first = api.post(
        "/v1/earn", {"member_id": member_id, "order_id": f"{member_id}-o0", "amount": "1000.00", "currency": "USD"}
    )
    assert first.status == 201 and first.json["tier"]["id"] == "silver", first.raw
    less = {"adjustment_id": "to-932", "points": -168, "reason": "the contract's member"}
    assert api.post(f"/v1/members/{member_id}/adjustments", less, key=ADMIN).status == 201
    return member_id


def test_the_contracts_worked_example_over_http(api: Client) -> None:
    member_id = silver_member_with_932_points(api)
    basket = {
        "member_id": member_id,
        "currency": "USD",
        "items": [LATTE, SANDWICH, GIFT_CARD],
        "rewards": ["free-drink"],
        "points": 500,
    }
    quoted = api.post("/v1/checkout/quote", basket)
    assert quoted.status == 200, quoted.raw
    body = quoted.json
    assert body["tier"]["id"] == "silver"
    assert {k: v for k, v in body.items() if k != "tier"} == {
        "member_id": member_id,
        "subtotal": "37.50",
        "discounts": [
            {"rule": "reward:free-drink", "amount": "4.50", "sku": "latte"},
            {"rule": "tier:silver", "amount": "0.40", "sku": "sandwich"},
        ],
        "discount_total": "4.90",
        "points_payment": {"points": 500, "amount": "5.00"},
        "total": "27.60",
        "points": 3,
        "breakdown": [{"rule": "base", "points": 2}, {"rule": "tier:silver", "points": 1}],
        "balance": 135,
        "rewards_available": [
            {"reward_id": "free-drink", "name": "Free drink", "points": 300, "eligible": True, "affordable": True}
        ],
        "max_points_payable": 600,
    }

    paid = api.post("/v1/checkout/orders", {**basket, "order_id": f"{member_id}-till-1"})
    assert paid.status == 201, paid.raw
    placed = paid.json
    assert placed["order_id"] == f"{member_id}-till-1" and len(placed["entry_ids"]) == 3
    assert {k: v for k, v in placed.items() if k not in ("order_id", "entry_ids")} == body
    retried = api.post("/v1/checkout/orders", {**basket, "order_id": f"{member_id}-till-1"})
    assert retried.status == 200 and retried.headers.get("Idempotent-Replayed") == "true"
    assert retried.raw == paid.raw

    seen = api.get(f"/v1/members/{member_id}").json
    assert seen["points"]["available"] == 135 and seen["points"]["lifetime_redeemed"] == 800

    # the customer brings half back: a refund of 13.80 of the 27.60 paid
    refund = {"member_id": member_id, "order_id": f"{member_id}-till-1", "refund_id": f"{member_id}-r1"}
    back = api.post("/v1/refunds", {**refund, "amount": "13.80"})
    assert back.status == 201, back.raw
    assert back.json == {
        "refund_id": f"{member_id}-r1",
        "order_id": f"{member_id}-till-1",
        "points": 399,
        "reversed": -1,
        "restored": 400,
        "balance": 534,
    }
    entries = api.get(f"/v1/members/{member_id}/ledger?limit=5").json["entries"]
    assert [(e["type"], e["points"]) for e in entries[:5]] == [
        ("redeem_cancel", 400),
        ("reversal", -1),
        ("earn", 3),
        ("redeem", -500),
        ("redeem", -300),
    ]


def test_a_till_gets_the_contracts_errors_over_http(api: Client) -> None:
    member_id = silver_member_with_932_points(api)
    basket = {"member_id": member_id, "currency": "USD", "items": [SANDWICH]}
    cases = [
        ({**basket, "rewards": ["free-drink"]}, 422, "reward_not_eligible"),
        ({**basket, "rewards": ["coffee"]}, 422, "validation_error"),
        ({**basket, "rewards": ["nope"]}, 404, "reward_not_found"),
        ({**basket, "points": 900}, 422, "validation_error"),
        ({**basket, "items": [GIFT_CARD], "points": 1000}, 409, "insufficient_points"),
        ({**basket, "member_id": "e2e-co-nobody"}, 404, "member_not_found"),
        ({**basket, "lookup": {"card_id": "card-1"}}, 422, "validation_error"),
    ]
    for body, status, code in cases:
        for path, extra in (("/v1/checkout/quote", {}), ("/v1/checkout/orders", {"order_id": f"{member_id}-x"})):
            answer = api.post(path, {**body, **extra})
            assert (answer.status, answer.json["error"]["code"]) == (status, code), (path, body, answer.raw)
    assert api.get(f"/v1/members/{member_id}").json["points"]["available"] == 932


def test_a_till_retrying_after_the_customer_changed_the_phone_gets_its_order_back(api: Client) -> None:
    """Issue 30, defect 8: the retry answered `409 idempotency_conflict` "used for another customer", and an
    unaffordable reward "0 points asked for, 0 left after the rewards"."""
    member_id = silver_member_with_932_points(api)
    suffix = f"{int(uuid.uuid4().hex[:8], 16) % 10**8:08d}"
    old, new = f"+1415{suffix}", f"+1416{suffix}"
    assert api.request("PATCH", f"/v1/members/{member_id}", {"phone": old}).status == 200
    order = {"lookup": {"phone": old}, "order_id": f"{member_id}-till-1", "currency": "USD", "items": [SANDWICH]}
    paid = api.post("/v1/checkout/orders", order)
    assert paid.status == 201, paid.raw
    assert api.request("PATCH", f"/v1/members/{member_id}", {"phone": new}).status == 200
    retried = api.post("/v1/checkout/orders", order)
    assert (retried.status, retried.raw) == (200, paid.raw)
    assert retried.headers.get("Idempotent-Replayed") == "true"

    items = [LATTE, GIFT_CARD]
    greedy = {"member_id": member_id, "currency": "USD", "items": items, "rewards": ["free-drink"], "points": 700}
    refused = api.post("/v1/checkout/quote", greedy)
    assert refused.status == 409, refused.raw
    assert refused.json["error"]["message"] == "700 points asked for, 642 left after the rewards"
