"""GET /v1/reports/liability: counters kept from the stream equal the sum over members, retries included."""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal
from typing import Any

from loyalty.kernel.clock import CLOCK
from loyalty.members import enrolment, records
from loyalty.program.rules import current_program
from loyalty.store import members as member_store

from tests.support import streams
from tests.support.aws import api_event, call, invoke


def sum_over_members() -> dict[str, int]:
    total: Counter[str] = Counter()
    for member in member_store.scan_members():
        total.update(member.buckets)
    return {m: p for m, p in total.items() if p}


def test_report_matches_the_sum_over_members_after_a_random_history(aws: dict[str, Any]) -> None:
    from datetime import UTC, datetime

    program = current_program()
    rnd = random.Random(20260314)
    ids = [f"liab-{n}" for n in range(4)]
    for member_id in ids:
        enrolment.enroll(program, member_id=member_id, channel="web")
    for step in range(30):  # adjustments over several months: several expiry buckets, debts, repayments
        CLOCK.set(datetime(2026, 1 + step // 6, 1 + step % 6, tzinfo=UTC))
        points = rnd.choice([-1, 1]) * rnd.randint(1, 150)
        records.adjust(program, rnd.choice(ids), f"adj-{step}", points, "random history")
    CLOCK.set(None)

    outbox = streams.poller()
    outbox.flush()
    status, report, _ = call("ProgramFunction", api_event("Liability"))

    assert status == 200
    expected = sum_over_members()
    assert {row["month"]: row["points"] for row in report["by_expiry_month"]} == expected
    assert [row["month"] for row in report["by_expiry_month"]] == sorted(expected)
    total = sum(expected.values())
    assert report["outstanding"] == {"points": total, "value": str(Decimal(total) * Decimal("0.01"))}
    assert all(row["value"] == str(Decimal(row["points"]) * Decimal("0.01")) for row in report["by_expiry_month"])
    assert report["pending"]["points"] == 0 and report["held"]["points"] == 0
    assert (report["currency"], report["point_value"]) == ("USD", "0.01")

    # the whole stream delivered again (a retry storm): nothing is counted twice
    assert invoke("EventsPublisherFunction", {"Records": streams.records()}) == {"batchItemFailures": []}
    assert call("ProgramFunction", api_event("Liability"))[1]["by_expiry_month"] == report["by_expiry_month"]


def test_liability_needs_the_admin_scope(aws: dict[str, Any]) -> None:
    status, body, _ = call("ProgramFunction", api_event("Liability", scopes="read earn"))
    assert (status, body["error"]["code"]) == (403, "forbidden")


def test_report_reads_a_few_shards_not_the_members(aws: dict[str, Any]) -> None:
    from tests.support.aws import count_calls

    enrolment.enroll(current_program(), member_id="liab-calls", channel="web")
    streams.poller().flush()
    calls, stop = count_calls()
    try:
        status, report, _ = call("ProgramFunction", api_event("Liability"))
    finally:
        stop()
    assert status == 200 and report["outstanding"]["points"] == 100
    assert calls == ["Query"] * 8
