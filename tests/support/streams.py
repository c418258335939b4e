"""The table stream in tests: moto's stream delivered to the template's stream functions, as locally."""

from __future__ import annotations

from typing import Any

from loyalty_local.runtime import FunctionPool
from loyalty_local.streams import StreamPoller
from tests.support.aws import TEMPLATE


def poller() -> StreamPoller:
    """A fresh poller (from the start of the stream) over every function with a DynamoDB event."""
    pools = {name: FunctionPool(fn) for name, fn in TEMPLATE.functions().items() if fn.streams}
    return StreamPoller(TEMPLATE, pools)


def published() -> list[dict[str, Any]]:
    """Every event on the bus so far, oldest first: what the template's archive (`EventArchive`) took."""
    from loyalty_local.capture import archive_events

    archives = list(TEMPLATE.of_type("AWS::Events::Archive"))
    return [dict(e) for e in archive_events(TEMPLATE.physical_name(archives[0]))]


def records() -> list[dict[str, Any]]:
    """Every record of the table's stream as Lambda would deliver it (no filter applied)."""
    import boto3
    from botocore.config import Config

    from loyalty_local.streams import lambda_record

    config = Config(account_id_endpoint_mode="disabled")
    arn = boto3.client("dynamodb").describe_table(TableName=TEMPLATE.physical_name("LoyaltyTable"))["Table"][
        "LatestStreamArn"
    ]
    streams = boto3.client("dynamodbstreams", config=config)
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    got = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)["Records"]
    return [lambda_record(r, arn) for r in got]
