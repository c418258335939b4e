"""The local stack's emulator keeps DynamoDB's guarantees that moto alone does not."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from loyalty_local.server import Emulator
from loyalty_local.template import Template


@pytest.fixture
def emulator():
    server = Emulator()
    server.start()
    client = boto3.client(
        "dynamodb", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    yield client
    for name in client.list_tables()["TableNames"]:  # moto's backends outlive the server in this process
        client.delete_table(TableName=name)
    server.stop()


def put(pk: str) -> dict:
    item = {"PK": {"S": pk}, "SK": {"S": "X"}}
    return {"Put": {"TableName": "LoyaltyTable", "Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}


def test_a_transaction_retried_with_its_client_request_token_answers_success_again(emulator):
    emulator.create_table(**Template().table_definitions()[0])
    emulator.transact_write_items(TransactItems=[put("A")], ClientRequestToken="token-1")
    # the SDK retrying a committed call sends the same token: DynamoDB answers success, not a failed condition
    emulator.transact_write_items(TransactItems=[put("A")], ClientRequestToken="token-1")
    with pytest.raises(ClientError) as err:  # a new call (new token) meets the condition
        emulator.transact_write_items(TransactItems=[put("A")], ClientRequestToken="token-2")
    assert err.value.response["Error"]["Code"] == "TransactionCanceledException"
    with pytest.raises(ClientError):  # the same token with other parameters is not a retry
        emulator.transact_write_items(TransactItems=[put("B"), put("A")], ClientRequestToken="token-1")
    items = emulator.scan(TableName="LoyaltyTable")["Items"]
    assert [i["PK"]["S"] for i in items] == ["A"]


def test_a_failed_transaction_leaves_no_item_and_no_stream_record(emulator):
    emulator.create_table(**Template().table_definitions()[0])
    emulator.transact_write_items(TransactItems=[put("A")])
    stream = boto3.client(
        "dynamodbstreams",
        endpoint_url=emulator.meta.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    arn = emulator.describe_table(TableName="LoyaltyTable")["Table"]["LatestStreamArn"]
    shard = stream.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]

    def records() -> list[str]:
        it = stream.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        got = stream.get_records(ShardIterator=it["ShardIterator"])["Records"]
        return [f"{r['eventName']} {r['dynamodb']['Keys']['PK']['S']}" for r in got]

    assert records() == ["INSERT A"]
    with pytest.raises(ClientError):  # B is written first, then A's condition fails: all rolled back
        emulator.transact_write_items(TransactItems=[put("B"), put("A")])
    assert [i["PK"]["S"] for i in emulator.scan(TableName="LoyaltyTable")["Items"]] == ["A"]
    assert records() == ["INSERT A"]
