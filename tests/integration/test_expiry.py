"""The monthly expiry on moto: the expiry index walked by shard, one `expire` entry per member and period."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from loyalty.domain.model import NEVER
from loyalty.kernel.clock import CLOCK
from loyalty.ledger import maths as ledger
from loyalty.program import rules as programs
from loyalty.store import core
from loyalty.store import jobs as job_store
from loyalty.store.members import all_entries, load_member

from tests.support import jobs
from tests.support.aws import api_event, call, invoke

AS_OF = "2026-03-01"  # removes what expired at the end of 2026-02 and earlier; warns for 2026-03


@pytest.fixture(autouse=True)
def clock(aws):
    CLOCK.set(datetime(2026, 3, 1, 0, 5, tzinfo=UTC))


def demo_members() -> None:
    jobs.write_members(
        [
            jobs.member("old", buckets={"2026-01": 100, "2026-02": 50, "2026-04": 30}),
            jobs.member("soon", buckets={"2026-03": 40, "2026-06": 5}),
            jobs.member("both", buckets={"2026-02": 10, "2026-03": 20}),
            jobs.member("later", buckets={"2026-05": 10}),
            jobs.member("never", buckets={NEVER: 70}),
            jobs.member("debt", available=-20, lifetime_earned=0, lifetime_redeemed=20),
        ]
    )


def warnings() -> dict[str, dict]:
    items = boto3.client("dynamodb").scan(
        TableName=core.table_name(),
        FilterExpression="kind = :k",
        ExpressionAttributeValues={":k": {"S": "expiry_warning"}},
    )["Items"]
    return {w["member_id"]: w for w in (core.from_item(i) for i in items)}


def test_expiry_removes_points_of_past_months_once_and_warns_of_this_month(aws):
    demo_members()
    summary = jobs.run("expiry", AS_OF)
    assert summary == {
        "job": "expiry",
        "as_of": AS_OF,
        "members_affected": 2,
        "points_expired": 160,
        "members_warned": 2,  # soon (warned only) and both (expired, then warned)
        "accounts_affected": 0,
        "accounts_warned": 0,
    }

    old = load_member("old")
    assert old is not None
    assert (old.available, old.lifetime_expired, old.buckets, old.expiry_period) == (
        30,
        150,
        {"2026-04": 30},
        "2026-03",
    )
    ledger.check(old)
    (entry,) = [e for e in all_entries("old") if e.type == "expire"]
    assert (entry.points, entry.balance_after, entry.key) == (-150, 30, "expire#old#2026-03")
    assert entry.buckets == {"2026-01": 100, "2026-02": 50}

    both = load_member("both")
    assert both is not None and (both.available, both.lifetime_expired, both.buckets) == (20, 10, {"2026-03": 20})
    for untouched, available in (("soon", 45), ("later", 10), ("never", 70), ("debt", -20)):
        member = load_member(untouched)
        assert member is not None and member.available == available and member.lifetime_expired == 0

    warned = warnings()
    assert {m: (w["month"], int(w["points"])) for m, w in warned.items()} == {
        "soon": ("2026-03", 40),
        "both": ("2026-03", 20),
    }

    status, view, _ = call("MembersFunction", api_event("GetMember", path_params={"member_id": "old"}))
    assert status == 200 and view["points"]["available"] == 30 and view["points"]["lifetime_expired"] == 150
    _, page, _ = call("MembersFunction", api_event("GetLedger", path_params={"member_id": "old"}))
    assert page["entries"][0]["type"] == "expire" and page["entries"][0]["points"] == -150


def test_a_second_run_for_the_period_expires_nothing(aws):
    demo_members()
    jobs.run("expiry", AS_OF)
    counts, stop = jobs.count_reads_and_writes()
    try:
        summary = jobs.run("expiry", AS_OF)
    finally:
        stop()
    assert (summary["members_affected"], summary["points_expired"], summary["members_warned"]) == (0, 0, 0)
    assert (counts["member_writes"], counts["entry_writes"]) == (0, 0)
    assert len([e for e in all_entries("old") if e.type == "expire"]) == 1
    assert len(warnings()) == 2


def test_the_adjusted_points_of_a_real_member_expire_after_twelve_months(aws):
    CLOCK.set(datetime(2025, 1, 15, 10, tzinfo=UTC))
    assert call("MembersFunction", api_event("Enroll", body={"member_id": "ana", "channel": "web"}))[0] == 201
    CLOCK.set(datetime(2025, 2, 3, 10, tzinfo=UTC))
    body = {"adjustment_id": "adj-1", "points": 300, "reason": "goodwill"}
    assert call("MembersFunction", api_event("Adjust", body=body, path_params={"member_id": "ana"}))[0] == 201
    CLOCK.set(datetime(2026, 2, 1, 0, 5, tzinfo=UTC))  # the signup bonus expired at the end of 2026-01
    assert jobs.run("expiry", "2026-02-01")["points_expired"] == 100
    CLOCK.set(datetime(2026, 3, 1, 0, 5, tzinfo=UTC))
    assert jobs.run("expiry", AS_OF)["points_expired"] == 300
    ana = load_member("ana")
    assert ana is not None and (ana.available, ana.lifetime_expired, ana.buckets) == (0, 400, {})
    ledger.check(ana)


def test_a_duplicated_message_counts_and_expires_nothing_twice(aws):
    demo_members()
    started = jobs.start("expiry", AS_OF)
    sqs = boto3.client("sqs")
    url = jobs.queue_url("ExpiryWorkQueue")
    bodies = []
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [m["Body"] for m in got]
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert len(bodies) == 17  # one per shard, and the accounts' pools
    for body in bodies + bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    jobs.drain("expiry")
    summary = invoke("ExpiryFunction", {"job": "expiry", "summary_of": started})
    assert (summary["members_affected"], summary["points_expired"]) == (2, 160)
    old = load_member("old")
    assert old is not None and old.lifetime_expired == 150


def test_a_worker_that_fails_after_expiring_is_retried_and_counts_once(aws, monkeypatch):
    # Expired members leave the index range: the retry must still count them, from the frozen page.
    demo_members()
    failed = jobs.die_before_counting_a_page(monkeypatch, lambda counts: counts.get("points_expired"))
    summary = jobs.run("expiry", AS_OF)
    assert failed
    assert (summary["members_affected"], summary["points_expired"]) == (2, 160)
    old = load_member("old")
    assert old is not None and old.lifetime_expired == 150
    assert jobs.dead_letters("expiry") == []


def test_a_poison_member_goes_to_the_dead_letter_queue_without_blocking_the_others(aws):
    demo_members()
    poison = {"PK": "MEMBER#poison", "SK": "MEMBER", "kind": "member", "member_id": "poison"}
    jobs.write_items([{**poison, "EXPPK": "EXP#00", "EXPSK": "2025-12#poison"}])
    summary = jobs.run("expiry", AS_OF)
    assert (summary["members_affected"], summary["points_expired"]) == (2, 160)
    (dead,) = jobs.dead_letters("expiry")
    assert dead["member_id"] == "poison" and dead["job"] == "expiry"


def test_the_never_policy_sends_no_work(aws):
    demo = programs.bundled_program()
    programs.PROGRAMS.override(demo.model_copy(update={"expiry": demo.expiry.model_copy(update={"policy": "never"})}))
    demo_members()
    started = jobs.start("expiry", AS_OF)
    assert started["chunks"] == 0
    assert jobs.drain("expiry") == 0
    summary = invoke("ExpiryFunction", {"job": "expiry", "summary_of": started})
    assert (summary["members_affected"], summary["points_expired"]) == (0, 0)


def test_metrics_are_emitted(aws, capsys):
    demo_members()
    jobs.run("expiry", AS_OF)
    emitted = jobs.emitted_metrics(capsys.readouterr().out)
    assert (emitted["MembersAffected"], emitted["PointsExpired"], emitted["MembersWarned"]) == (2, 160, 2)


@pytest.mark.parametrize("fail_a_page", [False, True], ids=["clean", "a-page-retried"])
def test_a_member_met_again_later_in_its_shard_is_counted_once(aws, monkeypatch, fail_a_page):
    # After its expiry a member's index key moves to this month (points expiring at its end), which is
    # still in the walk's range: with more than one page per shard, a later page meets it again. Its entry
    # replays there; the run counted it on its own page and must not count it twice. A retried page (the
    # worker died before counting it) still counts its members.
    from loyalty.expiry import job as expiry

    monkeypatch.setattr(expiry.JOB, "page_size", 1)
    jobs.write_members([jobs.member(f"m{i:02d}", buckets={"2026-02": 10, "2026-03": 5}) for i in range(40)])
    failed = jobs.die_before_counting_a_page(monkeypatch, lambda counts: fail_a_page and counts.get("points_expired"))
    summary = jobs.run("expiry", AS_OF)
    assert bool(failed) == fail_a_page
    expired = [e for m in range(40) for e in all_entries(f"m{m:02d}") if e.type == "expire"]
    assert len(expired) == 40 and sum(-e.points for e in expired) == 400
    assert (summary["members_affected"], summary["points_expired"]) == (40, 400)
    assert jobs.dead_letters("expiry") == []


@pytest.mark.parametrize("expired", [False, True], ids=["warned-only", "expired-and-warned"])
def test_a_page_retried_after_its_warnings_were_written_counts_each_warning_once(aws, monkeypatch, capsys, expired):
    # The worker dies after writing a page's warning (soon: a warning alone; both: with its expiry, in one
    # transaction), before counting the page: its retry finds the warning written and must still count it,
    # once, as it counts the expiries.
    demo_members()
    failed = jobs.die_before_counting_a_page(
        monkeypatch, lambda counts: counts.get("members_warned") and bool(counts.get("members_affected")) == expired
    )
    capsys.readouterr()
    summary = jobs.run("expiry", AS_OF)
    assert failed
    assert len(warnings()) == 2
    assert (summary["members_affected"], summary["points_expired"], summary["members_warned"]) == (2, 160, 2)
    emitted = jobs.emitted_metrics(capsys.readouterr().out)
    assert (emitted["MembersAffected"], emitted["PointsExpired"], emitted["MembersWarned"]) == (2, 160, 2)


def _one_shard(count: int) -> list[str]:
    """`count` member ids in one shard of the expiry index (so one walk meets them all)."""
    import zlib

    from loyalty.store.codecs import EXPIRY_SHARDS

    ids = (f"s{i:03d}" for i in range(10_000))
    return [m for m in ids if zlib.crc32(m.encode()) % EXPIRY_SHARDS == 3][:count]


@pytest.mark.parametrize("failure", ["before-its-write", "after-its-write", "and-its-page-retried"])
def test_an_isolated_member_met_again_later_in_its_shard_is_counted_once(aws, monkeypatch, failure):
    # A member fails on its page and goes on in a message of its own, which expires it: its index key moves to
    # this month, still in the walk's range, and a later page of its shard meets it again. The run counts it
    # once, wherever it was written: before this was fixed, 5 members / 50 points where the ledger had 4 / 40.
    from loyalty.expiry import job as expiry

    from loyalty_local.runtime import LocalContext

    class ShortOfTime(LocalContext):  # a page per message: the isolated member's own message comes between
        def get_remaining_time_in_millis(self) -> int:
            return 1_000

    ids = _one_shard(4)
    jobs.write_members([jobs.member(m, buckets={"2026-02": 10, "2026-03": 5}) for m in ids])
    monkeypatch.setattr(expiry.JOB, "page_size", 1)
    real_process, real_complete = expiry.JOB.process, job_store.complete_page
    failed: list[str] = []

    def fails_once(program, run, member_id, item):
        if run.page is not None and run.page.startswith("PAGE#") and not failed:
            failed.append(member_id)
            if failure == "after-its-write":  # it committed, and its answer was lost
                real_process(program, run, member_id, item)
            raise RuntimeError("injected: the member fails on its page")
        return real_process(program, run, member_id, item)

    def dies_after_isolating(pk, chunk, cursor, counts, *isolated):
        if failure == "and-its-page-retried" and failed and len(failed) == 1:
            failed.append("page")
            raise RuntimeError("injected: the worker dies after isolating the member, before counting its page")
        return real_complete(pk, chunk, cursor, counts, *isolated)

    monkeypatch.setattr(expiry.JOB, "process", fails_once)
    monkeypatch.setattr(job_store, "complete_page", dies_after_isolating)
    started = jobs.start("expiry", AS_OF)
    jobs.drain("expiry", batch_size=1, context=ShortOfTime("ExpiryWorkerFunction", 120))
    summary = invoke("ExpiryFunction", {"job": "expiry", "summary_of": started})

    assert failed
    expired = [e for m in ids for e in all_entries(m) if e.type == "expire"]
    assert (len(expired), sum(-e.points for e in expired)) == (4, 40)
    assert (summary["members_affected"], summary["points_expired"], summary["members_warned"]) == (4, 40, 4)
    assert jobs.dead_letters("expiry") == []


def test_two_deliveries_of_a_page_one_isolating_a_member_the_other_counted_count_it_once(aws, monkeypatch):
    # SQS may deliver a message twice at once. Delivery B expires x and y and is about to count its page; a
    # duplicate delivery A of the same page meets x failing (a throttle), isolates it (x's own message will
    # count it) and dies before counting. B must not count x too: its count is refused, and its retry leaves
    # x to x's message.
    from loyalty.expiry import job as expiry
    from loyalty.jobs import runner

    x, y = _one_shard(2)
    jobs.write_members([jobs.member(m, buckets={"2026-02": 10}) for m in (x, y)])
    real_process, real_complete = expiry.JOB.process, job_store.complete_page
    state = {"in_duplicate": False, "duplicated": False}

    def process(program, run, member_id, item):
        if state["in_duplicate"] and member_id == x:
            raise RuntimeError("injected: x is throttled in the duplicate delivery")
        return real_process(program, run, member_id, item)

    def complete(pk, chunk, cursor, counts, *isolated):
        if state["in_duplicate"]:
            raise RuntimeError("injected: the duplicate delivery dies before counting the page")
        if counts.get("members_affected") == 2 and not state["duplicated"]:
            state["duplicated"] = state["in_duplicate"] = True
            _, job, period, run_id = pk.split("#")
            body = {"job": job, "period": period, "as_of": AS_OF, "run_id": run_id, "chunk": chunk, "cursor": cursor}
            with pytest.raises(RuntimeError, match="duplicate delivery dies"):
                runner.handle_message(expiry.JOB, body, None)
            state["in_duplicate"] = False
        return real_complete(pk, chunk, cursor, counts, *isolated)

    monkeypatch.setattr(expiry.JOB, "process", process)
    monkeypatch.setattr(job_store, "complete_page", complete)
    summary = jobs.run("expiry", AS_OF)
    assert state["duplicated"]
    expired = [e for m in (x, y) for e in all_entries(m) if e.type == "expire"]
    assert (len(expired), sum(-e.points for e in expired)) == (2, 20)
    assert (summary["members_affected"], summary["points_expired"]) == (2, 20)
    assert jobs.dead_letters("expiry") == []


def test_a_page_whose_members_all_left_the_index_is_counted_on_its_retry(aws, monkeypatch):
    # Every member of the page expires whole, so none is left in the walk's range when the worker, dead
    # before counting the page, is retried: the retry reads nothing there, and must still count the page it
    # froze (before this was fixed the run stayed `running` and its summary missed them).
    ids = _one_shard(3)
    jobs.write_members([jobs.member(m, buckets={"2026-01": 10, "2026-02": 10}) for m in ids])
    failed = jobs.die_before_counting_a_page(monkeypatch, lambda counts: counts.get("points_expired"))
    summary = jobs.run("expiry", AS_OF)
    assert failed
    assert (summary["members_affected"], summary["points_expired"]) == (3, 60)
    (run,) = call("ProgramFunction", api_event("Jobs"))[1]["jobs"]
    assert run["status"] == "done" and run["summary"] == summary
