"""The replay engine's in-memory DynamoDB (loyalty_local.memtable) answers as moto does, call by call.

Every call below goes through `CheckedDynamo`: the in-memory table and moto (on the template's own table) each
answer it, and any difference (items, counts, where a page goes on, a refusal's code, a transaction's reasons,
the old item of a failed condition) fails the call. Each test also says what the answer must be, so that the two
agreeing on a wrong answer fails too."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.aws import TEMPLATE

TABLE = "LoyaltyTable"


@pytest.fixture
def db(aws: dict[str, Any]) -> Iterator[Any]:
    from loyalty.store import core

    from loyalty_local.memtable import MemoryDynamo
    from loyalty_local.memtable.checked import CheckedDynamo

    real = core.client("dynamodb")
    memory = MemoryDynamo(TEMPLATE.table_definitions())
    seeded = real.scan(TableName=TABLE)["Items"]
    memory.load(TABLE, seeded)
    checked = CheckedDynamo(memory, real)
    yield checked
    assert checked.compared > 0


def s(text: str) -> dict[str, str]:
    return {"S": text}


def n(number: int | str) -> dict[str, str]:
    return {"N": str(number)}


def put(db: Any, pk: str, sk: str, **attrs: Any) -> None:
    db.put_item(TableName=TABLE, Item={"PK": s(pk), "SK": s(sk), **attrs})


def get(db: Any, pk: str, sk: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = db.get_item(
        TableName=TABLE, Key={"PK": s(pk), "SK": s(sk)}, ConsistentRead=True
    ).get("Item")
    return found


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_puts_gets_and_conditions_on_first_writes(db: Any) -> None:
    put(db, "MEMBER#a", "MEMBER", version=n(1), status=s("active"))
    assert get(db, "MEMBER#a", "MEMBER") == {
        "PK": s("MEMBER#a"),
        "SK": s("MEMBER"),
        "version": n(1),
        "status": s("active"),
    }
    assert get(db, "MEMBER#missing", "MEMBER") is None
    with pytest.raises(ClientError) as refused:
        db.put_item(
            TableName=TABLE,
            Item={"PK": s("MEMBER#a"), "SK": s("MEMBER")},
            ConditionExpression="attribute_not_exists(PK)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert code(refused) == "ConditionalCheckFailedException"
    assert refused.value.response["Item"]["version"] == n(1)
    # a version condition, and ReturnValues of the item replaced
    old = db.put_item(
        TableName=TABLE,
        Item={"PK": s("MEMBER#a"), "SK": s("MEMBER"), "version": n(2)},
        ConditionExpression="#v = :v",
        ExpressionAttributeNames={"#v": "version"},
        ExpressionAttributeValues={":v": n(1)},
        ReturnValues="ALL_OLD",
    )
    assert old["Attributes"]["status"] == s("active")
    assert get(db, "MEMBER#a", "MEMBER")["version"] == n(2)  # type: ignore[index]
    # a comparison with a missing attribute: = is false, <> is true
    for expression, passes in (("nothing = :v", False), ("nothing <> :v", True), ("version > :v", True)):
        attempt = {"ConditionExpression": expression, "ExpressionAttributeValues": {":v": n(1)}}
        item = {"PK": s("MEMBER#a"), "SK": s("MEMBER"), "version": n(2)}
        if passes:
            db.put_item(TableName=TABLE, Item=item, **attempt)
        else:
            with pytest.raises(ClientError):
                db.put_item(TableName=TABLE, Item=item, **attempt)


def test_updates_set_add_remove_and_their_return_values(db: Any) -> None:
    put(db, "C#1", "C", remaining=n(3), tags={"SS": ["x"]}, nested={"M": {"a": n(1), "list": {"L": [n(1)]}}})
    answer = db.update_item(
        TableName=TABLE,
        Key={"PK": s("C#1"), "SK": s("C")},
        UpdateExpression="SET remaining = if_not_exists(remaining, :initial) - :one, kind = :kind, "
        "nested.a = nested.a + :one, "
        "nested.#l = list_append(nested.#l, :more) ADD spent :one, tags :tags REMOVE gone",
        ExpressionAttributeNames={"#l": "list"},
        ExpressionAttributeValues={
            ":initial": n(10),
            ":one": n(1),
            ":kind": s("stock"),
            ":more": {"L": [n(2)]},
            ":tags": {"SS": ["y"]},
            ":zero": n(0),
        },
        ConditionExpression="attribute_not_exists(remaining) OR remaining > :zero",
        ReturnValues="ALL_NEW",
    )
    item = answer["Attributes"]
    assert item["remaining"] == n(2) and item["spent"] == n(1) and item["kind"] == s("stock")
    assert sorted(item["tags"]["SS"]) == ["x", "y"]
    assert item["nested"] == {"M": {"a": n(2), "list": {"L": [n(1), n(2)]}}}
    updated = db.update_item(
        TableName=TABLE,
        Key={"PK": s("C#1"), "SK": s("C")},
        UpdateExpression="ADD remaining :minus",
        ExpressionAttributeValues={":minus": n(-2)},
        ReturnValues="UPDATED_OLD",
    )
    assert updated["Attributes"] == {"remaining": n(2)}
    # a condition that fails leaves the item as it was
    with pytest.raises(ClientError) as refused:
        db.update_item(
            TableName=TABLE,
            Key={"PK": s("C#1"), "SK": s("C")},
            UpdateExpression="SET remaining = remaining - :one",
            ConditionExpression="remaining > :zero",
            ExpressionAttributeValues={":one": n(1), ":zero": n(0)},
        )
    assert code(refused) == "ConditionalCheckFailedException"
    assert get(db, "C#1", "C")["remaining"] == n(0)  # type: ignore[index]
    # an update of a missing item creates it; a value not used, a key attribute updated: refused
    db.update_item(
        TableName=TABLE,
        Key={"PK": s("C#2"), "SK": s("C")},
        UpdateExpression="ADD contributed :c",
        ExpressionAttributeValues={":c": n(5)},
    )
    assert get(db, "C#2", "C") == {"PK": s("C#2"), "SK": s("C"), "contributed": n(5)}
    for bad in (
        {"UpdateExpression": "SET a = :a", "ExpressionAttributeValues": {":a": n(1), ":unused": n(2)}},
        {"UpdateExpression": "SET SK = :a", "ExpressionAttributeValues": {":a": s("other")}},
    ):
        with pytest.raises(ClientError) as refused:
            db.update_item(TableName=TABLE, Key={"PK": s("C#2"), "SK": s("C")}, **bad)
        assert code(refused) == "ValidationException"


def test_queries_of_the_table_and_its_indexes_page_as_moto_pages(db: Any) -> None:
    for seq in range(1, 8):
        put(
            db,
            f"ENTRY#e{seq}",
            "ENTRY",
            GSI1PK=s("MEMBER#q"),
            GSI1SK=s(f"{seq:012d}"),
            points=n(seq * 10),
            type=s("earn" if seq % 2 else "adjust"),
        )
        put(db, "MEMBER#q", f"HIST#{seq:03d}", points=n(seq))
    put(db, "MEMBER#q", "MEMBER", version=n(1))
    everything = db.query(
        TableName=TABLE, KeyConditionExpression="PK = :pk", ExpressionAttributeValues={":pk": s("MEMBER#q")}
    )
    assert [i["SK"]["S"] for i in everything["Items"]][-1] == "MEMBER" and everything["Count"] == 8
    history = db.query(
        TableName=TABLE,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :h)",
        ExpressionAttributeValues={":pk": s("MEMBER#q"), ":h": s("HIST#")},
        ScanIndexForward=False,
        Limit=3,
    )
    assert [i["SK"]["S"] for i in history["Items"]] == ["HIST#007", "HIST#006", "HIST#005"]
    assert history["LastEvaluatedKey"] == {"PK": s("MEMBER#q"), "SK": s("HIST#005")}
    rest = db.query(
        TableName=TABLE,
        KeyConditionExpression="PK = :pk AND SK BETWEEN :a AND :b",
        ExpressionAttributeValues={":pk": s("MEMBER#q"), ":a": s("HIST#002"), ":b": s("HIST#004")},
        ProjectionExpression="SK, points",
    )
    assert rest["Items"] == [{"SK": s(f"HIST#00{k}"), "points": n(k)} for k in (2, 3, 4)]
    # the ledger index, a filter after the limit, and a walk over every page
    seen: list[str] = []
    start: dict[str, Any] | None = None
    while True:
        page = db.query(
            TableName=TABLE,
            IndexName="ledger",
            KeyConditionExpression="GSI1PK = :pk AND GSI1SK > :after",
            FilterExpression="#t IN (:adjust, :transfer)",
            ExpressionAttributeNames={"#t": "type"},
            ExpressionAttributeValues={
                ":pk": s("MEMBER#q"),
                ":after": s(f"{1:012d}"),
                ":adjust": s("adjust"),
                ":transfer": s("transfer"),
            },
            Limit=2,
            **({"ExclusiveStartKey": start} if start else {}),
        )
        seen += [i["PK"]["S"] for i in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    assert seen == ["ENTRY#e2", "ENTRY#e4", "ENTRY#e6"]
    counted = db.query(
        TableName=TABLE,
        IndexName="ledger",
        KeyConditionExpression="GSI1PK = :pk",
        ExpressionAttributeValues={":pk": s("MEMBER#q")},
        Select="COUNT",
    )
    assert counted["Count"] == 7 and "Items" not in counted
    # a keys-only index answers the keys only
    put(db, "MEMBER#k", "MEMBER", MEMBERPK=s("MEMBERS#01"), name=s("Kay"))
    keys = db.query(
        TableName=TABLE,
        IndexName="members",
        KeyConditionExpression="MEMBERPK = :s",
        ExpressionAttributeValues={":s": s("MEMBERS#01")},
    )
    assert keys["Items"] == [{"PK": s("MEMBER#k"), "SK": s("MEMBER"), "MEMBERPK": s("MEMBERS#01")}]
    with pytest.raises(ClientError) as refused:
        db.query(
            TableName=TABLE,
            IndexName="ledger",
            ConsistentRead=True,
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues={":pk": s("x")},
        )
    assert code(refused) == "ValidationException"


def test_an_index_follows_its_key_attributes_as_items_change(db: Any) -> None:
    put(db, "HOLD#1", "HOLD", HOLDPK=s("HOLDS#3"), HOLDSK=s("2026-05-01T00:00:00Z#1"))
    put(db, "HOLD#2", "HOLD", HOLDPK=s("HOLDS#3"), HOLDSK=s("2026-04-01T00:00:00Z#2"))

    def open_holds() -> list[str]:
        page = db.query(
            TableName=TABLE,
            IndexName="holds",
            KeyConditionExpression="HOLDPK = :pk AND HOLDSK < :bound",
            ExpressionAttributeValues={":pk": s("HOLDS#3"), ":bound": s("2026-06")},
        )
        return [i["PK"]["S"] for i in page["Items"]]

    assert open_holds() == ["HOLD#2", "HOLD#1"]
    db.update_item(TableName=TABLE, Key={"PK": s("HOLD#2"), "SK": s("HOLD")}, UpdateExpression="REMOVE HOLDPK, HOLDSK")
    assert open_holds() == ["HOLD#1"]
    db.delete_item(TableName=TABLE, Key={"PK": s("HOLD#1"), "SK": s("HOLD")})
    assert open_holds() == []
    # an index key must be of its declared type and not empty
    with pytest.raises(ClientError) as refused:
        put(db, "HOLD#3", "HOLD", HOLDPK=s(""), HOLDSK=s("x"))
    assert code(refused) == "ValidationException"


def test_transactions_are_all_or_nothing_with_a_reason_for_each_item(db: Any) -> None:
    put(db, "MEMBER#t", "MEMBER", version=n(4))
    items = [
        {
            "Put": {
                "TableName": TABLE,
                "Item": {"PK": s("ENTRY#t1"), "SK": s("ENTRY"), "points": n(5)},
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        },
        {
            "Update": {
                "TableName": TABLE,
                "Key": {"PK": s("MEMBER#t"), "SK": s("MEMBER")},
                "UpdateExpression": "SET version = :next ADD available :p",
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": {":next": n(5), ":v": n(3), ":p": n(5)},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        },
    ]
    with pytest.raises(ClientError) as refused:
        db.transact_write_items(TransactItems=items)
    assert code(refused) == "TransactionCanceledException"
    reasons = refused.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed"]
    assert reasons[1]["Item"]["version"] == n(4)
    assert get(db, "ENTRY#t1", "ENTRY") is None  # nothing of it was written
    items[1]["Update"]["ExpressionAttributeValues"][":v"] = n(4)  # type: ignore[index]
    db.transact_write_items(TransactItems=items)
    assert get(db, "MEMBER#t", "MEMBER") == {"PK": s("MEMBER#t"), "SK": s("MEMBER"), "version": n(5), "available": n(5)}
    # two operations on one item, and a condition check that holds
    with pytest.raises(ClientError) as refused:
        db.transact_write_items(
            TransactItems=[items[0], {"Delete": {"TableName": TABLE, "Key": {"PK": s("ENTRY#t1"), "SK": s("ENTRY")}}}]
        )
    assert code(refused) == "ValidationException"
    db.transact_write_items(
        TransactItems=[
            {
                "ConditionCheck": {
                    "TableName": TABLE,
                    "Key": {"PK": s("MEMBER#t"), "SK": s("MEMBER")},
                    "ConditionExpression": "attribute_exists(PK)",
                }
            },
            {"Delete": {"TableName": TABLE, "Key": {"PK": s("ENTRY#t1"), "SK": s("ENTRY")}}},
        ]
    )
    assert get(db, "ENTRY#t1", "ENTRY") is None


def test_batches_and_a_segmented_scan(db: Any) -> None:
    db.batch_write_item(
        RequestItems={
            TABLE: [
                {"PutRequest": {"Item": {"PK": s(f"B#{i}"), "SK": s("B"), "n": n(i), "price": {"N": "1.50"}}}}
                for i in range(20)
            ]
        }
    )
    found = db.batch_get_item(
        RequestItems={
            TABLE: {
                "Keys": [{"PK": s(f"B#{i}"), "SK": s("B")} for i in (3, 4, 99)],
                "ConsistentRead": True,
                "ProjectionExpression": "PK, n",
            }
        }
    )
    assert sorted(i["n"]["N"] for i in found["Responses"][TABLE]) == ["3", "4"]
    db.batch_write_item(RequestItems={TABLE: [{"DeleteRequest": {"Key": {"PK": s("B#3"), "SK": s("B")}}}]})
    everything: list[str] = []
    for segment in range(4):
        start: dict[str, Any] | None = None
        while True:
            page = db.scan(
                TableName=TABLE,
                Segment=segment,
                TotalSegments=4,
                Limit=3,
                FilterExpression="begins_with(PK, :b)",
                ExpressionAttributeValues={":b": s("B#")},
                **({"ExclusiveStartKey": start} if start else {}),
            )
            everything += [i["PK"]["S"] for i in page["Items"]]
            start = page.get("LastEvaluatedKey")
            if not start:
                break
    assert sorted(everything) == sorted(f"B#{i}" for i in range(20) if i != 3)
    assert Decimal(get(db, "B#5", "B")["price"]["N"]) == Decimal("1.5")  # type: ignore[index]


def test_the_engine_replays_on_the_tables_in_memory_and_reads_them_back() -> None:
    """An engine (as the what-if and the simulator make it) answers from memory, and its reads of the table
    (the replay's snapshots) see what the requests wrote."""
    import os
    import subprocess
    import sys

    from tests.support.http import ROOT

    script = (
        "from loyalty_local.engine import Engine\n"
        "e = Engine('bundled:demo', outbox=False)\n"
        "assert type(e.memory).__name__ == 'MemoryDynamo'\n"
        "print(e.call('POST', '/v1/members', {'member_id': 'm-1', 'channel': 'web'})[0])\n"
        "earn = {'member_id': 'm-1', 'order_id': 'o-1', 'amount': '25.00', 'currency': 'USD'}\n"
        "print(e.call('POST', '/v1/earn', earn)[0])\n"
        "print([int(m['available']) for m in e.items('MEMBER#')], e.ledger_sums(), e.memory.calls > 0)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("SIM_URL", "LOYALTY_ENGINE_STORE")}
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split("\n")[:3] == ["201", "201", "[125] {'m-1': 125} True"]


# -- where a second reading found the two apart (each failed before its fix) -------------------------------
def test_updated_old_and_new_name_only_what_changed(db: Any) -> None:
    put(db, "WH#1", "DELIVERY", status=s("pending"), retry_asked={"BOOL": True}, nested={"M": {"a": n(1), "b": n(1)}})
    answer = db.update_item(
        TableName=TABLE,
        Key={"PK": s("WH#1"), "SK": s("DELIVERY")},
        UpdateExpression="SET #s = :p REMOVE retry_asked",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":p": s("pending")},
        ReturnValues="UPDATED_OLD",
    )
    assert answer["Attributes"] == {"retry_asked": {"BOOL": True}}  # status was written, but did not change
    answer = db.update_item(
        TableName=TABLE,
        Key={"PK": s("WH#1"), "SK": s("DELIVERY")},
        UpdateExpression="SET nested.a = :two, #s = :p",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":two": n(2), ":p": s("pending")},
        ReturnValues="UPDATED_NEW",
    )
    assert answer["Attributes"] == {"nested": {"M": {"a": n(2)}}}


def test_a_condition_is_tested_before_the_update_is_evaluated(db: Any) -> None:
    put(db, "V#1", "V", v=n(1))
    update = {
        "TableName": TABLE,
        "Key": {"PK": s("V#1"), "SK": s("V")},
        "UpdateExpression": "SET a = nothere + :one",
        "ConditionExpression": "v = :two",
        "ExpressionAttributeValues": {":one": n(1), ":two": n(2)},
    }
    with pytest.raises(ClientError) as refused:
        db.update_item(**update)
    assert code(refused) == "ConditionalCheckFailedException"  # not the update's ValidationException
    with pytest.raises(ClientError) as refused:
        db.transact_write_items(TransactItems=[{"Update": update}])
    assert code(refused) == "TransactionCanceledException"
    assert [r["Code"] for r in refused.value.response["CancellationReasons"]] == ["ConditionalCheckFailed"]


def test_a_page_ends_at_moto_s_megabyte_by_its_measure(db: Any) -> None:
    for i in range(30):
        put(db, "BIG#1", f"PART#{i:02d}", blob=s("x" * 40_000), figure=n(12345))
    first = db.query(TableName=TABLE, KeyConditionExpression="PK = :pk", ExpressionAttributeValues={":pk": s("BIG#1")})
    assert 0 < first["Count"] < 30 and first["LastEvaluatedKey"]["PK"] == s("BIG#1")
    rest = db.query(
        TableName=TABLE,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": s("BIG#1")},
        ExclusiveStartKey=first["LastEvaluatedKey"],
    )
    assert first["Count"] + rest["Count"] == 30 and "LastEvaluatedKey" not in rest


def test_ties_on_an_index_sort_key_come_in_moto_s_order(db: Any) -> None:
    put(db, "A", "Z", GSI1PK=s("MEMBER#tie"), GSI1SK=s("000000000001"))
    put(db, "B", "A", GSI1PK=s("MEMBER#tie"), GSI1SK=s("000000000001"))
    asked = {
        "TableName": TABLE,
        "IndexName": "ledger",
        "KeyConditionExpression": "GSI1PK = :pk",
        "ExpressionAttributeValues": {":pk": s("MEMBER#tie")},
    }
    assert [i["PK"]["S"] for i in db.query(**asked)["Items"]] == ["A", "B"]
    first = db.query(**asked, Limit=1)
    second = db.query(**asked, Limit=1, ExclusiveStartKey=first["LastEvaluatedKey"])
    assert [first["Items"][0]["PK"]["S"], second["Items"][0]["PK"]["S"]] == ["A", "B"]


def test_a_filter_on_a_keys_only_index_sees_only_its_keys(db: Any) -> None:
    put(db, "MEMBER#f", "MEMBER", MEMBERPK=s("MEMBERS#09"), name=s("Fay"))
    found = db.query(
        TableName=TABLE,
        IndexName="members",
        KeyConditionExpression="MEMBERPK = :s",
        FilterExpression="#n = :x",
        ExpressionAttributeNames={"#n": "name"},
        ExpressionAttributeValues={":s": s("MEMBERS#09"), ":x": s("Fay")},
    )
    assert found["Count"] == 0 and found["ScannedCount"] == 1


def test_an_item_s_size_is_moto_s_measure_of_it() -> None:
    """Every write is measured (the 400 KB limit, the pages' megabyte): names and strings in bytes, numbers by
    their text, nested maps, lists and sets, against moto's own measure, for random items."""
    import random

    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    from loyalty_local.memtable.expressions import item_size

    rnd = random.Random(27)

    def value(depth: int = 0) -> dict[str, Any]:
        kind = rnd.choice(["S", "N", "BOOL", "NULL", "SS", "NS", "L", "M"] if depth < 3 else ["S", "N"])
        if kind == "S":
            return s(rnd.choice(["", "abc", "héllo wörld", "ü" * rnd.randint(0, 5), "x" * rnd.randint(0, 40)]))
        if kind == "N":
            return n(rnd.choice([rnd.randint(-(10**6), 10**6), "12.50", "-0.001"]))
        if kind in ("BOOL", "NULL"):
            return {kind: True}
        if kind == "SS":
            return {"SS": ["a", "bé", "c" * rnd.randint(1, 9)]}
        if kind == "NS":
            return {"NS": ["1", "22", "3.5"]}
        if kind == "L":
            return {"L": [value(depth + 1) for _ in range(rnd.randint(0, 3))]}
        return {
            "M": {rnd.choice(["k", "ké", "long_name"]) + str(i): value(depth + 1) for i in range(rnd.randint(0, 3))}
        }

    for _ in range(2000):
        item = {"PK": s("X#1"), **{rnd.choice(["SK", "näme", "a", "points"]) + str(i): value() for i in range(8)}}
        assert item_size(item) == Item(DynamoType(item["PK"]), None, item).size(), item
