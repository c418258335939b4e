"""Concurrency over HTTP against the local stack: the ledger never loses or invents a point.
Prints its figures at the end (requests sent, violations found)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from concurrent.futures import ThreadPoolExecutor

FIGURES = {"requests": 0, "violations": 0}


def ledger_of(api, member_id: str) -> list[dict]:
    entries: list[dict] = []
    cursor = ""
    while True:
        page = api.get(f"/v1/members/{member_id}/ledger?limit=100{cursor}").json
        entries.extend(page["entries"])
        if not page["next_cursor"]:
            return entries
        cursor = f"&cursor={page['next_cursor']}"


def check_invariants(api, member_id: str) -> dict:
    member = api.get(f"/v1/members/{member_id}").json
    entries = ledger_of(api, member_id)
    points = member["points"]
    ok = (
        points["available"] == sum(e["points"] for e in entries)
        and points["available"] == points["lifetime_earned"] - points["lifetime_redeemed"] - points["lifetime_expired"]
        and (points["available"] < 0 or sum(b["points"] for b in member["expiring"]) == points["available"])
        and entries[0]["balance_after"] == points["available"]
    )
    FIGURES["violations"] += 0 if ok else 1
    assert ok, (member, [(e["type"], e["points"]) for e in entries])
    return member


def test_parallel_duplicate_earns_make_one_entry_and_answer_the_same_body(api):
    api.enroll("cc-dup")
    body = {"member_id": "cc-dup", "order_id": "cc-dup-o1", "amount": "250.00", "currency": "USD"}

    def send(_: int):
        answer = api.post("/v1/earn", body, timeout=120)
        return answer.status, answer.json

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(send, range(12)))
    FIGURES["requests"] += len(answers)
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * 11 + [201]
    assert len({json.dumps(b, sort_keys=True) for _, b in answers}) == 1
    entries = ledger_of(api, "cc-dup")
    assert [e["type"] for e in entries].count("earn") == 1
    check_invariants(api, "cc-dup")


def test_parallel_earn_redeem_and_refund_on_one_member_keep_the_invariants(api):
    api.enroll("cc-mix")
    for i in range(3):
        order = {"member_id": "cc-mix", "order_id": f"cc-mix-base-{i}", "amount": "300.00", "currency": "USD"}
        assert api.post("/v1/earn", order).status == 201

    def partner_redeem(i: int) -> int:
        raw = json.dumps({"redemption_id": f"cc-mix-r{i}", "member_id": "cc-mix", "reward_id": "coffee"}).encode()
        t = str(int(time.time()))
        sig = hmac.new(b"demo-partner-secret", t.encode() + b"." + raw, hashlib.sha256).hexdigest()
        headers = {"Loyalty-Signature": f"t={t},v1={sig}"}
        return api.request(
            "POST", "/v1/partners/demo-partner/redemptions", raw=raw, key=None, headers=headers, timeout=120
        ).status

    def operation(i: int) -> int:
        kind = i % 4
        if kind == 0:
            order = {"member_id": "cc-mix", "order_id": f"cc-mix-o{i}", "amount": "40.00", "currency": "USD"}
            return api.post("/v1/earn", order, timeout=120).status
        if kind == 1:
            return partner_redeem(i)
        if kind == 2:
            refund = {
                "member_id": "cc-mix",
                "order_id": f"cc-mix-base-{i % 3}",
                "refund_id": f"cc-mix-f{i}",
                "amount": "30.00",
            }
            return api.post("/v1/refunds", refund, timeout=120).status
        pay = {"redemption_id": f"cc-mix-p{i}", "member_id": "cc-mix", "points": 100, "capture": i % 8 == 3}
        return api.post("/v1/redemptions", pay, timeout=120).status

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(operation, range(36)))
    FIGURES["requests"] += len(statuses)
    assert set(statuses) <= {201, 409}, statuses  # a refused redemption is 409 insufficient_points
    check_invariants(api, "cc-mix")


def test_print_figures():
    print(f"\nconcurrency over HTTP: {FIGURES['requests']} requests, {FIGURES['violations']} violations")
    assert FIGURES["violations"] == 0
