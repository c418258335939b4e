"""GET /v1/reports/tiers and /v1/reports/activity: counters kept from the stream equal a recount of the
members and the ledger after a seeded history, and a redelivered stream changes nothing."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from loyalty.kernel.clock import CLOCK
from loyalty.members import records as member_records
from loyalty.redemption.signatures import header_value
from loyalty.store import core
from loyalty.store import members as member_store

from tests.support import jobs, recount, streams
from tests.support.aws import api_event, call, invoke

FIGURES = recount.FIGURES


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
    assert {t["id"]: t["members"] for t in tiers["tiers"] if t["members"]} == recount.tiers()
    # ana silver; ben and dee (suspended) red; cy closed
    assert [t["members"] for t in tiers["tiers"]] == [2, 1, 0]
    assert tiers["members"] == 3
    assert tiers["as_of"] == "2027-02-01T00:30:00Z"

    report = activity_report("2025-12", "2027-02")
    months = [row["month"] for row in report["months"]]
    assert months[0] == "2025-12" and months[-1] == "2027-02" and len(months) == 15  # every month, oldest first
    shown = {row["month"]: {f: row[f] for f in FIGURES} for row in report["months"]}
    recounted = recount.activity()
    assert {m: f for m, f in shown.items() if any(f.values())} == recounted
    assert all(not any(f.values()) for m, f in shown.items() if m not in recounted)  # zeros included
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


@contextmanager
def a_fault(rng: random.Random) -> Iterator[str]:
    """One of the failures a stream batch meets, or none, picked by `rng`, while the block runs."""
    from botocore.awsrequest import AWSResponse

    from tests.support import faults

    kind = rng.choice(["none", "none", "counters", "member events", "publish", "lost answer"])
    skip = rng.randint(0, 2)  # which call of the batch fails (none if the batch makes fewer)
    if kind in ("counters", "member events"):
        operation = "TransactWriteItems" if kind == "counters" else "BatchWriteItem"
        with faults.inject(operation, "access_denied", times=1, skip=skip):
            yield kind
        return
    if kind == "publish":
        calls: list[int] = []

        def refuse(params: dict[str, Any], **_: Any) -> Any:
            calls.append(1)
            if len(calls) != skip + 1:
                return None
            sent = json.loads(params["body"])["Entries"]
            entries = [{"ErrorCode": "InternalFailure", "ErrorMessage": "injected"} for _ in sent]
            return AWSResponse("", 200, {}, None), {"FailedEntryCount": len(entries), "Entries": entries}

        events = core.client("events").meta.events
        events.register("before-call.events.PutEvents", refuse)
        try:
            yield kind
        finally:
            events.unregister("before-call.events.PutEvents", refuse)
        return
    yield kind


@pytest.mark.parametrize("seed", [3, 17, 2026])
def test_the_counters_equal_the_ledger_after_random_batches_faults_and_redeliveries(aws, seed):
    """The stream delivered as Lambda would on a bad day: batches of random sizes, a transaction, a
    BatchWriteItem or a PutEvents failing mid-batch, answers lost (the batch comes again), bisected
    batches after a function error, and old records delivered again. The counters end up as the members
    and the ledger say, and every event is published and kept under its member."""
    rng = random.Random(seed)
    history()
    at("2027-02-03T09:00:00")
    for n in range(40):
        adjust(rng.choice(["ana", "ben", "dee"]), f"rand-{n}", rng.choice([-300, -30, 5, 60, 250]))
    records = streams.delivered()
    position, size, rounds = 0, 100, 0
    while position < len(records):
        rounds += 1
        assert rounds < 1000, "the stream made no progress"
        batch = records[position : position + size]
        with a_fault(rng) as fault:
            failed = streams.deliver(batch)
        if rng.random() < 0.2:  # an earlier stretch delivered again (a replay, an overlapping retry)
            start = rng.randrange(0, position + 1)
            streams.deliver(records[start : start + rng.randint(1, 100)])
        if fault == "lost answer":  # the answer never reached Lambda: the same batch comes again
            continue
        if len(failed) == len(batch):  # a function error: Lambda bisects the batch
            size = max(1, len(batch) // 2)
            continue
        position += len(batch) - len(failed)
        size = rng.randint(1, 100)

    assert recount.counted() == recount.expected()
    published = Counter(e["detail"]["event_id"] for e in streams.published())
    kept: Counter[str] = Counter()
    for member_id in ("ana", "ben", "cy", "dee"):
        kept.update(e["event_id"] for e in member_records.recent_events(member_id, 500)["events"])
    assert set(kept) == set(published) and set(kept.values()) == {1}
    assert len(published) > 40


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
