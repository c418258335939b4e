"""The outbox: the table stream's committed changes → liability counters, business metrics, domain events.

A batch is handled whole (loyalty.outbox.processor.process_batch: its counters in a transaction or two, its events
kept and published in bulk), in stream order, and stops at the first record that fails: that record and
every later one are reported failed, so Lambda retries from the failed one and no event of a member
overtakes an earlier one that is still to be published. When the first record fails the invocation
fails, so that Lambda bisects the batch (BisectBatchOnFunctionError) as for any error.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from loyalty.kernel.observability import logger, metrics, tracer
from loyalty.outbox import processor as outbox


class BatchFailed(Exception):
    """The batch's first record failed: nothing of it was handled in full; Lambda retries it (bisecting)."""


def stream_record(raw: dict[str, Any]) -> outbox.StreamRecord:
    change = DynamoDBRecord(raw).dynamodb
    if change is None:
        return outbox.StreamRecord(str(raw.get("eventName", "")), None, None)
    return outbox.StreamRecord(
        str(raw.get("eventName", "")), change.old_image or None, change.new_image or None, change.sequence_number
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = [stream_record(raw) for raw in event.get("Records") or []]
    handled = outbox.process_batch(records)
    if records and handled == 0:
        raise BatchFailed(f"the first of {len(records)} stream records failed; the batch is retried")
    return {"batchItemFailures": [{"itemIdentifier": r.sequence_number} for r in records[handled:]]}
