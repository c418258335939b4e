"""Checkout through the real handlers against moto: the contract's worked example to the cent, the one
transaction of an order, its idempotency and round trips, refunds that give spent points back, and every
error the contract names."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loyalty.kernel.clock import CLOCK

from tests.support.aws import api_event, call, count_calls, mocked_aws

NOW = datetime(2026, 3, 14, 10, tzinfo=UTC)
LATTE = {"sku": "latte", "category": "drinks", "amount": "4.50", "quantity": 1}
SANDWICH = {"sku": "sandwich", "category": "food", "amount": "8.00", "quantity": 1}
GIFT_CARD = {"sku": "gift-card", "category": "gift-cards", "amount": "25.00", "quantity": 1}
BASKET = {"currency": "USD", "items": [LATTE, SANDWICH, GIFT_CARD], "rewards": ["free-drink"], "points": 500}


# -- helpers -------------------------------------------------------------------------------------
def enroll(member_id: str) -> None:
    status, body, _ = call("MembersFunction", api_event("Enroll", body={"member_id": member_id, "channel": "pos"}))
    assert status == 201, body


def adjust(member_id: str, points: int, adjustment_id: str = "adj-1") -> None:
    body = {"adjustment_id": adjustment_id, "points": points, "reason": "test points"}
    status, answer, _ = call("MembersFunction", api_event("Adjust", body=body, path_params={"member_id": member_id}))
    assert status == 201, answer


def earn(member_id: str, order_id: str, amount: str) -> dict[str, Any]:
    body = {"member_id": member_id, "order_id": order_id, "amount": amount, "currency": "USD"}
    status, answer, _ = call("EarnFunction", api_event("Earn", body=body))
    assert status == 201, answer
    return answer


def member(member_id: str) -> dict[str, Any]:
    status, body, _ = call("MembersFunction", api_event("GetMember", path_params={"member_id": member_id}))
    assert status == 200, body
    return body


def ledger(member_id: str) -> list[dict[str, Any]]:
    event = api_event("GetLedger", path_params={"member_id": member_id}, query={"limit": "100"})
    status, body, _ = call("MembersFunction", event)
    assert status == 200, body
    return body["entries"]


def quote(body: dict[str, Any], scopes: str | None = None) -> tuple[int, Any, dict[str, str]]:
    return call("CheckoutFunction", api_event("CheckoutQuote", body=body, scopes=scopes))


def order(body: dict[str, Any], scopes: str | None = None) -> tuple[int, Any, dict[str, str]]:
    return call("CheckoutFunction", api_event("CheckoutOrder", body=body, scopes=scopes))


def refund(member_id: str, order_id: str, refund_id: str, amount: str) -> tuple[int, Any, dict[str, str]]:
    body = {"member_id": member_id, "order_id": order_id, "refund_id": refund_id, "amount": amount}
    return call("EarnFunction", api_event("Refund", body=body))


def silver_with_932(member_id: str) -> None:
    """The contract's member: silver, 932 points (100 signup + 1,000 earned at red, less 168)."""
    enroll(member_id)
    assert earn(member_id, f"{member_id}-first", "1000.00")["tier"]["id"] == "silver"
    adjust(member_id, -168)
    seen = member(member_id)
    assert (seen["tier"]["id"], seen["points"]["available"]) == ("silver", 932)


def assert_balanced(member_id: str) -> None:
    view = member(member_id)
    assert sum(e["points"] for e in ledger(member_id)) == view["points"]["available"] + view["points"]["pending"]
    assert sum(e["points"] for e in view["expiring"]) == max(0, view["points"]["available"])


def program_with(**changes: Any) -> str:
    """The demo programme with rewards changed or added (by id) and top-level fields replaced."""
    from importlib import resources

    document = yaml.safe_load(resources.files("loyalty").joinpath("programs", "demo.yaml").read_text())
    rewards = {r["id"]: r for r in document["rewards"]}
    for reward_id, fields in (changes.pop("rewards", None) or {}).items():
        rewards[reward_id] = {**rewards.get(reward_id, {}), **fields}
    document["rewards"] = list(rewards.values())
    document.update(changes)
    return json.dumps(document)


@pytest.fixture
def till():
    with mocked_aws():
        CLOCK.set(NOW)
        yield


# -- the worked example --------------------------------------------------------------------------
WORKED_QUOTE = {
    "member_id": "cust-1",
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


def test_the_contracts_worked_example_to_the_cent_quote_then_order(till):
    silver_with_932("cust-1")
    status, quoted, _ = quote({"member_id": "cust-1", **BASKET})
    assert status == 200, quoted
    tier = quoted.pop("tier")
    assert (tier["id"], tier["name"]) == ("silver", "Silver")
    assert quoted == WORKED_QUOTE
    assert member("cust-1")["points"]["available"] == 932  # a quote writes nothing

    status, placed, headers = order({"member_id": "cust-1", "order_id": "till-1", **BASKET})
    assert status == 201, placed
    assert "Idempotent-Replayed" not in headers
    assert placed.pop("order_id") == "till-1"
    entry_ids = placed.pop("entry_ids")
    assert placed.pop("tier") == tier
    assert placed == WORKED_QUOTE  # the order answers what the quote said

    # one transaction: the reward and the points payment spent, the order earned
    newest = ledger("cust-1")[:3]
    assert [(e["type"], e["points"], e["balance_after"]) for e in newest] == [
        ("earn", 3, 135),
        ("redeem", -500, 132),
        ("redeem", -300, 632),
    ]
    assert [e["entry_id"] for e in reversed(newest)] == entry_ids
    assert newest[0]["details"]["amount"] == "27.60"  # the refundable amount: the money paid
    assert newest[2]["details"]["reward_id"] == "free-drink"
    seen = member("cust-1")
    assert seen["points"]["available"] == 135 and seen["points"]["lifetime_redeemed"] == 800
    assert_balanced("cust-1")


def test_an_order_is_idempotent_on_its_order_id(till):
    silver_with_932("cust-1")
    body = {"member_id": "cust-1", "order_id": "till-1", **BASKET}
    status, first, _ = order(body)
    assert status == 201
    first_raw = json.dumps(first)
    status, again, headers = order(body)  # the till retries after a timeout
    assert status == 200 and headers.get("Idempotent-Replayed") == "true"
    assert json.dumps(again) == first_raw
    assert member("cust-1")["points"]["available"] == 135  # spent once, earned once

    status, conflict, _ = order({**body, "points": 600})
    assert status == 409 and conflict["error"]["code"] == "idempotency_conflict"
    earn_body = {"member_id": "cust-1", "order_id": "till-1", "amount": "27.60", "currency": "USD"}
    status, conflict, _ = call("EarnFunction", api_event("Earn", body=earn_body))
    assert status == 409 and conflict["error"]["code"] == "idempotency_conflict"  # one order earns once
    assert member("cust-1")["points"]["available"] == 135


def test_round_trips_quote_one_order_two_replay_one(till):
    silver_with_932("cust-1")
    calls, unregister = count_calls()
    try:
        assert quote({"member_id": "cust-1", **BASKET})[0] == 200
        assert calls == ["BatchGetItem"]
        calls.clear()
        assert order({"member_id": "cust-1", "order_id": "till-1", **BASKET})[0] == 201
        assert calls == ["BatchGetItem", "TransactWriteItems"]
        calls.clear()
        assert order({"member_id": "cust-1", "order_id": "till-1", **BASKET})[0] == 200
        assert calls == ["BatchGetItem"]
    finally:
        unregister()


def test_a_customer_known_by_phone_or_card_checks_out_in_the_same_round_trips(till):
    silver_with_932("cust-1")
    profile = {"phone": "+14155550123", "card_id": "card-0001"}
    assert (
        call("MembersFunction", api_event("UpdateProfile", body=profile, path_params={"member_id": "cust-1"}))[0] == 200
    )
    by_card = {"lookup": {"card_id": "card-0001"}, **BASKET}
    calls, unregister = count_calls()
    try:
        status, quoted, _ = quote(by_card)
        assert status == 200 and calls == ["Query"]
        calls.clear()
        status, placed, _ = order({**by_card, "order_id": "till-1"})
        assert status == 201 and calls == ["Query", "TransactWriteItems"]
        calls.clear()
        status, again, headers = order({**by_card, "order_id": "till-1"})
        assert (status, headers.get("Idempotent-Replayed")) == (200, "true"), again
        assert again == placed
        # the points are spent: the refusal finds the order's entry, and the phone's holder is asked
        assert calls == ["Query", "GetItem", "GetItem", "GetItem"]
    finally:
        unregister()
    assert placed["member_id"] == "cust-1" and placed["total"] == quoted["total"] == "27.60"
    assert placed["balance"] == 135 and member("cust-1")["points"]["available"] == 135
    too_many = order({**by_card, "order_id": "till-2"})  # a new order: its refusal is its own
    assert _error(too_many) == (409, "insufficient_points")
    by_id = order({"member_id": "cust-1", "order_id": "till-1", **BASKET})
    assert _error(by_id) == (409, "idempotency_conflict")  # another body for this order id


def test_an_order_id_replayed_for_another_customer_is_a_conflict(till):
    silver_with_932("cust-1")
    enroll("cust-2")
    for who, phone in (("cust-1", "+14155550123"), ("cust-2", "+14155550100")):
        patch = api_event("UpdateProfile", body={"phone": phone}, path_params={"member_id": who})
        assert call("MembersFunction", patch)[0] == 200
    basket = {"currency": "USD", "items": [SANDWICH]}
    assert order({"lookup": {"phone": "+14155550123"}, "order_id": "till-1", **basket})[0] == 201
    for phone in ("+14155550100", "+14155550999"):  # another customer's phone, and nobody's
        assert _error(order({"lookup": {"phone": phone}, "order_id": "till-1", **basket})) == (
            409,
            "idempotency_conflict",
        )
    assert [e["type"] for e in ledger("cust-2")] == ["bonus"]


def profile(member_id: str, **fields: Any) -> None:
    patch = api_event("UpdateProfile", body=fields, path_params={"member_id": member_id})
    assert call("MembersFunction", patch)[0] == 200


def test_an_order_by_phone_retried_after_the_customer_changed_it_replays(till):
    """The till retries the order it sent (the old phone) after the customer changed the phone: the same
    order of the same member, so its first answer, not `used for another customer` (issue 30, defect 8)."""
    silver_with_932("cust-1")
    enroll("cust-2")
    profile("cust-1", phone="+14155550123")
    by_phone = {"lookup": {"phone": "+14155550123"}, "order_id": "till-1", "currency": "USD", "items": [SANDWICH]}
    first = call("CheckoutFunction", api_event("CheckoutOrder", body=by_phone))
    assert first[0] == 201, first
    profile("cust-1", phone="+14155550456")
    for phone in ("+14155550123", "+14155550456"):  # the phone the order was placed with, and the new one
        status, again, headers = order({**by_phone, "lookup": {"phone": phone}})
        assert (status, headers.get("Idempotent-Replayed")) == (200, "true"), (phone, again)
        assert again == first[1]
    # a phone the order was not placed with, held by nobody, is another request
    assert _error(order({**by_phone, "lookup": {"phone": "+14155550999"}})) == (409, "idempotency_conflict")
    profile("cust-2", phone="+14155550123")  # the old phone is another customer's now
    assert _error(order(by_phone)) == (409, "idempotency_conflict")
    assert [e["type"] for e in ledger("cust-2")] == ["bonus"]
    assert member("cust-1")["points"]["available"] == 932 + 10  # charged once: the sandwich earned 10


def test_an_unaffordable_reward_says_what_it_costs_and_what_the_member_has(till):
    """`0 points asked for, 0 left after the rewards` said nothing true (issue 30, defect 8)."""
    enroll("cust-1")  # 100 points
    basket = {"member_id": "cust-1", "currency": "USD", "items": [LATTE, SANDWICH], "rewards": ["free-drink"]}
    for answer in (quote(basket), order({**basket, "order_id": "till-1"})):
        status, body, _ = answer
        assert (status, body["error"]["code"]) == (409, "insufficient_points")
        assert body["error"]["message"] == "the rewards cost 300 points; the member has 100 available", body
    adjust("cust-1", 400)  # 500: the reward is affordable, 300 points on top of it are not
    status, body, _ = quote({**basket, "points": 300})
    assert (status, body["error"]["code"]) == (409, "insufficient_points")
    assert body["error"]["message"] == "300 points asked for, 200 left after the rewards", body
    status, body, _ = quote({**basket, "rewards": [], "points": 600})
    assert body["error"]["message"] == "600 points asked for, 500 available", body
    assert member("cust-1")["points"]["available"] == 500  # nothing written


def test_a_member_in_debt_may_still_buy_without_points(till):
    """A negative balance refuses redemptions, not a sale paid in money: the order earns (it answered
    `409 insufficient_points`, "0 points asked for, 0 left after the rewards")."""
    enroll("cust-1")
    adjust("cust-1", -150)  # -50: a refund after the points were spent leaves such a balance
    plain = {"member_id": "cust-1", "currency": "USD", "items": [SANDWICH]}
    status, quoted, _ = quote(plain)
    assert status == 200 and quoted["points"] == 8 and quoted["balance"] == -42, quoted
    status, placed, _ = order({**plain, "order_id": "till-1"})
    assert status == 201 and placed["points"] == 8 and placed["balance"] == -42, placed
    status, body, _ = quote({**plain, "points": 100})
    assert (status, body["error"]["message"]) == (409, "100 points asked for, -42 available"), body
    assert_balanced("cust-1")


def test_a_refusal_on_an_index_behind_the_table_is_decided_again_by_the_table(till):
    from loyalty.store import core

    silver_with_932("cust-1")
    patch = api_event("UpdateProfile", body={"phone": "+14155550123"}, path_params={"member_id": "cust-1"})
    assert call("MembersFunction", patch)[0] == 200
    old = core.client().get_item(TableName=core.table_name(), Key=core.key("MEMBER#cust-1", "MEMBER"))["Item"]
    adjust("cust-1", 600, "top-up")  # 1,532 points now; the index below still shows 932
    core.client().update_item(
        TableName=core.table_name(), Key=core.key("MEMBER#cust-1", "MEMBER"), UpdateExpression="REMOVE IDPHONE"
    )
    core.client().put_item(TableName=core.table_name(), Item={**old, "PK": {"S": "STALE#cust-1"}})
    body = {"lookup": {"phone": "+14155550123"}, "currency": "USD", "items": [GIFT_CARD], "points": 1500}
    status, quoted, _ = quote(body)
    assert status == 200 and quoted["points_payment"] == {"points": 1500, "amount": "15.00"}, quoted
    status, placed, _ = order({**body, "order_id": "till-1"})
    assert status == 201 and placed["balance"] == 32, placed


def test_an_order_for_an_identifier_the_member_no_longer_holds_is_refused(till):
    silver_with_932("cust-1")
    enroll("cust-2")
    patch = api_event("UpdateProfile", body={"phone": "+14155550123"}, path_params={"member_id": "cust-1"})
    assert call("MembersFunction", patch)[0] == 200
    # the index still shows cust-1 with the phone (not caught up), while the phone has moved to cust-2
    from loyalty.store import core

    item = core.client().get_item(TableName=core.table_name(), Key=core.key("MEMBER#cust-1", "MEMBER"))["Item"]
    moved = api_event("UpdateProfile", body={"phone": None}, path_params={"member_id": "cust-1"})
    assert call("MembersFunction", moved)[0] == 200
    given = api_event("UpdateProfile", body={"phone": "+14155550123"}, path_params={"member_id": "cust-2"})
    assert call("MembersFunction", given)[0] == 200
    stale = {**item, "PK": {"S": "STALE#cust-1"}}  # a second item in the index under the phone: not sure
    core.client().put_item(TableName=core.table_name(), Item=stale)
    status, placed, _ = order(
        {"lookup": {"phone": "+14155550123"}, "order_id": "till-9", **{**BASKET, "rewards": [], "points": 0}}
    )
    assert status == 201 and placed["member_id"] == "cust-2"
    assert member("cust-1")["points"]["available"] == 932


# -- refunds -------------------------------------------------------------------------------------
def test_refunds_of_a_checkout_order_give_the_spent_points_back_in_proportion(till):
    silver_with_932("cust-1")
    assert order({"member_id": "cust-1", "order_id": "till-1", **BASKET})[0] == 201

    status, half, _ = refund("cust-1", "till-1", "ret-1", "13.80")  # half of the 27.60 paid
    assert status == 201, half
    # reversed floor(3 × 13.80 / 27.60) = 1; restored floor(800 × 13.80 / 27.60) = 400
    assert half == {
        "refund_id": "ret-1",
        "order_id": "till-1",
        "points": 399,
        "reversed": -1,
        "restored": 400,
        "balance": 534,
    }
    newest = ledger("cust-1")[:2]
    assert [(e["type"], e["points"]) for e in newest] == [("redeem_cancel", 400), ("reversal", -1)]

    status, small, _ = refund("cust-1", "till-1", "ret-2", "0.01")  # cumulative: floor of 13.81 / 27.60
    assert (status, small["reversed"], small["restored"]) == (201, 0, 0)

    status, rest, _ = refund("cust-1", "till-1", "ret-3", "13.79")
    assert status == 201, rest
    assert (rest["reversed"], rest["restored"], rest["points"], rest["balance"]) == (-2, 400, 398, 932)
    status, over, _ = refund("cust-1", "till-1", "ret-4", "0.01")
    assert status == 422 and over["error"]["code"] == "refund_exceeds_order"
    seen = member("cust-1")["points"]
    assert (seen["available"], seen["lifetime_redeemed"]) == (932, 0)
    assert_balanced("cust-1")


def test_a_plain_orders_refund_keeps_its_answer(till):
    enroll("cust-1")
    earn("cust-1", "o-1", "120.00")
    status, body, _ = refund("cust-1", "o-1", "r-1", "40.00")
    assert status == 201
    assert body == {"refund_id": "r-1", "order_id": "o-1", "points": -40, "balance": 180}


def test_points_given_back_into_a_month_that_is_over_expire_at_once(till):
    enroll("cust-1")  # 100 signup points, expiring at the end of 2027-03
    adjust("cust-1", 500)
    body = {"member_id": "cust-1", "order_id": "till-1", "currency": "USD", "items": [SANDWICH], "points": 600}
    status, placed, _ = order(body)
    assert status == 201 and placed["total"] == "2.00" and placed["balance"] == 2
    CLOCK.set(datetime(2027, 4, 10, tzinfo=UTC))  # 2027-03 is over; its expiry run has not run
    status, back, _ = refund("cust-1", "till-1", "ret-1", "2.00")
    assert status == 201, back
    assert (back["restored"], back["reversed"]) == (600, -2)
    newest = ledger("cust-1")[:3]
    assert [(e["type"], e["points"]) for e in newest] == [("expire", -600), ("redeem_cancel", 600), ("reversal", -2)]
    assert member("cust-1")["points"]["available"] == 0 == back["balance"]
    assert_balanced("cust-1")


def test_points_given_back_into_an_ended_month_never_pay_the_refunds_own_debt(till):
    """Issue 30: after the expiry run, a checkout refund's reversal made a debt and the points it restored into
    the ended month paid it (reversal -2, redeem_cancel +600, expire -598, balance 0) where a plain order
    refunded the same way ends at -2. Points put back into a month that is over expire whole, first; the
    refund's `points` is the balance's change."""
    from tests.support import jobs

    enroll("cust-1")  # 100 signup points, expiring at the end of 2027-03
    adjust("cust-1", 500)
    body = {"member_id": "cust-1", "order_id": "till-1", "currency": "USD", "items": [SANDWICH], "points": 600}
    assert order(body)[0] == 201  # pays 2.00, earns 2 (also expiring at the end of 2027-03)
    enroll("cust-2")
    adjust("cust-2", -100)  # the plain order's member: only the order's points
    earn("cust-2", "o-2", "2.00")
    CLOCK.set(datetime(2027, 4, 1, 0, 30, tzinfo=UTC))
    jobs.run("expiry", "2027-04-01")  # the 2 points each order earned expire
    CLOCK.set(datetime(2027, 4, 10, tzinfo=UTC))
    assert (member("cust-1")["points"]["available"], member("cust-2")["points"]["available"]) == (0, 0)

    status, plain, _ = refund("cust-2", "o-2", "ret-2", "2.00")
    assert (status, plain["points"], plain["balance"]) == (201, -2, -2)

    status, back, _ = refund("cust-1", "till-1", "ret-1", "2.00")
    assert status == 201, back
    newest = ledger("cust-1")[:3]
    assert [(e["type"], e["points"]) for e in newest] == [("expire", -600), ("redeem_cancel", 600), ("reversal", -2)]
    assert (back["reversed"], back["restored"], back["points"], back["balance"]) == (-2, 600, -2, -2)
    assert member("cust-1")["points"]["available"] == -2
    assert_balanced("cust-1")


def test_a_refund_that_completes_an_order_gives_back_its_rewards_stock_and_limit_use():
    """Issue 30: a refund gave back a reward's points but not its stock or its per-member limit use (a partner
    cancel gives back both): order-and-refund cycles drained the stock while the ledger showed nothing
    redeemed. A reward is one unit: `floor(1 × refunded / refundable)` of it comes back, so the refund that
    completes the order gives back its stock and limit use, once."""
    program = program_with(rewards={"free-drink": {"stock": 2, "limit_per_member": {"count": 1, "period": "month"}}})
    with mocked_aws(program):
        CLOCK.set(NOW)
        silver_with_932("cust-1")
        basket = {"member_id": "cust-1", "currency": "USD", "items": [LATTE, SANDWICH], "rewards": ["free-drink"]}

        def stock() -> int:
            rewards = call("RedeemFunction", api_event("ListRewards", query={"member_id": "cust-1"}))[1]["rewards"]
            return next(r["stock"] for r in rewards if r["reward_id"] == "free-drink")

        def limit_used() -> bool:
            answer = quote(basket)
            return answer[0] == 409 and answer[1]["error"]["code"] == "reward_unavailable"

        status, placed, _ = order({**basket, "order_id": "till-1"})
        assert status == 201 and placed["total"] == "7.60", placed
        assert (stock(), limit_used()) == (1, True)
        assert refund("cust-1", "till-1", "ret-1", "3.80")[0] == 201  # half: half the points, not the unit
        assert (stock(), limit_used()) == (1, True)
        status, rest, _ = refund("cust-1", "till-1", "ret-2", "3.80")
        assert (status, rest["restored"]) == (201, 150)
        assert (stock(), limit_used()) == (2, False)
        status, again, headers = refund("cust-1", "till-1", "ret-2", "3.80")  # a retry gives back nothing more
        assert (status, headers.get("Idempotent-Replayed"), again) == (200, "true", rest)
        assert stock() == 2

        for n in range(3):  # order-and-refund cycles leave the stock and the limit as they found them
            assert order({**basket, "order_id": f"till-c{n}"})[0] == 201
            assert refund("cust-1", f"till-c{n}", f"ret-c{n}", "7.60")[0] == 201
        assert (stock(), limit_used()) == (2, False)
        seen = member("cust-1")["points"]
        assert (seen["available"], seen["lifetime_redeemed"]) == (932, 0)
        assert_balanced("cust-1")


def test_an_order_paid_entirely_with_points_and_rewards_is_refunded_by_its_value(till):
    """Issue 30: an order paid entirely with points or rewards (`total` 0.00) could never be refunded (`422
    refund_exceeds_order` for any amount): a return of goods paid with points gave no point back. Such an
    order is refunded by its value, `subtotal − the price discounts` (the tier's and campaigns'; a reward is
    paid for with points): a refund of X gives back `floor(points spent × X / value)`, cumulative."""
    silver_with_932("cust-1")
    adjust("cust-1", 500, "adj-2")  # 1,432
    sandwich = {**SANDWICH, "amount": "8.42"}  # silver: 0.42 off (5% of 8.42, down to the cent), 8.00 left
    body = {"member_id": "cust-1", "currency": "USD", "items": [LATTE, sandwich], "rewards": ["free-drink"]}
    status, placed, _ = order({**body, "order_id": "till-1", "points": 800})
    assert status == 201, placed
    assert (placed["subtotal"], placed["discount_total"], placed["total"], placed["balance"]) == (
        "12.92",
        "4.92",
        "0.00",
        332,
    )  # value: 12.92 - 0.42 = 12.50, paid with the reward (4.50) and 800 points (8.00); 1,100 points spent

    status, over, _ = refund("cust-1", "till-1", "ret-0", "12.51")
    assert (status, over["error"]["code"]) == (422, "refund_exceeds_order")
    status, half, _ = refund("cust-1", "till-1", "ret-1", "6.25")  # half the goods back
    assert status == 201, half
    assert half == {
        "refund_id": "ret-1",
        "order_id": "till-1",
        "points": 550,
        "reversed": 0,
        "restored": 550,
        "balance": 882,
    }
    status, again, headers = refund("cust-1", "till-1", "ret-1", "6.25")  # a retry replays, gives nothing more
    assert (status, headers.get("Idempotent-Replayed"), again) == (200, "true", half)
    status, small, _ = refund("cust-1", "till-1", "ret-2", "0.01")  # floor(1,100 × 6.26 / 12.50) = 550
    assert (status, small["restored"], small["balance"]) == (201, 0, 882)
    status, over, _ = refund("cust-1", "till-1", "ret-3", "6.25")  # 12.51 in all
    assert (status, over["error"]["code"]) == (422, "refund_exceeds_order")
    status, rest, _ = refund("cust-1", "till-1", "ret-4", "6.24")  # the whole value, in three refunds
    assert (status, rest["restored"], rest["points"], rest["balance"]) == (201, 550, 550, 1432)
    status, over, _ = refund("cust-1", "till-1", "ret-5", "0.01")
    assert (status, over["error"]["code"]) == (422, "refund_exceeds_order")
    seen = member("cust-1")["points"]
    assert (seen["available"], seen["lifetime_redeemed"]) == (1432, 0)
    assert_balanced("cust-1")

    # a reward alone (a free latte): value 4.50, refunded whole
    status, placed, _ = order({**body, "order_id": "till-2", "items": [LATTE]})
    assert (status, placed["total"], placed["balance"]) == (201, "0.00", 1132)
    status, back, _ = refund("cust-1", "till-2", "ret-6", "4.50")
    assert (status, back["restored"], back["balance"]) == (201, 300, 1432)

    # an order that took money keeps the contract's rule: its refundable amount is its `total`, the money paid
    status, placed, _ = order(
        {**body, "order_id": "till-3", "points": 800, "items": [LATTE, {**sandwich, "amount": "8.43"}]}
    )
    assert (status, placed["total"]) == (201, "0.01")
    assert _error(refund("cust-1", "till-3", "ret-7", "0.02")) == (422, "refund_exceeds_order")
    status, back, _ = refund("cust-1", "till-3", "ret-8", "0.01")
    assert (status, back["restored"], back["balance"]) == (201, 1100, 1432)
    assert_balanced("cust-1")


# -- errors --------------------------------------------------------------------------------------
def _error(answer: tuple[int, Any, dict[str, str]]) -> tuple[int, str]:
    status, body, _ = answer
    return status, body["error"]["code"]


def test_every_checkout_error_the_contract_names(till):
    silver_with_932("cust-1")
    base = {"member_id": "cust-1", "currency": "USD", "items": [LATTE, SANDWICH, GIFT_CARD]}
    cases: list[tuple[dict[str, Any], int, str, str | None]] = [
        ({**base, "points": 3700}, 422, "validation_error", "points"),  # worth 37.00, above the 36.88 total
        ({**base, "points": 250}, 422, "validation_error", "points"),  # not a multiple of 100
        ({**base, "rewards": ["free-drink"], "points": 700}, 409, "insufficient_points", None),  # 632 left
        ({**base, "rewards": ["free-drink", "coffee"]}, 422, "validation_error", "rewards[1]"),  # a partner's
        ({**base, "rewards": ["free-drink", "free-drink"]}, 422, "validation_error", "rewards[1]"),
        ({**base, "rewards": ["no-such-reward"]}, 404, "reward_not_found", None),
        ({**base, "items": [SANDWICH], "rewards": ["free-drink"]}, 422, "reward_not_eligible", None),
        ({**base, "items": [GIFT_CARD], "rewards": ["free-drink"]}, 422, "reward_not_eligible", None),
        ({**base, "member_id": "ghost"}, 404, "member_not_found", None),
        ({**base, "currency": "EUR"}, 422, "validation_error", "currency"),
        ({**base, "itmes": []}, 422, "validation_error", "itmes"),
        ({**base, "items": []}, 422, "validation_error", "items"),
    ]
    for body, status, code, field in cases:
        for answer in (quote(body), order({**body, "order_id": "till-x"})):  # a quote answers what the order would
            assert _error(answer) == (status, code), (body, answer)
            if field is not None:
                assert any(d["field"] == field for d in answer[1]["error"]["details"]), answer
    assert member("cust-1")["points"]["available"] == 932
    assert [e["type"] for e in ledger("cust-1")] == ["adjust", "earn", "bonus"]  # nothing written


def test_a_reward_whose_discount_rounds_to_nothing_is_not_eligible_and_not_charged():
    """Issue 30: a `drinks` line of 0.04 for 5 units frees 0.00 (0.008 a unit, down to the cent), and a fixed
    reward on a 0.004 line takes 0.00 off; both answered `discounts: []` and spent the reward's points. They
    are `422 reward_not_eligible`, as a reward with no matching line is: quote and order alike, nothing written."""
    program = program_with(
        rewards={
            "ten-off": {
                "id": "ten-off",
                "name": "10 off",
                "points": 200,
                "partner_id": None,
                "discount": {"amount": "10.00"},
            }
        }
    )
    with mocked_aws(program):
        CLOCK.set(NOW)
        silver_with_932("cust-1")
        sugar = {"sku": "sugar", "category": "drinks", "amount": "0.04", "quantity": 5}
        mint = {"sku": "mint", "category": "food", "amount": "0.004", "quantity": 1}
        for items, reward in (
            ([sugar], "free-drink"),
            ([mint], "ten-off"),
            ([mint, {**mint, "sku": "m2", "amount": "0.009"}], "ten-off"),
        ):
            body = {"member_id": "cust-1", "currency": "USD", "items": items, "rewards": [reward]}
            for answer in (quote(body), order({**body, "order_id": "till-x"})):
                status, answered, _ = answer
                assert (status, answered.get("error", {}).get("code")) == (422, "reward_not_eligible"), answered
        assert member("cust-1")["points"]["available"] == 932
        assert [e["type"] for e in ledger("cust-1")] == ["adjust", "earn", "bonus"]  # nothing written


def test_a_member_by_id_or_by_identifier_exactly_one(till):
    silver_with_932("cust-1")
    items = {"currency": "USD", "items": [SANDWICH]}
    for body in (
        items,  # neither
        {**items, "member_id": "cust-1", "lookup": {"phone": "+14155550123"}},  # both
        {**items, "lookup": {}},
        {**items, "lookup": {"phone": "+14155550123", "email": "ana@example.com"}},
        {**items, "lookup": {"phone": "0415 555 0123"}},  # not E.164
        {**items, "lookup": {"passport": "X1"}},
    ):
        assert _error(quote(body)) == (422, "validation_error"), body
    # no member holds these identifiers
    for lookup in ({"phone": "+14155550123"}, {"email": "ana@example.com"}, {"card_id": "card-1"}):
        assert _error(quote({**items, "lookup": lookup})) == (404, "member_not_found")
        assert _error(order({**items, "lookup": lookup, "order_id": "o-1"})) == (404, "member_not_found")


def test_scopes_quote_needs_earn_an_order_earn_and_redeem(till):
    silver_with_932("cust-1")
    body = {"member_id": "cust-1", "currency": "USD", "items": [SANDWICH]}
    assert _error(quote(body, scopes="read redeem")) == (403, "forbidden")
    assert quote(body, scopes="earn")[0] == 200
    assert _error(order({**body, "order_id": "o-1"}, scopes="earn")) == (403, "forbidden")
    assert _error(order({**body, "order_id": "o-1"}, scopes="redeem")) == (403, "forbidden")
    assert order({**body, "order_id": "o-1"}, scopes="earn redeem")[0] == 201


def test_a_suspended_member_is_quoted_but_cannot_order(till):
    from loyalty.store import core
    from loyalty.store.codecs import member_to_item
    from loyalty.store.members import load_member

    silver_with_932("cust-1")
    suspended = load_member("cust-1")
    assert suspended is not None
    suspended.status = "suspended"  # the status route is issue 14's other half; the item is what it writes
    core.put(member_to_item(suspended))
    body = {"member_id": "cust-1", **BASKET}
    status, quoted, _ = quote(body)
    assert status == 200 and quoted["total"] == "27.60"
    assert quoted["rewards_available"][0]["eligible"] is False
    assert _error(order({**body, "order_id": "till-1"})) == (409, "member_inactive")
    assert member("cust-1")["points"]["available"] == 932


def test_in_store_rewards_keep_their_tier_window_stock_and_limits():
    program = program_with(
        rewards={
            "free-drink": {"eligible_tiers": ["gold"]},
            "cookie": {
                "id": "cookie",
                "name": "Cookie",
                "points": 100,
                "partner_id": None,
                "discount": {"item": {"category": "food", "max": "2.00"}},
                "stock": 1,
            },
            "five-off": {
                "id": "five-off",
                "name": "5 USD off",
                "points": 100,
                "partner_id": None,
                "discount": {"amount": "5.00"},
                "active_until": "2020-12-31",
            },
        }
    )
    with mocked_aws(program):
        CLOCK.set(NOW)
        silver_with_932("cust-1")
        enroll("cust-2")
        base = {"currency": "USD", "items": [LATTE, SANDWICH]}
        assert _error(quote({**base, "member_id": "cust-1", "rewards": ["free-drink"]})) == (422, "reward_not_eligible")
        assert _error(quote({**base, "member_id": "cust-1", "rewards": ["five-off"]})) == (409, "reward_unavailable")
        status, body, _ = order({**base, "member_id": "cust-1", "order_id": "o-1", "rewards": ["cookie"]})
        assert status == 201, body
        assert body["discounts"][0] == {"rule": "reward:cookie", "amount": "2.00", "sku": "sandwich"}
        status, body, _ = quote({**base, "member_id": "cust-2", "rewards": ["cookie"]})
        assert (status, body["error"]["code"]) == (409, "reward_unavailable")  # the one cookie is gone
        status, body, _ = quote({**base, "member_id": "cust-2"})
        available = {r["reward_id"]: (r["eligible"], r["affordable"]) for r in body["rewards_available"]}
        assert available == {"free-drink": (False, False), "cookie": (False, False), "five-off": (False, False)}


def test_a_fixed_amount_reward_comes_off_the_dearest_eligible_lines_first():
    program = program_with(
        rewards={
            "ten-off": {
                "id": "ten-off",
                "name": "10 USD off",
                "points": 200,
                "partner_id": None,
                "discount": {"amount": "10.00"},
            }
        }
    )
    with mocked_aws(program):
        CLOCK.set(NOW)
        enroll("cust-1")
        adjust("cust-1", 200)
        items = [LATTE, {**SANDWICH, "amount": "16.00", "quantity": 2}, GIFT_CARD, {**LATTE, "sku": "tea"}]
        status, body, _ = quote({"member_id": "cust-1", "currency": "USD", "items": items, "rewards": ["ten-off"]})
        assert status == 200, body
        # unit prices: sandwich 8.00, latte 4.50, tea 4.50 (the gift card takes no discount)
        assert body["discounts"] == [
            {"rule": "reward:ten-off", "amount": "10.00", "sku": "sandwich"},
        ]
        assert (body["subtotal"], body["total"], body["points"]) == ("50.00", "40.00", 15)
        assert body["max_points_payable"] == 100  # 300 points less the reward's 200


# -- quote == order, whatever the basket ---------------------------------------------------------
CATEGORIES = st.sampled_from(["drinks", "food", "gift-cards", "electronics"])
AMOUNTS = st.integers(min_value=0, max_value=20_000).map(lambda c: f"{c // 100}.{c % 100:02d}")
LINES = st.lists(
    st.fixed_dictionaries(
        {"category": CATEGORIES, "amount": AMOUNTS, "quantity": st.integers(min_value=1, max_value=4)}
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=LINES,
    hundreds=st.integers(min_value=0, max_value=12),
    reward=st.booleans(),
    month=st.sampled_from([3, 12]),
)
def test_the_order_answers_what_the_quote_said_for_any_basket(till, lines, hundreds, reward, month):
    CLOCK.set(datetime(2026, month, 14, 10, tzinfo=UTC))  # December: the electronics campaign pays points
    member_id = f"m-{abs(hash((json.dumps(lines), hundreds, reward, month))) % 10**12}"
    enroll(member_id)
    adjust(member_id, 1200)
    items = [{"sku": f"sku-{i}", **line} for i, line in enumerate(lines)]
    body = {"member_id": member_id, "currency": "USD", "items": items, "points": hundreds * 100}
    if reward:
        body["rewards"] = ["free-drink"]
    quoted = quote(body)
    placed = order({**body, "order_id": f"{member_id}-o"})
    if quoted[0] != 200:
        assert placed[0] == quoted[0] and placed[1]["error"]["code"] == quoted[1]["error"]["code"]
        assert member(member_id)["points"]["available"] == 1300
        return
    assert placed[0] == 201, placed
    answer = dict(placed[1])
    answer.pop("order_id"), answer.pop("entry_ids")
    assert answer == quoted[1]
    assert member(member_id)["points"]["available"] == quoted[1]["balance"]
