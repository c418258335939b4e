"""The business metrics' dimensions: what one invocation adds never labels the next one's metrics."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest


def _records(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{") and '"_aws"' in line]


def test_a_dimension_does_not_outlive_an_invocation_that_published_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    """A job worker adds the dimension `job`; when its invocation counted nothing, Powertools published nothing
    and kept the dimension, so the next invocation in the process (another job's worker, or locally, where one
    process runs every function, an API function) published its metrics under `job=expiry` and Powertools
    warned `Dimension 'job' has already been added`."""
    from loyalty.kernel.observability import count, metrics

    @metrics.log_metrics
    def quiet_worker(event: dict[str, Any], context: Any) -> None:
        metrics.add_dimension(name="job", value="expiry")  # as jobs.runner.handle_batch does

    @metrics.log_metrics
    def other_worker(event: dict[str, Any], context: Any) -> None:
        metrics.add_dimension(name="job", value="tier_evaluation")
        count("TierUpgrades", program_id="demo")

    @metrics.log_metrics
    def api_function(event: dict[str, Any], context: Any) -> None:
        count("IdempotentReplays", program_id="demo")

    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither "already been added" nor "No application metrics to publish"
        quiet_worker({}, None)
        other_worker({}, None)
        quiet_worker({}, None)
        api_function({}, None)
    tiers, replays = _records(capsys.readouterr().out)
    assert tiers["job"] == "tier_evaluation" and tiers["TierUpgrades"] == [1.0]
    assert sorted(tiers["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) == ["job", "program", "service"]
    assert "job" not in replays and replays["IdempotentReplays"] == [1.0]
    assert sorted(replays["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) == ["program", "service"]


def test_a_traced_handler_runs_bare_when_tracing_is_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Disabled (POWERTOOLS_TRACE_DISABLED, as the local stack sets it), Powertools' decorator would still open a
    dummy subsegment and annotate it on every call: the handler runs without it."""
    from aws_lambda_powertools import Tracer
    from loyalty.kernel.observability import LazyTracer

    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    decorated: list[str] = []
    real = Tracer.capture_lambda_handler

    def spied(self: Tracer, handler: Any = None, **kwargs: Any) -> Any:
        decorated.append(getattr(handler, "__name__", ""))
        return real(self, handler, **kwargs)

    monkeypatch.setattr(Tracer, "capture_lambda_handler", spied)
    lazy = LazyTracer(service="probe")

    @lazy.capture_lambda_handler
    def handler(event: dict[str, Any], context: Any) -> str:
        return f"answered {event['n']}"

    assert [handler({"n": n}, None) for n in (1, 2)] == ["answered 1", "answered 2"]
    assert lazy.real.disabled and decorated == []


def test_a_traced_handler_runs_through_the_tracer_when_tracing_is_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """On (Lambda), the handler is decorated by the Tracer once, at its first call, and every call goes through
    it (a stand-in Tracer: the real one would patch botocore for the whole test process)."""
    from loyalty.kernel.observability import LazyTracer

    calls: list[str] = []

    class Enabled:
        disabled = False

        def capture_lambda_handler(self, handler: Any) -> Any:
            calls.append("decorated")

            def traced(event: dict[str, Any], context: Any) -> Any:
                calls.append("traced")
                return handler(event, context)

            return traced

    monkeypatch.setattr(LazyTracer, "real", property(lambda self: Enabled()))
    lazy = LazyTracer(service="probe")

    @lazy.capture_lambda_handler
    def handler(event: dict[str, Any], context: Any) -> str:
        return f"answered {event['n']}"

    assert calls == []
    assert [handler({"n": n}, None) for n in (1, 2)] == ["answered 1", "answered 2"]
    assert calls == ["decorated", "traced", "traced"]
