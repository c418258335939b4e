"""The hold-release job: every 5 minutes, release the pay-with-points holds whose time is up."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from loyalty.kernel.observability import logger, metrics, tracer
from loyalty.program.rules import current_program
from loyalty.redemption import redeem


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "summary_of" in event:  # the local stack asks for the summary of a run it started
        summary: dict[str, Any] = event["summary_of"]
        return summary
    summary = redeem.release_expired_holds(current_program())
    logger.info("hold release", extra=summary)
    return summary
