"""The monthly points expiry: `handler` starts a run (EventBridge Scheduler), `worker` walks its chunks (SQS)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from loyalty.expiry.job import JOB
from loyalty.jobs import runner as jobs
from loyalty.kernel.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return jobs.handle_invocation(JOB, event)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def worker(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return jobs.handle_batch(JOB, event, context)
