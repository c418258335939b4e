"""Accounts (CONTRACT.md v1.2, "Accounts: companies and households"): the worked example number by number,
then the rest of the section: roles, limits, errors, replays, transfers, the pool's ledger and its events."""

from __future__ import annotations

from typing import Any

import pytest
from loyalty.store import accounts as account_store
from loyalty.store import members as member_store

from tests.support import streams
from tests.support.aws import api_event, call

pytestmark = pytest.mark.usefixtures("aws")


# -- helpers -------------------------------------------------------------------------------------------
def enroll(member_id: str) -> None:
    status, body, _ = call("MembersFunction", api_event("Enroll", body={"member_id": member_id, "channel": "web"}))
    assert status == 201, body


def create(account_id: str = "acme", **extra: Any) -> tuple[int, Any, dict[str, str]]:
    body = {"account_id": account_id, "kind": "company", "name": "Acme Ltd", "member_share_percent": 10, **extra}
    return call("AccountsFunction", api_event("CreateAccount", body=body))


def join(member_id: str, role: str, account_id: str = "acme") -> tuple[int, Any, dict[str, str]]:
    event = api_event(
        "AddAccountMember", body={"member_id": member_id, "role": role}, path_params={"account_id": account_id}
    )
    return call("AccountsFunction", event)


def leave(member_id: str, account_id: str = "acme") -> tuple[int, Any, dict[str, str]]:
    params = {"account_id": account_id, "member_id": member_id}
    return call("AccountsFunction", api_event("RemoveAccountMember", path_params=params))


def account(account_id: str = "acme") -> dict[str, Any]:
    status, body, _ = call("AccountsFunction", api_event("GetAccount", path_params={"account_id": account_id}))
    assert status == 200, body
    return body


def pool_ledger(account_id: str = "acme") -> list[dict[str, Any]]:
    event = api_event("AccountLedger", path_params={"account_id": account_id}, query={"limit": "100"})
    status, body, _ = call("AccountsFunction", event)
    assert status == 200, body
    return body["entries"]


def earn(member_id: str, order_id: str, amount: str) -> tuple[int, Any, dict[str, str]]:
    body = {"member_id": member_id, "order_id": order_id, "amount": amount, "currency": "USD"}
    return call("EarnFunction", api_event("Earn", body=body))


def refund(member_id: str, order_id: str, refund_id: str, amount: str) -> tuple[int, Any, dict[str, str]]:
    body = {"member_id": member_id, "order_id": order_id, "refund_id": refund_id, "amount": amount}
    return call("EarnFunction", api_event("Refund", body=body))


def pay(member_id: str, redemption_id: str, points: int, **extra: Any) -> tuple[int, Any, dict[str, str]]:
    body = {"redemption_id": redemption_id, "member_id": member_id, "points": points, **extra}
    return call("RedeemFunction", api_event("PayWithPoints", body=body))


def transfer(transfer_id: str, sender: str, points: int, **to: Any) -> tuple[int, Any, dict[str, str]]:
    body = {"transfer_id": transfer_id, "from_member_id": sender, "points": points, **to}
    return call("AccountsFunction", api_event("Transfer", body=body))


def member(member_id: str) -> dict[str, Any]:
    status, body, _ = call("MembersFunction", api_event("GetMember", path_params={"member_id": member_id}))
    assert status == 200, body
    return body


def contributions(view: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {m["member_id"]: (m["contributed"], m["spent"]) for m in view["members"]}


def assert_pool_balanced(account_id: str = "acme") -> None:
    """The pool's balance equals its ledger; its expiry months add up to it."""
    view = account(account_id)
    entries = account_store.all_entries(account_id)
    assert sum(e.points for e in entries) == view["points"]["available"] + view["points"]["pending"]
    assert sum(e["points"] for e in view["expiring"]) == max(0, view["points"]["available"])


def make_acme() -> None:
    """The worked example's start: `acme` (company, share 10), b1 owner, b2 buyer, b3 contributor."""
    assert create()[0] == 201
    for member_id, role in (("b1", "owner"), ("b2", "buyer"), ("b3", "contributor")):
        enroll(member_id)
        status, body, _ = join(member_id, role)
        assert status == 200, body


@pytest.fixture
def acme() -> None:
    make_acme()


# -- the worked example ---------------------------------------------------------------------------------
def test_the_contracts_worked_example_number_by_number(acme: None) -> None:
    # 1. b1 earns on 120.00: 120 points; 12 to b1 (balance 112), 108 to the pool (108); qualifying 120
    status, body, _ = earn("b1", "o-1", "120.00")
    assert status == 201, body
    assert (body["points"], body["balance"]) == (120, 112)
    assert body["account"] == {"account_id": "acme", "points": 108, "balance": 108}
    assert account()["qualifying"]["value"] == 120

    # 2. b2 earns on 1,000.00: 1,000 (red, x1.0); 100 to b2, 900 to the pool (1,008); the account reaches
    #    1,120: silver from this order on (this order used red), and so is b2
    status, body, _ = earn("b2", "o-2", "1000.00")
    assert status == 201, body
    assert body["breakdown"] == [{"rule": "base", "points": 1000}]
    assert (body["points"], body["balance"]) == (1000, 200)
    assert body["account"] == {"account_id": "acme", "points": 900, "balance": 1008}
    assert body["tier"]["id"] == "silver"
    view = account()
    assert (view["qualifying"]["value"], view["tier"]["id"]) == (1120, "silver")

    # 3. b3 (red) earns on 100.00 with the account's silver: base 100 + tier 50 = 150; 15 to b3, 135 to the pool
    status, body, _ = earn("b3", "o-3", "100.00")
    assert status == 201, body
    assert body["breakdown"] == [{"rule": "base", "points": 100}, {"rule": "tier:silver", "points": 50}]
    assert (body["points"], body["balance"], body["tier"]["id"]) == (150, 115, "red")
    assert body["account"] == {"account_id": "acme", "points": 135, "balance": 1143}
    assert account()["qualifying"]["value"] == 1220

    # 4. b1 pays 500 points from the pool: the pool is 643; the same call by b3 is 403 forbidden
    status, body, _ = pay("b1", "pwp-1", 500, account_id="acme")
    assert status == 201, body
    assert body["balance"] == 643
    status, body, _ = pay("b3", "pwp-2", 500, account_id="acme")
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert contributions(account())["b1"] == (108, 500)

    # 5. a refund of 500.00 of b2's order: 50 from b2 (150), 450 from the pool (193); qualifying 720, still silver;
    #    b2's contributed is 450
    status, body, _ = refund("b2", "o-2", "r-1", "500.00")
    assert status == 201, body
    assert (body["points"], body["balance"]) == (-500, 150)
    assert body["account"] == {"account_id": "acme", "points": -450, "balance": 193}
    view = account()
    assert (view["points"]["available"], view["qualifying"]["value"], view["tier"]["id"]) == (193, 720, "silver")
    assert contributions(view) == {"b1": (108, 500), "b2": (450, 0), "b3": (135, 0)}
    assert [m["role"] for m in view["members"]] == ["owner", "buyer", "contributor"]
    assert member("b1")["points"]["available"] == 112
    assert member("b1")["account"] == {"account_id": "acme", "role": "owner"}  # the way to the account's page
    assert_pool_balanced()


def test_the_pools_ledger_names_the_member_behind_each_entry(acme: None) -> None:
    earn("b1", "o-1", "120.00")
    pay("b1", "pwp-1", 100, account_id="acme")
    entries = pool_ledger()
    assert [(e["type"], e["points"], e["balance_after"]) for e in entries] == [("redeem", -100, 8), ("earn", 108, 108)]
    assert {e["details"]["member_id"] for e in entries} == {"b1"}
    own = member_store.all_entries("b1")
    assert [(e.type, e.points) for e in own] == [("bonus", 100), ("earn", 12)]  # the pool's lines are not b1's
    assert own[-1].details["account_id"] == "acme" and own[-1].details["account_points"] == 108


# -- create, read, change ------------------------------------------------------------------------------
def test_creating_again_replays_and_another_body_is_account_exists() -> None:
    status, first, _ = create()
    assert status == 201
    assert (first["kind"], first["max_members"], first["tier"]["id"], first["members"]) == ("company", 200, "red", [])
    status, again, headers = create()
    assert (status, again, headers.get("Idempotent-Replayed")) == (200, first, "true")
    status, body, _ = create(name="Another Ltd")
    assert (status, body["error"]["code"]) == (409, "account_exists")
    status, body, _ = create("home", kind="household")
    assert (status, body["max_members"]) == (201, 6)


def test_an_unknown_account_is_404_and_a_bad_body_writes_nothing() -> None:
    status, body, _ = call("AccountsFunction", api_event("GetAccount", path_params={"account_id": "nope"}))
    assert (status, body["error"]["code"]) == (404, "account_not_found")
    for bad in ({"kind": "club"}, {"member_share_percent": 101}, {"max_members": 0}, {"nmae": "typo"}):
        status, body, _ = create(**bad)
        assert (status, body["error"]["code"]) == (422, "validation_error"), bad
    assert account_store.load_account("acme") is None


def test_patch_changes_the_share_for_later_orders_and_refuses_a_limit_below_the_members(acme: None) -> None:
    event = api_event("PatchAccount", body={"member_share_percent": 50}, path_params={"account_id": "acme"})
    status, body, _ = call("AccountsFunction", event)
    assert (status, body["member_share_percent"]) == (200, 50)
    status, body, _ = earn("b1", "o-1", "100.00")
    assert (body["balance"], body["account"]["points"]) == (150, 50)
    event = api_event("PatchAccount", body={"max_members": 2}, path_params={"account_id": "acme"})
    status, body, _ = call("AccountsFunction", event)
    assert (status, body["error"]["code"]) == (422, "validation_error")


# -- members --------------------------------------------------------------------------------------------
def test_roles_limits_and_errors_of_joining(acme: None) -> None:
    assert join("b3", "buyer")[1]["members"][2]["role"] == "buyer"  # re-adding sets the role only
    status, body, _ = join("ghost", "buyer")
    assert (status, body["error"]["code"]) == (404, "member_not_found")
    status, body, _ = join("b1", "buyer", account_id="nope")
    assert (status, body["error"]["code"]) == (404, "account_not_found")
    assert create("other")[0] == 201
    status, body, _ = join("b1", "buyer", account_id="other")
    assert (status, body["error"]["code"]) == (409, "member_in_account")
    assert create("tiny", max_members=1)[0] == 201
    enroll("c1")
    enroll("c2")
    assert join("c1", "owner", account_id="tiny")[0] == 200
    status, body, _ = join("c2", "buyer", account_id="tiny")
    assert (status, body["error"]["code"]) == (409, "account_full")
    status, _, _ = call(
        "MembersFunction",
        api_event("SetStatus", body={"status": "suspended", "reason": "test"}, path_params={"member_id": "c2"}),
    )
    assert status == 200
    status, body, _ = join("c2", "buyer", account_id="other")
    assert (status, body["error"]["code"]) == (409, "member_inactive")


def test_leaving_moves_no_points_and_a_later_refund_still_takes_the_pools_part(acme: None) -> None:
    earn("b1", "o-1", "120.00")
    status, body, _ = leave("b1")
    assert status == 200 and [m["member_id"] for m in body["members"]] == ["b2", "b3"]
    assert body["points"]["available"] == 108 and member("b1")["points"]["available"] == 112
    status, body, _ = leave("b1")
    assert (status, body["error"]["code"]) == (404, "member_not_found")
    status, body, _ = earn("b1", "o-2", "100.00")  # alone again: it keeps every point
    assert (body["points"], body["balance"], "account" in body) == (100, 212, False)
    status, body, _ = refund("b1", "o-1", "r-1", "120.00")  # the split stays as it was made
    assert (body["points"], body["balance"], body["account"]["points"], body["account"]["balance"]) == (
        -120,
        200,
        -108,
        0,
    )
    assert_pool_balanced()


def test_only_owners_and_buyers_spend_the_pool(acme: None) -> None:
    earn("b2", "o-1", "1000.00")
    assert pay("b2", "pwp-1", 100, account_id="acme")[0] == 201
    enroll("outsider")
    status, body, _ = pay("outsider", "pwp-2", 100, account_id="acme")
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, body, _ = pay("b1", "pwp-3", 100, account_id="nope")
    assert (status, body["error"]["code"]) == (404, "account_not_found")
    status, body, _ = pay("b1", "pwp-4", 100_000, account_id="acme")
    assert (status, body["error"]["code"]) == (409, "insufficient_points")
    status, _, headers = pay("b2", "pwp-1", 100, account_id="acme")
    assert (status, headers.get("Idempotent-Replayed")) == (200, "true")
    assert account()["points"]["available"] == 900 - 100


def test_a_held_pool_payment_voids_back_into_the_pool(acme: None) -> None:
    earn("b2", "o-1", "1000.00")
    status, body, _ = pay("b2", "pwp-1", 300, account_id="acme", capture=False)
    assert (status, body["status"], body["balance"]) == (201, "held", 600)
    event = api_event("Void", body={}, path_params={"redemption_id": "pwp-1"})
    status, body, _ = call("RedeemFunction", event)
    assert (status, body["balance"]) == (200, 900)
    assert contributions(account())["b2"] == (900, 0)
    status, body, _ = pay("b2", "pwp-2", 200, account_id="acme", capture=False)
    event = api_event("Capture", body={}, path_params={"redemption_id": "pwp-2"})
    status, body, _ = call("RedeemFunction", event)
    assert (status, body["status"], body["balance"]) == (200, "completed", 700)
    assert account_store.load_account("acme").held == 0  # type: ignore[union-attr]
    assert_pool_balanced()


# -- transfers ------------------------------------------------------------------------------------------
def test_a_transfer_keeps_the_expiry_months_and_writes_both_sides() -> None:
    enroll("ana")
    enroll("bob")
    status, body, _ = transfer("t-1", "ana", 60, to_member_id="bob", reason="birthday")
    assert status == 201, body
    assert body == {
        "transfer_id": "t-1",
        "points": 60,
        "from": {"member_id": "ana", "balance": 40},
        "to": {"member_id": "bob", "balance": 160},
    }
    ana, bob = member_store.all_entries("ana")[-1], member_store.all_entries("bob")[-1]
    assert (ana.type, ana.points, bob.type, bob.points) == ("transfer", -60, "transfer", 60)
    assert ana.buckets == bob.buckets  # the points kept their month
    status, again, headers = transfer("t-1", "ana", 60, to_member_id="bob", reason="birthday")
    assert (status, again, headers.get("Idempotent-Replayed")) == (200, body, "true")
    status, body, _ = transfer("t-1", "ana", 61, to_member_id="bob")
    assert (status, body["error"]["code"]) == (409, "idempotency_conflict")


def test_transfer_errors_write_nothing(acme: None) -> None:
    enroll("ana")
    cases = [
        ({"to_member_id": "ana"}, 422, "validation_error"),  # to oneself
        ({"to_member_id": "b1", "to_account_id": "acme"}, 422, "validation_error"),
        ({}, 422, "validation_error"),
        ({"to_member_id": "ghost"}, 404, "member_not_found"),
        ({"to_account_id": "nope"}, 404, "account_not_found"),
    ]
    for to, status_, code in cases:
        status, body, _ = transfer("t-x", "ana", 10, **to)
        assert (status, body["error"]["code"]) == (status_, code), to
    status, body, _ = transfer("t-y", "ana", 101, to_member_id="b1")
    assert (status, body["error"]["code"]) == (409, "insufficient_points")
    assert member("ana")["points"]["available"] == 100


def test_the_monthly_transfer_limit(acme: None) -> None:
    enroll("ana")
    call(
        "MembersFunction",
        api_event(
            "Adjust", body={"adjustment_id": "a-1", "points": 5000, "reason": "t"}, path_params={"member_id": "ana"}
        ),
    )
    assert transfer("t-1", "ana", 1500, to_account_id="acme")[0] == 201
    status, body, _ = transfer("t-2", "ana", 501, to_member_id="b1")
    assert (status, body["error"]["code"]) == (422, "transfer_limit_reached")
    assert transfer("t-3", "ana", 500, to_member_id="b1")[0] == 201
    view = account()
    assert view["points"]["available"] == 1500
    assert view["qualifying"]["value"] == 0 and contributions(view)["b1"] == (0, 0)  # a gift is neither
    (gift,) = pool_ledger()
    assert (gift["type"], gift["points"], gift["details"]["member_id"]) == ("transfer", 1500, "ana")
    assert_pool_balanced()


# -- events ---------------------------------------------------------------------------------------------
def test_the_events_of_accounts(acme: None) -> None:
    earn("b2", "o-1", "1000.00")
    earn("b1", "o-2", "200.00")
    transfer("t-1", "b1", 50, to_account_id="acme")
    leave("b3")
    streams.poller().flush()
    published = {e["detail-type"]: [] for e in streams.published()}
    for event in streams.published():
        published[event["detail-type"]].append(event["detail"])
    joined = published["AccountMemberJoined"]
    assert [(e["member_id"], e["account_id"], e["role"]) for e in joined] == [
        ("b1", "acme", "owner"),
        ("b2", "acme", "buyer"),
        ("b3", "acme", "contributor"),
    ]
    assert [(e["member_id"], e["account_id"]) for e in published["AccountMemberLeft"]] == [("b3", "acme")]
    earned = [e for e in published["PointsEarned"] if e.get("order_id")]
    assert [(e["member_id"], e["points"], e["account_id"], e["account_points"]) for e in earned] == [
        ("b2", 100, "acme", 900),
        ("b1", 30, "acme", 270),  # the account is silver by then: 200 + 100
    ]
    pool_tier = [e for e in published["TierChanged"] if e.get("account_id")]
    assert [(e.get("member_id"), e["from"], e["to"]) for e in pool_tier] == [(None, "red", "silver")]
    assert [(e["from_member_id"], e["to_account_id"], e["points"]) for e in published["PointsTransferred"]] == [
        ("b1", "acme", 50)
    ]


# -- reconciliation -------------------------------------------------------------------------------------
def test_pools_and_transfers_reconcile_and_a_tampered_pool_is_reported(acme: None) -> None:
    from loyalty.reports.reconcile import reconcile_all
    from loyalty.store import codecs, core

    earn("b1", "o-1", "120.00")
    earn("b2", "o-2", "1000.00")
    pay("b1", "pwp-1", 300, account_id="acme")
    refund("b2", "o-2", "r-1", "250.00")
    transfer("t-1", "b3", 40, to_account_id="acme")
    transfer("t-2", "b2", 30, to_member_id="b1")
    report = reconcile_all()
    assert report.differences == [] and report.members == 4  # three members and the pool

    pool = account_store.load_account("acme")
    assert pool is not None
    pool.available += 7
    core.put(codecs.account_to_item(pool))
    found = [(d.member_id, d.figure) for d in reconcile_all().differences]
    assert ("account:acme", "available") in found


# -- the monthly runs cover pools ------------------------------------------------------------------------
def test_pool_points_expire_by_month_and_the_pool_is_warned() -> None:
    from datetime import UTC, datetime

    from loyalty.kernel.clock import CLOCK

    from tests.support import jobs

    CLOCK.set(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    make_acme()
    earn("b2", "o-1", "1000.00")  # 900 to the pool, expiring at the end of 2027-01
    CLOCK.set(datetime(2026, 2, 10, 12, 0, tzinfo=UTC))
    earn("b2", "o-2", "100.00")  # silver by now: 150, 135 to the pool, expiring at the end of 2027-02
    CLOCK.set(datetime(2027, 2, 1, 0, 5, tzinfo=UTC))
    summary = jobs.run("expiry", "2027-02-01")
    assert (summary["accounts_affected"], summary["accounts_warned"]) == (1, 1)
    # b2's own 100 of the order and the three signup bonuses (all of 2026-01), and the pool's 900
    assert (summary["members_affected"], summary["points_expired"]) == (3, 100 + 3 * 100 + 900)
    view = account()
    assert (view["points"]["available"], view["points"]["lifetime_expired"]) == (135, 900)
    assert view["expiring"] == [{"month": "2027-02", "points": 135}]
    again = jobs.run("expiry", "2027-02-01")  # once per pool and period
    assert (again["accounts_affected"], again["points_expired"]) == (0, 0)
    assert_pool_balanced()

    streams.poller().flush()
    published = streams.published()
    pooled = [e for e in published if e["detail"].get("account_id")]
    expired = [e["detail"] for e in pooled if e["detail-type"] == "PointsExpired"]
    assert [(e.get("member_id"), e["points"], e["period"]) for e in expired] == [(None, 900, "2027-02")]
    soon = [e["detail"] for e in pooled if e["detail-type"] == "PointsExpiringSoon"]
    assert [(e.get("member_id"), e["account_id"], e["points"], e["month"]) for e in soon] == [
        (None, "acme", 135, "2027-02")
    ]


def test_the_monthly_evaluation_downgrades_an_account_and_counts_it_apart() -> None:
    from datetime import UTC, datetime

    from loyalty.kernel.clock import CLOCK

    from tests.support import jobs

    CLOCK.set(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    make_acme()
    earn("b2", "o-1", "1000.00")
    earn("b1", "o-2", "200.00")
    assert account()["tier"]["id"] == "silver"
    CLOCK.set(datetime(2026, 2, 1, 1, 5, tzinfo=UTC))
    summary = jobs.run("tier-evaluation", "2026-02-01")  # 1,200 over the window: silver stays
    assert (summary["accounts_evaluated"], summary["accounts_unchanged"]) == (1, 1)
    refund("b2", "o-1", "r-1", "1000.00")  # the account's value falls to 200
    CLOCK.set(datetime(2026, 3, 1, 1, 5, tzinfo=UTC))
    summary = jobs.run("tier-evaluation", "2026-03-01")
    assert (summary["accounts_evaluated"], summary["accounts_downgraded"]) == (1, 1)
    assert summary["members_evaluated"] == 3  # b1, b2, b3: each keeps its own tier too
    assert account()["tier"]["id"] == "red"
    again = jobs.run("tier-evaluation", "2026-03-01")
    assert (again["accounts_evaluated"], again["accounts_unchanged"], again["accounts_downgraded"]) == (1, 1, 0)


def test_closing_or_erasing_a_member_takes_it_out_of_its_account(acme: None) -> None:
    earn("b1", "o-1", "120.00")
    event = api_event("SetStatus", body={"status": "closed", "reason": "asked to"}, path_params={"member_id": "b1"})
    status, body, _ = call("MembersFunction", event)
    assert status == 200, body
    view = account()
    assert [m["member_id"] for m in view["members"]] == ["b2", "b3"]
    assert view["points"]["available"] == 108  # what it put into the pool stays there
    assert member_store.load_member("b1").account_id is None  # type: ignore[union-attr]
    status, body, _ = call("MembersFunction", api_event("Erase", path_params={"member_id": "b3"}))
    assert status == 200, body
    assert [m["member_id"] for m in account()["members"]] == ["b2"]
    enroll("b4")
    assert join("b4", "buyer")[0] == 200  # the places they left are free again
    assert account_store.load_account("acme").members == 2  # type: ignore[union-attr]


# -- the till: the pool pays; the account's tier opens rewards -------------------------------------------
BASKET = {
    "currency": "USD",
    "items": [
        {"sku": "latte", "category": "drinks", "amount": "4.50", "quantity": 1},
        {"sku": "sandwich", "category": "food", "amount": "8.00", "quantity": 1},
    ],
    "rewards": ["free-drink"],
    "points": 200,
}


def checkout(name: str, member_id: str, **extra: Any) -> tuple[int, Any, dict[str, str]]:
    return call("CheckoutFunction", api_event(name, body={**BASKET, "member_id": member_id, **extra}))


def test_a_checkout_with_account_id_pays_from_the_pool_and_a_refund_gives_it_back(acme: None) -> None:
    earn("b2", "o-1", "1000.00")  # the pool: 900; the account silver
    status, quote, _ = checkout("CheckoutQuote", "b1", account_id="acme")
    assert status == 200, quote
    assert quote["max_points_payable"] <= 900 - 300  # on the pool, after the free drink
    assert {r["reward_id"]: r["affordable"] for r in quote["rewards_available"]}["free-drink"] is True
    status, order, _ = checkout("CheckoutOrder", "b1", account_id="acme", order_id="till-1")
    assert status == 201, order
    pool_part = order["account"]["points"]
    assert order["account"]["balance"] == 900 - 300 - 200 + pool_part
    assert order["balance"] == 100 + (order["points"] - pool_part)  # b1's own points paid nothing
    view = account()
    assert view["points"]["available"] == order["account"]["balance"]
    assert contributions(view)["b1"] == (pool_part, 500)
    spends = [e for e in pool_ledger() if e["type"] == "redeem"]
    assert sorted(e["points"] for e in spends) == [-300, -200] and {e["details"]["member_id"] for e in spends} == {"b1"}
    status, again, headers = checkout("CheckoutOrder", "b1", account_id="acme", order_id="till-1")
    assert (status, again, headers.get("Idempotent-Replayed")) == (200, order, "true")

    total = order["total"]
    status, refunded, _ = refund("b1", "till-1", "r-till", total)
    assert status == 201, refunded
    assert refunded["account"]["balance"] == 900  # the pool paid 500 back, and gave back its part
    assert refunded["balance"] == 100
    assert contributions(account())["b1"] == (0, 0)
    assert_pool_balanced()


def test_only_the_members_own_account_and_its_spenders_pay_at_the_till(acme: None) -> None:
    earn("b2", "o-1", "1000.00")
    status, body, _ = checkout("CheckoutOrder", "b3", account_id="acme", order_id="till-2")
    assert (status, body["error"]["code"]) == (403, "forbidden")  # a contributor
    assert create("other")[0] == 201
    status, body, _ = checkout("CheckoutOrder", "b1", account_id="other", order_id="till-3")
    assert (status, body["error"]["code"]) == (403, "forbidden")  # not its account
    status, body, _ = checkout("CheckoutQuote", "b1", account_id="nope")
    assert (status, body["error"]["code"]) == (404, "account_not_found")
    assert account()["points"]["available"] == 900


def test_the_accounts_tier_opens_a_reward_to_its_members(acme: None) -> None:
    enroll("alone")
    earn("b2", "o-1", "2500.00")  # the account is gold; b3 is still red
    assert account()["tier"]["id"] == "gold"

    def lounge(member_id: str) -> bool:
        event = api_event("ListRewards", query={"member_id": member_id})
        status, body, _ = call("RedeemFunction", event)
        assert status == 200, body
        return {r["reward_id"]: r["eligible"] for r in body["rewards"]}["lounge-pass"]

    assert (lounge("b3"), lounge("alone")) == (True, False)


# -- found by the second review: every side of a pool's write says what it is -----------------------------
def published_now() -> list[dict[str, Any]]:
    streams.poller().flush()
    return streams.published()


def test_a_pooled_refund_publishes_the_pools_change_on_the_members_event() -> None:
    make_acme()
    earn("b2", "o-1", "1000.00")
    assert refund("b2", "o-1", "r-1", "500.00")[0] == 201
    (reversed_,) = [e["detail"] for e in published_now() if e["detail-type"] == "PointsReversed"]
    assert (reversed_["member_id"], reversed_["points"]) == ("b2", -50)
    assert (reversed_["account_id"], reversed_["account_points"]) == ("acme", -450)


def test_erasure_replaces_a_transfers_reason_on_both_sides_and_in_its_event() -> None:
    enroll("ana")
    enroll("bob")
    assert transfer("t-1", "ana", 10, to_member_id="bob", reason="for Zelda Quux +14155550999")[0] == 201
    published_now()  # the event is kept under ana before the erasure
    assert call("MembersFunction", api_event("Erase", path_params={"member_id": "ana"}))[0] == 200
    (sent,) = [e for e in member_store.all_entries("ana") if e.type == "transfer"]
    (got,) = [e for e in member_store.all_entries("bob") if e.type == "transfer"]
    assert "Zelda" not in str(sent.details) + (sent.response or "") + str(got.details)
    assert sent.details["reason"] == got.details["reason"] == "erased" and got.points == 10
    status, events, _ = call("MembersFunction", api_event("MemberEvents", path_params={"member_id": "ana"}))
    assert status == 200 and "Zelda" not in str(events)


def test_points_a_pool_gets_back_into_a_month_that_is_over_expire_as_the_pools_with_no_member() -> None:
    from datetime import UTC, datetime

    from loyalty.kernel.clock import CLOCK

    CLOCK.set(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    make_acme()
    earn("b2", "o-1", "1000.00")
    assert pay("b2", "h-1", 100, account_id="acme", capture=False)[0] == 201
    CLOCK.set(datetime(2027, 2, 1, 0, 1, tzinfo=UTC))  # 2027-01 is over: the void's points lapse on the pool
    assert call("RedeemFunction", api_event("Void", body={}, path_params={"redemption_id": "h-1"}))[0] == 200
    pool = [e["detail"] for e in published_now() if e["detail-type"] == "PointsExpired"]
    pool = [e for e in pool if e.get("account_id") == "acme"]
    assert [(e.get("member_id"), e["points"]) for e in pool] == [(None, 100)]
    left = account_store.load_account("acme")
    assert left is not None and sum(e.points for e in account_store.all_entries("acme")) == left.available == 800


def test_account_member_left_names_the_role_it_had(acme: None) -> None:
    assert leave("b3")[0] == 200
    (left,) = [e["detail"] for e in published_now() if e["detail-type"] == "AccountMemberLeft"]
    assert (left["member_id"], left["account_id"], left["role"]) == ("b3", "acme", "contributor")


def test_a_reward_for_the_first_tier_only_follows_the_better_tier() -> None:
    """The contract: eligibility uses the better of the member's and the account's tiers."""
    from loyalty.accounts import pooling
    from loyalty.program.rules import bundled_program
    from loyalty.redemption.rewards import tier_allowed

    program = bundled_program("demo")
    welcome = program.rewards[0].model_copy(update={"eligible_tiers": ["red"]})
    make_acme()
    earn("b2", "o-1", "2500.00")  # the account is gold
    b3, pool = member_store.load_member("b3"), account_store.load_account("acme")
    assert b3 is not None and pool is not None and (b3.tier_id, pool.tier_id) == ("red", "gold")
    assert tier_allowed(welcome, b3) is True  # alone, red may take it
    assert tier_allowed(welcome, b3, pooling.better_tier(program, b3.tier_id, pool).id) is False


# -- the hot pool: round trips, and a race lost only on the pool --------------------------------------
def test_an_earn_into_a_pool_costs_two_round_trips_once_the_process_knows_the_member(acme: None) -> None:
    from tests.support.aws import count_calls

    earn("b1", "o-1", "10.00")  # the process reads b1 and learns its account
    calls, stop = count_calls()
    try:
        status, _, _ = earn("b1", "o-2", "10.00")
    finally:
        stop()
    assert status == 201 and calls == ["BatchGetItem", "TransactWriteItems"]


def test_a_race_lost_only_on_the_pool_is_planned_again_on_the_pool_answered_without_a_read(
    acme: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another till commits into the pool between this earn's read and its write: the transaction is cancelled
    on the pool alone, answers the pool as it is now, and the retry writes on it without reading again."""
    from loyalty.store import accounts as accounts_store

    from tests.support.aws import count_calls

    earn("b2", "o-0", "10.00")  # the process knows b2's account: the pool comes with the member
    real = accounts_store.load_holders
    raced: list[bool] = []

    def read_then_another_till_commits(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        if not raced:
            raced.append(True)
            monkeypatch.setattr(accounts_store, "load_holders", real)
            assert earn("b1", "o-other", "100.00")[0] == 201  # 90 into the pool, after this earn read it
        return found

    monkeypatch.setattr(accounts_store, "load_holders", read_then_another_till_commits)
    calls, stop = count_calls()
    try:
        status, body, _ = earn("b2", "o-1", "20.00")
    finally:
        stop()
    assert status == 201, body
    assert body["account"] == {"account_id": "acme", "points": 18, "balance": 9 + 90 + 18}
    # this earn: one read, the lost transaction, the retry's transaction (the other till's calls in between)
    mine = [c for c in calls if c != "TransactWriteItems"]
    assert mine.count("BatchGetItem") == 2  # its read and the other till's: no second read of its own
    assert calls[-2:] == ["TransactWriteItems", "TransactWriteItems"]
    assert_pool_balanced()


def test_tills_of_one_process_take_turns_on_the_pool_and_throw_no_work_away(
    acme: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight threads of one process earn into one pool at once: each waits for the pool's turn instead of
    losing the race, so every transaction commits (none is cancelled and planned again)."""
    from concurrent.futures import ThreadPoolExecutor

    from loyalty.store import transaction

    for member_id in ("b1", "b2", "b3"):  # the process learns each member's account
        assert earn(member_id, f"warm-{member_id}", "10.00")[0] == 201
    real, tried = transaction.commit, []

    def counted(*args: Any, **kwargs: Any) -> Any:
        tried.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(transaction, "commit", counted)
    with ThreadPoolExecutor(max_workers=8) as tills:
        answers = list(tills.map(lambda n: earn(("b1", "b2", "b3")[n % 3], f"hot-{n}", "10.00"), range(24)))
    assert [status for status, _, _ in answers] == [201] * 24
    assert len(tried) == 24  # one transaction an earn: no race lost
    assert account()["points"]["available"] == 3 * 9 + sum(body["account"]["points"] for _, body, _ in answers)
    assert_pool_balanced()
