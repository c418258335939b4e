"""A second review of imports (CONTRACT.md v1.2, "Import"): the figures after a crash, a redelivery, the file's
first bytes, the file changed after its validation."""

from __future__ import annotations

from typing import Any

import boto3

from tests.integration.test_imports import (  # noqa: F401  # `clock` is an autouse fixture of these tests too
    ask,
    clock,
    create,
    drain,
    errors,
    get_member,
    jsonl,
    member,
    read,
    run,
    upload,
)
from tests.support.aws import api_event, call
from tests.support.faults import inject
from tests.support.jobs import deliver, queue_url


def enroll(member_id: str, **body: Any) -> None:
    status, answer, _ = call(
        "MembersFunction", api_event("Enroll", body={"member_id": member_id, "channel": "web", **body})
    )
    assert status == 201, answer


def test_a_row_rejected_by_an_apply_killed_before_its_count_is_still_counted_rejected() -> None:
    # validated with both rows valid; then l2's email is taken: the apply rejects row 2 and writes its error, and
    # the worker dies before the chunk is counted. The retry must still count row 2 rejected (and its points out).
    run(
        "late-killed",
        jsonl(
            member("lk-1", balances=[{"points": 7, "expires": None}]),
            member("lk-2", email="lk2@example.com", balances=[{"points": 5, "expires": None}]),
        ),
    )
    enroll("other", email="LK2@example.com")
    assert ask("apply", "late-killed")[0] == 202
    with inject("BatchWriteItem", "killed_after_commit", times=1, target="IMPORT#late-killed"):
        drain()
    found = read("late-killed")
    assert found["status"] == "applied"
    assert found["rows"] == {"total": 2, "valid": 1, "rejected": 1, "applied": 0, "skipped": 1}
    assert found["points"] == {"total": 7}
    assert {e["row"]: e["code"] for e in errors("late-killed")} == {2: "identifier_in_use"}


def test_a_file_put_again_after_its_validation_is_never_applied() -> None:
    # the upload URL works for an hour: a second PUT after the validation replaces the file the apply reads by byte
    # ranges. Rows nobody validated must not be applied: the import fails and says why, and writes no member.
    run("swapped", jsonl(member("sw-1", balances=[{"points": 10, "expires": None}])))
    assert read("swapped")["points"] == {"total": 10}
    upload("swapped", jsonl(member("sw-evil", balances=[{"points": 999999, "expires": None}])))
    assert ask("apply", "swapped")[0] == 202
    drain()
    found = read("swapped")
    assert found["status"] == "failed" and "changed" in found["failed_reason"]
    assert found["rows"]["applied"] == 0
    assert get_member("sw-evil")[0] == 404


def test_a_validation_run_again_after_a_crash_leaves_no_error_of_its_first_attempt() -> None:
    # the first attempt rejects row 1 (its email is held), writes that error and dies; the holder then changes its
    # email. The second attempt finds row 1 valid: no error of the first attempt may stay, or the apply skips row 1
    # for ever while the figures count it valid.
    enroll("holder", email="x@example.com")
    create("rerun")
    upload(
        "rerun",
        jsonl(
            member("rr-1", email="x@example.com", balances=[{"points": 10, "expires": None}]),
            member("rr-2", balances=[{"points": 5, "expires": None}]),
        ),
    )
    assert ask("validate", "rerun")[0] == 202
    sqs = boto3.client("sqs")
    url = queue_url("ImportQueue")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    with inject("BatchWriteItem", "killed_after_commit", times=1, target="IMPORT#rerun"):
        assert deliver("ImportWorkerFunction", got)  # died after writing row 1's error
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"], VisibilityTimeout=0)
    status, answer, _ = call(
        "MembersFunction",
        api_event("UpdateProfile", body={"email": "y@example.com"}, path_params={"member_id": "holder"}),
    )
    assert status == 200, answer
    drain()
    found = read("rerun")
    assert found["status"] == "validated"
    assert found["rows"] == {"total": 2, "valid": 2, "rejected": 0, "applied": 0, "skipped": 0}
    assert errors("rerun") == []
    assert ask("apply", "rerun")[0] == 202
    drain()
    found = read("rerun")
    assert found["status"] == "applied" and found["rows"]["applied"] == 2
    assert get_member("rr-1")[0] == 200


def test_two_chunks_counted_at_the_same_instant_neither_is_applied_again() -> None:
    # many workers count their chunks into the same import item: a transaction on it at the same instant is cancelled
    # with TransactionConflict. That must not fail the chunk (its message back in an hour and a half, its rows then
    # all `skipped` though no worker crashed, three times and the import fails): the count is tried again.
    run("conflict", jsonl(member("cf-1", balances=[{"points": 3, "expires": None}]), member("cf-2")))
    assert ask("apply", "conflict")[0] == 202
    with inject("TransactWriteItems", "conflict", times=1, target="CHUNK#") as fault:
        bodies = drain()
    assert fault.injected == 1
    assert [b["step"] for b in bodies] == ["plan", "chunk"]  # the chunk once: not delivered again
    found = read("conflict")
    assert found["status"] == "applied"
    assert found["rows"] == {"total": 2, "valid": 2, "rejected": 0, "applied": 2, "skipped": 0}


def test_a_worker_killed_between_counting_the_last_chunk_and_marking_the_import_applied_still_finishes_it() -> None:
    # the last chunk's count commits and the worker dies: the redelivered chunk finds it counted (nothing to add)
    # and must still mark the import applied, or it says `applying` for ever
    run("last", jsonl(member("la-1", balances=[{"points": 4, "expires": None}])))
    assert ask("apply", "last")[0] == 202
    with inject("TransactWriteItems", "killed_after_commit", times=1, target="CHUNK#") as fault:
        drain()
    assert fault.injected == 1
    found = read("last")
    assert found["status"] == "applied" and found["applied_at"]
    assert found["rows"] == {"total": 1, "valid": 1, "rejected": 0, "applied": 1, "skipped": 0}
