"""`python -m simulator` on a small year (20 members, 3 months) against a stack of its own; its summary
must agree with itself and with what GET /v1/members/{id} shows for every simulated member."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.http import ROOT, LocalStackProcess


@pytest.fixture(scope="module")
def sim_stack() -> Iterator[LocalStackProcess]:
    process = LocalStackProcess("--program", "programs/demo.yaml")
    yield process
    process.stop()


def test_a_small_simulated_year_adds_up(sim_stack: LocalStackProcess, tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "simulator", "--members", "20", "--months", "3", "--out", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "SIM_URL": sim_stack.client.base},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert "Breakage rate (expired / earned)" in run.stdout and "Outstanding liability" in run.stdout
    (path,) = tmp_path.glob("demo-*.json")
    summary = json.loads(path.read_text())
    points = summary["points"]

    assert summary["errors"] == 0 and summary["consistent"], summary["checks"]
    assert points["earned"] - points["redeemed"] - points["expired"] == points["outstanding"]
    assert points["earned"] > 0 and summary["activity"]["orders"] > 0
    assert summary["activity"]["enrolments"] == 20 == summary["members"]
    assert [m["month"] for m in summary["monthly"]] == ["2026-01", "2026-02", "2026-03"]

    # the same figures, read by the test itself from the API
    api = sim_stack.client
    views = [api.get(f"/v1/members/{member_id}").json for member_id in summary["member_ids"]]
    assert len(views) == 20
    for name in ("lifetime_earned", "lifetime_redeemed", "lifetime_expired"):
        assert sum(v["points"][name] for v in views) == points[name.removeprefix("lifetime_")]
    assert sum(v["points"]["available"] + v["points"]["pending"] for v in views) == points["outstanding"]
    tiers = Counter(v["tier"]["id"] for v in views)
    assert {t: tiers.get(t, 0) for t in summary["members_per_tier"]} == summary["members_per_tier"]
    liability = (Decimal(points["outstanding"]) * Decimal("0.01")).quantize(Decimal("0.01"))  # demo's point_value
    assert summary["liability"] == str(liability)

    try:
        import matplotlib  # noqa: F401 - the chart needs the `sim` extra
    except ImportError:
        assert "Chart skipped" in run.stderr
    else:
        (png,) = tmp_path.glob("demo-*.png")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _simulate(out: Path, *extra: str) -> dict[str, Any]:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "simulator",
            "--members",
            "30",
            "--months",
            "4",
            "--out",
            str(out),
            "--no-chart",
            *extra,
        ],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "SIM_URL"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert re.search(r"members/s per core; a worker's peak memory \d+ MB", run.stderr), run.stderr[-3000:]
    (path,) = out.glob("demo-*[0-9].json")
    summary: dict[str, Any] = json.loads(path.read_text())
    return summary


def test_a_year_simulated_group_by_group_is_the_year_simulated_in_one_engine(tmp_path: Path) -> None:
    """The same plan (programme, size, seed) in one engine, and in shards of a few members on two workers,
    their figures summed month by month: the same summary, and a joined history with each job run once."""
    whole = _simulate(tmp_path / "whole", "--group-members", "0")
    sharded = _simulate(tmp_path / "sharded", "--group-members", "4", "--workers", "2")
    assert sharded["consistent"] and sharded["checks"] == whole["checks"]
    assert whole["activity"].get("referrals", 0) > 0  # members a referral ties were kept together
    # member ids carry a tag of the run; every figure is the seed's
    assert {k: v for k, v in sharded.items() if k != "member_ids"} == {
        k: v for k, v in whole.items() if k != "member_ids"
    }
    (history,) = (tmp_path / "sharded").glob("demo-*-history.jsonl.gz")
    records = [json.loads(line) for line in gzip.decompress(history.read_bytes()).decode().splitlines()]
    assert "Program" in records[0] and sum(1 for r in records if "Program" in r) == 1
    runs = Counter(
        (r["Item"]["job"]["S"], r["Item"]["as_of"]["S"])
        for r in records
        if r.get("Item", {}).get("PK", {}).get("S") == "JOBRUNS"
    )
    assert runs and set(runs.values()) == {1}
    assert sum(1 for r in records if r.get("Item", {}).get("kind", {}).get("S") == "member") == 30
