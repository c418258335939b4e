"""The monthly jobs at scale on moto: reads follow the members the job is about, writes follow the changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from loyalty.clock import CLOCK

from tests.support import jobs

MEMBERS = 5_000


@pytest.fixture(autouse=True)
def clock(aws):
    CLOCK.set(datetime(2026, 3, 1, 1, tzinfo=UTC))


def test_tier_evaluation_reads_every_member_once_and_writes_only_the_changed(aws):
    # every 10th member qualifies for silver: 500 upgrades, 4,500 unchanged
    jobs.write_members(
        [jobs.member(f"m{i:05d}", qualifying={"2026-01": 1000 if i % 10 == 0 else 10}) for i in range(MEMBERS)]
    )
    counts, stop = jobs.count_reads_and_writes()
    try:
        summary = jobs.run("tier-evaluation", "2026-03-01")
    finally:
        stop()
    print("tier evaluation, 5,000 members:", counts)
    assert summary["members_evaluated"] == MEMBERS
    assert (summary["upgraded"], summary["unchanged"]) == (500, 4_500)
    assert counts["scan_returned"] == MEMBERS  # member items the Scan gave back
    assert counts["scan_scanned"] <= MEMBERS + 50  # plus the API keys and the run's own items
    assert counts["member_writes"] == 500
    assert counts["job_writes"] <= 2 * (MEMBERS // 100 + 16) + 1  # a page item written, then counted


EXPIRING = 500


@pytest.fixture
def cheap_moto_transactions(monkeypatch):
    """moto deep-copies the whole table for every item of a TransactWriteItems (its rollback copy): an
    expiry among 5,000 members then costs ~1 s, and 500 of them did not finish in 15 minutes. Here no
    transaction fails (distinct members, one worker), so the rollback copy is skipped; nothing else changes."""
    import copy

    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    def deepcopy(value, memo=None):
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    monkeypatch.setattr(models, "copy", type("Copy", (), {"deepcopy": staticmethod(deepcopy)}))


def test_expiry_reads_the_expiring_members_only(aws, cheap_moto_transactions):
    # EXPIRING members with points that expired at the end of 2026-02; the others' points expire later
    members = [jobs.member(f"x{i:05d}", buckets={"2026-02": 10, "2026-09": 5}) for i in range(EXPIRING)]
    members += [jobs.member(f"y{i:05d}", buckets={"2026-08": 10}) for i in range(MEMBERS - EXPIRING)]
    jobs.write_members(members)
    counts, stop = jobs.count_reads_and_writes()
    try:
        summary = jobs.run("expiry", "2026-03-01")
    finally:
        stop()
    print(f"expiry, {MEMBERS} members, {EXPIRING} expiring:", counts)
    assert (summary["members_affected"], summary["points_expired"]) == (EXPIRING, 10 * EXPIRING)
    assert counts["scan_calls"] == 0
    assert counts["index_returned"] == EXPIRING and counts["index_scanned"] == EXPIRING  # expiry index keys
    assert counts["index_calls"] <= 16 + EXPIRING // 100 + 16  # a Query per shard, plus pages
    assert counts["got"] == EXPIRING  # the members themselves (one BatchGet each, with entry and warning keys)
    assert (counts["member_writes"], counts["entry_writes"]) == (EXPIRING, EXPIRING)
