"""One place builds the Logger, Tracer and Metrics that every handler imports, and their helpers."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

Fn = TypeVar("Fn", bound=Callable[..., Any])


class LazyTracer:
    """Powertools' Tracer, built on the first traced call rather than at import.

    Building a Tracer imports the X-Ray SDK and patches the modules it traces, whether or not the process
    ever records a segment: a cost at every cold start, in tests and in the local stack. Here a decorated
    function runs through the real Tracer's decorator, built on its first call; only botocore is patched
    (every AWS call a subsegment), not `patch_all`'s list of libraries we do not use.
    """

    def __init__(self, service: str) -> None:
        self._service = service
        self._lock = threading.Lock()
        self._tracer: Any = None

    @property
    def real(self) -> Any:
        if self._tracer is None:
            with self._lock:
                if self._tracer is None:
                    from aws_lambda_powertools import Tracer

                    self._tracer = Tracer(service=self._service, patch_modules=["botocore"])
        return self._tracer

    def _lazily(self, fn: Fn, decorate: Callable[[Any, Fn], Fn]) -> Fn:
        traced: list[Fn] = []

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not traced:
                # disabled (POWERTOOLS_TRACE_DISABLED, the local stack), the Tracer's decorator would still open a
                # dummy subsegment and annotate it on every call, for nothing recorded: the function runs bare
                tracer = self.real
                traced.append(fn if tracer.disabled else decorate(tracer, fn))
            return traced[0](*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def capture_lambda_handler(self, fn: Fn) -> Fn:
        return self._lazily(fn, lambda tracer, f: tracer.capture_lambda_handler(f))

    def capture_method(self, fn: Fn) -> Fn:
        return self._lazily(fn, lambda tracer, f: tracer.capture_method(f))


logger = Logger(service="loyalty")
tracer = LazyTracer(service="loyalty")


class _EmfProvider(AmazonCloudWatchEMFProvider):
    """Powertools' CloudWatch EMF provider, except that an invocation that published nothing also ends clean.

    Powertools clears the dimensions only after publishing: a dimension added by an invocation that counted
    nothing (a job worker's `job`) stayed for the next invocation the process ran, whose metrics then went out
    under it (`Dimension 'job' has already been added` when the next was another job's worker; locally, where
    one process runs every function, an API function's metrics labelled `job=expiry`). And it warned "No
    application metrics to publish" for every request that counts nothing, most of them: that is no news."""

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        if not self.metric_set and not raise_on_empty_metrics:
            self.clear_metrics()
            return
        super().flush_metrics(raise_on_empty_metrics=raise_on_empty_metrics)


def _metrics(namespace: str, service: str) -> Metrics:
    made = Metrics(namespace=namespace, service=service)
    # the same sets as Metrics' own (shared by every instance in the process), flushed by _EmfProvider
    made.provider = _EmfProvider(
        namespace=namespace,
        service=service,
        metric_set=made.metric_set,
        dimension_set=made.dimension_set,
        metadata_set=made.metadata_set,
        default_dimensions=made.default_dimensions,
    )
    return made


metrics = _metrics(namespace="Loyalty", service="loyalty")

PROGRAM_DIMENSION = "program"


def count(name: str, value: int = 1, *, program_id: str) -> None:
    """A business metric (unit Count) with the programme id as a dimension.

    Flushed by `@metrics.log_metrics` on the handler (put it on every handler that calls this). Names in
    use: the stream processor's `Enrolments`, `PointsEarned`, `PointsReversed`, `PointsRedeemed`,
    `Redemptions`, `RedemptionsCancelled`, `PointsAdjusted`, `PointsExpired`, `TierUpgrades`,
    `TierDowngrades`, `EventsPublished`; the handlers' `IdempotentReplays`, `SignatureFailures`, `WriteRetries`
    (races a write lost and decided again: a hot member, or a hot account's pool).
    """
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
