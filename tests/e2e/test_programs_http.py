"""The programmes under programs/, each on its own local stack (`--program programs/<x>.yaml`), driven
over HTTP through a short history; the assertions are the figures a member (or a checkout) would see.

One stack per programme, scoped to its test class so that only one runs at a time (about 1.5 s to start).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.http import ADMIN, Answer, Client, LocalStackProcess


def _stack(program: str) -> Any:
    @pytest.fixture(scope="class")
    def fixture() -> Iterator[Client]:
        process = LocalStackProcess("--program", f"programs/{program}.yaml")
        yield process.client
        process.stop()

    return fixture


boloco = _stack("boloco")
flying_club = _stack("flying-club")
b2b = _stack("b2b-supplier")
paid = _stack("paid-membership")
activities = _stack("activities")


def earn(api: Client, member: str, order: str, amount: str, **extra: Any) -> Answer:
    return api.post("/v1/earn", {"member_id": member, "order_id": order, "amount": amount, "currency": "USD", **extra})


def member(api: Client, member_id: str) -> Any:
    answer = api.get(f"/v1/members/{member_id}")
    assert answer.status == 200, answer.raw
    return answer.json


def job(api: Client, name: str, as_of: str) -> Any:
    answer = api.post(f"/_local/jobs/{name}", {"as_of": as_of}, key=None)
    assert answer.status == 200, answer.raw
    return answer.json


# -- a. the Boloco card --------------------------------------------------------------------------
class TestBoloco:
    def test_fifty_dollars_of_orders_buy_a_free_item_at_the_till(self, boloco: Client) -> None:
        api = boloco
        api.set_clock("2026-03-02T12:00:00Z")
        card = api.enroll("bol-1", channel="pos")
        assert card["points"]["available"] == 0  # the card starts empty
        first = earn(api, "bol-1", "bol-o1", "37.50")
        assert first.status == 201 and first.json["points"] == 37
        assert first.json["breakdown"] == [{"rule": "base", "points": 37}]

        lunch = {
            "member_id": "bol-1",
            "currency": "USD",
            "items": [
                {"sku": "burrito", "category": "food", "amount": "9.50", "quantity": 1},
                {"sku": "chips", "category": "food", "amount": "2.50", "quantity": 1},
                {"sku": "lemonade", "category": "drinks", "amount": "2.25", "quantity": 1},
            ],
            "rewards": ["free-item"],
        }
        short = api.post("/v1/checkout/quote", lunch)
        assert short.status == 409 and short.json["error"]["code"] == "insufficient_points"

        # dollars are counted per order, whole dollars: 37.50 + 12.99 + 8.00 = 37 + 12 + 8 points
        assert earn(api, "bol-1", "bol-o2", "12.99").json["balance"] == 49
        assert earn(api, "bol-1", "bol-o3", "8.00").json["balance"] == 57

        rewards = api.get("/v1/rewards?member_id=bol-1").json["rewards"]
        assert [(r["reward_id"], r["points"], r["partner_id"], r["eligible"], r["affordable"]) for r in rewards] == [
            ("free-item", 50, None, True, True)  # in-store: taken at the till
        ]

        # at the till: the dearest item is free, the rest of the lunch earns
        quoted = api.post("/v1/checkout/quote", lunch)
        assert quoted.status == 200, quoted.raw
        assert quoted.json["discounts"] == [{"rule": "reward:free-item", "amount": "9.50", "sku": "burrito"}]
        assert (quoted.json["total"], quoted.json["points"], quoted.json["balance"]) == ("4.75", 4, 11)
        assert quoted.json["max_points_payable"] == 0  # 7 points left: not 50, the rate's step
        paid = api.post("/v1/checkout/orders", {**lunch, "order_id": "bol-o4"})
        assert paid.status == 201, paid.raw
        assert {k: v for k, v in paid.json.items() if k not in ("order_id", "entry_ids")} == quoted.json
        again = api.post("/v1/checkout/orders", {**lunch, "order_id": "bol-o4"})  # the till retries
        assert again.status == 200 and again.headers.get("Idempotent-Replayed") == "true"
        assert again.raw == paid.raw

        # the lunch comes back: the points it earned go, the free item's 50 points return
        refund = {"member_id": "bol-1", "order_id": "bol-o4", "refund_id": "bol-r1", "amount": "4.75"}
        back = api.post("/v1/refunds", refund)
        assert back.status == 201, back.raw
        assert back.json == {
            "refund_id": "bol-r1",
            "order_id": "bol-o4",
            "points": 46,
            "reversed": -4,
            "restored": 50,
            "balance": 57,
        }

        # a dearer item is free up to the reward's 10.00
        bowl = {"sku": "bowl", "category": "food", "amount": "12.00", "quantity": 1}
        dinner = api.post("/v1/checkout/orders", {**lunch, "items": [bowl], "order_id": "bol-o5"})
        assert dinner.status == 201, dinner.raw
        assert dinner.json["discounts"] == [{"rule": "reward:free-item", "amount": "10.00", "sku": "bowl"}]
        assert (dinner.json["total"], dinner.json["points"], dinner.json["balance"]) == ("2.00", 2, 9)

        card = member(api, "bol-1")
        assert card["points"] == {
            "available": 9,
            "pending": 0,
            "lifetime_earned": 59,
            "lifetime_redeemed": 50,
            "lifetime_expired": 0,
            "lifetime_adjusted": 0,
        }
        assert card["expiring"] == [{"month": "2027-03", "points": 9}]  # 12 months after March 2026
        assert card["tier"]["id"] == "member"


# -- b. the airline: Flying Club -----------------------------------------------------------------
class TestFlyingClub:
    def test_status_from_a_rolling_year_and_points_that_live_while_the_member_flies(self, flying_club: Client) -> None:
        api = flying_club
        api.set_clock("2026-01-10T08:00:00Z")
        api.enroll("fc-1")
        assert earn(api, "fc-1", "fc-jan-1", "1200.00").json["points"] == 1200
        second = earn(api, "fc-1", "fc-jan-2", "2000.00").json
        # the earn that reaches Silver (3,000 base points) still earns as Red; the member is Silver at once
        assert second["breakdown"] == [{"rule": "base", "points": 2000}]
        assert second["tier"]["id"] == "silver"
        seen = member(api, "fc-1")
        assert seen["benefits"] == {"multiplier": "1.5", "discount_percent": "0", "perks": ["priority_checkin"]}
        assert seen["qualifying"]["value"] == 3200
        assert seen["qualifying"]["next_tier"] == {"id": "gold", "threshold": 8000, "remaining": 4800}
        assert seen["expiring"] == [{"month": "2028-01", "points": 3200}]

        # June: an Upper Class fare in the summer campaign; taxes earn nothing; Silver adds 50%
        api.set_clock("2026-06-15T08:00:00Z")
        items = [
            {"sku": "LHR-JFK-J", "category": "upper-class", "amount": "1000.00", "quantity": 1},
            {"sku": "APD", "category": "taxes-fees", "amount": "200.00", "quantity": 1},
        ]
        june = earn(api, "fc-1", "fc-jun-1", "1200.00", items=items).json
        assert june["breakdown"] == [
            {"rule": "base", "points": 1000},
            {"rule": "tier:silver", "points": 500},
            {"rule": "campaign:summer-double-upper-class", "points": 1000},
        ]
        # activity_extends: the new activity carries every point to 24 months after it
        assert member(api, "fc-1")["expiring"] == [{"month": "2028-06", "points": 5700}]

        # rolling window: on 2027-01-01 the year Jan..Dec 2026 holds 4,200 (Silver kept); a month later
        # January's flights have left the window (1,000 < 3,000) and the member drops one tier
        api.set_clock("2027-01-01T00:00:00Z")
        job(api, "tier-evaluation", "2027-01-01")
        assert member(api, "fc-1")["tier"]["id"] == "silver"
        api.set_clock("2027-02-01T00:00:00Z")
        job(api, "tier-evaluation", "2027-02-01")
        seen = member(api, "fc-1")
        assert (seen["tier"]["id"], seen["tier"]["source"]) == ("red", "qualified")
        assert seen["benefits"]["perks"] == []
        assert seen["points"]["available"] == 5700  # status changes, the points stay

        # 24 months without activity: nothing goes on 2028-06-01, everything on 2028-07-01
        api.set_clock("2028-06-01T00:00:00Z")
        job(api, "expiry", "2028-06-01")
        assert member(api, "fc-1")["points"]["available"] == 5700
        warned = api.get("/_local/events?detail_type=PointsExpiringSoon", key=None).json["events"]
        assert any(e["detail"]["member_id"] == "fc-1" for e in warned)
        api.set_clock("2028-07-01T00:00:00Z")
        summary = job(api, "expiry", "2028-07-01")
        assert summary["points_expired"] >= 5700
        seen = member(api, "fc-1")
        assert seen["points"]["available"] == 0 and seen["points"]["lifetime_expired"] == 5700
        assert seen["expiring"] == []
        ledger = api.get("/v1/members/fc-1/ledger?limit=1").json["entries"]
        assert (ledger[0]["type"], ledger[0]["points"]) == ("expire", -5700)


# -- c. the B2B wholesaler -----------------------------------------------------------------------
HOLIDAY_ITEMS = [
    {"sku": "LED-STRIP-5M", "category": "led-lighting", "amount": "1000.00", "quantity": 100},
    {"sku": "PLUSH-BEAR", "category": "toys", "amount": "400.00", "quantity": 40},
    {"sku": "BOX-S", "category": "packaging", "amount": "600.00", "quantity": 600},
    {"sku": "FREIGHT", "category": "shipping", "amount": "50.00", "quantity": 1},
]


class TestB2BSupplier:
    def test_volume_tiers_give_the_checkout_its_discount(self, b2b: Client) -> None:
        api = b2b
        api.set_clock("2026-05-10T09:00:00Z")
        api.enroll("shop-1", channel="partner")
        seen = member(api, "shop-1")
        assert seen["tier"]["id"] == "trade" and seen["benefits"]["discount_percent"] == "0"

        api.set_clock("2026-06-01T10:00:00Z")
        big = earn(api, "shop-1", "po-1001", "12000.00").json
        assert big["points"] == 12000 and big["tier"]["id"] == "preferred"
        seen = member(api, "shop-1")
        assert seen["benefits"] == {
            "multiplier": "1.0",
            "discount_percent": "3",
            "perks": ["dedicated_account_manager"],
        }
        assert seen["qualifying"]["value"] == 12000  # USD of spend, the qualifying measure
        assert seen["qualifying"]["next_tier"] == {"id": "strategic", "threshold": 50000, "remaining": 38000}
        assert earn(api, "shop-1", "po-1002", "40.00").json["points"] == 0  # under the 50 USD minimum

        # a refund takes spend back: the discount the checkout reads drops with the volume
        refund = {"member_id": "shop-1", "order_id": "po-1001", "refund_id": "rma-1", "amount": "3000.00"}
        assert api.post("/v1/refunds", refund).json["points"] == -3000
        assert member(api, "shop-1")["qualifying"]["value"] == 9000
        api.set_clock("2026-07-01T00:00:00Z")
        job(api, "tier-evaluation", "2026-07-01")
        assert member(api, "shop-1")["benefits"]["discount_percent"] == "0"

    def test_fast_payout_after_six_months_as_a_customer(self, b2b: Client) -> None:
        api = b2b
        api.set_clock("2026-05-10T09:00:00Z")
        api.enroll("shop-2", channel="web")
        api.set_clock("2026-11-09T23:00:00Z")
        assert "fast_payout" not in member(api, "shop-2")["benefits"]["perks"]
        api.set_clock("2026-11-10T00:00:00Z")
        assert member(api, "shop-2")["benefits"]["perks"] == ["fast_payout"]

    def test_the_holiday_discount_is_announced_a_week_ahead_then_added_to_the_tiers_at_checkout(
        self, b2b: Client
    ) -> None:
        api = b2b
        api.set_clock("2026-11-23T23:59:59Z")
        assert api.get("/v1/program").json["campaigns"] == []
        api.set_clock("2026-11-24T00:00:00Z")
        announced = api.get("/v1/program").json["campaigns"]
        window = ("2026-11-24T00:00:00Z", "2026-12-01T00:00:00Z", "2026-12-24T23:59:59Z")  # announced, start, end
        assert [(c["id"], c["status"], c["announced_at"], c["starts_at"], c["ends_at"]) for c in announced] == [
            ("holiday-top-sellers", "announced", *window),
            ("holiday-seasonal", "announced", *window),
        ]
        assert announced[0]["categories"] == ["led-lighting", "phone-accessories"]
        assert (announced[0]["discount"], announced[0]["bonus"]) == ({"percent": "10"}, None)  # price, not points
        assert (announced[1]["discount"], announced[1]["bonus"]) == ({"percent": "5"}, None)

        api.enroll("shop-3", channel="web")  # Trade: no tier discount
        basket = {"member_id": "shop-3", "currency": "USD", "items": HOLIDAY_ITEMS}
        api.set_clock("2026-11-30T23:00:00Z")
        before = api.post("/v1/checkout/quote", basket).json
        assert (before["discounts"], before["total"], before["points"]) == ([], "2050.00", 2000)  # announced only

        api.set_clock("2026-12-05T10:00:00Z")
        assert {c["status"] for c in api.get("/v1/program").json["campaigns"]} == {"active"}
        during = api.post("/v1/checkout/orders", {**basket, "order_id": "po-3001"})
        assert during.status == 201, during.raw
        assert during.json["discounts"] == [
            {"rule": "campaign:holiday-top-sellers", "amount": "100.00", "sku": "LED-STRIP-5M"},  # 10% off
            {"rule": "campaign:holiday-seasonal", "amount": "20.00", "sku": "PLUSH-BEAR"},  # 5% off
        ]
        # shipping takes no discount and earns nothing; the shop earns on what it pays for the rest
        assert (during.json["total"], during.json["points"]) == ("1930.00", 1880)
        assert during.json["breakdown"] == [{"rule": "base", "points": 1880}]

        # a Preferred shop: 3% + 10% on LED lighting, 3% + 5% on toys, 3% on packaging
        api.enroll("shop-4", channel="web")
        assert earn(api, "shop-4", "po-4000", "12000.00").json["tier"]["id"] == "preferred"
        preferred = api.post("/v1/checkout/quote", {**basket, "member_id": "shop-4"}).json
        assert preferred["discounts"] == [
            {"rule": "tier:preferred", "amount": "30.00", "sku": "LED-STRIP-5M"},
            {"rule": "campaign:holiday-top-sellers", "amount": "100.00", "sku": "LED-STRIP-5M"},
            {"rule": "tier:preferred", "amount": "12.00", "sku": "PLUSH-BEAR"},
            {"rule": "campaign:holiday-seasonal", "amount": "20.00", "sku": "PLUSH-BEAR"},
            {"rule": "tier:preferred", "amount": "18.00", "sku": "BOX-S"},
        ]
        assert (preferred["discount_total"], preferred["total"], preferred["points"]) == ("180.00", "1870.00", 1820)

        api.set_clock("2026-12-26T00:00:00Z")
        assert api.get("/v1/program").json["campaigns"] == []


# -- d. the paid membership ----------------------------------------------------------------------
class TestPaidMembership:
    def test_a_year_of_prime_doubles_points_then_ends(self, paid: Client) -> None:
        api = paid
        api.set_clock("2026-03-01T10:00:00Z")
        assert api.enroll("pm-1")["points"]["available"] == 100
        assert earn(api, "pm-1", "pm-o1", "100.00").json["points"] == 100

        sub = {"subscription_id": "prime-2026", "tier_id": "prime", "months": 12}
        path = "/v1/members/pm-1/subscriptions"
        refused = api.post(path, sub)  # the checkout key has no admin scope
        assert refused.status == 403 and refused.json["error"]["code"] == "forbidden"
        bought = api.post(path, sub, key=ADMIN)
        assert bought.status == 201, bought.raw
        assert bought.json["ends_at"] == "2027-03-01T10:00:00Z"
        assert (bought.json["tier"]["id"], bought.json["tier"]["source"]) == ("prime", "paid")
        again = api.post(path, sub, key=ADMIN)
        assert again.status == 200 and again.raw == bought.raw
        assert again.headers.get("Idempotent-Replayed") == "true"
        base = api.post(path, {**sub, "subscription_id": "x", "tier_id": "member"}, key=ADMIN)
        assert base.status == 422 and base.json["error"]["code"] == "validation_error"

        doubled = earn(api, "pm-1", "pm-o2", "100.00").json
        assert doubled["breakdown"] == [{"rule": "base", "points": 100}, {"rule": "tier:prime", "points": 100}]
        seen = member(api, "pm-1")
        assert seen["tier"]["source"] == "paid"
        assert seen["benefits"] == {
            "multiplier": "2.0",
            "discount_percent": "0",
            "perks": ["free_shipping", "early_access", "prime_video"],
        }
        eligible = {r["reward_id"]: r["eligible"] for r in api.get("/v1/rewards?member_id=pm-1").json["rewards"]}
        assert eligible == {"ebook-credit": True, "prime-day-deal": True}

        api.set_clock("2026-04-01T00:00:00Z")
        job(api, "tier-evaluation", "2026-04-01")
        assert member(api, "pm-1")["tier"]["id"] == "prime"  # paid, not qualified: kept while it runs

        # a month after the year ends the member is back on the free tier they qualify for
        api.set_clock("2027-04-01T00:00:00Z")
        job(api, "tier-evaluation", "2027-04-01")
        seen = member(api, "pm-1")
        assert (seen["tier"]["id"], seen["tier"]["source"]) == ("member", "qualified")
        assert seen["benefits"]["perks"] == []
        assert earn(api, "pm-1", "pm-o3", "100.00").json["points"] == 100

    def test_free_tiers_beside_the_paid_one(self, paid: Client) -> None:
        api = paid
        api.set_clock("2026-05-01T10:00:00Z")
        api.enroll("pm-2")
        assert earn(api, "pm-2", "pm2-o1", "1000.00").json["tier"]["id"] == "plus"  # 1,000 base points
        assert earn(api, "pm-2", "pm2-o2", "100.00").json["points"] == 125  # Plus: 1.25×
        seen = member(api, "pm-2")
        assert seen["qualifying"]["next_tier"] is None  # Prime is bought, never qualified for
        eligible = {r["reward_id"]: r["eligible"] for r in api.get("/v1/rewards?member_id=pm-2").json["rewards"]}
        assert eligible == {"ebook-credit": True, "prime-day-deal": False}
        tiers = {t["id"]: t["paid_only"] for t in api.get("/v1/program").json["tiers"]}
        assert tiers == {"member": False, "plus": False, "prime": True}


# -- e. activities -------------------------------------------------------------------------------
def activity(api: Client, member_id: str, activity_id: str, type_: str) -> Answer:
    return api.post("/v1/activities", {"member_id": member_id, "activity_id": activity_id, "type": type_})


class TestActivities:
    def test_the_signup_bonus_depends_on_the_channel(self, activities: Client) -> None:
        api = activities
        api.set_clock("2026-04-10T12:00:00Z")
        got = {
            ch: api.enroll(f"act-{ch}", channel=ch)["points"]["available"] for ch in ("web", "app", "pos", "partner")
        }
        assert got == {"web": 100, "app": 300, "pos": 150, "partner": 100}

    def test_reviews_are_capped_per_month_birthdays_per_year_ratings_for_life(self, activities: Client) -> None:
        api = activities
        api.set_clock("2026-04-10T12:00:00Z")
        api.enroll("act-rev")
        balances = [activity(api, "act-rev", f"rev-{i}", "review").json["balance"] for i in range(5)]
        assert balances == [125, 150, 175, 200, 225]
        sixth = activity(api, "act-rev", "rev-5", "review")
        assert sixth.status == 422 and sixth.json["error"]["code"] == "activity_limit_reached"
        replay = activity(api, "act-rev", "rev-0", "review")  # a retry of the first is not a sixth
        assert replay.status == 200 and replay.headers.get("Idempotent-Replayed") == "true"
        unknown = activity(api, "act-rev", "selfie-1", "selfie")
        assert unknown.status == 422 and unknown.json["error"]["code"] == "validation_error"

        assert activity(api, "act-rev", "bday-2026", "birthday").json["points"] == 200
        assert activity(api, "act-rev", "bday-2026b", "birthday").status == 422
        assert activity(api, "act-rev", "rate-1", "app-rating").json["points"] == 100

        api.set_clock("2026-05-02T12:00:00Z")  # a new month: reviews again
        assert activity(api, "act-rev", "rev-6", "review").status == 201
        api.set_clock("2027-01-05T12:00:00Z")  # a new year: a birthday again, never a second rating
        assert activity(api, "act-rev", "bday-2027", "birthday").status == 201
        assert activity(api, "act-rev", "rate-2", "app-rating").json["error"]["code"] == "activity_limit_reached"

        seen = member(api, "act-rev")
        assert seen["points"]["available"] == 100 + 5 * 25 + 200 + 100 + 25 + 200
        assert seen["qualifying"]["value"] == 0  # activity points never count toward a tier

    def test_a_referral_pays_the_referrer_on_the_friends_first_order(self, activities: Client) -> None:
        api = activities
        api.set_clock("2026-04-10T12:00:00Z")
        api.enroll("act-host")
        api.enroll("act-friend", referred_by="act-host", channel="app")
        assert member(api, "act-host")["points"]["available"] == 100  # nothing yet: no order
        assert earn(api, "act-friend", "friend-o1", "30.00").json["points"] == 30
        host = member(api, "act-host")
        assert host["points"]["available"] == 600 and host["qualifying"]["value"] == 0
        newest = api.get("/v1/members/act-host/ledger?limit=1").json["entries"][0]
        assert (newest["type"], newest["points"], newest["reference"]) == ("bonus", 500, "act-friend")
        earn(api, "act-friend", "friend-o2", "30.00")
        assert member(api, "act-host")["points"]["available"] == 600  # once per referred member
