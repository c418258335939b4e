"""Imports against moto, the functions invoked as Lambda invokes them (CONTRACT.md v1.2, "Import"): every rejection
reason, validation writing nothing, the apply's figures, a worker killed half way through a chunk (every row applied
once, the rest `skipped`), a chunk delivered twice (counted once), a row taken between validation and apply, and the
imported member's ledger, buckets, tier and events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from loyalty.kernel.clock import CLOCK
from loyalty.kernel.config import settings

from tests.support import streams
from tests.support.aws import api_event, call
from tests.support.faults import inject
from tests.support.jobs import deliver, queue_url

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
WORKER = "ImportWorkerFunction"


@pytest.fixture(autouse=True)
def clock(aws: dict[str, Any]) -> Iterator[None]:
    CLOCK.set(T0)
    yield
    CLOCK.set(None)


def create(import_id: str, fmt: str = "jsonl") -> dict[str, Any]:
    status, answer, _ = call("ImportsFunction", api_event("CreateImport", body={"import_id": import_id, "format": fmt}))
    assert status == 201, answer
    return dict(answer)


def upload(import_id: str, content: bytes) -> None:
    """What the client's PUT to the presigned URL does."""
    boto3.client("s3").put_object(Bucket=settings().import_bucket, Key=f"imports/{import_id}", Body=content)


def ask(step: str, import_id: str) -> tuple[int, Any]:
    event = "ValidateImport" if step == "validate" else "ApplyImport"
    status, answer, _ = call("ImportsFunction", api_event(event, path_params={"import_id": import_id}))
    return status, answer


def read(import_id: str) -> dict[str, Any]:
    status, answer, _ = call("ImportsFunction", api_event("GetImport", path_params={"import_id": import_id}))
    assert status == 200, answer
    return dict(answer)


def errors(import_id: str) -> list[dict[str, Any]]:
    status, answer, _ = call(
        "ImportsFunction", api_event("ListImportErrors", path_params={"import_id": import_id}, query={"limit": "1000"})
    )
    assert status == 200, answer
    return list(answer["errors"])


def drain(max_rounds: int = 1000) -> list[dict[str, Any]]:
    """The import queue to its worker, one message a call (BatchSize 1), until it is empty; the bodies delivered."""
    sqs = boto3.client("sqs")
    url = queue_url("ImportQueue")
    seen = []
    for _ in range(max_rounds):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"]).get("Messages", [])
        if not got:
            return seen
        seen.append(json.loads(got[0]["Body"]))
        failed = deliver(WORKER, got)
        for message in got:
            if message["MessageId"] in failed:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
            else:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    raise AssertionError("the import queue did not drain")


def run(import_id: str, content: bytes, fmt: str = "jsonl") -> dict[str, Any]:
    create(import_id, fmt)
    upload(import_id, content)
    assert ask("validate", import_id)[0] == 202
    drain()
    return read(import_id)


def jsonl(*rows: dict[str, Any] | str) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


def member(member_id: str, **extra: Any) -> dict[str, Any]:
    return {"member_id": member_id, "enrolled_at": "2023-05-01T09:00:00Z", **extra}


def get_member(member_id: str) -> tuple[int, Any]:
    status, answer, _ = call("MembersFunction", api_event("GetMember", path_params={"member_id": member_id}))
    return status, answer


def table_items(prefix: str) -> list[dict[str, Any]]:
    from loyalty.store import core

    items = core.client().scan(TableName=settings().table_name)["Items"]
    return [i for i in items if i["PK"]["S"].startswith(prefix)]


# -- validation ----------------------------------------------------------------------------------------------
def test_every_rejection_reason_is_listed_by_line_and_validation_writes_no_member() -> None:
    status, answer, _ = call(
        "MembersFunction",
        api_event("Enroll", body={"member_id": "here-1", "email": "here@example.com", "channel": "web"}),
    )
    assert status == 201, answer
    content = jsonl(
        member("ok-1", email="ok1@example.com", balances=[{"points": 100, "expires": "2027-06"}]),  # 1 valid
        "not json at all",  # 2 bad_line
        "[1, 2]",  # 3 bad_line: not an object
        member("bad-email", email="not-an-email"),  # 4 validation_error email
        member("dup-a", phone="+14155550100", balances=[{"points": 5, "expires": None}]),  # 5 duplicate (phone)
        member("dup-b", phone="+14155550100"),  # 6 duplicate (phone)
        member("here-1"),  # 7 member_exists
        member("uses-email", email="HERE@example.com"),  # 8 identifier_in_use (case-insensitive)
        member("old-points", balances=[{"points": 10, "expires": "2026-11"}]),  # 9 expiry month over
        member("no-tier", tier={"id": "platinum"}),  # 10 unknown tier
        member("old-month", qualifying=[{"month": "2025-11", "value": 10}]),  # 11 outside the window
        member("typo", emial="x@example.com"),  # 12 unknown field
        member("ok-1"),  # 13 duplicate member id of row 1 (row 1 too)
        "",  # 14 blank: not a row
        member("future", enrolled_at="2027-01-01T00:00:00Z"),  # 15 enrolled in the future
        member("ok-2", status="suspended", balances=[{"points": 40, "expires": "2027-01"}]),  # 16 valid
    )
    found = run("reasons", content)
    assert found["status"] == "validated"
    assert found["rows"] == {"total": 15, "valid": 1, "rejected": 14, "applied": 0, "skipped": 0}
    assert found["points"] == {"total": 40}
    got = {e["row"]: (e["code"], e["field"]) for e in errors("reasons")}
    assert got == {
        1: ("duplicate_in_file", "member_id"),
        2: ("bad_line", None),
        3: ("bad_line", None),
        4: ("validation_error", "email"),
        5: ("duplicate_in_file", "phone"),
        6: ("duplicate_in_file", "phone"),
        7: ("member_exists", "member_id"),
        8: ("identifier_in_use", "email"),
        9: ("validation_error", "balances[0].expires"),
        10: ("validation_error", "tier.id"),
        11: ("validation_error", "qualifying[0].month"),
        12: ("validation_error", "emial"),
        13: ("duplicate_in_file", "member_id"),
        15: ("validation_error", "enrolled_at"),
    }
    assert get_member("ok-2")[0] == 404  # validation writes no member, no identifier, no entry
    assert not table_items("IDENT#phone#+14155550100")
    assert not [i for i in table_items("ENTRY#") if i["PK"]["S"].startswith("ENTRY#import#")]


def test_a_csv_file_its_header_and_its_columns() -> None:
    content = (
        b"member_id,email,phone,card_id,name,birth_date,enrolled_at,status,tier,points,expires\n"
        b"c-1,c1@example.com,+14155550111,card-1,Ana,1990-05-17,2022-01-10T08:00:00Z,active,silver,300,2027-04\n"
        b"c-2,,,,,,2022-01-10T08:00:00Z,,,250,\n"
        b"c-3,only,three\n"
        b'c-4,"broken\n'
        b"c-5,,,,,,2022-01-10T08:00:00Z,,,abc,\n"
    )
    found = run("csv-1", content, "csv")
    assert found["rows"] == {"total": 5, "valid": 2, "rejected": 3, "applied": 0, "skipped": 0}
    assert found["points"] == {"total": 550}
    assert {e["row"]: (e["code"], e["field"]) for e in errors("csv-1")} == {
        4: ("bad_line", None),
        5: ("bad_line", None),
        6: ("validation_error", "points"),
    }
    assert ask("apply", "csv-1")[0] == 202
    drain()
    assert read("csv-1")["status"] == "applied"
    _, c2 = get_member("c-2")
    # an empty `expires`: as if earned in the month of the apply (2026-12 + 12 months)
    assert c2["expiring"] == [{"month": "2027-12", "points": 250}]
    _, c1 = get_member("c-1")
    assert c1["tier"]["id"] == "silver" and c1["channel"] == "import"
    assert c1["profile"]["phone"] == "+14155550111" and c1["profile"]["birth_date"] == "1990-05-17"


def test_a_csv_file_without_the_header_fails_and_says_why() -> None:
    found = run("csv-bad", b"id,email\nx,y\n", "csv")
    assert found["status"] == "failed" and "header" in found["failed_reason"]
    status, answer = ask("apply", "csv-bad")
    assert status == 409 and answer["error"]["code"] == "invalid_state"


# -- states --------------------------------------------------------------------------------------------------
def test_the_steps_refuse_the_wrong_state_and_repeat_without_change() -> None:
    create("states")
    status, answer = ask("validate", "states")
    assert status == 409 and answer["error"]["code"] == "invalid_state"  # no file yet
    assert read("states")["status"] == "awaiting_upload"
    upload("states", jsonl(member("s-1", balances=[{"points": 10, "expires": None}])))
    assert read("states")["status"] == "uploaded"
    status, answer = ask("apply", "states")
    assert status == 409 and answer["error"]["code"] == "invalid_state"  # not validated
    assert ask("validate", "states")[0] == 202
    assert ask("validate", "states")[1]["status"] == "validating"  # asked again while it runs: nothing new
    assert len(drain()) == 1  # one validation, not two
    assert ask("apply", "states")[0] == 202
    drain()
    done = read("states")
    assert done["status"] == "applied" and done["rows"]["applied"] == 1
    for step in ("validate", "apply"):  # after it is done: 202, nothing changes, counts included
        status, answer = ask(step, "states")
        assert status == 202 and answer == done
    assert drain() == []
    status, answer, _ = call("ImportsFunction", api_event("GetImport", path_params={"import_id": "nope"}))
    assert status == 404 and answer["error"]["code"] == "import_not_found"


def test_creating_again_replays_and_another_format_is_import_exists() -> None:
    first = create("again")
    status, answer, headers = call(
        "ImportsFunction", api_event("CreateImport", body={"import_id": "again", "format": "jsonl"})
    )
    assert status == 200 and answer == first and headers.get("Idempotent-Replayed") == "true"
    status, answer, _ = call("ImportsFunction", api_event("CreateImport", body={"import_id": "again", "format": "csv"}))
    assert status == 409 and answer["error"]["code"] == "import_exists"
    status, answer, _ = call("ImportsFunction", api_event("CreateImport", body={"import_id": "x", "format": "xml"}))
    assert status == 422 and answer["error"]["code"] == "validation_error"


# -- the apply -----------------------------------------------------------------------------------------------
def test_the_imported_member_is_the_row_no_bonus_no_rule_one_entry_one_event() -> None:
    row = member(
        "m-1",
        email="m1@example.com",
        phone="+14155550123",
        card_id="card-9",
        name="Maya",
        tier={"id": "gold", "until": "2027-06"},
        qualifying=[{"month": "2026-11", "value": 800}, {"month": "2026-02", "value": 300}],
        balances=[
            {"points": 200, "expires": "2027-03"},
            {"points": 100, "expires": "2027-01"},
            {"points": 50, "expires": None},
            {"points": 25, "expires": "2027-03"},
        ],
    )
    run("one", jsonl(row))
    assert ask("apply", "one")[0] == 202
    drain()
    status, found = get_member("m-1")
    assert status == 200
    assert found["points"]["available"] == 375 and found["points"]["lifetime_earned"] == 375
    assert found["expiring"] == [{"month": "2027-01", "points": 100}, {"month": "2027-03", "points": 225}]
    assert found["tier"]["id"] == "gold" and found["tier"]["source"] == "manual"
    assert found["qualifying"]["value"] == 1100 and found["enrolled_at"] == "2023-05-01T09:00:00Z"
    status, ledger, _ = call("MembersFunction", api_event("GetLedger", path_params={"member_id": "m-1"}))
    assert [(e["type"], e["points"], e["details"]) for e in ledger["entries"]] == [
        ("import", 375, {"import_id": "one", "row": 1})
    ]
    from loyalty.reports.reconcile import reconcile_all

    assert reconcile_all().differences == []  # the member's figures are what its ledger says
    streams.poller().flush()
    assert [(e["detail-type"], e["detail"]["points"]) for e in streams.published()] == [("MemberImported", 375)]


def test_a_worker_killed_half_way_applies_every_row_once_and_the_rest_is_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from loyalty.domain import imports as domain

    monkeypatch.setattr(domain, "CHUNK_ROWS", 10)
    from loyalty.imports import validation

    monkeypatch.setattr(validation, "CHUNK_ROWS", 10)
    from loyalty.imports import work

    monkeypatch.setattr(work, "GROUP_ROWS", 2)  # a chunk of 10 rows is 5 transactions
    rows = [member(f"k-{i:02d}", balances=[{"points": 10 + i, "expires": "2027-05"}]) for i in range(25)]
    found = run("killed", jsonl(*rows))
    assert found["rows"]["valid"] == 25 and found["points"]["total"] == sum(10 + i for i in range(25))
    assert ask("apply", "killed")[0] == 202
    # the worker dies right after the 4th transaction of a chunk (8 members) is committed: the message comes back
    with inject("TransactWriteItems", "killed_after_commit", times=1, skip=3, target="import#"):
        drain()
    done = read("killed")
    assert done["status"] == "applied"
    assert done["rows"]["applied"] + done["rows"]["skipped"] == 25
    assert done["rows"]["skipped"] == 8  # the eight the killed worker had written
    for i in range(25):
        _, got = get_member(f"k-{i:02d}")
        assert got["points"]["available"] == 10 + i
    entries = [i for i in table_items("ENTRY#import#k-")]
    assert len(entries) == 25


def test_a_chunk_delivered_twice_is_counted_once() -> None:
    run("twice", jsonl(member("t-1"), member("t-2", balances=[{"points": 5, "expires": None}])))
    assert ask("apply", "twice")[0] == 202
    bodies = drain()
    chunk = next(b for b in bodies if b["step"] == "chunk")
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=queue_url("ImportQueue"), MessageBody=json.dumps(chunk))
    drain()
    found = read("twice")
    assert found["rows"] == {"total": 2, "valid": 2, "rejected": 0, "applied": 2, "skipped": 0}


def test_a_row_taken_between_validation_and_apply_is_rejected_then() -> None:
    run("late", jsonl(member("l-1", balances=[{"points": 7, "expires": None}]), member("l-2", email="l2@example.com")))
    status, _, _ = call("MembersFunction", api_event("Enroll", body={"member_id": "l-1", "channel": "web"}))
    assert status == 201
    status, _, _ = call(
        "MembersFunction", api_event("Enroll", body={"member_id": "other", "email": "L2@example.com", "channel": "web"})
    )
    assert status == 201
    assert ask("apply", "late")[0] == 202
    drain()
    found = read("late")
    assert found["status"] == "applied"
    assert found["rows"] == {"total": 2, "valid": 0, "rejected": 2, "applied": 0, "skipped": 0}
    assert found["points"] == {"total": 0}
    assert {e["row"]: e["code"] for e in errors("late")} == {1: "member_exists", 2: "identifier_in_use"}


def test_the_list_newest_first() -> None:
    for n in range(3):
        CLOCK.set(T0.replace(minute=n))
        create(f"listed-{n}")
    status, answer, _ = call("ImportsFunction", api_event("ListImports", query={"limit": "2"}))
    assert status == 200
    assert [i["import_id"] for i in answer["imports"]] == ["listed-2", "listed-1"]
    status, rest, _ = call(
        "ImportsFunction", api_event("ListImports", query={"limit": "2", "cursor": answer["next_cursor"]})
    )
    assert [i["import_id"] for i in rest["imports"]] == ["listed-0"] and rest["next_cursor"] is None


def lose() -> None:
    """Every message on the import queue taken away unread."""
    sqs = boto3.client("sqs")
    url = queue_url("ImportQueue")
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_a_step_whose_message_was_lost_is_asked_again_once_it_has_not_moved_for_20_minutes() -> None:
    """The route saved `validating` (or `applying`) and died before its message was sent: asking again at once
    changes nothing, asking again 20 minutes later sends the step again, and it runs once."""
    create("lost")
    upload("lost", jsonl(member("lost-1", balances=[{"points": 9, "expires": None}])))
    assert ask("validate", "lost")[0] == 202
    lose()  # the message that was never sent
    assert ask("validate", "lost")[1]["status"] == "validating"
    assert drain() == []  # asked again at once: nothing sent twice
    CLOCK.set(T0.replace(minute=21))
    assert ask("validate", "lost")[1]["status"] == "validating"
    assert [b["step"] for b in drain()] == ["validate"]
    assert read("lost")["status"] == "validated"
    assert ask("apply", "lost")[0] == 202
    lose()
    CLOCK.set(T0.replace(minute=42))
    assert ask("apply", "lost")[1]["status"] == "applying"
    assert [b["step"] for b in drain()] == ["plan", "chunk"]
    done = read("lost")
    assert done["status"] == "applied" and done["rows"]["applied"] == 1
    assert ask("apply", "lost")[1] == done and drain() == []
