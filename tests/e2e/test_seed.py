"""`make seed`: a history on the running stack that leaves the stack at real time, with nothing ahead of it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from loyalty.kernel.clock import isoformat, utcnow

from tests.support.http import ADMIN, ROOT, LocalStackProcess


@pytest.fixture
def fresh() -> Iterator[LocalStackProcess]:
    process = LocalStackProcess()
    yield process
    process.stop()


def test_make_seed_gives_the_clock_back_and_stamps_nothing_in_the_future(fresh):
    base = fresh.client.base
    seeded = subprocess.run(
        [sys.executable, "-m", "loyalty_local.demo_history", "--url", base, "--members", "3", "--months", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stderr
    clock = fresh.client.get("/_local/clock", key=None).json
    assert clock["fixed"] is False, clock  # the stack runs on real time again
    assert "back to real time" in seeded.stdout
    now = isoformat(utcnow())
    stamps = []
    for n in (1, 2, 3):
        ledger = fresh.client.get(f"/v1/members/m-{n:03d}/ledger?limit=100", key=ADMIN)
        if ledger.status == 404:  # a member the plan enrols later than two months
            continue
        stamps += [t for e in ledger.json["entries"] for t in (e["occurred_at"], e["recorded_at"])]
    stamps += [run["started_at"] for run in fresh.client.get("/v1/jobs", key=ADMIN).json["jobs"]]
    assert stamps and max(stamps) <= now, f"stamped after {now}: {max(stamps)}"
    # what is done next is stamped now, after the history
    after = fresh.client.enroll("after-seed")
    assert after["enrolled_at"] >= max(stamps)
