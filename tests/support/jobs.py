"""Job-test plumbing: members written straight to the table, and a job run with its SQS queue drained
by hand, as Lambda's event source mapping would (partial batch failures honoured, redrive after 3)."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from loyalty.domain.model import Member
from loyalty.jobs import registry
from loyalty.store import core
from loyalty.store.codecs import member_to_item

from loyalty_local.runtime import FunctionPool
from tests.support.aws import TEMPLATE, invoke, load_event

JOBS = {
    # job: (orchestrator, schedule event, worker, work queue, dead-letter queue)
    registry.TIER_EVALUATION.name: (
        "TierEvaluationFunction",
        "MonthlyTierEvaluation",
        "TierWorkerFunction",
        "TierWorkQueue",
        "TierDeadLetterQueue",
    ),
    registry.EXPIRY.name: (
        "ExpiryFunction",
        "MonthlyExpiry",
        "ExpiryWorkerFunction",
        "ExpiryWorkQueue",
        "ExpiryDeadLetterQueue",
    ),
}
ENROLLED = datetime(2025, 1, 10, tzinfo=UTC)


def member(member_id: str, **fields: Any) -> Member:
    """A member as the ledger would have made it: `buckets` give `available` and `lifetime_earned`."""
    buckets = fields.pop("buckets", {})
    points = sum(buckets.values())
    base: dict[str, Any] = {
        "member_id": member_id,
        "channel": "web",
        "enrolled_at": ENROLLED,
        "tier_id": "red",
        "tier_since": ENROLLED,
        "tier_reached_at": ENROLLED,
        "buckets": buckets,
        "available": points,
        "lifetime_earned": points,
        "version": 1,
    }
    return Member(**{**base, **fields})


def write_members(members: list[Member]) -> None:
    """BatchWriteItem, 25 at a time (test data only: the product writes members in transactions)."""
    write_items([member_to_item(m) for m in members])


def write_items(items: list[dict[str, Any]]) -> None:
    client = core.client()
    for start in range(0, len(items), 25):
        request = {core.table_name(): [{"PutRequest": {"Item": core.to_item(i)}} for i in items[start : start + 25]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


def load_members(members: list[Member]) -> None:
    """`write_members` for thousands of members: each item put straight into the in-process moto table
    (the `aws` fixture's), as moto's BatchWriteItem puts it, without the HTTP round trip through botocore
    and moto's handler that cost more than the put itself (test data only, known to be valid items)."""
    load_items([member_to_item(m) for m in members])


def load_items(items: list[dict[str, Any]]) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][core.client().meta.region_name]
    table = core.table_name()
    for item in items:
        backend.put_item(table, core.to_item(item))


def queue_url(logical_id: str) -> str:
    import boto3

    return str(boto3.client("sqs").get_queue_url(QueueName=TEMPLATE.physical_name(logical_id))["QueueUrl"])


def start(job: str, as_of: str | None = None) -> Any:
    orchestrator, schedule, *_ = JOBS[job]
    event = copy.deepcopy(load_event(schedule))
    if as_of:
        event["as_of"] = as_of
    return invoke(orchestrator, event)


def drain(job: str, *, batch_size: int = 2, context: Any = None, max_rounds: int = 10_000) -> int:
    """Deliver the job's work queue to its worker until it is empty. Returns messages delivered."""
    import boto3

    _, _, worker, queue, _ = JOBS[job]
    sqs = boto3.client("sqs")
    url = queue_url(queue)
    delivered = 0
    for _ in range(max_rounds):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=batch_size, AttributeNames=["All"]).get(
            "Messages", []
        )
        if not got:
            return delivered
        delivered += len(got)
        failed = deliver(worker, got, context)
        for message in got:
            if message["MessageId"] in failed:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
            else:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    raise AssertionError("the work queue did not drain")


def sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    from loyalty_local.runtime import sqs_event as event_of

    return event_of(messages, "arn:aws:sqs:us-east-1:123456789012:queue")


def deliver(worker: str, messages: list[dict[str, Any]], context: Any = None) -> set[str]:
    """Invoke the worker with an SQS event (and `context`, if given); the ids of the messages that failed."""
    from tests.support.faults import WorkerKilled

    event = sqs_event(messages)
    try:
        result = invoke(worker, event) if context is None else _handler(worker)(event, context)
    except (Exception, WorkerKilled):  # the whole invocation failed (Powertools raises when every record
        # failed), or the runtime ended it (a timeout, out of memory): no answer, every message comes back
        return {m["MessageId"] for m in messages}
    return {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures") or []}


@functools.cache
def _handler(function: str) -> Any:
    fn = TEMPLATE.functions()[function]
    return getattr(FunctionPool(fn).load_module(), fn.attribute)


def run(job: str, as_of: str | None = None, **drain_options: Any) -> dict[str, Any]:
    """The job as the local stack runs it: start, drain, summary."""
    orchestrator = JOBS[job][0]
    started = start(job, as_of)
    drain(job, **drain_options)
    summary: dict[str, Any] = invoke(orchestrator, {"job": job, "summary_of": started})
    return summary


def redrive(job: str) -> int:
    """Move the job's dead letters back to its work queue (`aws sqs start-message-move-task`); how many."""
    import boto3

    bodies = dead_letters(job)
    url = queue_url(JOBS[job][3])
    for body in bodies:
        boto3.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(body))
    return len(bodies)


def dead_letters(job: str) -> list[dict[str, Any]]:
    import boto3

    sqs = boto3.client("sqs")
    url = queue_url(JOBS[job][4])
    out: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return out
        out.extend(json.loads(m["Body"]) for m in got)
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def count_reads_and_writes() -> tuple[dict[str, int], Any]:
    """Items read (Scan/Query Count and ScannedCount, BatchGet/Get items) and writes, via botocore hooks."""
    counts = dict.fromkeys(
        [f"{kind}_{what}" for kind in ("scan", "index", "query") for what in ("calls", "scanned", "returned")]
        + ["got"],
        0,
    )
    state: dict[str, Any] = {}  # the calls are sequential: `before` tells `after` whether it queried an index
    counts.update(member_writes=0, job_writes=0, entry_writes=0, other_writes=0, transactions=0)

    def after(http_response: Any = None, parsed: Any = None, model: Any = None, **_: Any) -> None:
        if model is None or not isinstance(parsed, dict):
            return
        if model.name in ("Scan", "Query"):
            kind = "scan" if model.name == "Scan" else "index" if state.get("index") else "query"
            counts[f"{kind}_calls"] += 1
            counts[f"{kind}_scanned"] += int(parsed.get("ScannedCount", 0))
            counts[f"{kind}_returned"] += int(parsed.get("Count", 0))
        elif model.name == "BatchGetItem":
            counts["got"] += sum(len(v) for v in parsed.get("Responses", {}).values())
        elif model.name == "GetItem" and parsed.get("Item"):
            counts["got"] += 1

    def before(params: Any = None, model: Any = None, **_: Any) -> None:
        if model is None:
            return
        state["index"] = params.get("IndexName")
        if model.name in ("PutItem", "UpdateItem"):
            _count_write(counts, (params.get("Item") or params.get("Key") or {}).get("PK", {}).get("S", ""))
        elif model.name == "TransactWriteItems":
            counts["transactions"] += 1
            for op in params.get("TransactItems", []):
                body = next(iter(op.values()))
                _count_write(counts, (body.get("Item") or body.get("Key") or {}).get("PK", {}).get("S", ""))

    events = core.client().meta.events
    events.register("before-parameter-build.dynamodb", before)
    events.register("after-call.dynamodb", after)

    def stop() -> None:
        events.unregister("before-parameter-build.dynamodb", before)
        events.unregister("after-call.dynamodb", after)

    return counts, stop


def _count_write(counts: dict[str, int], pk: str) -> None:
    if pk.startswith("MEMBER#"):
        counts["member_writes"] += 1
    elif pk.startswith("JOB#"):
        counts["job_writes"] += 1
    elif pk.startswith("ENTRY#"):
        counts["entry_writes"] += 1
    else:
        counts["other_writes"] += 1


def emitted_metrics(stdout: str) -> dict[str, float]:
    """Sum the CloudWatch embedded-metric-format records Powertools printed, by metric name."""
    emitted: dict[str, float] = {}
    for line in stdout.splitlines():
        if not (line.startswith("{") and '"_aws"' in line):
            continue
        record = json.loads(line)
        for metric in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            values = record[metric["Name"]]
            emitted[metric["Name"]] = emitted.get(metric["Name"], 0) + sum(
                values if isinstance(values, list) else [values]
            )
    return emitted


def die_before_counting_a_page(monkeypatch: Any, when: Callable[[dict[str, Any]], Any]) -> list[str]:
    """The worker dies once after a page's writes and before it counts them (`complete_page`), on the first
    page whose counts satisfy `when`, as a timeout or a crash there would: the delivery is retried. Returns
    the chunks it died on (filled as the run goes)."""
    from loyalty.store import jobs as job_store

    real = job_store.complete_page
    failed: list[str] = []

    def fail_once(pk: str, chunk: str, cursor: Any, counts: dict[str, Any], *isolated: Any) -> Any:
        if when(counts) and not failed:
            failed.append(chunk)
            raise RuntimeError("injected: the worker dies before counting its page")
        return real(pk, chunk, cursor, counts, *isolated)

    monkeypatch.setattr(job_store, "complete_page", fail_once)
    return failed
