"""GET /v1/reports/tiers and /v1/reports/activity: counters kept from the stream equal a recount of the
members and the ledger after a seeded history, and a redelivered stream changes nothing."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from loyalty.clock import CLOCK
from loyalty.months import month_of
from loyalty.signatures import header_value
from loyalty.store import core
from loyalty.store import members as member_store

from tests.support import jobs, streams
from tests.support.aws import api_event, call, invoke

FIGURES = ("enrolled", "earned", "redeemed", "expired", "adjusted")


# -- a history, through the handlers ---------------------------------------------------------------
def at(when: str) -> None:
    CLOCK.set(datetime.fromisoformat(when).replace(tzinfo=UTC))


def ok(function: str, event: dict[str, Any]) -> dict[str, Any]:
    status, body, _ = call(function, event)
    assert status in (200, 201), body
    return dict(body)


def enroll(member_id: str) -> None:
    ok("MembersFunction", api_event("Enroll", body={"member_id": member_id, "channel": "web"}))


def earn(member_id: str, order_id: str, amount: str) -> None:
    body = {"member_id": member_id, "order_id": order_id, "amount": amount, "currency": "USD"}
    ok("EarnFunction", api_event("Earn", body=body))


def refund(member_id: str, order_id: str, refund_id: str, amount: str) -> None:
    body = {"member_id": member_id, "order_id": order_id, "refund_id": refund_id, "amount": amount}
    ok("EarnFunction", api_event("Refund", body=body))


def adjust(member_id: str, adjustment_id: str, points: int) -> None:
    body = {"adjustment_id": adjustment_id, "points": points, "reason": "report test"}
    ok("MembersFunction", api_event("Adjust", body=body, path_params={"member_id": member_id}))


def signed(name: str, body: dict[str, Any], **path: str) -> dict[str, Any]:
    raw = json.dumps(body)
    header = header_value("demo-partner-secret", int(time.time()), raw.encode())
    params = {"partner_id": "demo-partner", **path}
    return api_event(name, raw_body=raw, path_params=params, headers={"Loyalty-Signature": header})


def redeem(member_id: str, redemption_id: str) -> None:
    body = {"redemption_id": redemption_id, "member_id": member_id, "reward_id": "coffee"}
    ok("PartnersFunction", signed("PartnerRedeem", body))


def cancel(redemption_id: str) -> None:
    ok("PartnersFunction", signed("PartnerCancel", {}, redemption_id=redemption_id))


def set_status(member_id: str, status: str) -> None:
    """A status change as the product will write it: the member item, version bumped (the routes that
    suspend and close members are not on this branch; the counters read only the images)."""
    member = member_store.load_member(member_id)
    assert member is not None
    jobs.write_members([member.model_copy(update={"status": status, "version": member.version + 1})])


def history() -> None:
    at("2026-01-10T10:00:00")
    for member_id in ("ana", "ben", "cy", "dee"):
        enroll(member_id)  # 100 signup points each
    earn("ana", "o-1", "1200.00")  # 1,200 points, and silver
    earn("ben", "o-2", "300.00")  # 300 points
    at("2026-02-05T10:00:00")
    refund("ana", "o-1", "r-1", "400.00")  # -400
    redeem("ben", "red-1")  # 150
    adjust("cy", "adj-1", 50)
    adjust("ana", "adj-2", -20)
    at("2026-02-20T10:00:00")
    cancel("red-1")  # the 150 come back
    redeem("ben", "red-2")  # 150 again
    set_status("dee", "suspended")  # still counted
    set_status("cy", "closed")  # no longer counted
    at("2027-02-01T00:30:00")  # the points of 2026-01 expired at the end of 2027-01
    summary = jobs.run("expiry", "2027-02-01")
    assert summary["points_expired"] > 0


# -- recounts: what the members and the ledger say -------------------------------------------------
def recount_tiers() -> dict[str, int]:
    return dict(Counter(m.tier_id for m in member_store.scan_members() if m.status != "closed"))


def ledger_entries() -> list[Any]:
    out = []
    kwargs: dict[str, Any] = {
        "TableName": core.table_name(),
        "FilterExpression": "kind = :entry",
        "ExpressionAttributeValues": {":entry": {"S": "entry"}},
    }
    while True:
        answer = core.client().scan(**kwargs)
        out.extend(member_store.entry_from_item(core.from_item(i)) for i in answer["Items"])
        if "LastEvaluatedKey" not in answer:
            return out
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def recount_activity() -> dict[str, dict[str, int]]:
    months: dict[str, Counter[str]] = {}
    for member in member_store.scan_members():
        months.setdefault(month_of(member.enrolled_at), Counter())["enrolled"] += 1
    for entry in ledger_entries():
        figures = months.setdefault(month_of(entry.recorded_at), Counter())
        if entry.type in ("earn", "bonus", "reversal"):
            figures["earned"] += entry.points
        elif entry.type in ("redeem", "redeem_cancel"):
            figures["redeemed"] -= entry.points
        elif entry.type == "expire":
            figures["expired"] -= entry.points
        else:
            figures["adjusted"] += entry.points
    return {m: {f: figures[f] for f in FIGURES} for m, figures in months.items()}


def tiers_report() -> dict[str, Any]:
    status, body, _ = call("ProgramFunction", api_event("ReportsTiers"))
    assert status == 200, body
    return dict(body)


def activity_report(first: str, last: str) -> dict[str, Any]:
    status, body, _ = call("ProgramFunction", api_event("ReportsActivity", query={"from": first, "to": last}))
    assert status == 200, body
    return dict(body)


# -- the tests -------------------------------------------------------------------------------------
def test_the_reports_equal_a_recount_of_members_and_ledger_after_a_seeded_history(aws):
    history()
    streams.poller().flush()

    tiers = tiers_report()
    assert [(t["id"], t["name"]) for t in tiers["tiers"]] == [("red", "Red"), ("silver", "Silver"), ("gold", "Gold")]
    assert {t["id"]: t["members"] for t in tiers["tiers"] if t["members"]} == recount_tiers()
    # ana silver; ben and dee (suspended) red; cy closed
    assert [t["members"] for t in tiers["tiers"]] == [2, 1, 0]
    assert tiers["members"] == 3
    assert tiers["as_of"] == "2027-02-01T00:30:00Z"

    report = activity_report("2025-12", "2027-02")
    months = [row["month"] for row in report["months"]]
    assert months[0] == "2025-12" and months[-1] == "2027-02" and len(months) == 15  # every month, oldest first
    shown = {row["month"]: {f: row[f] for f in FIGURES} for row in report["months"]}
    recount = recount_activity()
    assert {m: f for m, f in shown.items() if any(f.values())} == recount
    assert all(not any(f.values()) for m, f in shown.items() if m not in recount)  # zeros included
    # the contract's numbers, line by line
    assert shown["2026-01"] == {
        "enrolled": 4,
        "earned": 4 * 100 + 1200 + 300,
        "redeemed": 0,
        "expired": 0,
        "adjusted": 0,
    }
    assert shown["2026-02"] == {"enrolled": 0, "earned": -400, "redeemed": 150, "expired": 0, "adjusted": 30}
    expired = shown["2027-02"]["expired"]
    assert expired > 0 and shown["2027-02"] == {
        "enrolled": 0,
        "earned": 0,
        "redeemed": 0,
        "expired": expired,
        "adjusted": 0,
    }


def test_a_redelivered_stream_changes_nothing(aws):
    history()
    streams.poller().flush()
    tiers, activity = tiers_report(), activity_report("2026-01", "2027-02")

    # the whole stream delivered again, twice (a retry storm): nothing is counted twice
    for _ in range(2):
        assert invoke("EventsPublisherFunction", {"Records": streams.records()}) == {"batchItemFailures": []}
    assert tiers_report()["tiers"] == tiers["tiers"]
    assert activity_report("2026-01", "2027-02") == activity


def test_the_reports_read_a_few_shards_never_the_members(aws):
    from tests.support.aws import count_calls

    at("2026-03-03T10:00:00")
    enroll("few")
    streams.poller().flush()
    calls, stop = count_calls()
    try:
        tiers = tiers_report()
        activity = activity_report("2026-01", "2026-03")
    finally:
        stop()
    assert tiers["members"] == 1 and activity["months"][-1]["enrolled"] == 1
    assert calls == ["Query"] * 16  # 8 shards each


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-13", "to": "2026-12"}, "from"),
        ({"from": "2026-1", "to": "2026-12"}, "from"),
        ({"from": "2026-01", "to": "soon"}, "to"),
        ({"from": "2026-05", "to": "2026-04"}, "from"),
        ({"from": "2023-01", "to": "2026-01"}, "from"),  # 37 months
    ],
)
def test_a_bad_activity_range_is_a_validation_error(aws, query, field):
    status, body, _ = call("ProgramFunction", api_event("ReportsActivity", query=query))
    assert status == 422, body
    assert body["error"]["code"] == "validation_error"
    assert body["error"]["details"][0]["field"] == field


def test_the_activity_range_defaults_to_the_last_twelve_months(aws):
    at("2026-03-03T10:00:00")
    status, body, _ = call("ProgramFunction", api_event("ReportsActivity", query={}))
    assert status == 200
    assert [row["month"] for row in body["months"]][::11] == ["2025-04", "2026-03"]
    status, body, _ = call("ProgramFunction", api_event("ReportsActivity", query={"from": "2023-02", "to": "2026-01"}))
    assert status == 200 and len(body["months"]) == 36


@pytest.mark.parametrize("name", ["ReportsTiers", "ReportsActivity", "Jobs"])
def test_reports_and_jobs_need_the_admin_scope(aws, name):
    status, body, _ = call("ProgramFunction", api_event(name, scopes="read earn enroll redeem"))
    assert (status, body["error"]["code"]) == (403, "forbidden")
