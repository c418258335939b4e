"""What if? A simulated year (the simulator in process, a producer of history) replays under the current
programme to exactly the live members and ledgers, and a candidate with a higher silver threshold moves
exactly the members an independent tier calculation says it should. (Its own file: xdist runs it beside
the other what-if tests.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_whatif import _candidate, _export, _what_if
from tests.support.http import ROOT

THRESHOLDS = {"red": 0, "silver": 1000, "gold": 2500}  # the demo's, base points over 12 months
ORDER = ("red", "silver", "gold")
MEMBERS = 60


def _at(value: Any) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


def _month(at: datetime) -> str:
    return f"{at.year:04d}-{at.month:02d}"


def _window(qualifying: dict[str, int], last: str) -> int:
    year, month = int(last[:4]), int(last[5:7])
    first_index = year * 12 + month - 1 - 11
    return sum(
        v for m, v in qualifying.items() if first_index <= int(m[:4]) * 12 + int(m[5:7]) - 1 <= year * 12 + month - 1
    )


def _qualified(value: int, thresholds: dict[str, int]) -> str:
    return [t for t in ORDER if value >= thresholds[t]][-1]


def expected_tiers(items: list[dict[str, Any]], silver: int) -> dict[str, str]:
    """Each member's tier at the end, worked out here from the ledger and the evaluation runs alone, by the
    demo's rules: an earn upgrades at once when the 12 months up to its month reach a higher tier; the run
    of the 1st of month N upgrades to what months N-12..N-1 reach, or goes one tier down when they are
    below the current tier's threshold (unless that tier was reached after the run's day began)."""
    thresholds = {**THRESHOLDS, "silver": silver}
    earns = {str(i["key"]): i for i in items if i.get("kind") == "entry" and i["type"] == "earn"}
    runs = [_at(i["started_at"]) for i in items if i.get("kind") == "job_status" and i["job"] == "tier-evaluation"]
    members = {str(i["member_id"]): i for i in items if i.get("kind") == "member"}
    out = {}
    for member_id, member in members.items():
        events: list[tuple[datetime, int, str, dict[str, Any] | None]] = [(r, 0, "evaluate", None) for r in runs]
        for entry in items:
            if (
                entry.get("kind") == "entry"
                and entry["member_id"] == member_id
                and entry["type"] in ("earn", "reversal")
            ):
                events.append((_at(entry["recorded_at"]), int(entry["seq"]), entry["type"], entry))
        tier, reached, qualifying = "red", _at(member["enrolled_at"]), {}
        for at, _, what, entry in sorted(events, key=lambda e: (e[0], e[1])):
            if at < _at(member["enrolled_at"]):
                continue
            if what == "earn":
                assert entry is not None
                month = _month(_at(entry["occurred_at"]))
                qualifying[month] = qualifying.get(month, 0) + int(entry["details"]["base"])
                target = _qualified(_window(qualifying, _month(at)), thresholds)
                if ORDER.index(target) > ORDER.index(tier):
                    tier, reached = target, at
            elif what == "reversal":
                assert entry is not None
                order = earns[f"earn#{entry['details']['order_id']}"]
                month = _month(_at(order["occurred_at"]))
                if month in qualifying:
                    qualifying[month] = max(0, qualifying[month] + int(entry["details"]["base"]))
            else:
                day = at.replace(hour=0, minute=0, second=0, microsecond=0)
                previous = _month(datetime(day.year - (day.month == 1), (day.month - 2) % 12 + 1, 1, tzinfo=UTC))
                value = _window(qualifying, previous)
                qualified = _qualified(value, thresholds)
                if ORDER.index(qualified) > ORDER.index(tier):
                    tier, reached = qualified, day
                elif value < thresholds[tier] and not reached > day:
                    tier, reached = ORDER[ORDER.index(tier) - 1], day
        out[member_id] = tier
    return out


@pytest.fixture(scope="module")
def simulated_year(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated year of MEMBERS members, run by the simulator through the engine, group by group in worker
    processes, its shards' histories joined into one export."""
    out = tmp_path_factory.mktemp("sim")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "simulator",
            "--members",
            str(MEMBERS),
            "--months",
            "13",
            "--out",
            str(out),
            "--no-chart",
            "--group-members",
            "15",  # simulated in shards on two workers: the joined history must replay to its table
            "--workers",
            "2",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={k: v for k, v in os.environ.items() if k != "SIM_URL"},
    )
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert "[ok] every ledger adds up to its balance" in run.stdout
    assert not run.stdout.lstrip().startswith("{"), "the functions' output leaked into the summary"
    (history,) = out.glob("demo-*-history.jsonl.gz")
    return history


def test_a_simulated_year_replays_to_the_live_ledger_and_a_higher_silver_threshold_moves_whom_it_should(
    simulated_year: Path, tmp_path: Path
) -> None:
    program, items = _export(simulated_year)
    assert program is not None and "program_id: demo" in program  # the export names the programme it ran
    live = {str(i["member_id"]): str(i["tier_id"]) for i in items if i.get("kind") == "member"}
    assert len(live) == MEMBERS
    # the simulator's own summary (its monthly reads of the members, in process) is what the table holds
    (sim_summary,) = simulated_year.parent.glob("demo-*[0-9].json")
    sim = json.loads(sim_summary.read_text())
    members = [i for i in items if i.get("kind") == "member"]
    for name in ("earned", "redeemed", "expired"):
        assert sim["points"][name] == sum(int(m[f"lifetime_{name}"]) for m in members)
    assert sim["points"]["outstanding"] == sum(int(m["available"]) + int(m["pending"]) for m in members)
    assert sim["members_per_tier"] == {t: list(live.values()).count(t) for t in ORDER}
    # the oracle agrees with the product about the year as it happened
    assert expected_tiers(items, 1000) == live
    candidate = expected_tiers(items, 1800)
    moved = {m: (live[m], candidate[m]) for m in live if live[m] != candidate[m]}
    assert moved, "a year where a higher silver threshold moves nobody proves nothing"

    candidate_file = _candidate(tmp_path, 1800)
    run = _what_if(
        "--program",
        str(candidate_file),
        "--history",
        str(simulated_year),
        "--out",
        str(tmp_path),
        "--group-members",
        "0",
    )
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert "in 1 shards of up to all members" in run.stderr  # the unsharded replay: one engine each
    (path,) = tmp_path.glob("candidate-*.json")
    summary = json.loads(path.read_text())

    # the same history replayed group by group (a few members an engine, two workers): the same report,
    # every monthly figure, every tier move and the reconciliation member by member
    sharded = _what_if(
        "--program",
        str(candidate_file),
        "--history",
        str(simulated_year),
        "--out",
        str(tmp_path / "sharded"),
        "--group-members",
        "8",
        "--workers",
        "2",
    )
    assert sharded.returncode == 0, sharded.stdout + sharded.stderr[-3000:]
    shards = re.search(r"(\d+) groups of members \(the largest (\d+)\) in (\d+) shards", sharded.stderr)
    assert shards and int(shards[3]) >= MEMBERS // 8, sharded.stderr[-3000:]
    assert re.search(r"members/s per core; a worker's peak memory \d+ MB", sharded.stderr)
    (sharded_path,) = (tmp_path / "sharded").glob("candidate-*.json")
    by_shards = json.loads(sharded_path.read_text())
    assert {k: v for k, v in by_shards.items() if k != "seconds"} == {
        k: v for k, v in summary.items() if k != "seconds"
    }

    rec = summary["reconciliation"]
    assert rec == {"members": MEMBERS, "equal": True, "differences": 0, "listed": []}
    assert f"equals the live table for all {MEMBERS} members" in run.stdout
    got = {m["member_id"]: (m["current"], m["candidate"]) for m in summary["tier_moves"]["listed"]}
    assert got == moved
    assert summary["tier_moves"]["members"] == len(moved)

    # the side by side adds up: the same history, the figures of each run from its own ledger and members
    months = summary["months"]
    assert months[0]["month"] == "2026-01" and len(months) >= 13
    for side in ("current", "candidate"):
        running = 0  # each month's flows, counted up to its snapshot, add up to its outstanding points
        for month in months:
            figures = month[side]
            running += figures["issued"] - figures["redeemed"] - figures["expired"]
            running += figures["adjusted"] - figures["reversed"]
            assert running == figures["outstanding"], (side, month["month"])
        totals = summary["totals"][side]
        flows = totals["issued"] - totals["redeemed"] - totals["expired"] - totals["reversed"] + totals["adjusted"]
        assert flows == totals["outstanding"] == months[-1][side]["outstanding"]
        assert sum(totals["tiers"].values()) == MEMBERS
        assert totals["liability"] == f"{totals['outstanding'] / 100:.2f}"
    assert summary["totals"]["current"]["tiers"] == {t: n for t in ORDER if (n := list(live.values()).count(t))}
    # silver pays 1.5x: members kept out of it earn fewer points, never more
    assert summary["totals"]["candidate"]["issued"] < summary["totals"]["current"]["issued"]
    assert summary["history"]["requests"]["earn"] > 0 and summary["history"]["job_runs"] >= 24
