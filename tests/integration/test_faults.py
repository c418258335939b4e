"""Faults on the write path: every operation completes exactly once after retry, or fails with a clear
error and no partial state. The monthly jobs under faults (answers lost after the write, workers ended by the
runtime, reads refused, dead letters redriven): a run's summary is what the ledger says, and a run that
cannot end shows `failed`, never `running` for ever. Prints its figures at the end (operations, faults
injected, violations)."""

from __future__ import annotations

import zlib

import pytest
from loyalty.ledger import maths as ledger
from loyalty.store import members as store
from loyalty.store.codecs import EXPIRY_SHARDS

from loyalty_local.runtime import LocalContext
from tests.support.aws import api_event, call
from tests.support.faults import inject

FIGURES = {"operations": 0, "faults": 0, "violations": 0}


def enroll(member_id: str) -> None:
    status, _, _ = call("MembersFunction", api_event("Enroll", body={"member_id": member_id, "channel": "web"}))
    assert status == 201


def earn_event(member_id: str, order_id: str, amount: str = "120.00") -> dict:
    return api_event("Earn", body={"member_id": member_id, "order_id": order_id, "amount": amount, "currency": "USD"})


def assert_consistent(member_id: str, entries_expected: int) -> None:
    member = store.load_member(member_id)
    assert member is not None
    entries = store.all_entries(member_id)
    ok = len(entries) == entries_expected and member.available == sum(e.points for e in entries)
    ledger.check(member)
    FIGURES["violations"] += 0 if ok else 1
    assert ok, (member.available, [(e.type, e.points) for e in entries])


@pytest.mark.parametrize("kind", ["throttle", "server_error"])
def test_throttling_and_server_errors_are_retried_by_the_sdk_and_complete_once(aws, kind):
    enroll("m1")
    with inject("TransactWriteItems", kind, times=2) as fault:
        status, body, _ = call("EarnFunction", earn_event("m1", "o-1"))
    FIGURES["operations"] += 1
    FIGURES["faults"] += fault.injected
    assert fault.injected == 2
    assert status == 201 and body["points"] == 120
    assert_consistent("m1", 2)


def test_a_transaction_conflict_is_retried_by_the_operation_and_completes_once(aws):
    enroll("m1")
    with inject("TransactWriteItems", "conflict", times=3) as fault:
        status, body, _ = call("EarnFunction", earn_event("m1", "o-1"))
    FIGURES["operations"] += 1
    FIGURES["faults"] += fault.injected
    assert fault.injected == 3 and status == 201 and body["balance"] == 220
    assert_consistent("m1", 2)


def test_a_timeout_after_the_commit_is_a_500_and_the_retry_replays_the_stored_answer(aws):
    enroll("m1")
    with inject("TransactWriteItems", "timeout_after_commit") as fault:
        status, body, _ = call("EarnFunction", earn_event("m1", "o-1"))
    assert fault.injected == 1
    assert status == 500 and body["error"]["code"] == "internal_error"
    assert_consistent("m1", 2)  # the write did commit
    retried_status, retried, headers = call("EarnFunction", earn_event("m1", "o-1"))
    assert retried_status == 200 and headers["Idempotent-Replayed"] == "true"
    assert retried["points"] == 120 and retried["balance"] == 220
    assert_consistent("m1", 2)  # exactly once
    FIGURES["operations"] += 2
    FIGURES["faults"] += 1


def test_persistent_failure_is_a_clear_error_and_writes_nothing(aws):
    enroll("m1")
    with inject("TransactWriteItems", "server_error", times=100) as fault:
        status, body, _ = call("EarnFunction", earn_event("m1", "o-1"))
        adj_status, _, _ = call(
            "MembersFunction",
            api_event(
                "Adjust", body={"adjustment_id": "a1", "points": 5, "reason": "x"}, path_params={"member_id": "m1"}
            ),
        )
    assert status == 500 and body["error"]["code"] == "internal_error" and adj_status == 500
    assert "InternalServerError" not in str(body)
    assert_consistent("m1", 1)  # only the signup bonus
    FIGURES["operations"] += 2
    FIGURES["faults"] += fault.injected


def test_a_failed_read_before_the_write_changes_nothing(aws):
    enroll("m1")
    with inject("BatchGetItem", "server_error", times=100) as fault:
        status, _, _ = call("EarnFunction", earn_event("m1", "o-1"))
    assert status == 500 and fault.injected >= 1
    assert_consistent("m1", 1)
    FIGURES["operations"] += 1
    FIGURES["faults"] += fault.injected


# -- the monthly jobs: a run's summary is what the ledger says, after any retry -----------------------------
# nine members in one shard of the expiry index (one walk meets them all, two a page): five expire and are
# warned (their index key moves forward, where a later page meets them again), two are warned only, two expire
# whole (they leave the index)
SHARD_5 = [m for m in (f"e{i:03d}" for i in range(400)) if zlib.crc32(m.encode()) % EXPIRY_SHARDS == 5][:9]

# (job, operation, fault, times, skip, target): each fault lands on one kind of write or read of a run, picked
# by the text its request holds (`target`), the `skip`+1-th of them: an answer lost after the write was applied
# (timeout_after_commit), the worker ended by the runtime right after it (killed_after_commit: the message
# comes back), a read refused. Ended three times on one message, it goes to the dead-letter queue: the run must
# show `failed`, then, redriven as an operator would, end `done` with the same figures.
JOB_FAULTS = [
    # the expiry: a member's expiry (a transaction, with its warning when due), a warning alone (WARN#), a
    # member's read (with its entry's key: ENTRY#expire#), a frozen page (PAGE#), a page's count (SET done)
    ("expiry", "TransactWriteItems", "timeout_after_commit", 1, 0, None),  # isolated after its write
    ("expiry", "TransactWriteItems", "timeout_after_commit", 2, 3, None),
    ("expiry", "TransactWriteItems", "killed_after_commit", 1, 1, None),  # its page retried
    ("expiry", "PutItem", "killed_after_commit", 1, 0, "WARN#"),  # a page retried after its warning
    ("expiry", "PutItem", "timeout_after_commit", 1, 1, "WARN#"),  # isolated after its warning
    # a member's read refused: isolated before its write; expired by its own message, it is met again
    ("expiry", "BatchGetItem", "access_denied", 1, 0, f"ENTRY#expire#{SHARD_5[0]}#"),
    ("expiry", "BatchGetItem", "access_denied", 1, 0, f"ENTRY#expire#{SHARD_5[3]}#"),
    ("expiry", "BatchGetItem", "access_denied", 1, 3, "ENTRY#expire#"),
    ("expiry", "PutItem", "killed_after_commit", 3, 0, "PAGE#"),  # dead-lettered, then redriven
    ("expiry", "UpdateItem", "killed_after_commit", 1, 0, "SET done"),  # ended after counting a page
    ("expiry", "UpdateItem", "timeout_after_commit", 1, 0, "#s = :s"),  # the run's finish, answer lost
    ("expiry", "PutItem", "timeout_after_commit", 1, 0, None),
    ("expiry", "UpdateItem", "timeout_after_commit", 2, 2, None),
    ("expiry", "Query", "timeout_after_commit", 1, 2, None),
    # the tier evaluation: a member's record for the period (a conditional Put holding tier_period), a page's
    # members read (BatchGetItem), a frozen page, a page's count
    ("tier-evaluation", "PutItem", "timeout_after_commit", 1, 0, "tier_period"),  # isolated after its write
    ("tier-evaluation", "PutItem", "timeout_after_commit", 2, 4, "tier_period"),
    ("tier-evaluation", "PutItem", "killed_after_commit", 1, 2, "tier_period"),  # its page retried
    ("tier-evaluation", "BatchGetItem", "access_denied", 1, 1, None),
    ("tier-evaluation", "PutItem", "killed_after_commit", 3, 0, "PAGE#"),  # dead-lettered, then redriven
    ("tier-evaluation", "UpdateItem", "killed_after_commit", 1, 1, "SET done"),
    ("tier-evaluation", "UpdateItem", "timeout_after_commit", 1, 0, "#s = :s"),
    ("tier-evaluation", "Query", "timeout_after_commit", 1, 2, None),
]


class ShortOfTime(LocalContext):
    def get_remaining_time_in_millis(self) -> int:
        return 1_000


def _expiry_members() -> None:
    from tests.support import jobs

    same = SHARD_5
    buckets = [{"2026-02": 10, "2026-03": 5}] * 5 + [{"2026-03": 7}] * 2 + [{"2026-01": 20}] * 2
    jobs.write_members([jobs.member(m, buckets=b) for m, b in zip(same, buckets, strict=True)])
    jobs.write_members([jobs.member(f"o{i}", buckets={"2026-02": 3 + i, "2026-03": 1}) for i in range(4)])


def _tier_members() -> None:
    from tests.support import jobs

    jobs.write_members(
        [
            *[jobs.member(f"up{i}", qualifying={"2025-09": 1200}) for i in range(3)],
            *[jobs.member(f"down{i}", tier_id="gold") for i in range(3)],
            *[jobs.member(f"kept{i}", tier_id="silver", qualifying={"2025-12": 1500}) for i in range(3)],
            *[jobs.member(f"red{i}") for i in range(3)],
        ]
    )


@pytest.mark.parametrize(("job", "operation", "kind", "times", "skip", "target"), JOB_FAULTS)
def test_a_job_runs_summary_is_what_the_ledger_says_after_any_retry(
    aws, monkeypatch, job, operation, kind, times, skip, target
):
    from datetime import UTC, datetime

    from loyalty.expiry import job as expiry
    from loyalty.kernel.clock import CLOCK
    from loyalty.tiers import evaluation

    from tests.support import jobs
    from tests.support.faults import run_figures

    CLOCK.set(datetime(2026, 3, 1, 0, 5, tzinfo=UTC))
    try:
        (_expiry_members if job == "expiry" else _tier_members)()
        monkeypatch.setattr((expiry if job == "expiry" else evaluation).JOB, "page_size", 2)  # pages met again
        started = jobs.start(job, "2026-03-01")
        # a page a message (each continues in the next): isolated members' messages come between the pages
        short = {"batch_size": 1, "context": ShortOfTime(jobs.JOBS[job][2], 120)}
        with inject(operation, kind, times=times, skip=skip, target=target) as fault:
            jobs.drain(job, **short)
        (run,) = call("ProgramFunction", api_event("Jobs"))[1]["jobs"]
        if run["dead_letters"]:  # a message is in the dead-letter queue: the run cannot end by itself
            CLOCK.set(datetime(2026, 3, 1, 1, 5, tzinfo=UTC))  # (once its last worker's time is over)
            (run,) = call("ProgramFunction", api_event("Jobs"))[1]["jobs"]
            assert run["status"] == "failed", run
            while jobs.redrive(job):
                jobs.drain(job, **short)
        (run,) = call("ProgramFunction", api_event("Jobs"))[1]["jobs"]
    finally:
        CLOCK.set(None)
    FIGURES["operations"] += 1
    FIGURES["faults"] += fault.injected
    expected = run_figures(job, started["period"], started["run_id"])
    ok = run["status"] == "done" and run["summary"] == {"job": job, "as_of": "2026-03-01", **expected}
    FIGURES["violations"] += 0 if ok else 1
    assert fault.injected == times
    assert run["status"] == "done", run
    assert run["summary"] == {"job": job, "as_of": "2026-03-01", **expected}
    for member in store.scan_members():  # and the ledger itself is whole: each member expired once at most
        ledger.check(member)
        expired = [e for e in store.all_entries(member.member_id) if e.type == "expire"]
        assert len(expired) <= 1 and member.lifetime_expired == sum(-e.points for e in expired)


def test_print_figures():
    print(
        f"\nfault injection: {FIGURES['operations']} operations, {FIGURES['faults']} faults injected, "
        f"{FIGURES['violations']} violations"
    )
    assert FIGURES["violations"] == 0
