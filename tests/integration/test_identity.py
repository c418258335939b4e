"""Member identity and lifecycle (CONTRACT.md, Members): identifiers unique and found in one read, enrolment
idempotent, profile edits moving identifiers atomically, suspension, closing, erasure and export."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from loyalty.kernel.clock import CLOCK
from loyalty.program.rules import bundled_program
from loyalty.reports.reconcile import reconcile_all
from loyalty.store import core

from tests.support.aws import api_event, call, count_calls

ANA = {"email": "Ana@Example.com", "name": "Ana Lima", "phone": "+14155550123", "card_id": "card-0001"}
PERSONAL = ("Ana@Example.com", "ana@example.com", "Ana Lima", "+14155550123", "card-0001", "1990-04-02")


# -- helpers -------------------------------------------------------------------------------------
def enroll(member_id: str, **extra: Any) -> tuple[int, Any, dict[str, str]]:
    return call("MembersFunction", api_event("Enroll", body={"member_id": member_id, "channel": "pos", **extra}))


def lookup(**identifier: str) -> tuple[int, Any, dict[str, str]]:
    return call("MembersFunction", api_event("Lookup", body=identifier))


def get(member_id: str) -> tuple[int, Any, dict[str, str]]:
    return call("MembersFunction", api_event("GetMember", path_params={"member_id": member_id}))


def patch(member_id: str, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
    return call("MembersFunction", api_event("UpdateProfile", body=body, path_params={"member_id": member_id}))


def status(member_id: str, new: str, reason: str = "test") -> tuple[int, Any, dict[str, str]]:
    body = {"status": new, "reason": reason}
    return call("MembersFunction", api_event("SetStatus", body=body, path_params={"member_id": member_id}))


def erase(member_id: str) -> tuple[int, Any, dict[str, str]]:
    return call("MembersFunction", api_event("Erase", path_params={"member_id": member_id}))


def ledger(member_id: str) -> list[dict[str, Any]]:
    code, body, _ = call(
        "MembersFunction", api_event("GetLedger", path_params={"member_id": member_id}, query={"limit": "100"})
    )
    assert code == 200, body
    return list(body["entries"])


def adjust(member_id: str, adjustment_id: str, points: int) -> tuple[int, Any, dict[str, str]]:
    body = {"adjustment_id": adjustment_id, "points": points, "reason": "test"}
    return call("MembersFunction", api_event("Adjust", body=body, path_params={"member_id": member_id}))


def earn(member_id: str, order_id: str, amount: str) -> tuple[int, Any, dict[str, str]]:
    body = {"member_id": member_id, "order_id": order_id, "amount": amount, "currency": "USD"}
    return call("EarnFunction", api_event("Earn", body=body))


def table_items() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": core.table_name()}
    while True:
        page = core.client().scan(**kwargs)
        items.extend(core.from_item(i) for i in page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def error(answer: tuple[int, Any, dict[str, str]]) -> tuple[int, str]:
    return answer[0], answer[1]["error"]["code"]


# -- identifiers ---------------------------------------------------------------------------------
def test_a_member_enrolled_with_identifiers_is_found_by_each_in_one_read(aws):
    code, view, _ = enroll("ana", **ANA, birth_date="1990-04-02")
    assert code == 201
    assert view["profile"] == {**ANA, "birth_date": "1990-04-02"}
    for identifier in ({"email": "ana@EXAMPLE.com"}, {"phone": "+14155550123"}, {"card_id": "card-0001"}):
        calls, stop = count_calls()
        try:
            code, found, _ = lookup(**identifier)
        finally:
            stop()
        assert code == 200, found
        assert found == get("ana")[1]
        assert calls == ["Query"]


def test_a_lookup_answers_404_for_no_one_and_422_for_anything_but_exactly_one_identifier(aws):
    enroll("ana", **ANA)
    assert error(lookup(phone="+14155550999")) == (404, "member_not_found")
    assert error(lookup()) == (422, "validation_error")
    assert error(lookup(phone="+14155550123", card_id="card-0001")) == (422, "validation_error")
    assert error(lookup(phone="4155550123")) == (422, "validation_error")
    assert error(lookup(email="not-an-email")) == (422, "validation_error")
    assert error(lookup(nickname="ana")) == (422, "validation_error")  # type: ignore[arg-type]


def test_the_index_behind_is_answered_from_the_identifier_item(aws):
    """The lookup index is eventually consistent: an index that has not caught up (here: emptied by hand)
    is not the answer; the identifier item is."""
    enroll("ana", **ANA)
    core.client().update_item(
        TableName=core.table_name(),
        Key=core.key("MEMBER#ana", "MEMBER"),
        UpdateExpression="REMOVE IDPHONE",
    )
    calls, stop = count_calls()
    try:
        code, found, _ = lookup(phone="+14155550123")
    finally:
        stop()
    assert code == 200 and found["member_id"] == "ana"
    assert calls == ["Query", "GetItem", "GetItem"]


def test_an_identifier_belongs_to_one_member_and_a_refused_enrolment_writes_nothing(aws):
    assert enroll("ana", **ANA)[0] == 201
    for taken in ({"email": "ANA@example.COM"}, {"phone": "+14155550123"}, {"card_id": "card-0001"}):
        code, body, _ = enroll("bea", **taken)
        assert (code, body["error"]["code"]) == (409, "identifier_in_use"), body
        assert body["error"]["details"][0]["field"] == next(iter(taken))
        assert error(get("bea")) == (404, "member_not_found")
    assert not [i for i in table_items() if "bea" in json.dumps(i, default=str)]


def test_enrolment_is_idempotent_and_member_exists_comes_before_identifier_in_use(aws):
    first = enroll("ana", **ANA)
    again = enroll("ana", **ANA)
    assert first[0] == 201 and again[0] == 200
    assert again[1] == first[1] and again[2]["Idempotent-Replayed"] == "true"
    assert len(ledger("ana")) == 1
    assert error(enroll("ana", **{**ANA, "name": "Ana L."})) == (409, "member_exists")
    enroll("bea", phone="+14155550100")
    assert error(enroll("ana", phone="+14155550100")) == (409, "member_exists")


def test_a_birth_date_in_the_future_is_refused(aws):
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    code, body, _ = enroll("ana", birth_date=tomorrow)
    assert (code, body["error"]["details"][0]["field"]) == (422, "birth_date")


# -- the profile -----------------------------------------------------------------------------------
def test_a_profile_edit_moves_identifiers_atomically(aws):
    enroll("ana", **ANA)
    enroll("bea", phone="+14155550100")
    code, view, _ = patch("ana", {"phone": "+14155550111", "name": None})
    assert code == 200
    assert view["profile"]["phone"] == "+14155550111" and view["profile"]["name"] is None
    assert view["profile"]["email"] == "Ana@Example.com"  # not given: kept
    assert lookup(phone="+14155550111")[1]["member_id"] == "ana"
    assert error(lookup(phone="+14155550123")) == (404, "member_not_found")
    assert patch("bea", {"phone": "+14155550123"})[0] == 200  # released: free for another member
    assert lookup(phone="+14155550123")[1]["member_id"] == "bea"

    before = get("ana")[1]
    code, body, _ = patch("ana", {"card_id": "card-0002", "phone": "+14155550123"})  # bea holds the phone
    assert (code, body["error"]["code"]) == (409, "identifier_in_use")
    assert get("ana")[1] == before  # nothing written: not the card either
    assert error(lookup(card_id="card-0002")) == (404, "member_not_found")


def test_an_email_differing_only_in_case_stays_the_members_own(aws):
    enroll("ana", **ANA)
    code, view, _ = patch("ana", {"email": "ana@example.com"})
    assert code == 200 and view["profile"]["email"] == "ana@example.com"
    assert lookup(email="ANA@EXAMPLE.COM")[1]["member_id"] == "ana"


def test_a_profile_edit_is_strict(aws):
    enroll("ana", **ANA)
    assert error(patch("ana", {})) == (422, "validation_error")
    assert error(patch("ana", {"nickname": "A"})) == (422, "validation_error")
    assert error(patch("ana", {"phone": "+0123"})) == (422, "validation_error")
    assert error(patch("ghost", {"name": "G"})) == (404, "member_not_found")


# -- lifecycle -------------------------------------------------------------------------------------
def test_a_suspended_member_keeps_points_but_cannot_earn_or_spend(aws):
    enroll("ana", **ANA)
    assert earn("ana", "o-1", "40.00")[0] == 201
    code, view, _ = status("ana", "suspended", "card reported stolen")
    assert code == 200 and view["status"] == "suspended" and view["points"]["available"] == 140
    assert error(earn("ana", "o-2", "10.00")) == (409, "member_inactive")
    activity = {"member_id": "ana", "activity_id": "r-1", "type": "review"}
    assert error(call("EarnFunction", api_event("Activity", body=activity))) == (409, "member_inactive")
    pwp = {"redemption_id": "p-1", "member_id": "ana", "points": 100}
    assert error(call("RedeemFunction", api_event("PayWithPoints", body=pwp))) == (409, "member_inactive")
    # reads, lookups, refunds, corrections and profile edits still apply
    assert lookup(card_id="card-0001")[0] == 200
    refund = {"member_id": "ana", "order_id": "o-1", "refund_id": "rf-1", "amount": "10.00"}
    assert call("EarnFunction", api_event("Refund", body=refund))[0] == 201
    assert adjust("ana", "goodwill", 5)[0] == 201
    assert patch("ana", {"name": "Ana L."})[0] == 200
    again = status("ana", "suspended", "again")
    assert again[0] == 200 and again[1]["status"] == "suspended"
    assert status("ana", "active", "found the card")[1]["status"] == "active"
    assert earn("ana", "o-2", "10.00")[0] == 201


def test_closing_forfeits_the_balance_in_one_entry_and_frees_the_identifiers(aws):
    enroll("ana", **ANA)
    earn("ana", "o-1", "40.00")
    code, view, _ = status("ana", "closed", "customer asked")
    assert code == 200 and view["status"] == "closed"
    assert view["points"]["available"] == 0 and view["expiring"] == []
    assert view["profile"]["phone"] == "+14155550123"  # the profile keeps them until erasure
    closing = ledger("ana")[0]
    assert (closing["type"], closing["points"], closing["balance_after"]) == ("adjust", -140, 0)
    assert closing["details"]["reason"] == "closed"
    assert error(lookup(phone="+14155550123")) == (404, "member_not_found")
    assert enroll("bea", **ANA)[0] == 201  # every identifier free again
    assert lookup(card_id="card-0001")[1]["member_id"] == "bea"
    # every later write is refused; the status is final
    assert error(earn("ana", "o-2", "10.00")) == (409, "member_inactive")
    assert error(adjust("ana", "late", 10)) == (409, "member_inactive")
    refund = {"member_id": "ana", "order_id": "o-1", "refund_id": "rf-1", "amount": "10.00"}
    assert error(call("EarnFunction", api_event("Refund", body=refund))) == (409, "member_inactive")
    assert error(patch("ana", {"name": "A"})) == (409, "member_inactive")
    assert error(status("ana", "active")) == (409, "invalid_state")
    assert status("ana", "closed")[0] == 200
    assert len(ledger("ana")) == 3
    assert reconcile_all().differences == []


def test_a_closed_member_answers_member_inactive_to_its_enrolment_and_a_quote(aws):
    enroll("ana", **ANA)
    status("ana", "closed")
    assert error(enroll("ana", **ANA)) == (409, "member_inactive")
    basket = {"member_id": "ana", "currency": "USD", "items": [{"sku": "s", "category": "food", "amount": "8.00"}]}
    assert error(call("CheckoutFunction", api_event("CheckoutQuote", body=basket))) == (409, "member_inactive")


def test_a_member_whose_identifier_item_another_member_holds_can_still_be_closed_and_edited(aws):
    """A member written before identifier items existed holds its email without an IDENT# item; another
    member may since have claimed it. Releasing is then not this member's to do: the rest proceeds."""

    def legacy(member_id: str, email: str) -> None:
        enroll(member_id, email=email)
        key = core.key(f"IDENT#email#{email.lower()}", "IDENT")
        core.client().delete_item(TableName=core.table_name(), Key=key)

    legacy("old", "shared@example.com")
    assert enroll("new", email="Shared@example.com")[0] == 201
    assert status("old", "closed")[0] == 200
    assert erase("old")[0] == 200
    assert lookup(email="shared@example.com")[1]["member_id"] == "new"

    legacy("old-2", "other@example.com")
    assert enroll("new-2", email="other@example.com")[0] == 201
    code, view, _ = patch("old-2", {"email": None})
    assert code == 200 and view["profile"]["email"] is None
    assert lookup(email="other@example.com")[1]["member_id"] == "new-2"


def test_closing_a_member_in_debt_writes_the_debt_off(aws):
    enroll("ana")
    earn("ana", "o-1", "100.00")
    adjust("ana", "spent", -150)  # 200 - 150 = 50 left
    refund = {"member_id": "ana", "order_id": "o-1", "refund_id": "rf-1", "amount": "100.00"}
    assert call("EarnFunction", api_event("Refund", body=refund))[1]["balance"] == -50
    view = status("ana", "closed")[1]
    assert view["points"]["available"] == 0
    assert ledger("ana")[0]["points"] == 50
    assert reconcile_all().differences == []


def test_closing_a_member_with_nothing_writes_no_entry(aws):
    enroll("ana")
    adjust("ana", "spent", -100)
    status("ana", "closed")
    assert [e["type"] for e in ledger("ana")] == ["adjust", "bonus"]


def test_a_closed_members_hold_is_released_with_no_points_back(aws):
    from loyalty.redemption import redeem

    enroll("ana")
    adjust("ana", "gift", 400)
    pwp = {"redemption_id": "p-1", "member_id": "ana", "points": 300, "capture": False}
    assert call("RedeemFunction", api_event("PayWithPoints", body=pwp))[0] == 201
    status("ana", "closed")
    void = api_event("Void", path_params={"redemption_id": "p-1"})
    assert error(call("RedeemFunction", void)) == (409, "member_inactive")
    later = datetime.now(UTC) + timedelta(hours=3)
    CLOCK.set(later)
    try:
        summary = redeem.release_expired_holds(bundled_program())
    finally:
        CLOCK.set(None)
    assert summary["released"] == 1
    view = get("ana")[1]
    assert view["points"]["available"] == 0
    assert [e["type"] for e in ledger("ana")] == ["adjust", "redeem", "adjust", "bonus"]
    assert reconcile_all().differences == []


# -- privacy ---------------------------------------------------------------------------------------
def test_erasure_leaves_no_personal_field_in_the_table_and_the_ledger_sums_hold(aws):
    enroll("ana", **ANA, birth_date="1990-04-02")
    earn("ana", "o-1", "40.00")
    patch("ana", {"email": "ana@example.com"})
    assert any(p in json.dumps(table_items(), default=str) for p in PERSONAL)

    code, view, _ = erase("ana")
    assert code == 200 and view["status"] == "closed"
    assert set(view["profile"].values()) == {None}
    dump = json.dumps(table_items(), default=str)
    assert [p for p in PERSONAL if p in dump] == []
    assert reconcile_all().differences == []
    assert [e["type"] for e in ledger("ana")] == ["adjust", "earn", "bonus"]

    assert get("ana")[1]["profile"] == view["profile"]
    export = call("MembersFunction", api_event("Export", path_params={"member_id": "ana"}))[1]
    assert set(export["profile"].values()) == {None}
    assert error(enroll("ana", **ANA, birth_date="1990-04-02")) == (409, "member_inactive")
    again = erase("ana")
    assert again[0] == 200 and again[1] == get("ana")[1]
    assert enroll("bea", **ANA)[0] == 201


def test_the_export_holds_the_member_the_profile_and_the_whole_ledger_oldest_first(aws):
    enroll("ana", **ANA)
    earn("ana", "o-1", "40.00")
    adjust("ana", "gift", 7)
    code, export, _ = call("MembersFunction", api_event("Export", path_params={"member_id": "ana"}))
    assert code == 200
    assert export["member"] == get("ana")[1]
    assert export["profile"] == {**ANA, "birth_date": None}
    assert [(e["type"], e["points"]) for e in export["ledger"]] == [("bonus", 100), ("earn", 40), ("adjust", 7)]
    assert error(call("MembersFunction", api_event("Export", path_params={"member_id": "ghost"}))) == (
        404,
        "member_not_found",
    )


def test_lifecycle_and_privacy_need_the_admin_scope(aws):
    enroll("ana", **ANA)
    for name, body in (("SetStatus", {"status": "suspended", "reason": "x"}), ("Erase", ...), ("Export", ...)):
        event = api_event(name, body=body, path_params={"member_id": "ana"}, scopes="enroll earn read redeem")
        assert error(call("MembersFunction", event)) == (403, "forbidden")


def test_a_closed_member_takes_no_tier_grant_capture_or_evaluation(aws):
    from tests.support import jobs

    enroll("ana")
    adjust("ana", "gift", 600)
    pwp = {"redemption_id": "p-1", "member_id": "ana", "points": 300, "capture": False}
    assert call("RedeemFunction", api_event("PayWithPoints", body=pwp))[0] == 201
    status("ana", "closed")
    grants = (
        ("Subscribe", {"subscription_id": "s-1", "tier_id": "gold", "months": 12}),
        ("OverrideTier", {"tier_id": "gold", "reason": "vip"}),
    )
    for name, body in grants:
        assert error(call("MembersFunction", api_event(name, body=body, path_params={"member_id": "ana"}))) == (
            409,
            "member_inactive",
        )
    capture = api_event("Capture", path_params={"redemption_id": "p-1"})
    assert error(call("RedeemFunction", capture)) == (409, "member_inactive")
    jobs.write_members([jobs.member("open", qualifying={})])
    summary = jobs.run("tier-evaluation", datetime.now(UTC).date().replace(day=1).isoformat())
    assert summary["members_evaluated"] == 1  # the open member only
    assert get("ana")[1]["tier"]["id"] == "red" and get("ana")[1]["status"] == "closed"
