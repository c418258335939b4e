"""One place builds the Logger, Tracer and Metrics that every handler imports, and their helpers."""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger(service="loyalty")
tracer = Tracer(service="loyalty")
metrics = Metrics(namespace="Loyalty", service="loyalty")

PROGRAM_DIMENSION = "program"


def count(name: str, value: int = 1, *, program_id: str | None = None) -> None:
    """A business metric (unit Count) with the programme id as a dimension.

    Flushed by `@metrics.log_metrics` on the handler (put it on every handler that calls this). Names in
    use: the stream processor's `Enrolments`, `PointsEarned`, `PointsReversed`, `PointsRedeemed`,
    `Redemptions`, `RedemptionsCancelled`, `PointsAdjusted`, `PointsExpired`, `TierUpgrades`,
    `TierDowngrades`, `EventsPublished`; the handlers' `IdempotentReplays`, `SignatureFailures`.
    """
    if program_id is None:
        from loyalty.program import current_program

        program_id = current_program().program_id
    if metrics.dimension_set.get(PROGRAM_DIMENSION) != program_id:
        metrics.add_dimension(name=PROGRAM_DIMENSION, value=program_id)
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+)")


def mask_email(text: str) -> str:
    """`jane.doe@example.com` → `j***@example.com`: enough to tell addresses apart in a log, no more."""
    return _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)


def masked(payload: Any) -> Any:
    """A copy of a payload fit for a log line: every e-mail address masked (keys and values)."""
    if isinstance(payload, str):
        return mask_email(payload)
    if isinstance(payload, dict):
        return {k: masked(v) for k, v in payload.items()}
    if isinstance(payload, list | tuple):
        return [masked(v) for v in payload]
    return payload
