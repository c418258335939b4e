"""The outbox: committed writes → domain events on the bus, once per event id, even when PutEvents fails."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from loyalty import members
from loyalty.program import current_program

from tests.support import streams
from tests.support.aws import api_event, call, invoke


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
    members.enroll(program, member_id=member_id, channel="web", email="someone@example.com")
    assert members.adjust(program, member_id, "adj-1", 40, "goodwill").status == 201
    assert members.adjust(program, member_id, "adj-2", -15, "correction").status == 201


@pytest.mark.parametrize("partial", [True, False], ids=["FailedEntryCount", "error"])
def test_a_failed_publish_is_retried_and_lands_once_per_event_id(aws: dict[str, Any], partial: bool) -> None:
    enroll_and_adjust("out-1")
    calls = fail_put_events(1, partial=partial)

    streams.poller().flush()

    events = streams.published()
    assert len(calls) == 4  # the refused attempt, then the three events once each
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
    entries = {e["entry_id"] for e in members.ledger_page("out-1", 10, None)["entries"]}
    assert {first["event_id"], second["event_id"]} <= entries  # event id = the ledger entry id


def test_the_batch_stops_at_the_failed_record_and_reports_it_and_the_rest(aws: dict[str, Any]) -> None:
    enroll_and_adjust("out-2")
    wanted = [
        r
        for r in streams.records()
        if (r["dynamodb"].get("NewImage") or {}).get("kind", {}).get("S") in ("member", "entry")
    ]
    adjust_records = [r for r in wanted if r["dynamodb"]["NewImage"].get("type", {}).get("S") == "adjust"]
    member_insert = next(r for r in wanted if r["dynamodb"]["NewImage"]["kind"]["S"] == "member")
    calls = fail_put_events(1, partial=True, skip=1)
    # the member insert publishes; the first adjustment's PutEvents is refused; the second is not tried
    batch = [member_insert, *adjust_records]

    answer = invoke("EventsPublisherFunction", {"Records": batch})

    failed = [f["itemIdentifier"] for f in answer["batchItemFailures"]]
    assert failed == [r["dynamodb"]["SequenceNumber"] for r in adjust_records]
    assert len(calls) == 2
    assert [e["detail-type"] for e in streams.published()] == ["MemberEnrolled"]

    retry = [r for r in batch if r["dynamodb"]["SequenceNumber"] in failed]
    assert invoke("EventsPublisherFunction", {"Records": retry}) == {"batchItemFailures": []}
    adjusted = [e for e in streams.published() if e["detail-type"] == "PointsAdjusted"]
    assert sorted(e["detail"]["reference"] for e in adjusted) == ["adj-1", "adj-2"]


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
    from loyalty.clock import CLOCK

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
    from loyalty.clock import utcnow
    from loyalty.errors import MemberNotFound
    from loyalty.store import core

    enroll_and_adjust("out-ev")
    fail_put_events(1, partial=True)  # the first delivery is refused after the events were kept: kept again
    streams.poller().flush()

    published = [e["detail"]["event_id"] for e in streams.published()]
    kept = members.recent_events("out-ev", 10)["events"]
    assert [e["event_id"] for e in kept] == list(reversed(published))  # once each, newest first
    assert [e["detail_type"] for e in kept] == ["PointsAdjusted", "PointsAdjusted", "MemberEnrolled"]
    assert kept[0]["detail"] == next(e["detail"] for e in streams.published() if e["detail"]["sequence"] == 3)
    assert "someone@example.com" not in json.dumps(kept)
    assert [e["event_id"] for e in members.recent_events("out-ev", 2)["events"]] == list(reversed(published))[:2]

    raw = core.client().query(
        TableName=core.table_name(),
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "EVENTS#out-ev"}},
    )["Items"]
    assert len(raw) == 3
    days = (int(raw[0]["ttl"]["N"]) - utcnow().timestamp()) / 86400
    assert 89.9 < days <= 90  # DynamoDB's TTL removes them after 90 days
    with pytest.raises(MemberNotFound):
        members.recent_events("nobody-here", 10)


def test_a_members_events_come_newest_first_by_when_they_happened(aws: dict[str, Any]) -> None:
    """A tier override and an expiry warning a year later are the newest, not sorted by a sequence they share."""
    from loyalty import tier_grants
    from loyalty.clock import CLOCK

    from tests.support import jobs

    program = current_program()
    CLOCK.set(datetime(2026, 5, 10, 9, tzinfo=UTC))
    members.enroll(program, member_id="ord-ev", channel="web")
    assert members.adjust(program, "ord-ev", "adj-1", 40, "goodwill").status == 201
    CLOCK.set(datetime(2026, 5, 10, 10, tzinfo=UTC))
    tier_grants.override(program, "ord-ev", "gold", "VIP", None, "test")
    streams.poller().flush()
    CLOCK.set(datetime(2027, 5, 1, 0, 5, tzinfo=UTC))
    jobs.run("expiry", "2027-05-01")  # the 140 points of 2026-05 expire at the end of 2027-05: a warning
    CLOCK.set(None)
    streams.poller().flush()

    kept = members.recent_events("ord-ev", 10)["events"]
    assert [e["detail_type"] for e in kept] == ["PointsExpiringSoon", "TierChanged", "PointsAdjusted", "MemberEnrolled"]
    assert [e["at"] for e in kept] == sorted((e["at"] for e in kept), reverse=True)
    assert kept[0]["at"] == "2027-05-01T00:00:00Z"
    assert members.recent_events("ord-ev", 1)["events"][0]["detail_type"] == "PointsExpiringSoon"
