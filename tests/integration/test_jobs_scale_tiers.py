"""The monthly tier evaluation at scale on moto: it reads every member once and writes each once.

The expiry at scale is tests/integration/test_jobs_scale_expiry.py: a file each, so that xdist (--dist loadfile)
can run the two long tests on two workers at once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from loyalty.kernel.clock import CLOCK

from tests.support import jobs

MEMBERS = 5_000


@pytest.fixture(autouse=True)
def clock(aws):
    CLOCK.set(datetime(2026, 3, 1, 1, tzinfo=UTC))


def test_tier_evaluation_reads_every_member_once_and_writes_each_once_for_the_period(aws):
    # every 10th member qualifies for silver: 500 upgrades, 4,500 unchanged
    jobs.load_members(
        [jobs.member(f"m{i:05d}", qualifying={"2026-01": 1000 if i % 10 == 0 else 10}) for i in range(MEMBERS)]
    )
    # ledger entries outnumber members in a real table: the evaluation must not read them
    jobs.load_items(
        [
            {
                "PK": f"ENTRY#earn#o{i}",
                "SK": "ENTRY",
                "kind": "entry",
                "GSI1PK": f"MEMBER#m{i % MEMBERS:05d}",
                "GSI1SK": f"{i:012d}",
                "points": 10,
            }
            for i in range(3_000)
        ]
    )
    counts, stop = jobs.count_reads_and_writes()
    try:
        summary = jobs.run("tier-evaluation", "2026-03-01")
    finally:
        stop()
    print("tier evaluation, 5,000 members:", counts)
    assert summary["members_evaluated"] == MEMBERS
    assert (summary["upgraded"], summary["unchanged"]) == (500, 4_500)
    assert counts["scan_calls"] == 0  # no table scan: the sparse `members` index, shard by shard
    assert counts["index_returned"] == counts["index_scanned"] == MEMBERS  # members' keys only, no ledger entries
    assert counts["got"] == MEMBERS  # each member item read once (BatchGetItem, 100 at a time)
    # one record per member per period (`tier_period`), as a conditional PutItem, not a transaction
    assert counts["member_writes"] == MEMBERS and counts["transactions"] == 0
    assert counts["job_writes"] <= 2 * (MEMBERS // 100 + 16) + 1  # a page item written, then counted
