"""GET /v1/jobs: the runs of the monthly jobs, newest first, with their status, summary and dead letters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from loyalty.kernel.clock import CLOCK
from loyalty.program import rules as programs
from loyalty.store import jobs as job_store

from tests.support import jobs
from tests.support.aws import api_event, call, invoke


@pytest.fixture(autouse=True)
def clock(aws):
    CLOCK.set(datetime(2026, 3, 1, 0, 30, tzinfo=UTC))


def runs(**query: str) -> list[dict[str, Any]]:
    status, body, _ = call("ProgramFunction", api_event("Jobs", query=query))
    assert status == 200, body
    return list(body["jobs"])


def expiring_members() -> None:
    jobs.write_members(
        [
            jobs.member("old", buckets={"2026-01": 150, "2026-06": 40}),
            jobs.member("older", buckets={"2025-12": 10}),
            jobs.member("later", buckets={"2026-09": 70}),
        ]
    )


def test_a_finished_run_is_done_with_its_summary(aws):
    expiring_members()
    summary = jobs.run("expiry", "2026-03-01")
    assert (summary["members_affected"], summary["points_expired"]) == (2, 160)

    (run,) = runs()
    assert run["job"] == "expiry" and run["as_of"] == "2026-03-01" and run["period"] == "2026-03"
    assert run["status"] == "done"
    assert run["summary"] == summary
    assert run["started_at"] == run["finished_at"] == "2026-03-01T00:30:00Z"
    assert run["dead_letters"] == 0 and run["error"] is None


def test_runs_are_listed_newest_first_across_jobs(aws):
    expiring_members()
    jobs.run("expiry", "2026-03-01")
    CLOCK.set(datetime(2026, 3, 1, 1, 30, tzinfo=UTC))
    jobs.run("tier-evaluation", "2026-03-01")
    CLOCK.set(datetime(2026, 3, 1, 2, 30, tzinfo=UTC))
    jobs.run("expiry", "2026-03-01")  # a re-run: it changes nothing, and is a run of its own

    listed = runs()
    assert [(r["job"], r["started_at"]) for r in listed] == [
        ("expiry", "2026-03-01T02:30:00Z"),
        ("tier-evaluation", "2026-03-01T01:30:00Z"),
        ("expiry", "2026-03-01T00:30:00Z"),
    ]
    assert all(r["status"] == "done" for r in listed)
    assert listed[0]["summary"] == {
        "job": "expiry",
        "as_of": "2026-03-01",
        "members_affected": 0,
        "points_expired": 0,
        "members_warned": 0,
        "accounts_affected": 0,
        "accounts_warned": 0,
    }
    assert set(listed[1]["summary"]) == {"job", "as_of", "members_evaluated", "upgraded", "downgraded", "unchanged"} | {
        f"accounts_{figure}" for figure in ("evaluated", "upgraded", "downgraded", "unchanged")
    }
    assert [r["job"] for r in runs(limit="1")] == ["expiry"]


def test_a_run_still_walking_its_chunks_is_running(aws):
    expiring_members()
    jobs.start("expiry", "2026-03-01")
    (run,) = runs()
    assert (run["status"], run["finished_at"], run["summary"]) == ("running", None, None)
    jobs.drain("expiry")
    assert runs()[0]["status"] == "done"


def test_a_message_in_the_dead_letter_queue_fails_the_run_and_is_counted(aws):
    expiring_members()
    poison = {"PK": "MEMBER#poison", "SK": "MEMBER", "kind": "member", "member_id": "poison"}
    jobs.write_items([{**poison, "EXPPK": "EXP#00", "EXPSK": "2025-12#poison"}])
    summary = jobs.run("expiry", "2026-03-01")
    assert (summary["members_affected"], summary["points_expired"]) == (2, 160)

    (run,) = runs()
    assert run["status"] == "failed" and run["summary"] is None
    assert "dead-letter queue" in run["error"]
    assert run["dead_letters"] == 1
    assert [d["member_id"] for d in jobs.dead_letters("expiry")] == ["poison"]  # (and takes it out)
    assert runs()[0]["dead_letters"] == 0


def test_a_worker_killed_on_a_messages_last_receive_fails_the_run(aws, monkeypatch):
    # The runtime ends the worker (its timeout, out of memory) on every receive of a message: on the last one
    # no code of ours runs after it, SQS moves the message to the dead-letter queue, and the run must not stay
    # `running` for ever. Redriven and successful, the run is done, its summary what the ledger says.
    from loyalty.expiry import job as expiry
    from loyalty.store.members import all_entries

    from tests.support.faults import WorkerKilled

    expiring_members()
    real = expiry.JOB.process
    kills = []

    def killed_on_older(program, run, member_id, item):
        if member_id == "older" and not kills[3:]:  # killed on each of the queue's 3 receives
            kills.append(member_id)
            raise WorkerKilled("Task timed out after 120.00 seconds")
        return real(program, run, member_id, item)

    monkeypatch.setattr(expiry.JOB, "process", killed_on_older)
    started = jobs.start("expiry", "2026-03-01")
    jobs.drain("expiry", batch_size=1)  # (with 2 a message, the one beside it would be dead-lettered too)
    assert len(kills) == 3
    (run,) = runs()
    assert run["status"] == "running" and run["dead_letters"] == 1  # its worker may still be at work...

    CLOCK.set(datetime(2026, 3, 1, 0, 40, tzinfo=UTC))  # ...no longer: its invocation's time is long over
    (run,) = runs()
    assert run["status"] == "failed" and run["summary"] is None
    assert "dead-letter queue" in run["error"] and "last receive" in run["error"]
    assert run["finished_at"] is not None and run["finished_at"] <= "2026-03-01T00:40:00Z"

    assert jobs.redrive("expiry") == 1
    jobs.drain("expiry")
    (run,) = runs()
    expired = [e for m in ("old", "older", "later") for e in all_entries(m) if e.type == "expire"]
    assert run["status"] == "done"
    assert (run["summary"]["members_affected"], run["summary"]["points_expired"]) == (
        len(expired),
        sum(-e.points for e in expired),
    )
    assert run["summary"] == invoke("ExpiryFunction", {"job": "expiry", "summary_of": started})


def test_a_start_that_cannot_send_its_chunks_is_a_failed_run(aws, monkeypatch):
    def refuse(queue_url, bodies):
        raise RuntimeError("SQS refused 16 job messages")

    monkeypatch.setattr(job_store, "send_messages", refuse)
    with pytest.raises(RuntimeError):
        jobs.start("expiry", "2026-03-01")
    (run,) = runs()
    assert run["status"] == "failed" and run["error"] == "SQS refused 16 job messages"


def test_a_job_with_nothing_to_walk_is_done_at_once(aws):
    demo = programs.bundled_program()
    programs.PROGRAMS.override(demo.model_copy(update={"expiry": demo.expiry.model_copy(update={"policy": "never"})}))
    jobs.start("expiry", "2026-03-01")
    (run,) = runs()
    assert run["status"] == "done" and run["summary"]["points_expired"] == 0
