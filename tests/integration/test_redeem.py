from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import yaml
from loyalty.kernel.clock import CLOCK
from loyalty.redemption.signatures import header_value
from loyalty.store import codecs

from tests.support.aws import api_event, call, count_calls, headers_of, invoke, load_event, mocked_aws

SECRETS = {"demo-partner": "demo-partner-secret", "other-partner": "other-partner-secret"}


# -- helpers -------------------------------------------------------------------------------------
def enroll(member_id: str) -> None:
    status, body, _ = call("MembersFunction", api_event("Enroll", body={"member_id": member_id, "channel": "web"}))
    assert status == 201, body


def give(member_id: str, points: int, adjustment_id: str = "gift") -> None:
    body = {"adjustment_id": adjustment_id, "points": points, "reason": "test points"}
    status, answer, _ = call("MembersFunction", api_event("Adjust", body=body, path_params={"member_id": member_id}))
    assert status == 201, answer


def member(member_id: str) -> dict:
    status, body, _ = call("MembersFunction", api_event("GetMember", path_params={"member_id": member_id}))
    assert status == 200, body
    return body


def ledger(member_id: str) -> list[dict]:
    status, body, _ = call(
        "MembersFunction", api_event("GetLedger", path_params={"member_id": member_id}, query={"limit": "100"})
    )
    assert status == 200
    return body["entries"]


def assert_balanced(member_id: str) -> None:
    view = member(member_id)
    assert sum(e["points"] for e in ledger(member_id)) == view["points"]["available"] + view["points"]["pending"]
    assert sum(e["points"] for e in view["expiring"]) == max(0, view["points"]["available"])


def signed(
    name: str,
    body: dict | str,
    *,
    partner: str = "demo-partner",
    secret: str | None = None,
    redemption_id: str | None = None,
    signature: str | None = None,
) -> dict:
    raw = body if isinstance(body, str) else json.dumps(body)
    header = (
        signature if signature is not None else header_value(secret or SECRETS[partner], int(time.time()), raw.encode())
    )
    params = {"partner_id": partner, **({"redemption_id": redemption_id} if redemption_id else {})}
    return api_event(name, raw_body=raw, path_params=params, headers={"Loyalty-Signature": header})


def redeem(
    member_id: str, reward_id: str, redemption_id: str, partner: str = "demo-partner", **extra
) -> tuple[int, dict, dict]:
    body = {"redemption_id": redemption_id, "member_id": member_id, "reward_id": reward_id, **extra}
    return call("PartnersFunction", signed("PartnerRedeem", body, partner=partner))


def cancel(redemption_id: str, partner: str = "demo-partner") -> tuple[int, dict, dict]:
    return call("PartnersFunction", signed("PartnerCancel", {}, partner=partner, redemption_id=redemption_id))


def pay(member_id: str, redemption_id: str, points: int, capture: bool | None = None) -> tuple[int, dict, dict]:
    body: dict = {"redemption_id": redemption_id, "member_id": member_id, "points": points}
    if capture is not None:
        body["capture"] = capture
    return call("RedeemFunction", api_event("PayWithPoints", body=body))


def settle(name: str, redemption_id: str) -> tuple[int, dict, dict]:
    return call("RedeemFunction", api_event(name, body={}, path_params={"redemption_id": redemption_id}))


def custom_program(**changes: dict) -> str:
    """The demo programme with some rewards changed (by id) or added."""
    from importlib import resources

    document = yaml.safe_load(resources.files("loyalty").joinpath("programs", "demo.yaml").read_text())
    rewards = {r["id"]: r for r in document["rewards"]}
    for reward_id, fields in changes.items():
        rewards[reward_id] = {**rewards.get(reward_id, {}), **fields}
    document["rewards"] = list(rewards.values())
    return json.dumps(document)


# -- partner redemptions -------------------------------------------------------------------------
def test_redeem_and_cancel_with_the_contract_numbers(aws):
    enroll("cust-1")
    give("cust-1", 540)
    status, body, headers = redeem("cust-1", "coffee", "red-1")
    assert status == 201, body
    assert body == {
        "redemption_id": "red-1",
        "member_id": "cust-1",
        "reward_id": "coffee",
        "points": 150,
        "balance": 490,
        "status": "completed",
    }
    assert "Idempotent-Replayed" not in headers
    view = member("cust-1")
    assert view["points"]["available"] == 490 and view["points"]["lifetime_redeemed"] == 150
    newest = ledger("cust-1")[0]
    assert (newest["type"], newest["points"], newest["balance_after"]) == ("redeem", -150, 490)

    status, body, _ = cancel("red-1")
    assert status == 200, body
    assert body == {"redemption_id": "red-1", "status": "cancelled", "points": 150, "balance": 640}
    again_status, again, again_headers = cancel("red-1")
    assert again_status == 200 and again == body and again_headers["Idempotent-Replayed"] == "true"
    view = member("cust-1")
    assert view["points"]["available"] == 640 and view["points"]["lifetime_redeemed"] == 0
    assert [(e["type"], e["points"]) for e in ledger("cust-1")][:2] == [("redeem_cancel", 150), ("redeem", -150)]
    assert_balanced("cust-1")


def test_redemptions_take_the_soonest_expiring_month_first_and_cancel_puts_them_back(aws):
    CLOCK.set(datetime(2026, 1, 15, 12, tzinfo=UTC))
    enroll("cust-1")  # 100 signup points, expiring at the end of 2027-01
    CLOCK.set(datetime(2026, 3, 10, 12, tzinfo=UTC))
    give("cust-1", 200)  # expiring at the end of 2027-03
    assert member("cust-1")["expiring"] == [{"month": "2027-01", "points": 100}, {"month": "2027-03", "points": 200}]

    status, body, _ = redeem("cust-1", "coffee", "red-fifo")
    assert status == 201 and body["balance"] == 150
    assert member("cust-1")["expiring"] == [{"month": "2027-03", "points": 150}]

    status, body, _ = cancel("red-fifo")
    assert status == 200 and body["balance"] == 300
    assert member("cust-1")["expiring"] == [{"month": "2027-01", "points": 100}, {"month": "2027-03", "points": 200}]
    assert_balanced("cust-1")


def test_a_partner_redemption_is_two_dynamodb_round_trips(aws):
    enroll("cust-1")
    give("cust-1", 540)
    event = signed("PartnerRedeem", {"redemption_id": "red-rt", "member_id": "cust-1", "reward_id": "coffee"})
    calls, stop = count_calls()
    try:
        status, _, _ = call("PartnersFunction", event)
    finally:
        stop()
    assert status == 201
    assert calls == ["BatchGetItem", "TransactWriteItems"]


def test_a_stocked_redemption_is_still_two_round_trips():
    with mocked_aws(custom_program(coffee={"stock": 5})):
        enroll("cust-1")
        give("cust-1", 540)
        event = signed("PartnerRedeem", {"redemption_id": "red-rt", "member_id": "cust-1", "reward_id": "coffee"})
        calls, stop = count_calls()
        try:
            status, _, _ = call("PartnersFunction", event)
        finally:
            stop()
        assert status == 201
        assert calls == ["BatchGetItem", "TransactWriteItems"]


def test_replay_is_byte_identical_and_a_different_body_conflicts(aws):
    enroll("cust-1")
    give("cust-1", 540)
    body = {"redemption_id": "red-1", "member_id": "cust-1", "reward_id": "coffee"}
    first = invoke("PartnersFunction", signed("PartnerRedeem", body))
    again = invoke("PartnersFunction", signed("PartnerRedeem", body))
    assert first["statusCode"] == 201 and again["statusCode"] == 200
    assert again["body"] == first["body"]
    assert headers_of(again)["Idempotent-Replayed"] == "true"
    status, answer, _ = redeem("cust-1", "free-item", "red-1")
    assert status == 409 and answer["error"]["code"] == "idempotency_conflict"
    assert member("cust-1")["points"]["available"] == 490


def test_the_same_redemption_id_from_two_partners_is_two_redemptions():
    with mocked_aws(
        custom_program(
            **{"other-cup": {"id": "other-cup", "name": "Cup", "points": 100, "partner_id": "other-partner"}}
        )
    ):
        enroll("cust-1")
        give("cust-1", 540)
        assert redeem("cust-1", "coffee", "r-1")[0] == 201
        status, body, _ = redeem("cust-1", "other-cup", "r-1", partner="other-partner")
        assert status == 201 and body["balance"] == 390


def test_refusals_answer_the_contract_code_and_write_nothing(aws):
    enroll("poor")  # 100 points
    enroll("rich")
    give("rich", 5000)
    cases = [
        ("ghost", "coffee", 404, "member_not_found"),
        ("rich", "no-such-reward", 404, "reward_not_found"),
        ("rich", "gift-card-25", 403, "forbidden"),  # another partner's reward
        ("rich", "lounge-pass", 422, "reward_not_eligible"),  # gold only; rich is red
        ("poor", "coffee", 409, "insufficient_points"),
    ]
    for member_id, reward_id, status, code in cases:
        got, body, _ = redeem(member_id, reward_id, f"red-{reward_id}")
        assert (got, body["error"]["code"]) == (status, code), (member_id, reward_id, body)
    assert [e["type"] for e in ledger("poor")] == ["bonus"]
    assert [e["type"] for e in ledger("rich")] == ["adjust", "bonus"]


def test_a_negative_balance_cannot_redeem(aws):
    enroll("cust-1")
    give("cust-1", -200)  # a debt of 100, as a refund may leave
    status, body, _ = redeem("cust-1", "free-item", "red-1")
    assert status == 409 and body["error"]["code"] == "insufficient_points"
    assert member("cust-1")["points"]["available"] == -100


def test_an_inactive_member_cannot_redeem(aws):
    from loyalty.store import core
    from loyalty.store import members as store

    enroll("cust-1")
    suspended = store.load_member("cust-1")
    suspended.status = "suspended"
    core.put(codecs.member_to_item(suspended))
    status, body, _ = redeem("cust-1", "free-item", "red-1")
    assert status == 409 and body["error"]["code"] == "member_inactive"
    status, body, _ = pay("cust-1", "pwp-1", 100)
    assert status == 409 and body["error"]["code"] == "member_inactive"
    assert member("cust-1")["points"]["available"] == 100


def test_another_partner_cannot_cancel_or_see_a_redemption(aws):
    enroll("cust-1")
    give("cust-1", 540)
    assert redeem("cust-1", "coffee", "red-1")[0] == 201
    status, body, _ = cancel("red-1", partner="other-partner")
    assert status == 404 and body["error"]["code"] == "redemption_not_found"
    assert member("cust-1")["points"]["available"] == 490
    status, body, _ = cancel("never-made")
    assert status == 404 and body["error"]["code"] == "redemption_not_found"


def test_an_occurred_at_far_in_the_future_is_refused(aws):
    enroll("cust-1")
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    status, body, _ = redeem("cust-1", "free-item", "red-1", occurred_at=later)
    assert status == 422 and body["error"]["details"][0]["field"] == "occurred_at"


def test_bad_bodies_are_refused_with_422_once_signed(aws):
    for raw in ('{"redemption_id": "r", "member_id": "cust-1"}', "{not json", '{"redemption_id": "bad id!"}'):
        status, body, _ = call("PartnersFunction", signed("PartnerRedeem", raw))
        assert status == 422 and body["error"]["code"] == "validation_error", raw


# -- stock, window, limits -----------------------------------------------------------------------
def test_stock_is_taken_in_the_same_transaction_and_returned_by_a_cancel():
    with mocked_aws(custom_program(coffee={"stock": 1})):
        for m in ("cust-1", "cust-2"):
            enroll(m)
            give(m, 540)
        assert redeem("cust-1", "coffee", "red-1")[0] == 201
        status, body, _ = redeem("cust-2", "coffee", "red-2")
        assert status == 409 and body["error"]["code"] == "reward_unavailable"
        assert member("cust-2")["points"]["available"] == 640
        rewards = call("RedeemFunction", api_event("ListRewards", query={"member_id": "cust-2"}))[1]["rewards"]
        assert {r["reward_id"]: r["eligible"] for r in rewards}["coffee"] is False
        assert {r["reward_id"]: r["stock"] for r in rewards} == {  # what is left; null: unlimited
            "free-item": None,
            "coffee": 0,
            "lounge-pass": None,
            "gift-card-25": None,
            "free-drink": None,
        }
        assert cancel("red-1")[0] == 200
        assert cancel("red-1")[0] == 200  # a repeated cancel does not return the stock twice
        rewards = call("RedeemFunction", api_event("ListRewards", query={"member_id": "cust-2"}))[1]["rewards"]
        assert {r["reward_id"]: r["stock"] for r in rewards}["coffee"] == 1
        assert redeem("cust-2", "coffee", "red-3")[0] == 201
        status, body, _ = redeem("cust-1", "coffee", "red-4")
        assert status == 409 and body["error"]["code"] == "reward_unavailable"


def test_a_reward_outside_its_window_is_unavailable():
    with mocked_aws(
        custom_program(coffee={"active_until": "2020-12-31"}, **{"free-item": {"active_from": "2099-01-01"}})
    ):
        enroll("cust-1")
        give("cust-1", 540)
        for reward in ("coffee", "free-item"):
            status, body, _ = redeem("cust-1", reward, f"red-{reward}")
            assert status == 409 and body["error"]["code"] == "reward_unavailable"
        assert member("cust-1")["points"]["available"] == 640


def test_the_per_member_limit_counts_per_period_and_a_cancel_gives_it_back():
    with mocked_aws(custom_program(coffee={"limit_per_member": {"count": 1, "period": "month"}})):
        CLOCK.set(datetime(2026, 5, 3, tzinfo=UTC))
        enroll("cust-1")
        give("cust-1", 900)
        assert redeem("cust-1", "coffee", "red-1")[0] == 201
        status, body, _ = redeem("cust-1", "coffee", "red-2")
        assert status == 409 and body["error"]["code"] == "reward_unavailable"
        assert cancel("red-1")[0] == 200
        assert redeem("cust-1", "coffee", "red-3")[0] == 201
        CLOCK.set(datetime(2026, 6, 1, tzinfo=UTC))
        assert redeem("cust-1", "coffee", "red-4")[0] == 201


def test_the_catalogue_says_what_the_member_may_take(aws):
    enroll("cust-1")  # 100 points: eligible says what the tier may take, affordable what the points cover
    status, body, _ = call("RedeemFunction", api_event("ListRewards", query={"member_id": "cust-1"}))
    assert status == 200

    def reward(reward_id, name, points, partner_id, eligible, affordable):
        return {
            "reward_id": reward_id,
            "name": name,
            "points": points,
            "partner_id": partner_id,
            "eligible": eligible,
            "affordable": affordable,
            "stock": None,  # the demo's rewards are unlimited
        }

    assert body == {
        "rewards": [
            reward("free-item", "Free item", 50, "demo-partner", True, True),
            reward("coffee", "Coffee", 150, "demo-partner", True, False),
            reward("lounge-pass", "Lounge pass", 800, "demo-partner", False, False),  # gold only
            reward("gift-card-25", "Gift card 25 USD", 2500, "other-partner", True, False),
            reward("free-drink", "Free drink", 300, None, True, False),  # in-store: taken at checkout
        ]
    }
    give("cust-1", 200)
    status, body, _ = call("RedeemFunction", api_event("ListRewards", query={"member_id": "cust-1"}))
    assert [r["reward_id"] for r in body["rewards"] if r["affordable"]] == ["free-item", "coffee", "free-drink"]
    status, body, _ = call("RedeemFunction", api_event("ListRewards", query={"member_id": "ghost"}))
    assert status == 404 and body["error"]["code"] == "member_not_found"
    status, body, _ = call("RedeemFunction", api_event("ListRewards", query={"member_id": "cust-1"}, scopes="earn"))
    assert status == 403 and body["error"]["code"] == "forbidden"


# -- signatures ----------------------------------------------------------------------------------
def test_bad_signatures_are_401_logged_without_secrets_and_counted(aws, capsys, caplog):
    enroll("cust-1")
    body = json.dumps({"redemption_id": "red-1", "member_id": "cust-1", "reward_id": "free-item"})
    wrong = header_value("wrong-secret", int(time.time()), body.encode())
    for signature in ("", "garbage", wrong, "t=1,v1=" + "0" * 64):
        capsys.readouterr()
        caplog.clear()
        status, answer, _ = call("PartnersFunction", signed("PartnerRedeem", body, signature=signature))
        assert status == 401 and answer["error"]["code"] == "invalid_signature"
        emitted = capsys.readouterr().out  # the metric, in CloudWatch embedded metric format
        assert '"SignatureFailures":[1.0]' in emitted
        assert "partner signature refused" in caplog.text
        for text in (emitted, caplog.text, json.dumps(answer)):
            assert "demo-partner-secret" not in text
            if "v1=" in signature:
                assert signature.split("v1=")[1] not in text
    assert member("cust-1")["points"]["available"] == 100


def test_wrong_secret_stale_future_and_other_partner_signatures_are_401(aws):
    enroll("cust-1")
    raw = json.dumps({"redemption_id": "red-1", "member_id": "cust-1", "reward_id": "free-item"})
    now = int(time.time())
    for header in (
        header_value("demo-partner-secr3t", now, raw.encode()),
        header_value("demo-partner-secret", now - 400, raw.encode()),
        header_value("demo-partner-secret", now + 600, raw.encode()),  # margin: the wall clock moves on
        header_value("other-partner-secret", now, raw.encode()),  # valid for other-partner, not for this path
        header_value("demo-partner-secret", now, raw.encode() + b" "),  # signed a different body
    ):
        status, answer, _ = call("PartnersFunction", signed("PartnerRedeem", raw, signature=header))
        assert status == 401 and answer["error"]["code"] == "invalid_signature", header
    status, answer, _ = call("PartnersFunction", signed("PartnerRedeem", raw, partner="no-such-partner", secret="x"))
    assert status == 401 and answer["error"]["code"] == "invalid_signature"
    assert member("cust-1")["points"]["available"] == 100


def test_a_signature_is_checked_before_the_body_is_parsed(aws):
    status, answer, _ = call("PartnersFunction", signed("PartnerRedeem", "{not json", signature="t=1,v1=00"))
    assert status == 401 and answer["error"]["code"] == "invalid_signature"


def test_the_set_local_clock_may_vouch_for_a_signature(aws):
    enroll("cust-1")
    then = datetime(2026, 2, 1, tzinfo=UTC)
    CLOCK.set(then)
    raw = json.dumps({"redemption_id": "red-1", "member_id": "cust-1", "reward_id": "free-item"})
    event = signed(
        "PartnerRedeem", raw, signature=header_value("demo-partner-secret", int(then.timestamp()), raw.encode())
    )
    assert call("PartnersFunction", event)[0] == 201


def test_a_rotated_secret_list_accepts_old_and_new(aws):
    import boto3

    boto3.client("secretsmanager").put_secret_value(
        SecretId="loyalty/partners/demo-partner", SecretString=json.dumps(["rotated-secret", "demo-partner-secret"])
    )
    enroll("cust-1")
    give("cust-1", 540)
    assert redeem("cust-1", "free-item", "red-old")[0] == 201  # the old secret still works
    body = {"redemption_id": "red-new", "member_id": "cust-1", "reward_id": "free-item"}
    assert call("PartnersFunction", signed("PartnerRedeem", body, secret="rotated-secret"))[0] == 201


# -- pay with points -----------------------------------------------------------------------------
def test_pay_with_points_completes_at_once_by_default(aws):
    enroll("cust-1")
    give("cust-1", 540)
    status, body, _ = pay("cust-1", "pwp-1", 500)
    assert status == 201
    assert body == {
        "redemption_id": "pwp-1",
        "points": 500,
        "value": {"amount": "5.00", "currency": "USD"},
        "status": "completed",
        "balance": 140,
    }
    entry = ledger("cust-1")[0]
    assert (entry["type"], entry["points"]) == ("redeem", -500)
    again = invoke(
        "RedeemFunction",
        api_event("PayWithPoints", body={"redemption_id": "pwp-1", "member_id": "cust-1", "points": 500}),
    )
    assert again["statusCode"] == 200 and json.loads(again["body"]) == body
    status, answer, _ = pay("cust-1", "pwp-1", 600)
    assert status == 409 and answer["error"]["code"] == "idempotency_conflict"
    status, answer, _ = pay("cust-1", "pwp-2", 200)
    assert status == 409 and answer["error"]["code"] == "insufficient_points"
    assert settle("Capture", "pwp-1")[1]["status"] == "completed"  # capturing a completed payment changes nothing
    status, answer, _ = settle("Void", "pwp-1")
    assert status == 409 and answer["error"]["code"] == "invalid_state"
    assert member("cust-1")["points"]["available"] == 140
    assert_balanced("cust-1")


def test_points_must_be_a_positive_multiple_of_100(aws):
    enroll("cust-1")
    give("cust-1", 540)
    for points in (150, 0, -100, "500", 1.5, 99):
        status, body, _ = pay("cust-1", f"pwp-{points}", points)
        assert status == 422 and body["error"]["code"] == "validation_error", points
        assert body["error"]["details"][0]["field"] == "points"
    assert member("cust-1")["points"]["available"] == 640


def test_a_hold_reserves_the_points_until_captured(aws):
    enroll("cust-1")
    give("cust-1", 540)
    status, body, _ = pay("cust-1", "pwp-1", 500, capture=False)
    assert status == 201 and body["status"] == "held" and body["balance"] == 140
    # held points are already out of the balance: nothing else can spend them
    status, answer, _ = redeem("cust-1", "coffee", "red-1")
    assert status == 409 and answer["error"]["code"] == "insufficient_points"
    status, body, _ = settle("Capture", "pwp-1")
    assert status == 200
    assert body == {
        "redemption_id": "pwp-1",
        "points": 500,
        "value": {"amount": "5.00", "currency": "USD"},
        "status": "completed",
        "balance": 140,
    }
    assert settle("Capture", "pwp-1") == (200, body, settle("Capture", "pwp-1")[2])
    status, answer, _ = settle("Void", "pwp-1")
    assert status == 409 and answer["error"]["code"] == "invalid_state"
    from loyalty.store import members as store

    assert store.load_member("cust-1").held == 0
    assert member("cust-1")["points"]["available"] == 140
    assert_balanced("cust-1")


def test_a_repeated_capture_replays_its_first_answer_byte_for_byte(aws):
    """A capture is idempotent on its redemption id as every write is: the repeat answers the first answer's
    bytes with `Idempotent-Replayed: true`, not a fresh read of the balance (issue 30, defect 5)."""
    enroll("cust-1")
    give("cust-1", 540)
    assert pay("cust-1", "pwp-1", 500, capture=False)[0] == 201
    first = invoke("RedeemFunction", api_event("Capture", body={}, path_params={"redemption_id": "pwp-1"}))
    assert first["statusCode"] == 200 and "Idempotent-Replayed" not in headers_of(first)
    assert json.loads(first["body"])["balance"] == 140
    give("cust-1", 60, "later")  # the balance moves after the capture
    for body in (None, {}):  # no body at all, or an empty object: the same request
        again = invoke("RedeemFunction", api_event("Capture", body=body, path_params={"redemption_id": "pwp-1"}))
        assert again["statusCode"] == 200 and again["body"] == first["body"]
        assert headers_of(again).get("Idempotent-Replayed") == "true"
    # a payment completed at once (`capture: true`) was captured when it was made: its first answer again
    status, paid, _ = pay("cust-1", "pwp-2", 100)
    assert status == 201
    give("cust-1", 10, "later-2")
    status, captured, headers = settle("Capture", "pwp-2")
    assert (status, captured, headers.get("Idempotent-Replayed")) == (200, paid, "true")
    assert member("cust-1")["points"]["available"] == 110
    assert_balanced("cust-1")


def test_a_void_puts_the_points_back_where_they_came_from(aws):
    CLOCK.set(datetime(2026, 1, 15, 12, tzinfo=UTC))
    enroll("cust-1")
    CLOCK.set(datetime(2026, 3, 10, 12, tzinfo=UTC))
    give("cust-1", 540)
    status, body, _ = pay("cust-1", "pwp-1", 200, capture=False)
    assert status == 201 and body["balance"] == 440
    assert member("cust-1")["expiring"] == [{"month": "2027-03", "points": 440}]
    first = invoke("RedeemFunction", api_event("Void", body={}, path_params={"redemption_id": "pwp-1"}))
    assert first["statusCode"] == 200
    assert json.loads(first["body"]) == {"redemption_id": "pwp-1", "status": "voided", "points": 200, "balance": 640}
    again = invoke("RedeemFunction", api_event("Void", body={}, path_params={"redemption_id": "pwp-1"}))
    assert again["statusCode"] == 200 and again["body"] == first["body"]
    assert member("cust-1")["expiring"] == [{"month": "2027-01", "points": 100}, {"month": "2027-03", "points": 540}]
    entry = ledger("cust-1")[0]
    assert (entry["type"], entry["points"]) == ("redeem_cancel", 200)
    status, answer, _ = settle("Capture", "pwp-1")
    assert status == 409 and answer["error"]["code"] == "invalid_state"
    from loyalty.store import members as store

    assert store.load_member("cust-1").held == 0
    assert_balanced("cust-1")


def test_unknown_redemptions_are_404(aws):
    for name in ("Capture", "Void"):
        status, body, _ = settle(name, "nope")
        assert status == 404 and body["error"]["code"] == "redemption_not_found"


def run_job() -> dict:
    started = invoke("HoldReleaseFunction", load_event("HoldRelease"))
    return invoke("HoldReleaseFunction", {"job": "hold-release", "summary_of": started})


def test_an_untouched_hold_is_released_by_the_job_after_hold_minutes(aws):
    start = datetime(2026, 4, 1, 9, tzinfo=UTC)
    CLOCK.set(start)
    enroll("cust-1")
    give("cust-1", 540)
    assert pay("cust-1", "pwp-1", 300, capture=False)[0] == 201
    assert pay("cust-1", "pwp-2", 100, capture=False)[0] == 201
    assert settle("Capture", "pwp-2")[0] == 200

    CLOCK.set(start + timedelta(minutes=29))
    assert run_job() == {"job": "hold-release", "as_of": "2026-04-01T09:29:00Z", "released": 0}
    assert member("cust-1")["points"]["available"] == 240

    CLOCK.set(start + timedelta(minutes=31))
    status, body, _ = settle("Capture", "pwp-1")  # expired, not yet released
    assert status == 409 and body["error"]["code"] == "invalid_state"
    assert run_job() == {"job": "hold-release", "as_of": "2026-04-01T09:31:00Z", "released": 1}
    assert member("cust-1")["points"]["available"] == 540
    entry = ledger("cust-1")[0]
    assert (entry["type"], entry["points"], entry["details"]["status"]) == ("redeem_cancel", 300, "released")
    assert run_job()["released"] == 0  # rerunning changes nothing
    status, body, _ = settle("Capture", "pwp-1")
    assert status == 409 and body["error"]["code"] == "invalid_state"
    status, body, _ = settle("Void", "pwp-1")  # the points are back already: a late void says so
    assert status == 200 and body["status"] == "released"
    from loyalty.store import members as store

    assert store.load_member("cust-1").held == 0
    assert member("cust-1")["points"]["available"] == 540
    assert_balanced("cust-1")
