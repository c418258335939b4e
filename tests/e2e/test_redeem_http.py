from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from loyalty.redemption.signatures import header_value, sign

from tests.support.http import ADMIN, Answer, Client

DEMO = "demo-partner-secret"
OTHER = "other-partner-secret"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def member_with(api: Client, points: int) -> str:
    member_id = unique("e2e-rd")
    api.enroll(member_id)  # 100 signup points
    answer = api.post(
        f"/v1/members/{member_id}/adjustments",
        {"adjustment_id": "seed", "points": points - 100, "reason": "test points"},
        key=ADMIN,
    )
    assert answer.status == 201, answer.raw
    return member_id


def partner_post(
    api: Client,
    path: str,
    body: dict,
    *,
    secret: str = DEMO,
    signature: str | None = None,
    timeout: float = 30,
) -> Answer:
    raw = json.dumps(body).encode()
    header = signature if signature is not None else header_value(secret, int(time.time()), raw)
    return api.request("POST", path, key=None, raw=raw, headers={"Loyalty-Signature": header}, timeout=timeout)


def redemption(member_id: str, reward_id: str = "coffee", redemption_id: str | None = None) -> dict:
    return {"redemption_id": redemption_id or unique("r"), "member_id": member_id, "reward_id": reward_id}


REDEEM = "/v1/partners/demo-partner/redemptions"


def test_a_signed_redemption_and_its_cancel_over_http(api):
    member_id = member_with(api, 640)
    body = redemption(member_id, redemption_id="e2e-red-1-" + member_id)
    answer = partner_post(api, REDEEM, body)
    assert answer.status == 201, answer.raw
    assert answer.json == {
        "redemption_id": body["redemption_id"],
        "member_id": member_id,
        "reward_id": "coffee",
        "points": 150,
        "balance": 490,
        "status": "completed",
    }
    again = partner_post(api, REDEEM, body)
    assert again.status == 200 and again.raw == answer.raw and again.headers.get("Idempotent-Replayed") == "true"

    other = partner_post(
        api, f"/v1/partners/other-partner/redemptions/{body['redemption_id']}/cancel", {}, secret=OTHER
    )
    assert other.status == 404 and other.json["error"]["code"] == "redemption_not_found"

    cancel = partner_post(api, f"{REDEEM}/{body['redemption_id']}/cancel", {})
    assert cancel.status == 200, cancel.raw
    assert cancel.json == {"redemption_id": body["redemption_id"], "status": "cancelled", "points": 150, "balance": 640}
    assert partner_post(api, f"{REDEEM}/{body['redemption_id']}/cancel", {}).json == cancel.json
    assert api.get(f"/v1/members/{member_id}").json["points"]["available"] == 640


def test_bad_signatures_are_401_over_http(api):
    member_id = member_with(api, 640)
    body = redemption(member_id)
    raw = json.dumps(body).encode()
    now = int(time.time())
    refused = {
        "no header": None,
        "garbage": "garbage",
        "empty": "",
        "wrong secret": header_value("not-the-secret", now, raw),
        "stale": header_value(DEMO, now - 600, raw),
        "future": header_value(DEMO, now + 900, raw),
        "another partner's valid signature": header_value(OTHER, now, raw),
        "a different body": header_value(DEMO, now, raw + b" "),
    }
    for case, signature in refused.items():
        headers = {} if signature is None else {"Loyalty-Signature": signature}
        answer = api.request("POST", REDEEM, key=None, raw=raw, headers=headers)
        assert answer.status == 401, case
        assert answer.json["error"]["code"] == "invalid_signature", case
        assert DEMO not in answer.raw.decode()
    unknown = api.request(
        "POST",
        "/v1/partners/nobody/redemptions",
        key=None,
        raw=raw,
        headers={"Loyalty-Signature": header_value(DEMO, now, raw)},
    )
    assert unknown.status == 401 and unknown.json["error"]["code"] == "invalid_signature"
    # a bearer key is no substitute for the signature
    keyed = api.request("POST", REDEEM, key=ADMIN, raw=raw)
    assert keyed.status == 401 and keyed.json["error"]["code"] == "invalid_signature"
    assert api.get(f"/v1/members/{member_id}").json["points"]["available"] == 640


def test_a_rotation_may_send_two_v1_values(api):
    member_id = member_with(api, 640)
    raw = json.dumps(redemption(member_id, "free-item")).encode()
    now = int(time.time())
    # the partner is moving to a new secret we do not hold yet: it signs with both
    rotated = f"t={now},v1={sign('next-secret', now, raw)},v1={sign(DEMO, now, raw)}"
    answer = api.request("POST", REDEEM, key=None, raw=raw, headers={"Loyalty-Signature": rotated})
    assert answer.status == 201, answer.raw
    both_wrong = f"t={now},v1={sign('next-secret', now, raw)},v1={sign('older-secret', now, raw)}"
    answer = api.request("POST", REDEEM, key=None, raw=raw, headers={"Loyalty-Signature": both_wrong})
    assert answer.status == 401


def test_a_partner_may_not_redeem_another_partners_reward(api):
    member_id = member_with(api, 3000)
    answer = partner_post(api, REDEEM, redemption(member_id, "gift-card-25"))
    assert answer.status == 403 and answer.json["error"]["code"] == "forbidden"
    answer = partner_post(api, REDEEM, redemption(member_id, "lounge-pass"))
    assert answer.status == 422 and answer.json["error"]["code"] == "reward_not_eligible"
    assert api.get(f"/v1/members/{member_id}").json["points"]["available"] == 3000


def test_parallel_redemptions_never_overspend(api):
    member_id = member_with(api, 500)

    def attempt(i: int) -> Answer:
        # 20 writers on one member retry optimistically through a serialised emulator: allow them time
        return partner_post(api, REDEEM, redemption(member_id, "coffee", f"par-{i}-{member_id}"), timeout=120)

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(attempt, range(20)))
    statuses = sorted(a.status for a in answers)
    assert statuses == [201] * 3 + [409] * 17, [a.raw for a in answers if a.status not in (201, 409)]
    assert {a.json["error"]["code"] for a in answers if a.status == 409} == {"insufficient_points"}
    assert sorted(a.json["balance"] for a in answers if a.status == 201) == [50, 200, 350]

    member = api.get(f"/v1/members/{member_id}").json
    entries = api.get(f"/v1/members/{member_id}/ledger?limit=100").json["entries"]
    assert member["points"]["available"] == 50
    assert sum(e["points"] for e in entries) == member["points"]["available"]
    assert [e["type"] for e in entries].count("redeem") == 3
    assert all(e["balance_after"] >= 0 for e in entries)


def test_pay_with_points_hold_capture_void_and_release_over_http(api):
    member_id = member_with(api, 1000)
    pay = api.post("/v1/redemptions", {"redemption_id": unique("pwp"), "member_id": member_id, "points": 500})
    assert pay.status == 201 and pay.json["value"] == {"amount": "5.00", "currency": "USD"}
    assert pay.json["status"] == "completed" and pay.json["balance"] == 500
    bad = api.post("/v1/redemptions", {"redemption_id": unique("pwp"), "member_id": member_id, "points": 150})
    assert bad.status == 422 and bad.json["error"]["code"] == "validation_error"

    api.set_clock("2026-06-01T10:00:00Z")
    held, voided, expiring = unique("hold"), unique("hold"), unique("hold")
    balances = []
    for redemption_id in (held, voided, expiring):
        body = {"redemption_id": redemption_id, "member_id": member_id, "points": 100, "capture": False}
        answer = api.post("/v1/redemptions", body)
        assert answer.status == 201 and answer.json["status"] == "held", answer.raw
        balances.append(answer.json["balance"])
    assert balances == [400, 300, 200]
    assert api.post(f"/v1/redemptions/{held}/capture").json["status"] == "completed"
    void = api.post(f"/v1/redemptions/{voided}/void")
    assert void.status == 200 and void.json["status"] == "voided" and void.json["balance"] == 300

    api.set_clock("2026-06-01T10:31:00Z")
    job = api.post("/_local/jobs/hold-release", {}, key=None)
    assert job.status == 200, job.raw
    assert job.json["job"] == "hold-release" and job.json["as_of"] == "2026-06-01T10:31:00Z"
    assert job.json["released"] >= 1  # the shared stack may hold other tests' expired holds too
    late = api.post(f"/v1/redemptions/{expiring}/capture")
    assert late.status == 409 and late.json["error"]["code"] == "invalid_state"
    assert api.get(f"/v1/members/{member_id}").json["points"]["available"] == 400
    assert api.post(f"/v1/redemptions/{held}/capture").json["status"] == "completed"


def test_a_repeated_capture_or_void_replays_its_first_answer_and_both_are_strict_over_http(api):
    """Issue 30, defect 5: a repeated capture answered a fresh read of the balance, without the replay header;
    capture and void took any body, and every route ignored a query parameter it does not declare."""
    member_id = member_with(api, 1000)
    held, voided = unique("hold"), unique("hold")
    for redemption_id in (held, voided):
        body = {"redemption_id": redemption_id, "member_id": member_id, "points": 100, "capture": False}
        assert api.post("/v1/redemptions", body).status == 201
    for route in (f"/v1/redemptions/{held}/capture", f"/v1/redemptions/{voided}/void"):
        typo = api.post(route, {"redemptoin_id": held})
        assert typo.status == 422 and typo.json["error"]["details"][0]["field"] == "redemptoin_id", typo.raw
        unknown = api.post(route + "?memberid=" + member_id)
        assert unknown.status == 422 and unknown.json["error"]["details"][0]["field"] == "memberid", unknown.raw
    captured = api.post(f"/v1/redemptions/{held}/capture")
    assert captured.status == 200 and "Idempotent-Replayed" not in captured.headers, captured.raw
    released = api.post(f"/v1/redemptions/{voided}/void")
    assert released.status == 200 and "Idempotent-Replayed" not in released.headers, released.raw
    seed = {"adjustment_id": "later", "points": 25, "reason": "the balance moves"}
    assert api.post(f"/v1/members/{member_id}/adjustments", seed, key=ADMIN).status == 201
    for first, route in ((captured, f"/v1/redemptions/{held}/capture"), (released, f"/v1/redemptions/{voided}/void")):
        again = api.request("POST", route)  # no body at all: the same as `{}`
        assert (again.status, again.raw) == (200, first.raw)
        assert again.headers.get("Idempotent-Replayed") == "true"
    ledger = api.get(f"/v1/members/{member_id}/ledger?memberid={member_id}")
    assert ledger.status == 422 and ledger.json["error"]["details"] == [
        {"field": "memberid", "message": "not a query parameter of this route"}
    ]
    assert api.get(f"/v1/members/{member_id}/ledger?limit=2").status == 200
