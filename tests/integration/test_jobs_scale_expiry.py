"""The monthly expiry at scale on moto: it reads the expiring members only (the tier evaluation at scale is
tests/integration/test_jobs_scale_tiers.py, a file of its own so that xdist can run the two side by side)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from loyalty.kernel.clock import CLOCK

from tests.support import jobs

MEMBERS = 5_000
EXPIRING = 500


@pytest.fixture(autouse=True)
def clock(aws):
    CLOCK.set(datetime(2026, 3, 1, 1, tzinfo=UTC))


@pytest.fixture
def cheap_moto_transactions():
    """moto deep-copies the whole table for every TransactWriteItems (its rollback copy): 500 expiries
    among 5,000 members did not finish in 15 minutes. The local stack's patch backs up only the touched
    items (loyalty_local.moto_fast); what moto checks and writes is unchanged."""
    from loyalty_local.moto_fast import fast_transactions

    with fast_transactions():
        yield


def test_expiry_reads_the_expiring_members_only(aws, cheap_moto_transactions):
    # EXPIRING members with points that expired at the end of 2026-02; the others' points expire later
    members = [jobs.member(f"x{i:05d}", buckets={"2026-02": 10, "2026-09": 5}) for i in range(EXPIRING)]
    members += [jobs.member(f"y{i:05d}", buckets={"2026-08": 10}) for i in range(MEMBERS - EXPIRING)]
    jobs.load_members(members)
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
