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
