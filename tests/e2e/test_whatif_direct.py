"""The replay engine's ways to DynamoDB change no answer. A simulated year replayed on moto with the fast path
(loyalty_local.direct: answered from botocore's `before-call`, each answer also parsed by botocore's own parser
and compared) and without it (botocore's whole HTTP round trip), on the tables in memory (loyalty_local.memtable,
the engine's default), and on both at once (every call made to the tables in memory and to moto, the answers
compared) gives the same outcome, every monthly figure, refusal, member figure and ledger line. (Its own file:
xdist runs it beside the other what-if tests.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.http import ROOT

MEMBERS = 12

# one programme's replay of the history in this subprocess's engine: its outcome and the fast path's counts
REPLAY = """
import gzip, json, sys
from loyalty.store.core import from_item
from loyalty_local import direct
from loyalty_local.whatif.history import requests_of
from loyalty_local.whatif.replay import run

def items():
    for line in gzip.open(sys.argv[1], "rt", encoding="utf-8"):
        record = json.loads(line)
        if "Item" in record:
            yield from_item(record["Item"])

outcome = run(open(sys.argv[2], encoding="utf-8").read(), requests_of(items()), daily=False)
from loyalty.store import core
dynamo = core.client("dynamodb")
print(json.dumps({
    "store": [type(dynamo).__name__, getattr(dynamo, "compared", getattr(dynamo, "calls", 0))],
    "months": outcome.months, "members": outcome.members, "ledger": outcome.ledger, "refused": outcome.refused,
    "refusals": outcome.refusals, "requests": outcome.requests, "jobs": len(outcome.jobs), "counts": direct.counts(),
}, default=str, sort_keys=True))
"""


@pytest.fixture(scope="module")
def simulated_year(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    command = [sys.executable, "-m", "simulator", "--members", str(MEMBERS), "--months", "13", "--out", str(out)]
    run = subprocess.run(
        [*command, "--no-chart", "--workers", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={k: v for k, v in os.environ.items() if k != "SIM_URL"},
    )
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    (history,) = out.glob("demo-*-history.jsonl.gz")
    return history


def _replay(history: Path, setting: str, store: str = "moto") -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "SIM_URL"}
    env["LOYALTY_ENGINE_DIRECT"] = setting
    env["LOYALTY_ENGINE_STORE"] = store
    run = subprocess.run(
        [sys.executable, "-c", REPLAY, str(history), str(ROOT / "programs" / "demo.yaml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return dict(json.loads(run.stdout.strip().splitlines()[-1]))


def test_the_fast_path_into_moto_changes_no_answer_of_a_replayed_year(simulated_year: Path) -> None:
    through_http = _replay(simulated_year, "0")
    fast = _replay(simulated_year, "check")
    assert through_http.pop("store")[0] == fast.pop("store")[0] != "MemoryDynamo"
    assert through_http.pop("counts") == {"fast": 0, "checked": 0}  # botocore's send, every call
    counts = fast.pop("counts")
    assert counts["checked"] == counts["fast"] > 1000, counts  # every fast answer equal to botocore's parse
    assert through_http["requests"] > 100 and through_http["members"]
    assert fast == through_http


def test_the_tables_in_memory_answer_a_replayed_year_as_moto_does(simulated_year: Path) -> None:
    on_moto = _replay(simulated_year, "1")
    in_memory = _replay(simulated_year, "1", store="memory")
    both = _replay(simulated_year, "1", store="check")
    assert on_moto.pop("store")[0] not in ("MemoryDynamo", "CheckedDynamo") and on_moto["counts"]["fast"] > 1000
    kind, calls = in_memory.pop("store")
    assert kind == "MemoryDynamo" and calls > 1000 and in_memory.pop("counts")["fast"] == 0
    kind, compared = both.pop("store")
    assert kind == "CheckedDynamo" and compared == calls  # every call of the year answered alike by both
    on_moto.pop("counts")
    both.pop("counts")
    assert on_moto["requests"] > 100 and on_moto["members"]
    assert in_memory == on_moto
    assert both == on_moto
