"""The outbox: committed writes → domain events on the bus, once per event id, even when PutEvents fails."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from loyalty.members import enrolment, records
from loyalty.program.rules import current_program

from tests.support import recount, streams
from tests.support.aws import api_event, call, invoke


@pytest.fixture(autouse=True)
def without_rewards(aws: dict[str, Any]) -> None:
    """These tests count a batch's records, events and round trips: the demo programme without its rewards, so an
    enrolment's signup bonus unlocks none (v1.2's RewardUnlocked, tests/integration/test_messages.py) and each
    member's changes publish the events they count."""
    from loyalty.program import rules as programs

    demo = programs.bundled_program()
    programs.PROGRAMS.override(demo.model_copy(update={"rewards": []}))


def fail_put_events(times: int, *, partial: bool, skip: int = 0) -> list[int]:
    """Make `times` PutEvents calls fail, after `skip` good ones: refused entries (partial) or an error."""
    from loyalty.store import core

    calls: list[int] = []

    def hook(params: dict[str, Any], **_: Any) -> Any:
        sent = json.loads(params["body"])["Entries"]
        calls.append(len(sent))
        if not skip < len(calls) <= skip + times:
            return None
        if partial:  # HTTP 200 with FailedEntryCount: the case that is easy to drop silently
            entries = [{"ErrorCode": "InternalFailure", "ErrorMessage": "injected"} for _ in sent]
            return AWSResponse("", 200, {}, None), {"FailedEntryCount": len(entries), "Entries": entries}
        return AWSResponse("", 500, {}, None), {"Error": {"Code": "InternalFailure", "Message": "injected"}}

    core.client("events").meta.events.register("before-call.events.PutEvents", hook)
    return calls


def enroll_and_adjust(member_id: str) -> None:
    program = current_program()
    enrolment.enroll(program, member_id=member_id, channel="web", email="someone@example.com")
    assert records.adjust(program, member_id, "adj-1", 40, "goodwill").status == 201
    assert records.adjust(program, member_id, "adj-2", -15, "correction").status == 201


@pytest.mark.parametrize("partial", [True, False], ids=["FailedEntryCount", "error"])
def test_a_failed_publish_is_retried_and_lands_once_per_event_id(aws: dict[str, Any], partial: bool) -> None:
    enroll_and_adjust("out-1")
    calls = fail_put_events(1, partial=partial)

    streams.poller().flush()

    events = streams.published()
    assert calls == [3, 3]  # the batch's three events in one call, refused, then again once each
    assert [e["detail-type"] for e in events] == ["MemberEnrolled", "PointsAdjusted", "PointsAdjusted"]
    ids = Counter(e["detail"]["event_id"] for e in events)
    assert set(ids.values()) == {1}
    assert [e["detail"]["sequence"] for e in events] == [1, 2, 3]
    enrolled, first, second = (e["detail"] for e in events)
    assert enrolled == {
        "version": 1,
        "event_id": enrolled["event_id"],
        "member_id": "out-1",
        "sequence": 1,
        "channel": "web",
        "tier": "red",
        "enrolled_at": enrolled["enrolled_at"],
        "referred_by": None,
        "signup_bonus": 100,
        "balance": 100,
    }
    assert "email" not in json.dumps(events)
    assert (first["points"], first["balance"], first["adjustment_id"], first["reason"]) == (
        40,
        140,
        "adj-1",
        "goodwill",
    )
    assert (second["points"], second["change"], second["balance"]) == (-15, -15, 125)
    entries = {e["entry_id"] for e in records.ledger_page("out-1", 10, None)["entries"]}
    assert {first["event_id"], second["event_id"]} <= entries  # event id = the ledger entry id


def test_the_batch_stops_at_the_record_of_the_refused_event_and_reports_it_and_the_rest(aws: dict[str, Any]) -> None:
    enroll_and_adjust("out-2")
    batch = streams.delivered()
    refused = streams.refuse_entries(lambda detail: detail.get("reference") == "adj-1")
    adjust_records = [r for r in batch if r["dynamodb"]["NewImage"].get("type", {}).get("S") == "adjust"]

    failed = streams.deliver(batch)

    # one PutEvents for the batch: EventBridge refused the first adjustment's event and put the others
    assert refused.calls == [3]
    first = batch.index(adjust_records[0])
    assert failed == [r["dynamodb"]["SequenceNumber"] for r in batch[first:]]
    assert [e["detail-type"] for e in streams.published()] == ["MemberEnrolled", "PointsAdjusted"]

    refused.refuse = lambda detail: False
    assert streams.deliver([r for r in batch if r["dynamodb"]["SequenceNumber"] in failed]) == []
    adjusted = [e["detail"] for e in streams.published() if e["detail-type"] == "PointsAdjusted"]
    # the second adjustment's event went out with the refused call and again with the retry: same id
    assert [e["reference"] for e in adjusted] == ["adj-2", "adj-1", "adj-2"]
    assert len({e["event_id"] for e in adjusted}) == 2
    kept = records.recent_events("out-2", 10)["events"]
    assert [e["detail_type"] for e in kept] == ["PointsAdjusted", "PointsAdjusted", "MemberEnrolled"]  # once each


def emf(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]


def test_business_metrics_count_committed_changes_once(aws: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    enroll_and_adjust("out-3")
    batch = streams.records()
    capsys.readouterr()

    assert invoke("EventsPublisherFunction", {"Records": batch}) == {"batchItemFailures": []}
    blobs = emf(capsys.readouterr().out)
    assert len(blobs) == 1
    blob = blobs[0]
    assert blob["program"] == "demo"
    assert ["program", "service"] in blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert sum(blob["PointsEarned"]) == 100  # the signup bonus
    assert sum(blob["PointsAdjusted"]) == 25
    assert sum(blob["Enrolments"]) == 1

    # a redelivered batch publishes again (same event ids) but counts nothing twice
    assert invoke("EventsPublisherFunction", {"Records": batch}) == {"batchItemFailures": []}
    again = emf(capsys.readouterr().out)
    assert all("PointsAdjusted" not in b and "Enrolments" not in b and "PointsEarned" not in b for b in again)


def test_the_monthly_jobs_changes_publish_expired_expiring_soon_and_tier_changed(aws: dict[str, Any]) -> None:
    from loyalty.kernel.clock import CLOCK

    from tests.support import jobs

    jobs.write_members(
        [
            jobs.member("job-exp", buckets={"2026-02": 50, "2026-03": 40}),
            jobs.member("job-tier", buckets={"2027-01": 10}, qualifying={"2026-01": 1200}),
        ]
    )
    CLOCK.set(datetime(2026, 3, 1, 6, tzinfo=UTC))
    jobs.run("expiry", "2026-03-01")
    jobs.run("tier-evaluation", "2026-03-01")
    CLOCK.set(None)
    streams.poller().flush()

    events = {(e["detail-type"], e["detail"]["member_id"]): e["detail"] for e in streams.published()}
    expired = events[("PointsExpired", "job-exp")]
    assert (expired["points"], expired["change"], expired["months"], expired["balance"]) == (
        50,
        -50,
        {"2026-02": 50},
        40,
    )
    soon = events[("PointsExpiringSoon", "job-exp")]
    assert (soon["month"], soon["points"]) == ("2026-03", 40)
    tier = events[("TierChanged", "job-tier")]
    assert (tier["from"], tier["to"], tier["direction"], tier["as_of"]) == ("red", "silver", "upgrade", "2026-03-01")

    status, report, _ = call("ProgramFunction", api_event("Liability"))
    assert status == 200
    assert {r["month"]: r["points"] for r in report["by_expiry_month"]} == {"2026-03": 40, "2027-01": 10}


def test_each_published_event_is_kept_once_under_its_member_newest_first(aws: dict[str, Any]) -> None:
    from loyalty.kernel.clock import utcnow
    from loyalty.kernel.errors import MemberNotFound
    from loyalty.store import core

    enroll_and_adjust("out-ev")
    fail_put_events(1, partial=True)  # the first delivery is refused after the events were kept: kept again
    streams.poller().flush()

    published = [e["detail"]["event_id"] for e in streams.published()]
    kept = records.recent_events("out-ev", 10)["events"]
    assert [e["event_id"] for e in kept] == list(reversed(published))  # once each, newest first
    assert [e["detail_type"] for e in kept] == ["PointsAdjusted", "PointsAdjusted", "MemberEnrolled"]
    assert kept[0]["detail"] == next(e["detail"] for e in streams.published() if e["detail"]["sequence"] == 3)
    assert "someone@example.com" not in json.dumps(kept)
    assert [e["event_id"] for e in records.recent_events("out-ev", 2)["events"]] == list(reversed(published))[:2]

    raw = core.client().query(
        TableName=core.table_name(),
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "EVENTS#out-ev"}},
    )["Items"]
    assert len(raw) == 3
    days = (int(raw[0]["ttl"]["N"]) - utcnow().timestamp()) / 86400
    assert 89.9 < days <= 90  # DynamoDB's TTL removes them after 90 days
    with pytest.raises(MemberNotFound):
        records.recent_events("nobody-here", 10)


def test_a_members_events_come_newest_first_by_when_they_happened(aws: dict[str, Any]) -> None:
    """A tier override and an expiry warning a year later are the newest, not sorted by a sequence they share."""
    from loyalty.kernel.clock import CLOCK
    from loyalty.tiers import grants as tier_grants

    from tests.support import jobs

    program = current_program()
    CLOCK.set(datetime(2026, 5, 10, 9, tzinfo=UTC))
    enrolment.enroll(program, member_id="ord-ev", channel="web")
    assert records.adjust(program, "ord-ev", "adj-1", 40, "goodwill").status == 201
    CLOCK.set(datetime(2026, 5, 10, 10, tzinfo=UTC))
    tier_grants.override(program, "ord-ev", "gold", "VIP", None, {"key_id": "k-test", "name": "test"})
    streams.poller().flush()
    CLOCK.set(datetime(2027, 5, 1, 0, 5, tzinfo=UTC))
    jobs.run("expiry", "2027-05-01")  # the 140 points of 2026-05 expire at the end of 2027-05: a warning
    CLOCK.set(None)
    streams.poller().flush()

    kept = records.recent_events("ord-ev", 10)["events"]
    assert [e["detail_type"] for e in kept] == ["PointsExpiringSoon", "TierChanged", "PointsAdjusted", "MemberEnrolled"]
    assert [e["at"] for e in kept] == sorted((e["at"] for e in kept), reverse=True)
    assert kept[0]["at"] == "2027-05-01T00:00:00Z"
    assert records.recent_events("ord-ev", 1)["events"][0]["detail_type"] == "PointsExpiringSoon"


# -- a stream batch at a time ------------------------------------------------------------------------
def enroll_and_adjust_many(count: int, prefix: str) -> None:
    """`count` members, each enrolled (100 points) and adjusted (+40): four stream records and two events each."""
    program = current_program()
    for n in range(count):
        enrolment.enroll(program, member_id=f"{prefix}-{n}", channel="web")
        assert records.adjust(program, f"{prefix}-{n}", f"adj-{n}", 40, "goodwill").status == 201


def sequences(batch: list[dict[str, Any]]) -> list[str]:
    return [r["dynamodb"]["SequenceNumber"] for r in batch]


def measured(output: str) -> dict[str, int]:
    """The business metrics of every EMF blob printed, summed by name (EventsPublished left out)."""
    total: Counter[str] = Counter()
    for blob in emf(output):
        for definition in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            name = definition["Name"]
            if name != "EventsPublished":
                values = blob[name]
                total[name] += sum(values) if isinstance(values, list) else values
    return dict(total)


def test_a_batch_of_100_records_costs_nine_round_trips_not_two_per_record(aws: dict[str, Any]) -> None:
    from tests.support.aws import count_calls

    enroll_and_adjust_many(25, "rt")
    batch = streams.delivered()
    assert len(batch) == 100
    put_events = streams.refuse_entries(lambda detail: False)
    calls, stop = count_calls()
    try:
        assert streams.deliver(batch) == []
    finally:
        stop()

    # 100 markers and 3 counter items (a liability month, the red tier, the month's activity): two
    # transactions of at most 100 items; 50 events kept 25 a call and put on the bus 10 a call. One
    # record at a time this was a transaction per record, and a BatchWriteItem and a PutEvents per event.
    # The adjustments' reasons are free text: one consistent read of their 25 members says none is erased
    # (an erased member's events are kept without it).
    assert Counter(calls) == {"TransactWriteItems": 2, "BatchWriteItem": 2, "BatchGetItem": 1}
    assert put_events.calls == [10] * 5
    assert recount.counted() == recount.expected()
    assert len(streams.published()) == 50


def test_a_redelivered_batch_or_part_of_one_counts_nothing_twice(
    aws: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    enroll_and_adjust_many(30, "re")
    batch = streams.delivered()
    assert len(batch) == 120
    capsys.readouterr()
    assert streams.deliver(batch) == []
    once = recount.counted()
    assert once == recount.expected()
    assert measured(capsys.readouterr().out) == {"Enrolments": 30, "PointsEarned": 30 * 100, "PointsAdjusted": 30 * 40}

    # the whole batch again (a lost answer), a slice (a partial retry), both halves (a bisection) and a
    # window across the two transactions' boundary
    for again in (batch, batch[37:], batch[:60], batch[60:], batch[90:110]):
        assert streams.deliver(again) == []
        assert recount.counted() == once
    assert measured(capsys.readouterr().out) == {}
    published = Counter(e["detail"]["event_id"] for e in streams.published())
    assert len(published) == 60  # every event, each at least once (a redelivery publishes again: same id)


def test_a_batch_where_some_markers_exist_counts_only_the_other_records(
    aws: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.support.aws import count_calls

    enroll_and_adjust_many(20, "mk")
    batch = streams.delivered()
    early = batch[1::3]  # every third record delivered before (an earlier, smaller batch)
    capsys.readouterr()
    assert streams.deliver(early) == []
    first = measured(capsys.readouterr().out)
    assert sum(first.values()) > 0

    calls, stop = count_calls()
    try:
        assert streams.deliver(batch) == []
    finally:
        stop()

    assert recount.counted() == recount.expected()
    # the first transaction is refused on the markers that exist (every one of them named by DynamoDB's
    # cancellation reasons), and goes again without those records: 2 attempts, not one per marker
    assert calls.count("TransactWriteItems") == 2
    rest = measured(capsys.readouterr().out)
    together = Counter(first) + Counter(rest)
    assert together == {"Enrolments": 20, "PointsEarned": 20 * 100, "PointsAdjusted": 20 * 40}


def test_a_counters_failure_mid_batch_reports_the_first_record_of_the_failed_transaction(aws: dict[str, Any]) -> None:
    from loyalty.store import core

    from tests.support import faults

    enroll_and_adjust_many(40, "cf")
    batch = streams.delivered()
    assert len(batch) == 160  # two transactions' worth of markers
    failed_markers: list[str] = []

    def note(params: dict[str, Any], **_: Any) -> None:
        failed_markers.append(json.loads(params["body"])["TransactItems"][0]["Put"]["Item"]["PK"]["S"])

    with faults.inject("TransactWriteItems", "access_denied", times=1, skip=1):
        core.client().meta.events.register("before-call.dynamodb.TransactWriteItems", note)
        failed = streams.deliver(batch)
        core.client().meta.events.unregister("before-call.dynamodb.TransactWriteItems", note)

    assert len(failed_markers) == 2  # the first transaction committed, the second was refused
    stopped_at = next(i for i, r in enumerate(batch) if streams.marker_of(r) == failed_markers[1])
    assert 0 < stopped_at < len(batch)
    assert failed == sequences(batch[stopped_at:])
    # the records before it were handled in full: their events are on the bus, once each; none of the later ones
    published = Counter(e["detail"]["event_id"] for e in streams.published())
    assert set(published.values()) == {1}
    assert len(published) == sum(1 for i in with_events(batch) if i < stopped_at)

    assert streams.deliver(batch[stopped_at:]) == []  # the retry from the failed record
    assert recount.counted() == recount.expected()
    assert streams.deliver(batch) == []  # and a redelivery of everything changes nothing
    assert recount.counted() == recount.expected()


def test_an_unreadable_record_mid_batch_is_reported_with_the_rest(aws: dict[str, Any]) -> None:
    enroll_and_adjust_many(3, "bad")
    batch = streams.delivered()
    broken = json.loads(json.dumps(batch))
    middle = next(i for i, r in enumerate(broken) if i > 3 and r["dynamodb"]["NewImage"]["kind"]["S"] == "member")
    broken[middle]["dynamodb"]["NewImage"]["version"] = {"S": "not a number"}

    failed = streams.deliver(broken)

    assert failed == sequences(batch[middle:])
    assert streams.deliver(batch[middle:]) == []  # the record as it really is, on the retry
    assert recount.counted() == recount.expected()
    assert Counter(e["detail-type"] for e in streams.published()) == {"MemberEnrolled": 3, "PointsAdjusted": 3}


def test_a_member_events_failure_mid_batch_reports_the_owner_of_the_first_unkept_event(aws: dict[str, Any]) -> None:
    from tests.support import faults

    enroll_and_adjust_many(20, "ke")  # 40 events: two BatchWriteItems of 25 and 15
    batch = streams.delivered()
    with faults.inject("BatchWriteItem", "access_denied", times=1, skip=1):
        failed = streams.deliver(batch)

    owner_of_26th = owner_of_event(batch, 25)
    assert failed == sequences(batch[owner_of_26th:])
    assert len(streams.published()) == 25  # the events of the records before it, once each
    assert streams.deliver(batch[owner_of_26th:]) == []
    assert len(streams.published()) == 40
    assert recount.counted() == recount.expected()


def with_events(batch: list[dict[str, Any]]) -> list[int]:
    """The indexes in `batch` of the records that publish an event: in these histories a member's insert
    (MemberEnrolled) and each adjustment (PointsAdjusted), one each."""
    return [
        i
        for i, r in enumerate(batch)
        if (r["eventName"] == "INSERT" and r["dynamodb"]["NewImage"]["kind"]["S"] == "member")
        or r["dynamodb"]["NewImage"].get("type", {}).get("S") == "adjust"
    ]


def owner_of_event(batch: list[dict[str, Any]], n: int) -> int:
    """The index in `batch` of the record that publishes the batch's `n`th event (0-based)."""
    return with_events(batch)[n]


def test_a_failed_put_events_call_mid_batch_reports_the_owner_of_its_first_event(aws: dict[str, Any]) -> None:
    enroll_and_adjust_many(8, "pe")  # 16 events: two PutEvents calls, of 10 and 6
    batch = streams.delivered()
    calls = fail_put_events(1, partial=False, skip=1)

    failed = streams.deliver(batch)

    assert calls == [10, 6]
    assert failed == sequences(batch[owner_of_event(batch, 10) :])
    assert len(streams.published()) == 10
    assert streams.deliver([r for r in batch if r["dynamodb"]["SequenceNumber"] in failed]) == []
    assert Counter(Counter(e["detail"]["event_id"] for e in streams.published()).values()) == {1: 16}


def test_a_change_with_more_counters_than_a_transaction_holds_counts_once_beside_the_others(
    aws: dict[str, Any],
) -> None:
    """A change touching 150 counter items cannot share a transaction (100 items): it goes alone, in
    transactions with markers of its own, between the batch's other changes, each counted once."""
    from loyalty.store import counters

    wide = {("ACTIVITY", f"2026-{n:03d}", "adjusted"): 1 for n in range(150)}
    changes = [
        ("MEMBER#w1#1", {("TIERS", "red", "members"): 1}),
        ("ENTRY#wide", wide),
        ("MEMBER#w2#1", {("TIERS", "red", "members"): 1}),
        ("MEMBER#w1#1", {("TIERS", "red", "members"): 1}),  # the same change twice in one batch: once
    ]

    assert counters.apply_batch(changes) == [True, True, True, False]
    assert counters.apply_batch(changes) == [False, False, False, False]  # redelivered whole
    assert counters.apply_batch(changes[1:3]) == [False, False]  # and in part

    assert counters.totals("TIERS") == {"red": {"members": 2}}
    activity = counters.totals("ACTIVITY")
    assert len(activity) == 150 and {v["adjusted"] for v in activity.values()} == {1}


@pytest.mark.parametrize("times", [1, 2])
def test_a_counters_transaction_whose_answer_is_lost_still_measures_its_changes_once(
    aws: dict[str, Any], capsys: pytest.CaptureFixture[str], times: int
) -> None:
    """The counters' transaction commits and its answer times out (once, or on its first retry too): the
    changes it counted are counted, and their business metrics emitted, once. Before this was fixed the retry
    found their markers and measured nothing: `Enrolments` 0 where 8 enrolled."""
    from tests.support import faults

    program = current_program()
    for n in range(8):
        enrolment.enroll(program, member_id=f"lost-{n}", channel="web")
    batch = streams.delivered()
    capsys.readouterr()
    with faults.inject("TransactWriteItems", "timeout_after_commit", times=times) as fault:
        failed = streams.deliver(batch)
        for _ in range(5):  # Lambda retries from the first record reported failed
            if not failed:
                break
            failed = streams.deliver([r for r in batch if r["dynamodb"]["SequenceNumber"] in failed])
    assert fault.injected == times and failed == []
    assert recount.counted() == recount.expected()
    assert measured(capsys.readouterr().out) == {"Enrolments": 8, "PointsEarned": 8 * 100}
