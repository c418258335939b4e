"""Faults on the write path: every operation completes exactly once after retry, or fails with a clear
error and no partial state. Prints its figures at the end (operations, faults injected, violations)."""

from __future__ import annotations

import pytest
from loyalty.ledger import maths as ledger
from loyalty.store import members as store

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


def test_print_figures():
    print(
        f"\nfault injection: {FIGURES['operations']} operations, {FIGURES['faults']} faults injected, "
        f"{FIGURES['violations']} violations"
    )
    assert FIGURES["violations"] == 0
