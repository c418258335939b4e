"""The local stack's emulator keeps DynamoDB's guarantees that moto alone does not, in process and at its door."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from loyalty_local.emulator import Emulator
from loyalty_local.template import Template

CREDENTIALS = {"region_name": "us-east-1", "aws_access_key_id": "x", "aws_secret_access_key": "x"}


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    saved = dict(os.environ)
    for name in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[name]
    emulator = Emulator()
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()  # moto's backends are reset when the mock stops
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(params=["in process", "at the door"])
def clients(request: pytest.FixtureRequest, emulator: Emulator) -> tuple[Any, Any]:
    """A DynamoDB client and a DynamoDB Streams client, in this process or through the loopback door."""
    endpoint = {} if request.param == "in process" else {"endpoint_url": emulator.url}
    streams_config = Config(account_id_endpoint_mode="disabled")  # as the local stack's poller reads it
    return (
        boto3.client("dynamodb", **CREDENTIALS, **endpoint),
        boto3.client("dynamodbstreams", config=streams_config, **CREDENTIALS, **endpoint),
    )


def put(pk: str) -> dict[str, Any]:
    item = {"PK": {"S": pk}, "SK": {"S": "X"}}
    return {"Put": {"TableName": "LoyaltyTable", "Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}


def test_a_transaction_retried_with_its_client_request_token_answers_success_again(clients):
    dynamodb, _ = clients
    dynamodb.create_table(**Template().table_definitions()[0])
    dynamodb.transact_write_items(TransactItems=[put("A")], ClientRequestToken="token-1")
    # the SDK retrying a committed call sends the same token: DynamoDB answers success, not a failed condition
    dynamodb.transact_write_items(TransactItems=[put("A")], ClientRequestToken="token-1")
    with pytest.raises(ClientError) as err:  # a new call (new token) meets the condition
        dynamodb.transact_write_items(TransactItems=[put("A")], ClientRequestToken="token-2")
    assert err.value.response["Error"]["Code"] == "TransactionCanceledException"
    with pytest.raises(ClientError):  # the same token with other parameters is not a retry
        dynamodb.transact_write_items(TransactItems=[put("B"), put("A")], ClientRequestToken="token-1")
    items = dynamodb.scan(TableName="LoyaltyTable")["Items"]
    assert [i["PK"]["S"] for i in items] == ["A"]


def test_a_failed_transaction_leaves_no_item_and_no_stream_record(clients):
    dynamodb, stream = clients
    dynamodb.create_table(**Template().table_definitions()[0])
    dynamodb.transact_write_items(TransactItems=[put("A")])
    arn = dynamodb.describe_table(TableName="LoyaltyTable")["Table"]["LatestStreamArn"]
    shard = stream.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]

    def records() -> list[str]:
        it = stream.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        got = stream.get_records(ShardIterator=it["ShardIterator"])["Records"]
        return [f"{r['eventName']} {r['dynamodb']['Keys']['PK']['S']}" for r in got]

    assert records() == ["INSERT A"]
    with pytest.raises(ClientError):  # B is written first, then A's condition fails: all rolled back
        dynamodb.transact_write_items(TransactItems=[put("B"), put("A")])
    assert [i["PK"]["S"] for i in dynamodb.scan(TableName="LoyaltyTable")["Items"]] == ["A"]
    assert records() == ["INSERT A"]


def test_an_item_over_dynamodbs_size_limit_is_refused(clients):
    dynamodb, _ = clients
    dynamodb.create_table(**Template().table_definitions()[0])
    big = {"PK": {"S": "big"}, "SK": {"S": "X"}, **{f"a{i}": {"S": "x" * 50_000} for i in range(9)}}
    with pytest.raises(ClientError) as err:
        dynamodb.put_item(TableName="LoyaltyTable", Item=big)
    assert "Item size has exceeded" in err.value.response["Error"]["Message"]
    del big["a8"], big["a7"]
    dynamodb.put_item(TableName="LoyaltyTable", Item=big)  # 350 KB fits
    assert len(dynamodb.get_item(TableName="LoyaltyTable", Key={"PK": {"S": "big"}, "SK": {"S": "X"}})["Item"]) == 9


def test_dynamodb_answers_dumped_as_json_equal_what_motos_serialiser_writes(aws):
    """moto_fast answers data-plane calls with json.dumps; the product's own items and stream records,
    each answer compared with moto's shape-walking serialiser (what botocore would parse is the same)."""
    from moto.core.responses import ActionResult, BaseResponse
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    from loyalty_local import moto_fast
    from tests.support import streams
    from tests.support.aws import api_event, call

    compared: dict[str, int] = {}

    def comparing(handler: Any, service: str) -> Any:
        original = handler.serialized

        def serialized(self: Any, result: Any) -> Any:
            operation = self._get_action()
            plain = isinstance(result.result, dict) and moto_fast.is_plain_json(result.result)
            plain_result = type(result).execute_result is ActionResult.execute_result
            if plain_result and operation in moto_fast.DATA_PLANE[service] and plain:
                reference = BaseResponse.serialized(self, result)  # moto's own serialiser
                assert json.loads(moto_fast.dump_answer(result.result)) == json.loads(reference[2]), operation
                compared[operation] = compared.get(operation, 0) + 1
            return original(self, result)

        return original, serialized

    patched = [
        (h, *comparing(h, s)) for h, s in ((DynamoHandler, "dynamodb"), (DynamoDBStreamsHandler, "dynamodbstreams"))
    ]
    for handler, _, serialized in patched:
        handler.serialized = serialized
    try:
        assert call("MembersFunction", api_event("Enroll", body={"member_id": "fast-1", "channel": "web"}))[0] == 201
        body = {"member_id": "fast-1", "order_id": "fast-o1", "amount": "120.00", "currency": "USD"}
        assert call("EarnFunction", api_event("Earn", body=body))[0] == 201
        assert call("EarnFunction", api_event("Earn", body=body))[0] == 200  # the replay reads the entry
        assert call("MembersFunction", api_event("GetMember", path_params={"member_id": "fast-1"}))[0] == 200
        assert streams.poller().flush() > 0  # GetRecords pages, the outbox's writes and counters
    finally:
        for handler, original, _ in patched:
            handler.serialized = original
    assert {"GetItem", "BatchGetItem", "TransactWriteItems", "GetRecords"} <= set(compared)


def test_dynamodb_requests_loaded_as_json_equal_what_motos_parser_reads(aws):
    """moto_fast reads data-plane requests with json.loads; the product's own requests (a member's life,
    its stream's counters and events) and binary attributes, each compared with moto's shape-walking parser."""
    from moto.dynamodb.responses import DynamoHandler

    from loyalty_local import moto_fast
    from tests.support import streams
    from tests.support.aws import TEMPLATE, api_event, call

    fast = DynamoHandler.parse_parameters
    compared: dict[str, int] = {}

    def comparing(self: Any, request: Any) -> None:
        loaded = moto_fast.plain_request(self._get_action(), request.data)
        fast._loyalty_original(self, request)  # moto's own parser
        if loaded is not None:
            assert loaded == self.params, self._get_action()
            compared[self._get_action()] = compared.get(self._get_action(), 0) + 1
        else:
            compared["moto's parser"] = compared.get("moto's parser", 0) + 1

    DynamoHandler.parse_parameters = comparing
    try:
        assert call("MembersFunction", api_event("Enroll", body={"member_id": "req-1", "channel": "web"}))[0] == 201
        body = {"member_id": "req-1", "order_id": "req-o1", "amount": "120.00", "currency": "USD"}
        assert call("EarnFunction", api_event("Earn", body=body))[0] == 201
        assert call("EarnFunction", api_event("Earn", body=body))[0] == 200
        assert call("MembersFunction", api_event("GetMember", path_params={"member_id": "req-1"}))[0] == 200
        ledger = api_event("GetLedger", path_params={"member_id": "req-1"})
        assert call("MembersFunction", ledger)[0] == 200
        assert streams.poller().flush() > 0
        dynamodb = boto3.client("dynamodb")
        table = TEMPLATE.physical_name("LoyaltyTable")
        plain = {"PK": {"S": "P"}, "SK": {"S": "X"}, "n": {"N": "1.50"}, "m": {"M": {"l": {"L": [{"NULL": True}]}}}}
        dynamodb.put_item(TableName=table, Item=plain, ConditionExpression="attribute_not_exists(PK)")
        binary = {"PK": {"S": "BIN"}, "SK": {"S": "X"}, "b": {"B": b"\x00\xff"}, "bs": {"BS": [b"\x01"]}}
        dynamodb.put_item(TableName=table, Item=binary)
        got = dynamodb.get_item(TableName=table, Key={"PK": {"S": "BIN"}, "SK": {"S": "X"}})["Item"]
        assert got["b"]["B"] == b"\x00\xff"
    finally:
        DynamoHandler.parse_parameters = fast
    # every data-plane call the product made was loaded as JSON; the binary item went to moto's parser
    assert {"GetItem", "BatchGetItem", "TransactWriteItems", "Query", "PutItem", "moto's parser"} <= set(compared)


def test_the_stream_read_in_process_is_what_get_records_answers(emulator):
    """The local stack's poller reads the stream from moto directly; Lambda's records must not change."""
    from loyalty_local.streams import lambda_record

    dynamodb = boto3.client("dynamodb", **CREDENTIALS)
    streams = boto3.client("dynamodbstreams", config=Config(account_id_endpoint_mode="disabled"), **CREDENTIALS)
    dynamodb.create_table(**Template().table_definitions()[0])
    dynamodb.transact_write_items(TransactItems=[put("A"), put("B")])
    item = {
        "PK": {"S": "C"},
        "SK": {"S": "X"},
        "n": {"N": "1.50"},
        "b": {"B": b"\x00\xff"},
        "m": {"M": {"l": {"L": []}}},
    }
    dynamodb.put_item(TableName="LoyaltyTable", Item=item)
    dynamodb.delete_item(TableName="LoyaltyTable", Key={"PK": {"S": "A"}, "SK": {"S": "X"}})
    arn = dynamodb.describe_table(TableName="LoyaltyTable")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    answered = [lambda_record(r, arn) for r in streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]]

    read = [lambda_record(r, arn) for r in emulator.stream_records("LoyaltyTable", None, 100)]

    assert [r["eventName"] for r in read] == ["INSERT", "INSERT", "INSERT", "REMOVE"]
    assert read == answered
    after_first = emulator.stream_records("LoyaltyTable", read[0]["dynamodb"]["SequenceNumber"], 2)
    assert [lambda_record(r, arn) for r in after_first] == answered[1:3]


class Recorder:
    """Stands for a function's pool: keeps each event it is invoked with."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        return {"batchItemFailures": []}


def test_the_poller_filters_in_process_as_lambda_filters_what_get_records_answers(emulator, monkeypatch):
    """In process the poller applies the template's filter to each record as it is read (copying only what
    passes) and fills a batch with matching records: Lambda's records and batches, from fewer copies."""
    from loyalty_local.streams import StreamPoller, as_delivered, lambda_record, matches

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the poller's own clients (DescribeTable, GetRecords)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")

    dynamodb = boto3.client("dynamodb", **CREDENTIALS)
    dynamodb.create_table(**Template().table_definitions()[0])
    kinds = ["member", "counter", "entry", "applied", "member_event", "expiry_warning", "member"] * 40
    for n, kind in enumerate(kinds):
        item = {"PK": {"S": f"K#{n}"}, "SK": {"S": "X"}, "kind": {"S": kind}, "b": {"B": bytes([n % 256, 255])}}
        dynamodb.put_item(TableName="LoyaltyTable", Item=item)
    dynamodb.delete_item(TableName="LoyaltyTable", Key={"PK": {"S": "K#0"}, "SK": {"S": "X"}})

    def delivered(in_process: bool) -> list[list[dict[str, Any]]]:
        template = Template()
        recorder = Recorder()
        reader = emulator.stream_records if in_process else None
        poller = StreamPoller(template, {"EventsPublisherFunction": recorder}, read_records=reader)  # type: ignore[dict-item]
        poller.sources = [s for s in poller.sources if s.function == "EventsPublisherFunction"]
        poller.flush()
        return [event["Records"] for event in recorder.events]

    in_process, through_get_records = delivered(True), delivered(False)
    wanted = {"member", "account", "entry", "expiry_warning"}
    assert [r for batch in in_process for r in batch] == [r for batch in through_get_records for r in batch]
    assert [len(batch) for batch in in_process] == [100, 60]  # batches of matching records, as Lambda fills them
    assert all(r["dynamodb"]["NewImage"]["kind"]["S"] in wanted for batch in in_process for r in batch)
    assert sum(len(b) for b in in_process) == sum(1 for k in kinds if k in wanted)

    # a pattern judged on the record as moto holds it decides as on the record Lambda delivers
    from moto.dynamodb.models import dynamodb_backends

    arn = dynamodb.describe_table(TableName="LoyaltyTable")["Table"]["LatestStreamArn"]
    raw = [
        r.to_json() for r in dynamodb_backends["123456789012"]["us-east-1"].get_table("LoyaltyTable").stream_shard.items
    ]
    copies = [lambda_record(r, arn) for r in emulator.stream_records("LoyaltyTable", None, 1000)]
    third = copies[2]["dynamodb"]
    patterns = [
        {"dynamodb": {"NewImage": {"b": {"B": [third["NewImage"]["b"]["B"]]}}}},
        {"dynamodb": {"ApproximateCreationDateTime": [third["ApproximateCreationDateTime"]]}},
        {"eventName": ["REMOVE"], "eventSourceARN": [arn]},
    ]
    for pattern in patterns:
        judged = [matches(pattern, {**r, "eventSourceARN": arn}, leaf=as_delivered) for r in raw]
        assert judged == [matches(pattern, c) for c in copies] and any(judged)


def test_the_event_capture_lists_what_the_archive_took_in_order_and_by_detail_type(aws):
    """`GET /_local/events` reads the template's EventArchive through loyalty_local.capture: every event the
    bus took from source `loyalty` (others are not archived), ordered by the member's sequence, then time."""
    from loyalty_local.capture import EventCapture
    from tests.support.aws import TEMPLATE

    events = boto3.client("events")
    bus = TEMPLATE.physical_name("EventBus")
    capture = EventCapture(aws["archives"][0])

    def publish(detail_type: str, member: str, sequence: int, source: str = "loyalty") -> None:
        detail = json.dumps({"member_id": member, "sequence": sequence})
        entry = {"Source": source, "DetailType": detail_type, "Detail": detail, "EventBusName": bus}
        assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0

    publish("MemberEnrolled", "a", 1)
    publish("PointsEarned", "a", 2)
    assert [e["detail_type"] for e in capture.events()] == ["MemberEnrolled", "PointsEarned"]
    publish("MemberEnrolled", "b", 1)
    publish("Unrelated", "c", 1, source="elsewhere")  # not the archive's pattern
    publish("PointsEarned", "b", 2)

    listed = capture.events()
    assert [(e["detail_type"], e["detail"]["member_id"]) for e in listed] == [
        ("MemberEnrolled", "a"),
        ("MemberEnrolled", "b"),
        ("PointsEarned", "a"),
        ("PointsEarned", "b"),
    ]
    assert all(e["source"] == "loyalty" and e["time"].endswith("Z") and e["id"] for e in listed)
    assert [e["detail"]["member_id"] for e in capture.events("PointsEarned")] == ["a", "b"]
    assert capture.events("TierChanged") == []


def test_queries_read_their_partition_or_index_and_answer_what_motos_full_scan_answers(emulator):
    """moto_fast hands a Query only its partition's items or its global index's bucket (kept on every put,
    update, delete and failed transaction); every answer, page by page, equals moto's own full-table query."""
    import random

    from moto.dynamodb.models.table import Table

    dynamodb = boto3.client("dynamodb", **CREDENTIALS)
    dynamodb.create_table(**Template().table_definitions()[0])
    rng = random.Random(17)
    emails = [f"e{i}@x" for i in range(4)]

    def key(n: int) -> dict[str, Any]:
        return {"PK": {"S": f"M#{n % 7}"}, "SK": {"S": f"S#{n:03d}"}}

    def query(**kwargs: Any) -> list[Any]:
        pages, start = [], None
        while True:
            page = dynamodb.query(TableName="LoyaltyTable", Limit=3, **kwargs, **(start or {}))
            pages.append((page["Items"], page["Count"], page["ScannedCount"]))
            if "LastEvaluatedKey" not in page:
                return pages
            start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}

    def by(index: str, condition: str, **values: str) -> dict[str, Any]:
        return {
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": {f":{k}": {"S": v} for k, v in values.items()},
        }

    queries = [
        {"KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": {"S": "M#3"}}},
        {
            "KeyConditionExpression": "PK = :p AND SK > :s",
            "ExpressionAttributeValues": {":p": {"S": "M#2"}, ":s": {"S": "S#040"}},
            "ScanIndexForward": False,
        },
        *[by("by-email", "IDEMAIL = :e", e=e) for e in [*emails, "moved@x"]],
        by("ledger", "GSI1PK = :g", g="L#1"),
        by("ledger", "GSI1PK = :g AND GSI1SK BETWEEN :a AND :b", g="L#2", a="S#020", b="S#070"),
        # a range condition picks the bucket's candidates before moto sorts them (the webhooks' due schedule)
        by("ledger", "GSI1PK = :g AND GSI1SK <= :s", g="L#0", s="S#050"),
        by("ledger", "GSI1PK = :g AND GSI1SK < :s", g="L#1", s="S#050"),
        {**by("ledger", "GSI1PK = :g AND GSI1SK > :s", g="L#2", s="S#030"), "ScanIndexForward": False},
        by("ledger", "GSI1PK = :g AND GSI1SK >= :s", g="L#0", s="S#090"),
        by("ledger", "GSI1PK = :g AND begins_with(GSI1SK, :s)", g="L#1", s="S#05"),
        {**by("ledger", "GSI1PK = :g AND GSI1SK <= :s", g="L#2", s="S#080"), "FilterExpression": "kind = :k"}
        | {"ExpressionAttributeValues": {":g": {"S": "L#2"}, ":s": {"S": "S#080"}, ":k": {"S": "x"}}},
    ]
    answered = 0
    for step in range(400):
        n = rng.randrange(100)
        action = rng.random()
        if action < 0.4:
            item = {**key(n), "kind": {"S": "x"}, "GSI1PK": {"S": f"L#{n % 3}"}, "GSI1SK": key(n)["SK"]}
            if rng.random() < 0.7:  # sparse: an item without the index's key is not in it
                item["IDEMAIL"] = {"S": rng.choice(emails)}
            dynamodb.put_item(TableName="LoyaltyTable", Item=item)
        elif action < 0.5:  # moves the item to another bucket (or creates it, as UpdateItem does)
            dynamodb.update_item(
                TableName="LoyaltyTable",
                Key=key(n),
                UpdateExpression="SET IDEMAIL = :e",
                ExpressionAttributeValues={":e": {"S": rng.choice(emails)}},
            )
        elif action < 0.6:  # takes it out of the index
            dynamodb.update_item(TableName="LoyaltyTable", Key=key(n), UpdateExpression="REMOVE IDEMAIL")
        elif action < 0.75:
            dynamodb.delete_item(TableName="LoyaltyTable", Key=key(n))
        else:  # a transaction that moves an email, then fails on its condition: nothing of it stays
            moved = {
                "Update": {
                    "TableName": "LoyaltyTable",
                    "Key": key(n),
                    "UpdateExpression": "SET IDEMAIL = :e",
                    "ExpressionAttributeValues": {":e": {"S": "moved@x"}},
                }
            }
            refused = {
                "ConditionCheck": {
                    "TableName": "LoyaltyTable",
                    "Key": key(n + 1),
                    "ConditionExpression": "attribute_exists(nothing)",
                }
            }
            with pytest.raises(ClientError):
                dynamodb.transact_write_items(TransactItems=[moved, refused])
        if step % 20 == 19:
            for kwargs in queries:
                fast = query(**kwargs)
                patched = Table.query
                Table.query = patched._loyalty_original  # moto's own: every item of the table, sorted
                try:
                    reference = query(**kwargs)
                finally:
                    Table.query = patched
                assert fast == reference, kwargs
                answered += sum(len(items) for items, _, _ in fast)
    assert answered > 500  # the answers compared were not all empty
    assert query(**queries[6]) == [([], 0, 0)]  # the failed transactions' updates left the index with the rest


def test_a_condition_is_decided_on_its_own_values_each_time(clients):
    """moto_fast keeps parsed conditions by their expression, names and values: the same condition with
    other values is its own (a write on version 1 succeeds once; the next must name version 2)."""
    dynamodb, _ = clients
    dynamodb.create_table(**Template().table_definitions()[0])
    key = {"PK": {"S": "V"}, "SK": {"S": "X"}}
    dynamodb.put_item(TableName="LoyaltyTable", Item={**key, "v": {"N": "1"}})

    def bump(expected: int) -> None:
        dynamodb.update_item(
            TableName="LoyaltyTable",
            Key=key,
            UpdateExpression="SET v = v + :one",
            ConditionExpression="v = :v",
            ExpressionAttributeValues={":v": {"N": str(expected)}, ":one": {"N": "1"}},
        )

    bump(1)
    with pytest.raises(ClientError) as err:
        bump(1)  # the same call again: version 1 is gone
    assert err.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    bump(2)
    for expected in (2, 1):
        with pytest.raises(ClientError):
            dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": "LoyaltyTable",
                            "Item": {**key, "v": {"N": "9"}},
                            "ConditionExpression": "v = :v",
                            "ExpressionAttributeValues": {":v": {"N": str(expected)}},
                        }
                    }
                ]
            )
    dynamodb.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": "LoyaltyTable",
                    "Item": {**key, "v": {"N": "9"}},
                    "ConditionExpression": "v = :v",
                    "ExpressionAttributeValues": {":v": {"N": "3"}},
                }
            }
        ]
    )
    assert dynamodb.get_item(TableName="LoyaltyTable", Key=key)["Item"]["v"] == {"N": "9"}


def test_the_handlers_checks_of_a_condition_refuse_the_same_requests_each_time(clients):
    """moto_fast keeps the handler's parse of a condition by its text: an unused name or a malformed
    condition is refused every time it is sent, and a good one passes every time."""
    dynamodb, _ = clients
    dynamodb.create_table(**Template().table_definitions()[0])

    def marker(pk: str, condition: str, names: dict[str, str] | None = None) -> dict[str, Any]:
        put: dict[str, Any] = {
            "TableName": "LoyaltyTable",
            "Item": {"PK": {"S": pk}, "SK": {"S": "X"}},
            "ConditionExpression": condition,
        }
        if names:
            put["ExpressionAttributeNames"] = names
        return {"Put": put}

    from moto.dynamodb import responses

    def refusal(items: list[dict[str, Any]]) -> str:
        """The error code, or the exception moto raises in process for what it cannot parse."""
        with pytest.raises(Exception) as refused:
            dynamodb.transact_write_items(TransactItems=items)
        error = refused.value
        return str(error.response["Error"]["Code"]) if isinstance(error, ClientError) else type(error).__name__

    codes = []
    for attempt in range(3):
        dynamodb.transact_write_items(
            TransactItems=[marker(f"ok-{attempt}-{n}", "attribute_not_exists(#p)", {"#p": "PK"}) for n in range(3)]
        )
        unused = refusal([marker(f"unused-{attempt}", "attribute_not_exists(PK)", {"#nope": "x"})])
        codes.append((unused, refusal([marker(f"bad-{attempt}", "attribute_not_exists(")])))
    cached = responses.create_condition_expression_parser
    responses.create_condition_expression_parser = cached.__wrapped__  # moto's own, for the reference
    try:
        unused = refusal([marker("unused-ref", "attribute_not_exists(PK)", {"#nope": "x"})])
        reference = (unused, refusal([marker("bad-ref", "attribute_not_exists(")]))
    finally:
        responses.create_condition_expression_parser = cached
    assert codes == [reference] * 3 and reference[0] == "ValidationException"
    assert dynamodb.scan(TableName="LoyaltyTable", Select="COUNT")["Count"] == 9


def test_table_values_reads_the_named_attributes_of_the_prefixed_items_as_a_scan_shows_them(emulator):
    """What the engine's one-pass ledger sum reads: the named attributes of every item under a key prefix,
    None where an item has none; numbers as their text, as DynamoDB's JSON carries them."""
    dynamodb = boto3.client("dynamodb", **CREDENTIALS)
    dynamodb.create_table(**Template().table_definitions()[0])
    items = [
        {"PK": {"S": "ENTRY#a"}, "SK": {"S": "ENTRY"}, "GSI1PK": {"S": "MEMBER#m1"}, "points": {"N": "25"}},
        {"PK": {"S": "ENTRY#b"}, "SK": {"S": "ENTRY"}, "GSI1PK": {"S": "MEMBER#m1"}, "points": {"N": "-7"}},
        {"PK": {"S": "ENTRY#c"}, "SK": {"S": "ENTRY"}, "points": {"N": "3"}},
        {"PK": {"S": "MEMBER#m1"}, "SK": {"S": "MEMBER"}, "GSI1PK": {"S": "MEMBER#m1"}, "points": {"N": "99"}},
    ]
    for item in items:
        dynamodb.put_item(TableName="LoyaltyTable", Item=item)
    got = sorted(emulator.table_values("LoyaltyTable", "ENTRY#", ("GSI1PK", "points")), key=str)
    scanned = dynamodb.scan(TableName="LoyaltyTable")["Items"]
    expected = sorted(
        ((i.get("GSI1PK", {}).get("S"), i["points"]["N"]) for i in scanned if i["PK"]["S"].startswith("ENTRY#")),
        key=str,
    )
    assert got == expected == sorted([("MEMBER#m1", "25"), ("MEMBER#m1", "-7"), (None, "3")], key=str)


def test_sqs_counts_retention_and_deletes_answer_what_moto_answers(aws):
    """loyalty_local.moto_fast.install_fast_sqs: a queue's attributes (its counts computed when read), the retention
    check of a receive and a delete in one pass answer what moto's own code answers."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="fast-sqs", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    assert sqs.create_queue(QueueName="fast-sqs", Attributes={"VisibilityTimeout": "60"})["QueueUrl"] == url
    with pytest.raises(ClientError, match="QueueAlreadyExists"):
        sqs.create_queue(QueueName="fast-sqs", Attributes={"VisibilityTimeout": "61"})
    for n in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=600)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]
    assert sorted(m["Body"] for m in got) == ["m0", "m1"]

    def counts() -> dict[str, str]:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attributes["VisibilityTimeout"] == "60" and attributes["SqsManagedSseEnabled"] == "true"
        return {k: v for k, v in attributes.items() if k.startswith("ApproximateNumber")}

    assert counts() == {
        "ApproximateNumberOfMessages": "1",
        "ApproximateNumberOfMessagesDelayed": "1",
        "ApproximateNumberOfMessagesNotVisible": "2",
    }
    one = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert one == {"ApproximateNumberOfMessages": "1"}
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])  # again: not an error, as moto's
    assert counts()["ApproximateNumberOfMessagesNotVisible"] == "1"
    with pytest.raises(ClientError, match="ReceiptHandleIsInvalid"):
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-receipt")
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["m2"]


# -- loyalty_local.moto_fast.install_fast_sqs: a receive at the cost of what it hands out ------------------------
@pytest.fixture
def sqs_backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, dict[str, float]]]:
    """moto's SQS backend, patched, on a clock the test moves (`clock["now"]`, epoch seconds)."""
    from moto import mock_aws
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs import models

    from loyalty_local import moto_fast

    moto_fast.install_fast_sqs()
    clock = {"now": 1_800_000_000.0}
    monkeypatch.setattr(models, "unix_time", lambda dt=None: clock["now"])
    monkeypatch.setattr(models, "unix_time_millis", lambda dt=None: clock["now"] * 1000.0)
    with mock_aws():
        yield models.sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"], clock


class SqsSide:
    """One queue (and its dead-letter queue) driven through the patched backend, or through moto's own code
    (`original`): the same calls, messages named by their bodies, errors answered as their codes."""

    def __init__(self, backend: Any, name: str, original: bool, retention: int = 345600) -> None:
        self.backend, self.name, self.original = backend, name, original
        dlq = backend.create_queue(f"{name}-dlq")
        redrive = json.dumps({"deadLetterTargetArn": dlq.queue_arn, "maxReceiveCount": 2})
        backend.create_queue(name, VisibilityTimeout=30, RedrivePolicy=redrive, MessageRetentionPeriod=retention)
        self.handles: dict[str, list[str]] = {}  # body -> its receipt handles, oldest first

    def _call(self, method: Any, *args: Any) -> Any:
        function = getattr(method, "_loyalty_original", method) if self.original else method
        try:
            return function(*args)
        except Exception as err:  # the code, as the client would see it
            return getattr(err, "code", type(err).__name__)

    def send(self, body: str, delay: int | None = None) -> None:
        self.backend.send_message(self.name, body, delay_seconds=delay)

    def receive(self, count: int = 10, visibility: int = 30, dlq: bool = False) -> list[str]:
        from moto.sqs.models import SQSBackend

        name = f"{self.name}-dlq" if dlq else self.name
        got = self._call(SQSBackend.receive_message, self.backend, name, count, 0, visibility)
        for message in got:
            self.handles.setdefault(message.body, []).append(message.receipt_handle)
        return [(m.body, m.approximate_receive_count) for m in got]

    def change(self, body: str, visibility: int, handle: int = -1) -> Any:
        from moto.sqs.models import SQSBackend

        return self._call(
            SQSBackend.change_message_visibility, self.backend, self.name, self.handles[body][handle], visibility
        )

    def delete(self, body: str, handle: int = -1, dlq: bool = False) -> Any:
        from moto.sqs.models import Queue

        queue = self.backend.get_queue(f"{self.name}-dlq" if dlq else self.name)
        return self._call(Queue.delete_message, queue, self.handles[body][handle] if body else "not-a-handle")

    def counts(self, dlq: bool = False) -> tuple[int, int, int, int]:
        queue = self.backend.get_queue(f"{self.name}-dlq" if dlq else self.name)
        attributes = queue.attributes
        return (
            attributes["ApproximateNumberOfMessages"],
            attributes["ApproximateNumberOfMessagesDelayed"],
            attributes["ApproximateNumberOfMessagesNotVisible"],
            len(queue.pending_messages),
        )


def sqs_story(side: SqsSide, clock: dict[str, float]) -> list[Any]:
    """Sends, delays, receives, visibility changes (0 among them), deletes in flight, redrive after
    maxReceiveCount (2), the instant a message becomes visible again, purge: what each step answers."""
    seen: list[Any] = []
    for body in ("a", "b", "c"):
        side.send(body)
    side.send("d", delay=10)
    side.send("e", delay=5)
    seen.append(("first two", side.receive(2), side.counts()))
    seen.append(("no timeout: visible at once", side.receive(10, visibility=0), side.counts()))
    seen.append(("c again", side.receive(10), side.counts()))
    clock["now"] += 6
    seen.append(("e's delay over", side.receive(10), side.counts()))
    seen.append(("a back at once", side.change("a", 0), side.counts()))
    clock["now"] += 0.001  # visible again the moment after (moto: visible when now > visible_at)
    seen.append(("a received again", side.receive(1), side.counts()))
    seen.append(("delete b in flight", side.delete("b"), side.delete("b"), side.counts()))
    seen.append(("b gone", side.change("b", 0), side.delete("", 0)))
    clock["now"] += 11
    seen.append(("d's delay over", side.receive(10), side.counts()))
    seen.append(("beyond 12 hours", side.change("d", 43200)))
    clock["now"] += 30  # d visible again exactly now: not yet (visible only after visible_at)
    seen.append(("a and c to the dlq", side.receive(10), side.counts(), side.counts(dlq=True)))
    seen.append(("a's old handle", side.delete("a"), side.change("a", 0)))
    seen.append(("d at its visible_at", side.receive(10, visibility=5), side.counts()))
    seen.append(("the dlq", side.receive(10, dlq=True), side.delete("a", dlq=True), side.counts(dlq=True)))
    clock["now"] += 1
    seen.append(("d back", side.change("d", 0), side.receive(10)))
    clock["now"] += 0.001
    seen.append(("d again, e in flight", side.receive(1), side.receive(10), side.counts()))
    side.backend.purge_queue(side.name)
    seen.append(("purged", side.counts(), side.receive(10), side.delete("d")))
    side.send("f")
    side.send("g", delay=1)
    seen.append(("after the purge", side.receive(10), side.counts()))
    return seen


def test_sqs_receive_change_and_delete_answer_what_moto_answers_step_by_step(sqs_backend):
    backend, clock = sqs_backend
    start = clock["now"]
    patched = sqs_story(SqsSide(backend, "patched", original=False), clock)
    clock["now"] = start
    original = sqs_story(SqsSide(backend, "original", original=True), clock)
    for ours, moto in zip(patched, original, strict=True):
        assert ours == moto
    steps = dict((step[0], step[1:]) for step in patched)
    # SQS's documented behaviour, step by step (a standard queue, the queue's VisibilityTimeout 30 s):
    assert steps["first two"] == ([("a", 1), ("b", 1)], (1, 2, 2, 2))  # d and e delayed; a, b in flight
    assert steps["no timeout: visible at once"][0] == [("c", 1)]
    assert steps["c again"][0] == [("c", 2)]
    assert steps["e's delay over"][0] == [("e", 1)]
    assert steps["a back at once"] == (None, (0, 1, 4, 4))  # ChangeMessageVisibility 0: visible from now
    assert steps["a received again"] == ([("a", 2)], (0, 1, 4, 4))
    assert steps["delete b in flight"] == (None, None, (0, 1, 3, 3))  # deleted in flight; again: no error
    assert steps["b gone"] == ("ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid")
    assert steps["d's delay over"] == ([("d", 1)], (0, 0, 4, 4))
    assert steps["beyond 12 hours"] == ("InvalidParameterValue",)
    # received twice (maxReceiveCount 2): a and c go to the dead-letter queue instead; e is received a 2nd time
    assert steps["a and c to the dlq"] == ([("e", 2)], (0, 0, 2, 2), (2, 0, 0, 0))
    assert steps["a's old handle"] == ("ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid")
    assert steps["d at its visible_at"] == ([], (0, 0, 2, 2))  # visible only after its visible_at, not at it
    assert steps["the dlq"] == ([("a", 3), ("c", 3)], None, (0, 0, 1, 1))  # the old handle deletes in the dlq
    assert steps["d back"] == (None, [])
    assert steps["d again, e in flight"] == ([("d", 2)], [], (0, 0, 2, 2))
    assert steps["purged"] == ((0, 0, 0, 0), [], "ReceiptHandleIsInvalid")
    assert steps["after the purge"] == ([("f", 1)], (0, 1, 1, 1))


def test_sqs_retention_is_checked_as_moto_checks_it(sqs_backend):
    """Past its retention a message is not handed out (moto marks it received and stops there)."""
    backend, clock = sqs_backend
    start = clock["now"]
    answers = []
    for name, original in (("patched", False), ("original", True)):
        clock["now"] = start
        side = SqsSide(backend, name, original, retention=60)
        side.send("old")
        clock["now"] += 30
        side.send("young")
        clock["now"] += 31
        answers.append((side.receive(10), side.counts(), side.receive(10), side.counts()))
    assert answers[0] == answers[1] == ([], (1, 0, 1, 1), [("young", 1)], (0, 0, 2, 2))


def test_a_fifo_queue_is_received_by_moto_s_own_walk_and_its_handles_still_found(sqs_backend):
    """A FIFO queue's receive is moto's (its message groups); its deletes and visibility changes go through the
    patched lookup of receipt handles, and answer what moto's do."""
    from moto.sqs.models import Queue, SQSBackend

    backend, clock = sqs_backend
    start = clock["now"]
    answers = []
    for name, original in (("patched", False), ("original", True)):
        clock["now"] = start

        def call(method: Any, *args: Any) -> Any:
            return (getattr(method, "_loyalty_original", method) if original else method)(*args)  # noqa: B023

        fifo = f"{name}.fifo"
        backend.create_queue(fifo, FifoQueue="true", ContentBasedDeduplication="true", VisibilityTimeout=30)
        for body, group in (("a1", "a"), ("a2", "a"), ("b1", "b")):
            backend.send_message(fifo, body, group_id=group)
        first = call(SQSBackend.receive_message, backend, fifo, 10, 0, 30)
        handles = {m.body: m.receipt_handle for m in first}
        blocked = call(SQSBackend.receive_message, backend, fifo, 10, 0, 30)  # both groups in flight
        call(Queue.delete_message, backend.get_queue(fifo), handles["a1"])
        call(SQSBackend.change_message_visibility, backend, fifo, handles["a2"], 0)
        clock["now"] += 0.001
        after = call(SQSBackend.receive_message, backend, fifo, 10, 0, 30)
        answers.append(([m.body for m in first], blocked, sorted(m.body for m in after)))
    # moto hands out a group's messages together; a2 back (visibility 0) while b1 is in flight: a2 only
    assert answers[0] == answers[1] == (["a1", "a2", "b1"], [], ["a2"])


def test_a_receive_examines_what_it_hands_out_not_the_backlog(sqs_backend, monkeypatch):
    """20,000 messages in a queue: a receive of 10 looks at a few dozen messages, whether the backlog is in flight,
    delayed or receivable; draining it looks at each message a bounded number of times. moto's own receive looks
    at every message of the queue on every call (counted the same way: the reads of a message's visible_at)."""
    from moto.sqs.models import Message, SQSBackend

    backend, clock = sqs_backend
    reads = [0]

    def read(message: Any) -> float:
        reads[0] += 1
        return message.__dict__["visible_at"]  # type: ignore[no-any-return]

    def write(message: Any, value: float) -> None:
        message.__dict__["visible_at"] = value

    monkeypatch.setattr(Message, "visible_at", property(read, write), raising=False)

    def examined(name: str, count: int = 10, receive: Any = SQSBackend.receive_message) -> tuple[int, int]:
        before = reads[0]
        got = receive(backend, name, count, 0, 600)
        return len(got), reads[0] - before

    backend.create_queue("backlog")
    for n in range(20_000):
        backend.send_message("backlog", f"m{n}")
    assert examined("backlog") == (10, 10)  # receivable backlog
    drained = 10
    reads[0] = 0
    while drained < 20_000:
        got, _ = examined("backlog")
        drained += got
    assert reads[0] <= 2 * 20_000  # the drain: each message handed out and re-indexed once
    assert examined("backlog") == (0, 0)  # all 20,000 in flight
    for n in range(3):
        backend.send_message("backlog", f"new{n}")
    assert examined("backlog") == (3, 3)
    for n in range(20_000):
        backend.send_message("backlog", f"later{n}", delay_seconds=900)
    assert examined("backlog") == (0, 0)  # 40,003 messages, none receivable
    clock["now"] += 601  # the 20,003 in flight are visible again: woken once each, then handed out 10 at a time
    reads[0] = 0
    assert examined("backlog")[0] == 10
    assert reads[0] <= 2 * 20_003 + 10
    assert examined("backlog") == (10, 10)  # woken already: the 10 it hands out

    # the same count, on moto's own receive: every message of the queue, each call
    original = SQSBackend.receive_message._loyalty_original
    assert examined("backlog", receive=original)[1] >= 40_000


def test_a_queue_holds_messages_until_its_last_is_deleted_received_or_not(emulator):
    """The drain skips a queue that holds nothing (its receive would answer nothing); a message received and
    not yet deleted is still held: it comes back when its visibility ends."""
    sqs = boto3.client("sqs", **CREDENTIALS)
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    assert not emulator.queue_holds_messages("work")
    sqs.send_message(QueueUrl=url, MessageBody="one")
    assert emulator.queue_holds_messages("work")
    got = sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"]
    assert emulator.queue_holds_messages("work")  # in flight: invisible, still the queue's
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    assert not emulator.queue_holds_messages("work")
    assert emulator.queue_holds_messages("no-such-queue")  # a receive says what is wrong with it
