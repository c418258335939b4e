"""Earn, preview, refunds and activities through EarnFunction with the demo programme's numbers."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loyalty.earning import earn as earn_ops
from loyalty.kernel.clock import CLOCK
from loyalty.kernel.errors import ValidationFailed
from loyalty.ledger import maths as ledger
from loyalty.ledger.operations import Outcome
from loyalty.program.rules import current_program
from loyalty.requests.earning import ActivityRequest, EarnRequest, RefundRequest
from loyalty.store import codecs, core
from loyalty.store import members as member_store

from tests.support.aws import api_event, call, count_calls, headers_of, invoke, mocked_aws

MARCH = datetime(2026, 3, 14, 10, tzinfo=UTC)


def enroll(member_id: str, **extra: Any) -> dict:
    event = api_event("Enroll", body={"member_id": member_id, "channel": "web", **extra})
    status, body, _ = call("MembersFunction", event)
    assert status == 201, body
    return body


def earn(member_id: str, order_id: str, amount: str, **extra: Any) -> tuple[int, dict, dict]:
    body = {"member_id": member_id, "order_id": order_id, "amount": amount, "currency": "USD", **extra}
    return call("EarnFunction", api_event("Earn", body=body))


def preview(member_id: str, amount: str, **extra: Any) -> tuple[int, dict, dict]:
    body = {"member_id": member_id, "order_id": "preview", "amount": amount, "currency": "USD", **extra}
    return call("EarnFunction", api_event("EarnPreview", body=body))


def refund(member_id: str, order_id: str, refund_id: str, amount: str) -> tuple[int, dict, dict]:
    body = {"member_id": member_id, "order_id": order_id, "refund_id": refund_id, "amount": amount}
    return call("EarnFunction", api_event("Refund", body=body))


def activity(member_id: str, activity_id: str, type_: str, **extra: Any) -> tuple[int, dict, dict]:
    body = {"member_id": member_id, "activity_id": activity_id, "type": type_, **extra}
    return call("EarnFunction", api_event("Activity", body=body))


def member(member_id: str) -> dict:
    status, body, _ = call("MembersFunction", api_event("GetMember", path_params={"member_id": member_id}))
    assert status == 200, body
    return body


def entries(member_id: str) -> list[dict]:
    event = api_event("GetLedger", path_params={"member_id": member_id}, query={"limit": "100"})
    status, body, _ = call("MembersFunction", event)
    assert status == 200
    return list(reversed(body["entries"]))  # oldest first


def stored_member(member_id: str):
    found = member_store.load_member(member_id)
    assert found is not None
    return found


def error(answer: tuple[int, dict, dict]) -> tuple[int, str]:
    return answer[0], answer[1]["error"]["code"]


# -- earning ---------------------------------------------------------------------------------------
def test_a_red_member_earns_one_point_per_dollar_and_the_ledger_shows_it(aws):
    enroll("cust-1")
    status, body, headers = earn("cust-1", "order-1", "120.00")
    assert status == 201 and "Idempotent-Replayed" not in headers
    assert body["points"] == 120 and body["breakdown"] == [{"rule": "base", "points": 120}]
    assert body["balance"] == 220 and body["member_id"] == "cust-1" and body["order_id"] == "order-1"
    assert body["tier"]["id"] == "red" and body["entry_id"].startswith("le_")
    earned = entries("cust-1")[-1]
    assert (earned["type"], earned["points"], earned["balance_after"], earned["reference"]) == (
        "earn",
        120,
        220,
        "order-1",
    )
    assert earned["entry_id"] == body["entry_id"]
    view = member("cust-1")
    assert view["points"]["available"] == 220 and view["qualifying"]["value"] == 120


def test_the_threshold_crossing_earn_uses_the_old_multiplier_then_upgrades_at_once(aws):
    enroll("cust-1")
    assert earn("cust-1", "o-1", "900.00")[1]["points"] == 900
    status, body, _ = earn("cust-1", "o-2", "200.00")
    assert status == 201
    assert body["breakdown"] == [{"rule": "base", "points": 200}]  # red's ×1.0 on the crossing order
    assert body["tier"]["id"] == "silver" and body["tier"]["source"] == "qualified"
    _, body, _ = earn("cust-1", "o-3", "120.00")  # a silver member earning 120: 120 + 60
    assert body["points"] == 180
    assert body["breakdown"] == [{"rule": "base", "points": 120}, {"rule": "tier:silver", "points": 60}]
    assert body["balance"] == 100 + 900 + 200 + 180
    _, body, _ = earn("cust-1", "o-4", "1280.00")  # 1220 + 1280 = 2500: gold, at silver's ×1.5
    assert body["points"] == 1920 and body["tier"]["id"] == "gold"
    assert member("cust-1")["tier"]["id"] == "gold"


def test_gift_cards_are_not_eligible(aws):
    enroll("cust-1")
    items = [
        {"sku": "gc-50", "category": "gift-cards", "amount": "50.00", "quantity": 1},
        {"sku": "book", "category": "books", "amount": "30.50", "quantity": 2},
    ]
    _, body, _ = earn("cust-1", "o-1", "80.50", items=items)
    assert body["points"] == 30
    _, body, _ = earn("cust-1", "o-2", "25.00", items=[{"sku": "gc", "category": "gift-cards", "amount": "25.00"}])
    assert body["points"] == 0 and body["breakdown"] == [{"rule": "base", "points": 0}]


def test_december_electronics_campaign_by_the_clock_or_by_occurred_at(aws):
    enroll("cust-1")
    items = [
        {"sku": "tv", "category": "electronics", "amount": "105.00", "quantity": 1},
        {"sku": "book", "category": "books", "amount": "15.00", "quantity": 1},
    ]
    CLOCK.set(datetime(2026, 12, 10, 12, tzinfo=UTC))
    _, body, _ = earn("cust-1", "o-dec", "120.00", items=items)
    assert body["breakdown"] == [
        {"rule": "base", "points": 120},
        {"rule": "campaign:holiday-electronics", "points": 10},
    ]
    assert body["points"] == 130
    CLOCK.set(datetime(2027, 1, 3, tzinfo=UTC))
    _, body, _ = earn("cust-1", "o-jan", "120.00", items=items)
    assert body["points"] == 120
    _, body, _ = earn("cust-1", "o-late", "120.00", items=items, occurred_at="2026-12-31T23:00:00Z")
    assert body["points"] == 130  # by the order's time, not the request's
    assert entries("cust-1")[-1]["occurred_at"] == "2026-12-31T23:00:00Z"


def test_bad_orders_are_refused_and_write_nothing(aws):
    enroll("cust-1")
    CLOCK.set(MARCH)
    assert earn("cust-1", "o-1", "10.00", currency="EUR")[1]["error"]["details"][0]["field"] == "currency"
    status, body, _ = earn("cust-1", "o-1", "10.00", occurred_at="2026-03-14T10:06:00Z")
    assert status == 422 and body["error"]["details"][0]["field"] == "occurred_at"
    for amount in (10, "-1.00", "1e3", "ten"):
        status, body, _ = earn("cust-1", "o-1", amount)  # type: ignore[arg-type]
        assert status == 422 and body["error"]["code"] == "validation_error", amount
        assert body["error"]["details"][0]["field"] == "amount"
    assert len(entries("cust-1")) == 1
    status, body, _ = earn("cust-1", "o-1", "10.00", occurred_at="2026-03-14T10:04:00Z")
    assert status == 201


def test_unknown_and_inactive_members(aws):
    assert error(earn("ghost", "o-1", "10.00")) == (404, "member_not_found")
    assert error(preview("ghost", "10.00")) == (404, "member_not_found")
    assert error(activity("ghost", "a-1", "review")) == (404, "member_not_found")
    assert error(refund("ghost", "o-1", "r-1", "1.00")) == (404, "member_not_found")
    enroll("cust-1")
    suspended = stored_member("cust-1")
    suspended.status = "suspended"
    core.put(codecs.member_to_item(suspended))
    assert error(earn("cust-1", "o-1", "10.00")) == (409, "member_inactive")
    assert error(activity("cust-1", "a-1", "review")) == (409, "member_inactive")
    assert error(preview("cust-1", "10.00")) == (409, "member_inactive")
    assert len(entries("cust-1")) == 1


def test_earn_needs_the_earn_scope(aws):
    event = api_event("Earn", scopes="read")
    status, body, _ = call("EarnFunction", event)
    assert status == 403 and body["error"]["code"] == "forbidden"


# -- idempotency -----------------------------------------------------------------------------------
def test_replays_are_byte_identical_and_conflicts_are_409(aws):
    enroll("cust-1")
    enroll("cust-2")
    event = api_event("Earn", body={"member_id": "cust-1", "order_id": "o-1", "amount": "120.00", "currency": "USD"})
    first, again = invoke("EarnFunction", event), invoke("EarnFunction", event)
    assert first["statusCode"] == 201 and again["statusCode"] == 200
    assert again["body"] == first["body"]
    assert headers_of(again)["Idempotent-Replayed"] == "true"
    assert earn("cust-1", "o-1", "120.0")[0] == 200  # the same amount, written differently
    assert error(earn("cust-2", "o-1", "120.00")) == (409, "idempotency_conflict")
    assert error(earn("cust-1", "o-1", "121.00")) == (409, "idempotency_conflict")
    items = [{"sku": "a", "category": "books", "amount": "120.00"}]
    assert error(earn("cust-1", "o-1", "120.00", items=items)) == (409, "idempotency_conflict")
    for make in (lambda: refund("cust-1", "o-1", "r-1", "40.00"), lambda: activity("cust-1", "a-1", "review")):
        status, body, _ = make()
        replay_status, replayed, headers = make()
        assert (status, replay_status) == (201, 200) and replayed == body
        assert headers["Idempotent-Replayed"] == "true"
    assert error(refund("cust-1", "o-1", "r-1", "41.00")) == (409, "idempotency_conflict")
    assert error(activity("cust-1", "a-1", "birthday")) == (409, "idempotency_conflict")
    assert member("cust-1")["points"]["available"] == 100 + 120 - 40 + 20
    assert member("cust-2")["points"]["available"] == 100


def serialise_dynamodb_calls(monkeypatch) -> None:
    """In-process moto is not thread-safe; DynamoDB applies each call atomically, so make moto do so too.

    The race between a request's read and its write stays: only the conditions can settle it.
    """
    client = core.client()
    original = client._make_api_call
    lock = threading.Lock()

    def one_at_a_time(operation: str, params: dict) -> Any:
        with lock:
            return original(operation, params)

    monkeypatch.setattr(client, "_make_api_call", one_at_a_time)


def test_concurrent_duplicate_earns_write_one_entry_and_answer_the_same_body(aws, monkeypatch):
    enroll("cust-1")
    serialise_dynamodb_calls(monkeypatch)
    event = api_event("Earn", body={"member_id": "cust-1", "order_id": "o-race", "amount": "75.00", "currency": "USD"})
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: invoke("EarnFunction", event), range(4)))
    assert sorted(a["statusCode"] for a in answers) == [200, 200, 200, 201]
    assert len({a["body"] for a in answers}) == 1
    assert [e["type"] for e in entries("cust-1")] == ["bonus", "earn"]
    assert member("cust-1")["points"]["available"] == 175


# -- preview ---------------------------------------------------------------------------------------
def test_preview_answers_the_earn_without_writing(aws):
    enroll("cust-1")
    earn("cust-1", "o-1", "950.00")
    status, body, _ = preview("cust-1", "120.00")
    assert status == 200
    assert body == {
        "member_id": "cust-1",
        "order_id": "preview",
        "points": 120,
        "breakdown": [{"rule": "base", "points": 120}],
        "balance": 1170,
        "tier": body["tier"],
    }
    assert body["tier"]["id"] == "silver"  # what the tier would become
    assert member("cust-1")["tier"]["id"] == "red"
    assert member("cust-1")["points"]["available"] == 1050
    assert len(entries("cust-1")) == 2
    assert earn("cust-1", "preview", "120.00")[0] == 201  # its order id was not taken


# -- refunds ---------------------------------------------------------------------------------------
def silver_member_with_a_180_point_order(member_id: str = "cust-1") -> None:
    enroll(member_id)
    earn(member_id, f"{member_id}-big", "1000.00")
    assert earn(member_id, f"{member_id}-o", "120.00")[1]["points"] == 180


def test_refund_of_40_of_120_on_a_180_point_order_reverses_60(aws):
    silver_member_with_a_180_point_order()
    status, body, _ = refund("cust-1", "cust-1-o", "r-1", "40.00")
    assert status == 201
    assert body == {"refund_id": "r-1", "order_id": "cust-1-o", "points": -60, "balance": 1280 - 60}
    reversal = entries("cust-1")[-1]
    assert (reversal["type"], reversal["points"], reversal["balance_after"]) == ("reversal", -60, 1220)
    assert member("cust-1")["qualifying"]["value"] == 1120 - 40


def test_refunds_are_cumulative_and_never_exceed_the_order(aws):
    silver_member_with_a_180_point_order()
    assert refund("cust-1", "cust-1-o", "r-1", "50.00")[1]["points"] == -75
    assert refund("cust-1", "cust-1-o", "r-2", "0.50")[1]["points"] == 0  # floor(180 × 50.5/120) = 75
    assert refund("cust-1", "cust-1-o", "r-3", "29.50")[1]["points"] == -45  # 80 of 120: 120 reversed
    before = entries("cust-1")
    status, body, _ = refund("cust-1", "cust-1-o", "r-4", "40.01")
    assert (status, body["error"]["code"]) == (422, "refund_exceeds_order")
    assert entries("cust-1") == before
    assert refund("cust-1", "cust-1-o", "r-4", "40.00")[1]["points"] == -60
    assert sum(e["points"] for e in entries("cust-1") if e["type"] == "reversal") == -180
    assert error(refund("cust-1", "cust-1-o", "r-5", "0.01")) == (422, "refund_exceeds_order")
    assert member("cust-1")["qualifying"]["value"] == 1000


def test_refunding_an_unknown_order_or_another_members_order_is_404(aws):
    silver_member_with_a_180_point_order()
    enroll("cust-2")
    assert error(refund("cust-1", "nope", "r-1", "1.00")) == (404, "order_not_found")
    assert error(refund("cust-2", "cust-1-o", "r-1", "1.00")) == (404, "order_not_found")
    assert error(refund("cust-1", "cust-1-o", "r-bad", "0.00")) == (422, "validation_error")
    assert len(entries("cust-2")) == 1


def test_a_refund_can_leave_a_debt_that_the_next_earn_repays_first(aws):
    enroll("cust-1")
    earn("cust-1", "o-1", "120.00")
    adjust = api_event(
        "Adjust",
        path_params={"member_id": "cust-1"},
        body={"adjustment_id": "spend", "points": -200, "reason": "spent elsewhere"},
    )
    assert call("MembersFunction", adjust)[0] == 201
    status, body, _ = refund("cust-1", "o-1", "r-1", "120.00")
    assert status == 201 and body["points"] == -120 and body["balance"] == -100
    ledger.check(stored_member("cust-1"))
    assert member("cust-1")["expiring"] == []
    _, body, _ = earn("cust-1", "o-2", "150.00")
    assert body["balance"] == 50
    repaid = stored_member("cust-1")
    ledger.check(repaid)
    assert sum(repaid.buckets.values()) == 50


# -- activities ------------------------------------------------------------------------------------
def test_reviews_are_capped_at_three_a_month_and_birthdays_once_a_year(aws):
    enroll("cust-1")
    CLOCK.set(MARCH)
    for i in range(3):
        status, body, _ = activity("cust-1", f"rev-{i}", "review")
        assert status == 201 and body["points"] == 20
    assert body["balance"] == 160 and set(body) == {"entry_id", "points", "balance"}
    before = entries("cust-1")
    assert error(activity("cust-1", "rev-3", "review")) == (422, "activity_limit_reached")
    assert entries("cust-1") == before
    assert activity("cust-1", "rev-4", "review", occurred_at="2026-02-20T09:00:00Z")[0] == 201
    assert activity("cust-1", "bday", "birthday")[1]["points"] == 50
    assert error(activity("cust-1", "bday-2", "birthday")) == (422, "activity_limit_reached")
    # the next calendar year's birthday earns; a back-dated one into the year already used does not
    # (the posting window reaches back to the first day of the previous month: 2026-12-01 here)
    CLOCK.set(datetime(2027, 1, 10, tzinfo=UTC))
    assert error(activity("cust-1", "bday-late", "birthday", occurred_at="2026-12-31T09:00:00Z")) == (
        422,
        "activity_limit_reached",
    )
    assert activity("cust-1", "bday-2027", "birthday")[0] == 201
    assert entries("cust-1")[-1]["details"] == {"activity": "birthday"}
    status, body, _ = activity("cust-1", "x", "selfie")
    assert (status, body["error"]["details"][0]["field"]) == (422, "type")
    assert member("cust-1")["qualifying"]["value"] == 0  # activity points never qualify


def test_the_referrer_is_paid_once_on_the_first_earning_order(aws):
    enroll("ref-1")
    enroll("new-1", referred_by="ref-1")
    earn("new-1", "gc-only", "25.00", items=[{"sku": "gc", "category": "gift-cards", "amount": "25.00"}])
    assert member("ref-1")["points"]["available"] == 100  # no points earned: not yet
    calls, stop = count_calls()
    try:
        status, body, _ = earn("new-1", "first", "10.00")
    finally:
        stop()
    assert status == 201 and body["balance"] == 110
    assert calls == ["BatchGetItem", "GetItem", "TransactWriteItems"]  # the referrer read: first order only
    earn("new-1", "second", "10.00")
    assert member("ref-1")["points"]["available"] == 350
    bonus = entries("ref-1")[-1]
    assert (bonus["type"], bonus["points"], bonus["reference"]) == ("bonus", 250, "new-1")
    assert [e["type"] for e in entries("ref-1")] == ["bonus", "bonus"]
    assert member("ref-1")["qualifying"]["value"] == 0


# -- round trips -----------------------------------------------------------------------------------
def counted(action) -> list[str]:
    calls, stop = count_calls()
    try:
        action()
    finally:
        stop()
    return calls


def test_round_trips(aws):
    enroll("cust-1")
    earn("cust-1", "warm", "1.00")  # the first call builds the client
    first = counted(lambda: earn("cust-1", "o-1", "120.00"))
    replay = counted(lambda: earn("cust-1", "o-1", "120.00"))
    look = counted(lambda: preview("cust-1", "120.00"))
    back = counted(lambda: refund("cust-1", "o-1", "r-1", "40.00"))
    review = counted(lambda: activity("cust-1", "a-1", "review"))
    assert first == ["BatchGetItem", "TransactWriteItems"]
    assert replay == ["BatchGetItem"]
    assert look == ["GetItem"]
    assert back == ["BatchGetItem", "TransactWriteItems"]
    assert review == ["BatchGetItem", "TransactWriteItems"]


# -- replays in any order leave the same state -------------------------------------------------------
_runs = itertools.count()
OPERATIONS = [
    ("earn", "o-1", "120.00"),
    ("refund", "o-1", "30.00"),
    ("activity", "rev", "review"),
    ("earn", "o-2", "1000.00"),
    ("refund", "o-1", "45.00"),
]


def perform(member_id: str, index: int) -> Outcome:
    """At the operation level (the handlers are covered above): the domain call a route makes."""
    program = current_program()
    kind, ref, value = OPERATIONS[index]
    if kind == "earn":
        order = {"member_id": member_id, "order_id": f"{member_id}-{ref}", "amount": value, "currency": "USD"}
        return earn_ops.earn(program, EarnRequest.model_validate(order))
    if kind == "refund":
        back = {"member_id": member_id, "order_id": f"{member_id}-{ref}", "refund_id": f"{member_id}-r{index}"}
        return earn_ops.refund(program, RefundRequest.model_validate({**back, "amount": value}))
    done = {"member_id": member_id, "activity_id": f"{ref}{index}", "type": value}
    return earn_ops.record_activity(program, ActivityRequest.model_validate(done))


def state(member_id: str) -> tuple:
    found = stored_member(member_id)
    ledger.check(found)
    figures = found.model_dump(include={"available", "lifetime_earned", "tier_id", "qualifying", "buckets", "orders"})
    lines = [(e.type, e.points, e.balance_after) for e in member_store.all_entries(member_id)]
    return figures, lines


_plain_state: list[tuple] = []  # the state without replays is the same for every example: computed once


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(min_value=0, max_value=len(OPERATIONS) - 1), max_size=6))
def test_any_interleaving_of_replays_leaves_the_same_state(aws, replays):
    run = next(_runs)
    CLOCK.set(MARCH)
    if not _plain_state:
        enroll("plain")
        for index in range(len(OPERATIONS)):
            assert perform("plain", index).status == 201
        _plain_state.append(state("plain"))
    replayed = f"replayed-{run}"
    enroll(replayed)
    first: dict[int, Outcome] = {}
    for index in range(len(OPERATIONS)):
        first[index] = perform(replayed, index)
        assert first[index].status == 201
        for again in [r for r in replays if r <= index]:  # replay anything already done, in any order
            outcome = perform(replayed, again)
            assert outcome.status == 200 and outcome.body == first[again].body
        replays = [r for r in replays if r > index]
    assert state(replayed) == _plain_state[0]


# -- pending points (a programme with a 14-day return window) --------------------------------------
@pytest.fixture
def pending_programme():
    demo = resources.files("loyalty").joinpath("programs", "demo.yaml").read_text(encoding="utf-8")
    assert "pending_days: 0" in demo
    with mocked_aws(demo.replace("pending_days: 0", "pending_days: 14")) as found:
        yield found


def activation(as_of: str) -> dict:
    return invoke("PendingActivationFunction", {"job": "pending-activation", "as_of": as_of})


def test_pending_points_are_not_spendable_until_the_daily_activation(pending_programme):
    CLOCK.set(MARCH)
    enroll("cust-1")
    status, body, _ = earn("cust-1", "o-1", "120.00")
    assert status == 201 and body["points"] == 120 and body["balance"] == 100
    view = member("cust-1")
    assert view["points"]["available"] == 100 and view["points"]["pending"] == 120
    assert entries("cust-1")[-1]["details"]["available_on"] == "2026-03-28"
    assert refund("cust-1", "o-1", "r-1", "40.00")[1] == {
        "refund_id": "r-1",
        "order_id": "o-1",
        "points": -40,
        "balance": 100,
    }  # taken from the pending points first
    earn("cust-1", "o-2", "30.00")
    refund("cust-1", "o-2", "r-2", "30.00")  # a fully refunded pending order leaves nothing to activate
    assert member("cust-1")["points"]["pending"] == 80
    CLOCK.set(datetime(2026, 3, 29, tzinfo=UTC))  # a job's as_of is never later than today
    assert activation("2026-03-27") == {
        "job": "pending-activation",
        "as_of": "2026-03-27",
        "members_activated": 0,
        "points_activated": 0,
    }
    assert activation("2026-03-28")["points_activated"] == 80
    assert activation("2026-03-28")["points_activated"] == 0  # a second run changes nothing
    view = member("cust-1")
    assert view["points"]["available"] == 180 and view["points"]["pending"] == 0
    assert view["expiring"] == [{"month": "2027-03", "points": 180}]
    ledger.check(stored_member("cust-1"))
    assert activation("2026-03-29")["members_activated"] == 0


def test_the_activation_job_refuses_a_bad_as_of(pending_programme):
    with pytest.raises(ValidationFailed):
        invoke("PendingActivationFunction", {"job": "pending-activation", "as_of": "yesterday"})
    CLOCK.set(MARCH)
    for later in ("2026-03-15", "9999-12-31"):  # the far end of the calendar overflowed (a crash, not a 422)
        with pytest.raises(ValidationFailed) as refused:
            activation(later)
        assert refused.value.details == [{"field": "as_of", "message": f"{later} is later than today (2026-03-14)"}]


def test_a_pools_part_of_an_order_is_pending_as_the_members_and_activates_with_it(pending_programme):
    """A member in an account, under a return window: the pool's part is pending too (not spendable), a refund
    takes it from the pending lot first, and the daily activation makes the rest spendable (v1.2)."""
    CLOCK.set(MARCH)
    company = {"account_id": "acme", "kind": "company", "name": "Acme Ltd", "member_share_percent": 10}
    assert call("AccountsFunction", api_event("CreateAccount", body=company))[0] == 201
    enroll("b1")
    owner = {"member_id": "b1", "role": "owner"}
    joined = api_event("AddAccountMember", body=owner, path_params={"account_id": "acme"})
    assert call("AccountsFunction", joined)[0] == 200
    status, body, _ = earn("b1", "o-1", "200.00")
    assert status == 201 and body["account"] == {"account_id": "acme", "points": 180, "balance": 0}

    def pool() -> dict:
        status, view, _ = call("AccountsFunction", api_event("GetAccount", path_params={"account_id": "acme"}))
        assert status == 200
        return view["points"]

    assert (pool()["available"], pool()["pending"]) == (0, 180)
    paid = {"redemption_id": "p-1", "member_id": "b1", "points": 100, "account_id": "acme"}
    assert call("RedeemFunction", api_event("PayWithPoints", body=paid))[1]["error"]["code"] == "insufficient_points"
    status, body, _ = refund("b1", "o-1", "r-1", "50.00")
    assert status == 201 and body["account"]["points"] == -45
    assert (pool()["available"], pool()["pending"]) == (0, 135)
    CLOCK.set(datetime(2026, 3, 29, tzinfo=UTC))
    assert activation("2026-03-28")["points_activated"] == 15 + 135  # the member's lot and the pool's
    assert (pool()["available"], pool()["pending"]) == (135, 0)
    assert activation("2026-03-28")["points_activated"] == 0
    assert call("RedeemFunction", api_event("PayWithPoints", body=paid))[0] == 201
