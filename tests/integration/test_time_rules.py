"""The ledger keeps time true: regression tests for the defects of issue 13, through the handlers.

Each test names the defect it pins. They go through the functions' handlers with the events of
`events/`, against moto with the template's resources, as the public API does.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from loyalty.domain import keys
from loyalty.kernel.clock import CLOCK
from loyalty.kernel.errors import RedemptionNotFound
from loyalty.program.rules import bundled_program
from loyalty.redemption import redeem
from loyalty.store import members as store

from tests.support import jobs
from tests.support.aws import api_event, call, invoke, load_event, mocked_aws

DEMO = bundled_program()


# -- helpers -------------------------------------------------------------------------------------
def at(text: str) -> None:
    CLOCK.set(datetime.fromisoformat(text.replace("Z", "+00:00")))


def enroll(member_id: str, **extra: Any) -> tuple[int, dict, dict]:
    return call("MembersFunction", api_event("Enroll", body={"member_id": member_id, "channel": "web", **extra}))


def earn(member_id: str, order_id: str, amount: str, **extra: Any) -> tuple[int, dict, dict]:
    body = {"member_id": member_id, "order_id": order_id, "amount": amount, "currency": "USD", **extra}
    return call("EarnFunction", api_event("Earn", body=body))


def activity(member_id: str, activity_id: str, type_: str, **extra: Any) -> tuple[int, dict, dict]:
    body = {"member_id": member_id, "activity_id": activity_id, "type": type_, **extra}
    return call("EarnFunction", api_event("Activity", body=body))


def pay(member_id: str, redemption_id: str, points: int, capture: bool = True) -> tuple[int, dict, dict]:
    body = {"redemption_id": redemption_id, "member_id": member_id, "points": points, "capture": capture}
    return call("RedeemFunction", api_event("PayWithPoints", body=body))


def void(redemption_id: str) -> tuple[int, dict, dict]:
    return call("RedeemFunction", api_event("Void", body={}, path_params={"redemption_id": redemption_id}))


def member(member_id: str) -> dict:
    status, body, _ = call("MembersFunction", api_event("GetMember", path_params={"member_id": member_id}))
    assert status == 200, body
    return body


def ledger(member_id: str) -> list[dict]:
    status, body, _ = call(
        "MembersFunction", api_event("GetLedger", path_params={"member_id": member_id}, query={"limit": "100"})
    )
    assert status == 200
    return list(reversed(body["entries"]))  # oldest first


def code(answer: tuple[int, dict, dict]) -> tuple[int, str]:
    return answer[0], answer[1]["error"]["code"]


def assert_nothing_spendable_from_ended_months(member_id: str) -> None:
    stored = store.load_member(member_id)
    assert stored is not None
    now_month = CLOCK.now().strftime("%Y-%m")
    assert all(m >= now_month for m in stored.buckets if m != "never"), stored.buckets
    assert all(e["month"] >= now_month for e in member(member_id)["expiring"])


@pytest.fixture
def demo(aws: dict[str, Any]) -> dict[str, Any]:
    return aws


# -- expired points never come back to life -----------------------------------------------------------
def test_a_hold_voided_after_the_expiry_run_does_not_revive_expired_points(demo):
    at("2025-01-15T10:00:00Z")
    enroll("ana")  # 100 signup points that expire at the end of 2026-01
    at("2026-01-31T23:50:00Z")
    assert pay("ana", "hold-1", 100, capture=False)[0] == 201
    at("2026-02-01T00:05:00Z")
    summary = jobs.run("expiry", "2026-02-01")
    assert summary["points_expired"] == 0  # the hold had taken them: nothing left to expire
    status, body, _ = void("hold-1")
    assert (status, body["status"], body["points"], body["balance"]) == (200, "voided", 100, 0)
    view = member("ana")
    assert view["points"]["available"] == 0 and view["points"]["lifetime_expired"] == 100
    assert view["expiring"] == []
    assert [(e["type"], e["points"]) for e in ledger("ana")][-2:] == [("redeem_cancel", 100), ("expire", -100)]
    assert_nothing_spendable_from_ended_months("ana")
    assert code(pay("ana", "again", 100)) == (409, "insufficient_points")


def test_a_hold_released_by_the_job_after_the_expiry_run_does_not_revive_them(demo):
    at("2025-01-15T10:00:00Z")
    enroll("ben")
    at("2026-01-31T23:50:00Z")
    assert pay("ben", "hold-2", 100, capture=False)[0] == 201
    at("2026-02-01T00:30:00Z")
    jobs.run("expiry", "2026-02-01")
    assert invoke("HoldReleaseFunction", load_event("HoldRelease"))["released"] == 1
    assert member("ben")["points"]["available"] == 0
    assert_nothing_spendable_from_ended_months("ben")


def test_a_partner_cancel_after_the_expiry_run_expires_the_points_at_once(demo):
    at("2025-01-15T10:00:00Z")
    enroll("cai")
    at("2026-01-31T22:00:00Z")
    assert redeem.partner_redeem(DEMO, "demo-partner", "red-1", "cai", "free-item").status == 201
    at("2026-02-01T02:00:00Z")
    jobs.run("expiry", "2026-02-01")  # takes the 50 left of 2026-01
    outcome = redeem.partner_cancel(DEMO, "demo-partner", "red-1")
    body = json.loads(outcome.body)
    assert (outcome.status, body["points"], body["balance"]) == (200, 50, 0)
    assert member("cai")["points"]["lifetime_expired"] == 100
    assert_nothing_spendable_from_ended_months("cai")
    again = redeem.partner_cancel(DEMO, "demo-partner", "red-1")  # repeating it changes nothing
    assert again.replayed and len(ledger("cai")) == 5


# -- points given back into the month that is still running stay spendable -------------------------
# Issue 30: `is_over` treating the current month as over (`<` as `<=`) left every test green. These pin it: a
# spend of points that expire at the end of this month, undone this month, gives them back spendable.
def spend_this_months_points(member_id: str) -> None:
    at("2025-03-10T10:00:00Z")
    assert enroll(member_id)[0] == 201  # 100 signup points, expiring at the end of 2026-03
    at("2026-03-20T10:00:00Z")
    assert member(member_id)["expiring"] == [{"month": "2026-03", "points": 100}]


def assert_given_back_spendable(member_id: str, balance: int = 100) -> None:
    view = member(member_id)
    assert view["points"]["available"] == balance and view["points"]["lifetime_expired"] == 0, view["points"]
    assert view["expiring"][0] == {"month": "2026-03", "points": 100}
    assert "expire" not in [e["type"] for e in ledger(member_id)]
    assert pay(member_id, f"{member_id}-again", 100)[0] == 201  # spendable again


def test_a_hold_voided_in_the_month_its_points_expire_gives_them_back_spendable(demo):
    spend_this_months_points("nia")
    assert pay("nia", "hold-n", 100, capture=False)[0] == 201
    status, body, _ = void("hold-n")
    assert (status, body["points"], body["balance"]) == (200, 100, 100)
    assert_given_back_spendable("nia")


def test_a_partner_cancel_in_the_month_its_points_expire_gives_them_back_spendable(demo):
    spend_this_months_points("oli")
    assert redeem.partner_redeem(DEMO, "demo-partner", "red-o", "oli", "free-item").status == 201
    body = json.loads(redeem.partner_cancel(DEMO, "demo-partner", "red-o").body)
    assert (body["points"], body["balance"]) == (50, 100)
    assert_given_back_spendable("oli")


def test_a_checkout_refund_in_the_month_its_points_expire_gives_them_back_spendable(demo):
    spend_this_months_points("pia")
    sandwich = {"sku": "sandwich", "category": "food", "amount": "8.00", "quantity": 1}
    body = {"member_id": "pia", "order_id": "till-p", "currency": "USD", "items": [sandwich], "points": 100}
    status, placed, _ = call("CheckoutFunction", api_event("CheckoutOrder", body=body))
    assert (status, placed["total"], placed["balance"]) == (201, "7.00", 7)  # earns 7, expiring 2027-03
    refund = {"member_id": "pia", "order_id": "till-p", "refund_id": "ret-p", "amount": "7.00"}
    status, back, _ = call("EarnFunction", api_event("Refund", body=refund))
    assert (status, back["reversed"], back["restored"], back["points"], back["balance"]) == (201, -7, 100, 93, 100)
    assert_given_back_spendable("pia")


def test_an_earn_outside_the_posting_window_is_refused_and_writes_nothing(demo):
    at("2026-03-14T10:00:00Z")
    enroll("dan")
    before = ledger("dan")
    assert code(earn("dan", "old", "50.00", occurred_at="2026-01-31T23:59:59Z")) == (422, "validation_error")
    assert code(earn("dan", "future", "50.00", occurred_at="2026-03-14T10:06:00Z")) == (422, "validation_error")
    assert ledger("dan") == before
    status, body, _ = earn("dan", "feb", "50.00", occurred_at="2026-02-01T00:00:00Z")  # the window's first instant
    assert status == 201 and body["points"] == 50
    assert {e["month"] for e in member("dan")["expiring"]} == {"2027-02", "2027-03"}


# -- caps hold in every period -------------------------------------------------------------------------
def test_back_dated_reviews_keep_their_months_cap(demo):
    at("2026-03-14T10:00:00Z")
    enroll("eve")
    answers = [activity("eve", f"rev-{i}", "review", occurred_at="2026-02-10T10:00:00Z")[0] for i in range(5)]
    assert answers == [201, 201, 201, 422, 422]
    assert code(activity("eve", "rev-old", "review", occurred_at="2024-03-10T10:00:00Z")) == (422, "validation_error")
    # in January, December's reviews (last year) still count
    at("2027-01-05T10:00:00Z")
    enroll("fay")
    for i in range(3):
        assert activity("fay", f"r{i}", "review", occurred_at="2026-12-20T10:00:00Z")[0] == 201
    assert code(activity("fay", "r3", "review", occurred_at="2026-12-21T10:00:00Z")) == (422, "activity_limit_reached")
    assert activity("fay", "b1", "birthday", occurred_at="2026-12-20T10:00:00Z")[0] == 201
    assert code(activity("fay", "b2", "birthday", occurred_at="2026-12-24T10:00:00Z")) == (
        422,
        "activity_limit_reached",
    )
    assert activity("fay", "b3", "birthday")[0] == 201  # 2027 is another year


# -- a job re-run changes nothing ---------------------------------------------------------------------
def test_a_tier_evaluation_rerun_after_an_upgrade_changes_nothing(demo):
    at("2026-03-01T00:00:00Z")
    enroll("gus")
    first = jobs.run("tier-evaluation", "2026-03-01")
    assert first["unchanged"] == 1
    at("2026-03-05T10:00:00Z")
    assert earn("gus", "big", "1200.00")[1]["tier"]["id"] == "silver"
    again = jobs.run("tier-evaluation", "2026-03-01")
    assert (again["downgraded"], again["upgraded"]) == (0, 0)
    assert member("gus")["tier"]["id"] == "silver"


def test_a_late_first_evaluation_does_not_judge_a_tier_reached_after_its_as_of(demo):
    at("2026-02-10T00:00:00Z")
    enroll("hal")
    at("2026-03-01T00:01:00Z")
    assert earn("hal", "big", "1200.00")[1]["tier"]["id"] == "silver"  # reached after 2026-03-01T00:00
    summary = jobs.run("tier-evaluation", "2026-03-01")  # its window (2025-03 .. 2026-02) has nothing
    assert summary["downgraded"] == 0 and member("hal")["tier"]["id"] == "silver"


def test_a_backfill_of_an_older_period_never_walks_a_member_down_twice(demo):
    at("2025-01-10T10:00:00Z")
    enroll("ida")
    assert earn("ida", "o1", "3000.00")[1]["tier"]["id"] == "gold"
    at("2026-03-01T00:00:00Z")
    assert jobs.run("tier-evaluation", "2026-03-01")["downgraded"] == 1  # gold → silver
    backfill = jobs.run("tier-evaluation", "2026-02-01")
    assert backfill["downgraded"] == 0 and member("ida")["tier"]["id"] == "silver"


def test_an_earn_does_not_end_a_manual_override(demo):
    at("2026-03-10T10:00:00Z")
    enroll("jon")
    body = {"tier_id": "silver", "reason": "service recovery", "until": "2026-12-31"}
    status, answer, _ = call("MembersFunction", api_event("OverrideTier", body=body, path_params={"member_id": "jon"}))
    assert status == 200, answer
    assert earn("jon", "big", "3000.00")[1]["tier"] == {**answer["tier"]}
    view = member("jon")
    assert (view["tier"]["id"], view["tier"]["source"]) == ("silver", "manual")


# -- activity_extends: lives only grow ---------------------------------------------------------------
@pytest.fixture
def flying() -> Any:
    path = Path(__file__).resolve().parents[2] / "programs" / "flying-club.yaml"
    with mocked_aws(path.read_text()) as resources:
        yield resources


def test_activity_extends_a_back_dated_activity_never_shortens_a_life(flying):
    at("2026-03-14T10:00:00Z")
    assert enroll("kim")[0] == 201
    assert earn("kim", "o1", "100.00")[0] == 201  # all points expire at the end of 2028-03
    assert activity("kim", "h1", "partner-hotel-stay", occurred_at="2026-02-20T10:00:00Z")[0] == 201
    assert member("kim")["expiring"] == [{"month": "2028-03", "points": 600}]


def test_activity_extends_a_cancel_after_a_later_earn_joins_the_latest_month(flying):
    at("2026-03-14T10:00:00Z")
    enroll("lee")
    earn("lee", "o1", "5000.00")
    assert redeem.partner_redeem(bundled_flying(), "demo-partner", "r1", "lee", "seat-upgrade").status == 201
    at("2026-06-14T10:00:00Z")
    earn("lee", "o2", "10.00")  # every point now expires at the end of 2028-06
    redeem.partner_cancel(bundled_flying(), "demo-partner", "r1")
    view = member("lee")
    assert view["points"]["available"] > 5000
    assert view["expiring"] == [{"month": "2028-06", "points": view["points"]["available"]}]


def bundled_flying() -> Any:
    from loyalty.program.rules import current_program

    return current_program()


# -- keys never collide --------------------------------------------------------------------------------
def test_a_partner_called_pwp_cannot_reach_a_checkout_redemption(demo):
    at("2026-03-14T10:00:00Z")
    enroll("mia")
    assert pay("mia", "r-1", 100, capture=False)[0] == 201
    with pytest.raises(RedemptionNotFound):
        redeem.partner_cancel(DEMO, "pwp", "r-1")
    assert keys.partner_redemption("pwp", "r-1") != keys.pay_with_points("r-1")


def test_members_called_referral_and_signup_keep_their_own_bonuses(demo):
    at("2026-03-14T10:00:00Z")
    assert enroll("referral")[0] == 201
    assert enroll("signup", referred_by="referral")[0] == 201
    status, body, _ = earn("signup", "first", "10.00")
    assert status == 201 and body["points"] == 10
    assert member("referral")["points"]["available"] == 100 + 250


def test_the_same_order_id_with_another_channel_is_a_conflict(demo):
    at("2026-03-14T10:00:00Z")
    enroll("ned")
    assert earn("ned", "o-1", "20.00", channel="web")[0] == 201
    assert earn("ned", "o-1", "20.00", channel="web")[0] == 200
    assert code(earn("ned", "o-1", "20.00", channel="pos")) == (409, "idempotency_conflict")


def test_keys_refuse_ids_that_could_collide():
    with pytest.raises(keys.KeyRefused):
        keys.partner_redemption("a#b", "c")
    with pytest.raises(keys.KeyRefused):
        keys.expiry("m", "2026-1")


def test_an_idempotent_replay_is_counted(demo, capsys):
    at("2026-03-14T10:00:00Z")
    enroll("ola")
    earn("ola", "o-1", "20.00")
    capsys.readouterr()
    assert earn("ola", "o-1", "20.00")[0] == 200
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert any(p.get("IdempotentReplays") == [1.0] or p.get("IdempotentReplays") == 1.0 for p in printed), printed


def test_unprocessed_keys_are_asked_again_only_after_a_backoff(demo):
    from loyalty.kernel.errors import Contention
    from loyalty.store import core

    class Throttling:
        def __init__(self, refusals: int) -> None:
            self.refusals = refusals

        def batch_get_item(self, RequestItems: dict) -> dict:
            if self.refusals:
                self.refusals -= 1
                return {"Responses": {}, "UnprocessedKeys": RequestItems}
            return {"Responses": {core.table_name(): []}, "UnprocessedKeys": {}}

    waits: list[float] = []
    saved = core._clients.get("dynamodb")
    try:
        core._clients["dynamodb"] = Throttling(3)
        core.batch_get([core.key("MEMBER#x", "MEMBER")], sleep=waits.append)
        assert len(waits) == 3 and all(w >= 0 for w in waits)
        core._clients["dynamodb"] = Throttling(100)
        waits.clear()
        with pytest.raises(Contention):
            core.batch_get([core.key("MEMBER#x", "MEMBER")], sleep=waits.append)
        assert len(waits) == core.BATCH_GET_ATTEMPTS - 1
    finally:
        core._clients["dynamodb"] = saved


def test_a_lapse_publishes_points_expired_without_a_period():
    from loyalty.domain.events import ledger_event
    from loyalty.domain.model import LedgerEntry

    when = datetime(2026, 2, 1, tzinfo=UTC)
    entry = LedgerEntry(
        entry_id="le_x",
        key=keys.lapse("pwp_cancel#pw1"),
        member_id="ana",
        seq=4,
        type="expire",
        points=-100,
        balance_after=0,
        reference="pw1",
        occurred_at=when,
        recorded_at=when,
        details={"months": {"2026-01": 100}, "reason": "given back into a month that is over"},
        buckets={"2026-01": 100},
    )
    event = ledger_event(entry)
    assert event is not None and event.detail_type == "PointsExpired"
    detail = event.detail_json()
    assert (detail["points"], detail["period"], detail["months"]) == (100, None, {"2026-01": 100})
