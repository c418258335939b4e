"""The table stream in tests: moto's stream delivered to the template's stream functions, as locally."""

from __future__ import annotations

import json
from typing import Any

from loyalty_local.runtime import FunctionPool
from loyalty_local.streams import StreamPoller
from tests.support.aws import TEMPLATE

PUBLISHER = "EventsPublisherFunction"


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
    out: list[dict[str, Any]] = []
    position = iterator["ShardIterator"]
    while True:
        page = streams.get_records(ShardIterator=position, Limit=1000)
        out.extend(lambda_record(r, arn) for r in page["Records"])
        if not page["Records"] or not page.get("NextShardIterator"):
            return out
        position = page["NextShardIterator"]


def delivered(read: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The stream's records (or those `read`) that the template's FilterCriteria lets through to the events
    publisher, in order."""
    from loyalty_local.streams import matches, sources

    (source,) = [s for s in sources(TEMPLATE, TEMPLATE.functions()) if s.function == PUBLISHER]
    every = records() if read is None else read
    return [r for r in every if not source.filters or any(matches(p, r) for p in source.filters)]


def deliver(batch: list[dict[str, Any]]) -> list[str]:
    """One invocation of the events publisher with `batch`, as Lambda makes it: the sequence numbers to
    retry (every record of the batch when the invocation fails)."""
    from tests.support.aws import invoke

    try:
        answer = invoke(PUBLISHER, {"Records": batch})
    except Exception:  # a function error: Lambda retries the whole batch
        return [r["dynamodb"]["SequenceNumber"] for r in batch]
    return [str(f["itemIdentifier"]) for f in answer["batchItemFailures"]]


def marker_of(record: dict[str, Any]) -> str:
    """The applied-marker key (PK) of a member or ledger entry record (docs/design.md: data model)."""
    image = record["dynamodb"]["NewImage"]
    if image["kind"]["S"] == "entry":
        return f"APPLIED#ENTRY#{image['entry_id']['S']}"
    return f"APPLIED#MEMBER#{image['member_id']['S']}#{image['version']['N']}"


class RefuseEntries:
    """EventBridge as it answers a PutEvents with some entries refused: the others are put on the bus, the
    refused ones come back with an ErrorCode (HTTP 200, FailedEntryCount). `refuse(detail)` picks them."""

    def __init__(self, refuse: Any) -> None:
        import boto3

        self.refuse = refuse
        self.calls: list[int] = []  # entries per PutEvents call
        self.refused: list[str] = []  # event ids
        self._bus = boto3.client("events")  # an unhooked client puts the accepted entries

    def __call__(self, params: dict[str, Any], **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse
        from botocore.compat import HTTPHeaders

        sent = json.loads(params["body"])["Entries"]
        self.calls.append(len(sent))
        results: list[dict[str, Any]] = []
        for entry in sent:
            detail = json.loads(entry["Detail"])
            if self.refuse(detail):
                self.refused.append(detail["event_id"])
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "injected"})
            else:
                results.extend(self._bus.put_events(Entries=[entry])["Entries"])
        failed = sum(1 for r in results if "ErrorCode" in r)
        return AWSResponse("", 200, HTTPHeaders(), None), {"FailedEntryCount": failed, "Entries": results}


def refuse_entries(refuse: Any) -> RefuseEntries:
    """Until the test ends, PutEvents through the product's client refuses the entries `refuse(detail)` picks."""
    from loyalty.store import core

    hook = RefuseEntries(refuse)
    core.client("events").meta.events.register("before-call.events.PutEvents", hook)
    return hook
