from __future__ import annotations

from tests.support.aws import api_event, call, count_calls, headers_of


def enroll(member_id: str = "cust-1", **extra: object) -> tuple[int, dict, dict]:
    body = {"member_id": member_id, "channel": "web", **extra}
    return call("MembersFunction", api_event("Enroll", body=body))


def test_enrol_grants_the_signup_bonus_and_writes_one_entry(aws):
    status, body, _ = enroll("cust-1", email="ana@example.com")
    assert status == 201
    assert body["points"] == {
        "available": 100,
        "pending": 0,
        "lifetime_earned": 100,
        "lifetime_redeemed": 0,
        "lifetime_expired": 0,
    }
    assert body["tier"]["id"] == "red" and body["tier"]["source"] == "qualified"
    status, ledger, _ = call("MembersFunction", api_event("GetLedger", path_params={"member_id": "cust-1"}))
    assert status == 200
    assert [(e["type"], e["points"], e["balance_after"]) for e in ledger["entries"]] == [("bonus", 100, 100)]


def test_enrolling_an_existing_id_with_another_body_answers_member_exists_and_writes_nothing(aws):
    enroll("cust-1")
    status, body, _ = enroll("cust-1", name="Someone else")
    assert status == 409 and body["error"]["code"] == "member_exists"
    _, ledger, _ = call("MembersFunction", api_event("GetLedger", path_params={"member_id": "cust-1"}))
    assert len(ledger["entries"]) == 1


def test_referrer_must_exist(aws):
    status, body, _ = enroll("cust-2", referred_by="nobody")
    assert status == 422 and body["error"]["code"] == "validation_error"
    assert body["error"]["details"][0]["field"] == "referred_by"
    status, _, _ = call("MembersFunction", api_event("GetMember", path_params={"member_id": "cust-2"}))
    assert status == 404


def test_member_read_is_one_round_trip(aws):
    enroll("cust-1")
    calls, stop = count_calls()
    try:
        status, _, _ = call("MembersFunction", api_event("GetMember", path_params={"member_id": "cust-1"}))
    finally:
        stop()
    assert status == 200
    assert calls == ["GetItem"]


def test_unknown_member_is_404(aws):
    for name in ("GetMember", "GetLedger"):
        status, body, _ = call("MembersFunction", api_event(name, path_params={"member_id": "ghost"}))
        assert status == 404 and body["error"]["code"] == "member_not_found"


def test_adjustment_is_idempotent_and_conflicts_on_a_different_body(aws):
    enroll("cust-1")
    event = api_event("Adjust", body={"adjustment_id": "adj-1", "points": -30, "reason": "correction"})
    first = invoke_raw(event)
    again = invoke_raw(event)
    assert first["statusCode"] == 201 and again["statusCode"] == 200
    assert again["body"] == first["body"]
    assert headers_of(again)["Idempotent-Replayed"] == "true"
    other = api_event("Adjust", body={"adjustment_id": "adj-1", "points": -31, "reason": "correction"})
    status, body, _ = call("MembersFunction", other)
    assert status == 409 and body["error"]["code"] == "idempotency_conflict"
    _, member, _ = call("MembersFunction", api_event("GetMember", path_params={"member_id": "cust-1"}))
    assert member["points"]["available"] == 70


def test_adjustments_need_the_admin_scope(aws):
    enroll("cust-1")
    event = api_event("Adjust", scopes="enroll earn read redeem")
    status, body, _ = call("MembersFunction", event)
    assert status == 403 and body["error"]["code"] == "forbidden"


def test_bad_input_answers_422_with_field_details_and_writes_nothing(aws):
    cases = [
        ({"member_id": "x" * 129, "channel": "web"}, "member_id"),
        ({"member_id": "bad id!", "channel": "web"}, "member_id"),
        ({"member_id": "cust-9", "channel": "fax"}, "channel"),
        ({"member_id": 42, "channel": "web"}, "member_id"),
        ({"member_id": "cust-9", "channel": "web", "birth_date": "yesterday"}, "birth_date"),
        ({"channel": "web"}, "member_id"),
    ]
    for body, field in cases:
        status, answer, _ = call("MembersFunction", api_event("Enroll", body=body))
        assert status == 422, body
        assert answer["error"]["code"] == "validation_error"
        assert field in [d["field"] for d in answer["error"]["details"]], answer
    status, answer, _ = call("MembersFunction", api_event("Enroll", raw_body='{"member_id": '))
    assert status == 422 and answer["error"]["details"][0]["field"] == "body"
    status, _, _ = call("MembersFunction", api_event("GetMember", path_params={"member_id": "cust-9"}))
    assert status == 404


def test_bodies_over_64_kib_are_refused_with_413(aws):
    big = '{"member_id": "cust-1", "channel": "web", "name": "' + "x" * 70_000 + '"}'
    status, body, _ = call("MembersFunction", api_event("Enroll", raw_body=big))
    assert status == 413 and body["error"]["code"] == "payload_too_large"


def test_ledger_pages_newest_first_with_an_opaque_cursor(aws):
    enroll("cust-1")
    for i in range(5):
        call(
            "MembersFunction",
            api_event("Adjust", body={"adjustment_id": f"a{i}", "points": i + 1, "reason": "r"}),
        )
    seen = []
    cursor = None
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        status, page, _ = call("MembersFunction", api_event("GetLedger", query=query))
        assert status == 200
        seen.extend(e["points"] for e in page["entries"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [5, 4, 3, 2, 1, 100]
    status, body, _ = call("MembersFunction", api_event("GetLedger", query={"cursor": "garbage"}))
    assert status == 422 and body["error"]["details"][0]["field"] == "cursor"


def invoke_raw(event):
    from tests.support.aws import invoke

    return invoke("MembersFunction", event)
