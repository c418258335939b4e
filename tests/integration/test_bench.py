"""Smoke test of the benchmark harness (`make bench`): its meter, its capacity rules, its moto shim and
its report. The figures themselves come from `make bench`, never from the test suite."""

from __future__ import annotations

from decimal import Decimal

import boto3
import pytest
from loyalty.store import core

from bench import capacity, operations, report, run, world
from bench.moto_patch import fast_transactions


def test_item_sizes_and_units_follow_dynamodb_rules():
    # a number: 1 byte + 1 per 2 significant digits, leading and trailing zeros trimmed ("120" -> "12")
    assert capacity.item_size({"PK": {"S": "MEMBER#a"}, "n": {"N": "120"}}) == (2 + 8) + (1 + 2)
    assert capacity.attribute_value_size({"M": {"ab": {"BOOL": True}}}) == 3 + 1 + 2 + 1
    assert capacity.attribute_value_size({"L": [{"S": "xy"}, {"NULL": True}]}) == 3 + (1 + 2) + (1 + 1)
    assert capacity.number_size("-1.50") == 2  # significant digits "15"
    assert [capacity.write_units(n) for n in (0, 1024, 1025)] == [1, 1, 2]
    assert capacity.write_units(1025, transactional=True) == 4
    assert capacity.read_units(4097, consistent=True) == 2.0
    assert capacity.read_units(10, consistent=False) == 0.5
    assert capacity.read_units(10, consistent=True, transactional=True) == 2.0
    assert capacity.usd_per_million(5, 2) == Decimal("3.375")


def test_global_index_writes_follow_key_changes():
    shape = capacity.TableShape(
        "t",
        ("PK", "SK"),
        {
            "keys": capacity.Index("keys", ("X",), "KEYS_ONLY"),
            "all": capacity.Index("all", ("Y",), "ALL"),
        },
    )
    base = {"PK": {"S": "p"}, "SK": {"S": "s"}}
    assert shape.index_write_units(None, {**base, "X": {"S": "1"}}) == {"keys": 1}
    assert shape.index_write_units({**base, "X": {"S": "1"}}, {**base, "X": {"S": "2"}}) == {"keys": 2}
    assert shape.index_write_units({**base, "X": {"S": "1"}}, {**base, "X": {"S": "1"}, "z": {"S": "z"}}) == {}
    assert shape.index_write_units({**base, "Y": {"S": "1"}}, {**base, "Y": {"S": "1"}, "z": {"S": "z"}}) == {"all": 1}
    assert shape.index_write_units({**base, "X": {"S": "1"}}, None) == {"keys": 1}


def test_the_meter_counts_round_trips_and_units_through_the_handlers(aws):
    with fast_transactions(), world.quiet():
        world.enroll("smoke-1")
        meter = operations.meter()
        meter.install()
        try:
            with meter.measure() as read:
                world.read_member("smoke-1")
            with meter.measure() as earn:
                world.earn("smoke-1", "smoke-order-1")
            with meter.measure() as replay:
                world.earn("smoke-1", "smoke-order-1", expect=(200,))
        finally:
            meter.uninstall()
    assert read.calls == ["GetItem"] and read.read_units == 1.0 and read.total_write_units == 0
    assert earn.calls == ["BatchGetItem", "TransactWriteItems"]
    written = [i for i in earn.items if "write_units" in i]
    assert {i["key"].split("#")[0] for i in written} == {"MEMBER", "ENTRY"}
    assert all(i["write_units"] >= 2 for i in written)  # transactional: twice the standard rate
    assert earn.write_units == sum(i["write_units"] for i in written)
    assert earn.index_write_units == {"ledger": 1}  # the new entry enters the ledger index
    assert earn.unreported == ["TransactWriteItems"]  # moto reports no capacity for transactions
    assert replay.calls == ["BatchGetItem"] and replay.total_write_units == 0
    results = operations.summarise({"member_read": read, "earn_first": earn})
    assert results["ddb_round_trips"]["member_read"]["budget_holds"] is True
    assert results["ddb_round_trips"]["earn_first"]["budget_holds"] is True


def test_the_fast_transaction_backup_still_rolls_a_failed_transaction_back(aws):
    client = boto3.client("dynamodb")
    table = core.table_name()
    client.put_item(TableName=table, Item={"PK": {"S": "B#1"}, "SK": {"S": "X"}, "v": {"N": "1"}})
    with fast_transactions(), pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"PK": {"S": "B#2"}, "SK": {"S": "X"}}}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"PK": {"S": "B#1"}, "SK": {"S": "X"}},
                        "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"N": "5"}},
                    }
                },
                {  # fails: B#3 does not exist, so nothing above may stay written
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"PK": {"S": "B#3"}, "SK": {"S": "X"}},
                        "ConditionExpression": "attribute_exists(PK)",
                    }
                },
            ]
        )
    assert "Item" not in client.get_item(TableName=table, Key={"PK": {"S": "B#2"}, "SK": {"S": "X"}})
    kept = client.get_item(TableName=table, Key={"PK": {"S": "B#1"}, "SK": {"S": "X"}})["Item"]
    assert kept["v"] == {"N": "1"}


def test_a_broken_budget_is_reported_and_fails_the_run():
    results = {
        "ddb_round_trips": {
            "earn_first": {"round_trips": 3, "calls": ["GetItem", "GetItem", "TransactWriteItems"], "budget": "<= 2"},
        },
        "capacity": {"earn_first": {"write_units": 4, "read_units": 2, "usd_per_million": "2.750"}},
    }
    results["ddb_round_trips"]["earn_first"]["budget_holds"] = operations.budget_holds("earn_first", 3)
    results["budgets"] = {"broken": operations.broken_budgets(results)}
    assert "<= 2 BROKEN" in report.render(results)
    assert run.failures(results) == ["earn_first: 3 round trips, budget <= 2"]


def test_the_mutation_summary_counts_cosmic_rays_outcomes_and_lists_each_survivor():
    import json

    from bench.mutation import summarise
    from bench.report import mutation

    def line(job, outcome, worker="normal", diff=""):
        spec = {"start_pos": [job, 4], "operator_name": "core/ReplaceComparisonOperator_Lt_LtE"}
        result = None if outcome == "pending" else {"worker_outcome": worker, "test_outcome": outcome, "diff": diff}
        return json.dumps([{"job_id": str(job), "mutations": [spec]}, result])

    dump = "\n".join(
        [
            line(10, "killed"),
            line(12, "killed"),
            line(7, "survived", diff="--- a\n+++ b\n@@ -7 +7 @@\n-    if a < b:\n+    if a <= b:"),
            line(20, None, worker="timeout"),
            line(21, "incompetent", worker="exception"),
            line(22, "pending"),
            line(23, None, worker="skipped"),
        ]
    )
    found = summarise(dump)
    assert {k: found[k] for k in ("mutants", "killed", "survived", "timeout", "incompetent", "pending")} == {
        "mutants": 6,
        "killed": 2,
        "survived": 1,
        "timeout": 1,
        "incompetent": 1,
        "pending": 1,
    }
    assert found["filtered_out"] == 1  # an excluded operator: not a mutant
    assert found["score"] == round(2 / 3, 3)
    assert found["survivors"] == [
        {"line": 7, "operator": "ReplaceComparisonOperator_Lt_LtE", "diff": "-    if a < b:\n+    if a <= b:"}
    ]
    text = mutation({"mutation": {"files": {"loyalty/ledger/maths.py": {**found, "seconds": 3}}}})
    assert "`loyalty/ledger/maths.py:7` ReplaceComparisonOperator_Lt_LtE: `-    if a < b: / +    if a <= b:`" in text


def test_the_memory_meter_counts_the_processes_a_command_starts():
    """bench.memory sums the resident sets of a command and its children (the replay's workers), where
    /usr/bin/time reports the largest one: a parent starting two children of 150 MB each peaks above 300."""
    import sys

    from bench import memory

    child = "b = bytearray(150 * 2**20); import time; time.sleep(2)"
    parent = (
        "import subprocess, sys; "
        f"ps = [subprocess.Popen([sys.executable, '-c', {child!r}]) for _ in range(2)]; "
        "[p.wait() for p in ps]"
    )
    status, seconds, total, largest = memory.run([sys.executable, "-c", parent])
    assert status == 0 and seconds >= 2
    assert total >= 300 * 2**20 > largest >= 150 * 2**20


def test_the_memory_meter_counts_the_cpu_of_workers_forked_by_the_engine_s_fork_server():
    """The engine's workers are the fork server's children, not the command's: the pool waits for the server at
    its end, so their CPU reaches the command's and bench.memory's count (it read 2 CPU seconds of a what-if that
    took some 330 on its workers)."""
    import sys
    import time

    from bench import memory

    burn = 20_000_000  # sum(range(burn)) in each of two workers
    started = time.process_time()
    sum(range(burn))
    one = time.process_time() - started
    parent = (
        "from loyalty_local import workers\n"
        "if __name__ == '__main__':\n"
        "    with workers.pool(2) as processes:\n"
        f"        print(processes.map(sum, [range({burn})] * 2))\n"
    )
    status, _seconds, _total, _largest, cpu = memory.run_with_cpu([sys.executable, "-c", parent])
    assert status == 0
    assert cpu >= 2 * one * 0.8, (cpu, one)
