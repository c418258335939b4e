"""Daily job `pending-activation`: pending points whose return window has passed become spendable."""

from __future__ import annotations

from datetime import date
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from loyalty.earning import earn
from loyalty.kernel.clock import utcnow
from loyalty.kernel.errors import ValidationFailed
from loyalty.kernel.observability import logger, tracer
from loyalty.program.rules import current_program

JOB = "pending-activation"


def _as_of(event: dict[str, Any]) -> date:
    raw = event.get("as_of")
    if raw is None:
        return utcnow().date()
    try:
        as_of = date.fromisoformat(str(raw))
    except ValueError:
        raise ValidationFailed.field("as_of", "not a date (YYYY-MM-DD)") from None
    # the monthly jobs' rule (loyalty.jobs.runner.as_of_from, not imported: it would double this cold start);
    # a far-future date also overflowed the date arithmetic downstream, a crash instead of a 422
    today = utcnow().date()
    if as_of > today:
        raise ValidationFailed.field("as_of", f"{as_of.isoformat()} is later than today ({today.isoformat()})")
    return as_of


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "summary_of" in event:  # the local stack asks for the summary once queues are drained: no queues here
        return dict(event["summary_of"])
    as_of = _as_of(event)
    summary = {"job": JOB, "as_of": as_of.isoformat(), **earn.activate_due_pending(current_program(), as_of)}
    logger.info("pending points activated", extra=summary)
    return summary
