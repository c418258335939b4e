"""The outbox: the table stream's committed changes → liability counters, business metrics, domain events.

Records are handled in stream order and the batch stops at the first failure: every later record is
reported failed without being handled, so Lambda retries from the failed one and no event of a member
overtakes an earlier one that is still to be published (and none is published twice by that retry).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from loyalty import outbox
from loyalty.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


class SkippedAfterFailure(Exception):
    """An earlier record of this batch failed: this one is retried after it, in order."""


class _Batch:
    failed = False


@tracer.capture_method
def record_handler(record: DynamoDBRecord) -> None:
    if _Batch.failed:
        raise SkippedAfterFailure("an earlier record of this batch failed")
    change = record.dynamodb
    new, old = (change.new_image, change.old_image) if change else ({}, {})
    logger.append_keys(
        member_id=(new or old or {}).get("member_id"), stream_sequence=change.sequence_number if change else None
    )
    try:
        outbox.process(str(record.raw_event.get("eventName", "")), old or None, new or None)
    except Exception:
        _Batch.failed = True
        logger.exception("stream record failed; it and the rest of the batch will be retried")
        raise
    finally:
        logger.remove_keys(["member_id", "stream_sequence"])


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _Batch.failed = False
    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )
