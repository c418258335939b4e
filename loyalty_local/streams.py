"""DynamoDB Streams → the functions whose template events read them, as Lambda's event source mapping does.

Reads the emulator's stream (describe_stream / get_shard_iterator / get_records), builds the Lambda
DynamoDB Streams event (Records with eventID, eventName, dynamodb.Keys/NewImage/OldImage/SequenceNumber,
eventSourceARN), honours `FilterCriteria` (exact-value patterns), `BatchSize`, partial batch responses
(`batchItemFailures`: the batch is retried from the lowest failed sequence number) and
`MaximumRetryAttempts` (then the batch's description goes to the OnFailure SQS destination).

Every poll asks for a fresh iterator after the last sequence number delivered: moto rebuilds a
table (and its stream shard) when a transaction is cancelled, so a held iterator would go stale.
"""

from __future__ import annotations

import base64
import json
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from loyalty_local.runtime import FunctionPool
from loyalty_local.template import Function, Template


@dataclass
class Source:
    function: str
    table: str
    batch_size: int = 100
    max_retries: int = -1  # -1: until the record expires (locally: forever)
    filters: list[dict[str, Any]] = field(default_factory=list)
    on_failure: str | None = None  # queue name
    last_sequence: str | None = None
    pending: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0


def _table_of(stream: Any) -> str | None:
    """The logical id of `!GetAtt <Table>.StreamArn`."""
    if isinstance(stream, dict) and "Fn::GetAtt" in stream:
        target = stream["Fn::GetAtt"]
        parts = target if isinstance(target, list) else str(target).split(".", 1)
        return str(parts[0])
    return None


def sources(template: Template, functions: dict[str, Function]) -> list[Source]:
    out = []
    for name, fn in functions.items():
        for props in fn.streams:
            table = _table_of(props.get("Stream"))
            if table is None:
                continue
            on_failure = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
            queue = _table_of(on_failure) if on_failure else None  # `!GetAtt Queue.Arn` names the queue
            patterns = [json.loads(f["Pattern"]) for f in (props.get("FilterCriteria") or {}).get("Filters", [])]
            out.append(
                Source(
                    function=name,
                    table=template.physical_name(table),
                    batch_size=int(props.get("BatchSize") or 100),
                    max_retries=int(props.get("MaximumRetryAttempts", -1)),
                    filters=patterns,
                    on_failure=template.physical_name(queue) if queue else None,
                )
            )
    return out


def matches(pattern: Any, value: Any, leaf: Callable[[Any], Any] | None = None) -> bool:
    """EventBridge-style filter: dicts nest, lists are the accepted literal values. `leaf` turns a value
    into what it compares as (a record as moto holds it: its timestamps and bytes as the wire has them)."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and matches(p, value[k], leaf) for k, p in pattern.items())
    if leaf is not None:
        value = leaf(value)
    if isinstance(pattern, list):
        return value in pattern
    return bool(pattern == value)


def _wire(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire(v) for v in value]
    if isinstance(value, datetime):
        return value.timestamp()
    return value


def as_delivered(value: Any) -> Any:
    """A value of a record as moto holds it, as Lambda delivers it (see `lambda_record`)."""
    from loyalty_local.moto_fast import on_the_wire

    return on_the_wire(value) if isinstance(value, bytes | datetime) else value


def lambda_record(record: dict[str, Any], stream_arn: str, *, plain: bool = False) -> dict[str, Any]:
    """One get_records record as Lambda delivers it. `plain`: the record is a JSON copy of its own (the
    emulator's reader answers one), its values already as the wire has them."""
    return {
        "eventID": record.get("eventID"),
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", "us-east-1"),
        "dynamodb": record["dynamodb"] if plain else _wire(record["dynamodb"]),
        "eventSourceARN": stream_arn,
    }


class StreamPoller:
    """Delivers every table stream to its functions; `flush()` returns once everything written is delivered."""

    def __init__(
        self,
        template: Template,
        pools: dict[str, FunctionPool],
        interval: float = 0.2,
        read_records: Callable[..., list[dict[str, Any]]] | None = None,
    ) -> None:
        self.sources = sources(template, template.functions())
        # (table, after sequence, limit, keep) -> records: the emulator's own reader when the table lives
        # in this process (it calls `keep` on each record read, in order, and copies only those kept);
        # otherwise the stream is read with GetShardIterator and GetRecords
        self.read_records = read_records
        self.pools = pools
        self.interval = interval
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._streams: dict[str, tuple[str, str]] = {}  # table -> (stream arn, shard id)
        self._clients: dict[str, Any] = {}

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3
            from botocore.config import Config

            # moto does not route the account-based endpoints of DynamoDB Streams (<account>.streams-ddb...)
            config = Config(account_id_endpoint_mode="disabled")
            self._clients[service] = boto3.client(service, config=config)  # type: ignore[call-overload]
        return self._clients[service]

    def start(self) -> None:
        if not self.sources:
            return
        self._thread = threading.Thread(target=self._run, daemon=True, name="stream-poller")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                # keep up with the writes (the emulator is in process: a poll costs no round trip), so
                # that `flush()` (the /_local routes) finds little left; a failing batch is retried a few
                # times a tick, not in a tight loop
                self.flush(max_rounds=50)
            except Exception:
                traceback.print_exc()

    def flush(self, max_rounds: int = 10_000) -> int:
        """Deliver until every stream is read to its end and no batch awaits a retry."""
        delivered = 0
        with self._lock:
            for _ in range(max_rounds):
                progress = sum(self._poll(source) for source in self.sources)
                if not progress and not any(s.pending for s in self.sources):
                    return delivered
                delivered += progress
        return delivered

    def _stream(self, table: str) -> tuple[str, str]:
        found = self._streams.get(table)
        if found is None:
            arn = self._client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
            shards = self._client("dynamodbstreams").describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
            found = self._streams[table] = (arn, shards[0]["ShardId"])
        return found

    def _poll(self, source: Source) -> int:
        """One batch for one source. Returns how many records were read fresh from the stream."""
        arn, shard = self._stream(source.table)
        if source.pending:
            self._deliver(source, arn, source.pending)
            return 0
        if self.read_records is not None:
            return self._poll_in_process(source, arn)
        got = self._get_records(source, arn, shard)
        if not got:
            return 0
        records = [lambda_record(r, arn) for r in got]
        source.last_sequence = records[-1]["dynamodb"]["SequenceNumber"]
        wanted = [r for r in records if not source.filters or any(matches(p, r) for p in source.filters)]
        if wanted:
            self._deliver(source, arn, wanted)
        return len(records)

    def _poll_in_process(self, source: Source, arn: str) -> int:
        """One batch read from the emulator with the source's filter applied as records are read: a record
        the filter refuses (a counter, a marker, a member's kept event...) is never copied or converted."""
        read: list[str] = []  # the sequence numbers read, kept or not

        def keep(raw: dict[str, Any]) -> bool:
            read.append(raw["dynamodb"]["SequenceNumber"])
            if not source.filters:
                return True
            record = {**raw, "eventSourceARN": arn}
            return any(matches(p, record, leaf=as_delivered) for p in source.filters)

        assert self.read_records is not None
        got = self.read_records(source.table, source.last_sequence, source.batch_size, keep)
        if not read:
            return 0
        source.last_sequence = read[-1]
        if got:
            self._deliver(source, arn, [lambda_record(r, arn, plain=True) for r in got])
        return len(read)

    def _get_records(self, source: Source, arn: str, shard: str) -> list[dict[str, Any]]:
        streams = self._client("dynamodbstreams")
        if source.last_sequence is None:
            iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        else:
            iterator = streams.get_shard_iterator(
                StreamArn=arn,
                ShardId=shard,
                ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                SequenceNumber=source.last_sequence,
            )
        records: list[dict[str, Any]] = streams.get_records(
            ShardIterator=iterator["ShardIterator"], Limit=source.batch_size
        )["Records"]
        return records

    def _deliver(self, source: Source, arn: str, records: list[dict[str, Any]]) -> None:
        try:
            result = self.pools[source.function].invoke({"Records": records})
            failed = {str(f["itemIdentifier"]) for f in (result or {}).get("batchItemFailures") or []}
        except Exception:
            traceback.print_exc()
            failed = {r["dynamodb"]["SequenceNumber"] for r in records}
        if not failed:
            source.pending, source.attempts = [], 0
            return
        first = min(int(s) for s in failed)
        retry = [r for r in records if int(r["dynamodb"]["SequenceNumber"]) >= first]
        source.attempts += 1
        if 0 <= source.max_retries < source.attempts:
            self._give_up(source, arn, retry)
            source.pending, source.attempts = [], 0
        else:
            source.pending = retry

    def _give_up(self, source: Source, arn: str, records: list[dict[str, Any]]) -> None:
        """As Lambda's OnFailure destination: a description of the batch, not the records themselves."""
        if source.on_failure is None:
            return
        sqs = self._client("sqs")
        url = sqs.get_queue_url(QueueName=source.on_failure)["QueueUrl"]
        body = {
            "requestContext": {"condition": "RetryAttemptsExhausted", "functionArn": source.function},
            "DDBStreamBatchInfo": {
                "streamArn": arn,
                "batchSize": len(records),
                "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
            },
        }
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))
