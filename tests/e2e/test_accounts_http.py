"""Accounts over HTTP against the local stack (CONTRACT.md v1.2): the worked example as a client sends it,
and twenty tills earning into one pool at once."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.support.http import ADMIN


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def pool_ledger(api: Any, account_id: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = api.get(f"/v1/accounts/{account_id}/ledger?limit=100{cursor}").json
        entries.extend(page["entries"])
        if not page["next_cursor"]:
            return entries
        cursor = f"&cursor={page['next_cursor']}"


def test_the_worked_example_over_http(api: Any) -> None:
    acme, b1, b2, b3 = unique("acme"), unique("b1"), unique("b2"), unique("b3")
    company = {"account_id": acme, "kind": "company", "name": "Acme Ltd", "member_share_percent": 10}
    created = api.post("/v1/accounts", company, key=ADMIN)
    assert created.status == 201, created.raw
    again = api.post("/v1/accounts", company, key=ADMIN)
    assert (again.status, again.raw, again.headers.get("Idempotent-Replayed")) == (200, created.raw, "true")
    assert api.post("/v1/accounts", company).status == 403  # the checkout's key is not an administrator's
    for member_id, role in ((b1, "owner"), (b2, "buyer"), (b3, "contributor")):
        api.enroll(member_id)
        joined = api.post(f"/v1/accounts/{acme}/members", {"member_id": member_id, "role": role}, key=ADMIN)
        assert joined.status == 200, joined.raw

    def earn(member_id: str, amount: str) -> dict[str, Any]:
        order = {"member_id": member_id, "order_id": unique("o"), "amount": amount, "currency": "USD"}
        answer = api.post("/v1/earn", order)
        assert answer.status == 201, answer.raw
        return dict(answer.json)

    one = earn(b1, "120.00")
    assert (one["points"], one["balance"], one["account"]) == (
        120,
        112,
        {"account_id": acme, "points": 108, "balance": 108},
    )
    two = earn(b2, "1000.00")
    assert (two["points"], two["balance"], two["account"]["points"], two["account"]["balance"]) == (
        1000,
        200,
        900,
        1008,
    )
    assert api.get(f"/v1/accounts/{acme}").json["tier"]["id"] == "silver"
    three = earn(b3, "100.00")
    assert three["breakdown"] == [{"rule": "base", "points": 100}, {"rule": "tier:silver", "points": 50}]
    assert (three["balance"], three["account"]["points"], three["account"]["balance"]) == (115, 135, 1143)

    paid = api.post(
        "/v1/redemptions", {"redemption_id": unique("p"), "member_id": b1, "points": 500, "account_id": acme}
    )
    assert (paid.status, paid.json["balance"]) == (201, 643)
    refused = api.post(
        "/v1/redemptions", {"redemption_id": unique("p"), "member_id": b3, "points": 500, "account_id": acme}
    )
    assert (refused.status, refused.json["error"]["code"]) == (403, "forbidden")

    order_2 = two["order_id"]
    refund = {"member_id": b2, "order_id": order_2, "refund_id": unique("r"), "amount": "500.00"}
    refunded = api.post("/v1/refunds", refund)
    assert refunded.status == 201, refunded.raw
    assert (refunded.json["points"], refunded.json["balance"], refunded.json["account"]["balance"]) == (-500, 150, 193)

    view = api.get(f"/v1/accounts/{acme}").json
    assert (view["points"]["available"], view["qualifying"]["value"], view["tier"]["id"]) == (193, 720, "silver")
    by_member = {m["member_id"]: (m["role"], m["contributed"], m["spent"]) for m in view["members"]}
    assert by_member == {b1: ("owner", 108, 500), b2: ("buyer", 450, 0), b3: ("contributor", 135, 0)}
    entries = pool_ledger(api, acme)
    assert sum(e["points"] for e in entries) == 193 and entries[0]["balance_after"] == 193
    assert {e["details"]["member_id"] for e in entries} == {b1, b2, b3}


def test_twenty_tills_earn_into_one_pool_at_once(api: Any) -> None:
    """The contract's throughput rule: 20 clients for one account all answer 201 (never a 5xx, never a conflict);
    the pool's balance equals its ledger's sum and the sum of the pool parts answered."""
    pool, tills = unique("hot"), [unique("till") for _ in range(20)]
    company = {"account_id": pool, "kind": "company", "name": "Hot Ltd", "member_share_percent": 10}
    assert api.post("/v1/accounts", company, key=ADMIN).status == 201
    for till in tills:
        api.enroll(till)
        assert api.post(f"/v1/accounts/{pool}/members", {"member_id": till, "role": "buyer"}, key=ADMIN).status == 200

    def send(index: int) -> tuple[int, dict[str, Any]]:
        order = {"member_id": tills[index % 20], "order_id": f"{pool}-{index}", "amount": "15.00", "currency": "USD"}
        answer = api.post("/v1/earn", order, timeout=120)
        return answer.status, answer.json

    with ThreadPoolExecutor(max_workers=20) as workers:
        answers = list(workers.map(send, range(60)))
    assert sorted({status for status, _ in answers}) == [201], [body for status, body in answers if status != 201]
    parts = sum(body["account"]["points"] for _, body in answers)
    assert parts == 60 * (15 - 1)  # 15 points an order: 1 to the member, 14 to the pool (900 in all: still red)
    view = api.get(f"/v1/accounts/{pool}").json
    entries = pool_ledger(api, pool)
    assert view["points"]["available"] == sum(e["points"] for e in entries) == parts
    assert sorted(e["balance_after"] for e in entries) == [14 * n for n in range(1, 61)]  # serial, none lost
