"""What if? (`python -m loyalty_local.whatif`): the recorded history replayed under two programmes.

- A simulated year: tests/e2e/test_whatif_year.py.
- Every kind of write a stack records, made over HTTP on a running stack, replays to the live table.
- A history whose table disagrees with its own ledger fails the reconciliation, and says where.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from tests.support.http import ADMIN, ROOT, LocalStackProcess

DEMO = ROOT / "programs" / "demo.yaml"


def _candidate(tmp_path: Path, silver: int) -> Path:
    text = (
        DEMO.read_text()
        .replace("threshold: 1000", f"threshold: {silver}")
        .replace("program_id: demo", "program_id: demo-silver")
    )
    path = tmp_path / "candidate.yaml"
    path.write_text(text)
    return path


def _what_if(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loyalty_local.whatif", "--no-chart", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )


def _export(path: Path) -> tuple[str | None, list[dict[str, Any]]]:
    plain = TypeDeserializer()
    program, items = None, []
    for line in gzip.decompress(path.read_bytes()).decode().splitlines():
        record = json.loads(line)
        if "Program" in record:
            program = record["Program"]
        else:
            items.append({k: plain.deserialize(v) for k, v in record["Item"].items()})
    return program, items


def _sign(body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    t = str(int(time.time()))
    digest = hmac.new(b"demo-partner-secret", t.encode() + b"." + raw, hashlib.sha256).hexdigest()
    return raw, {"Loyalty-Signature": f"t={t},v1={digest}"}


@pytest.fixture(scope="module")
def every_kind() -> Iterator[LocalStackProcess]:
    stack = LocalStackProcess()
    yield stack
    stack.stop()


def test_every_kind_of_write_replays_to_the_live_table(every_kind: LocalStackProcess, tmp_path: Path) -> None:
    api = every_kind.client

    def ok(answer: Any, status: int = 201) -> Any:
        assert answer.status == status, answer.raw
        return answer.json

    def job(name: str, as_of: str | None = None) -> None:
        ok(api.post(f"/_local/jobs/{name}", {"as_of": as_of} if as_of else {}, key=None), 200)

    def partner(path: str, body: dict[str, Any], status: int = 201) -> None:
        raw, headers = _sign(body)
        ok(api.request("POST", f"/v1/partners/demo-partner{path}", raw=raw, key=None, headers=headers), status)

    # a member of today, written before the clock was put back a year (the README's walk, then `make seed`):
    # the monthly runs below, at clock times before it enrolled, must not judge it, live or in the replay
    api.set_clock(None)
    api.enroll("today-1")
    ok(api.post("/v1/earn", {"member_id": "today-1", "order_id": "o-today", "amount": "20.00", "currency": "USD"}))
    api.set_clock("2026-01-05T10:00:00Z")
    for member_id in ("k1", "k3", "k4", "k5"):
        api.enroll(member_id)
    api.enroll("k2", referred_by="k1", birth_date="1990-04-01")
    lines = [{"sku": "tv", "category": "electronics", "amount": "180.00", "quantity": 1}]
    ok(
        api.post(
            "/v1/earn", {"member_id": "k1", "order_id": "o1", "amount": "180.00", "currency": "USD", "items": lines}
        )
    )
    ok(
        api.post(
            "/v1/earn", {"member_id": "k2", "order_id": "o2", "amount": "50.00", "currency": "USD", "channel": "app"}
        )
    )
    basket = [
        {"sku": "latte", "category": "drinks", "amount": "4.50", "quantity": 1},
        {"sku": "sandwich", "category": "food", "amount": "8.00", "quantity": 1},
    ]
    order = {
        "member_id": "k1",
        "order_id": "c1",
        "currency": "USD",
        "items": basket,
        "rewards": ["free-drink"],
        "points": 100,
    }
    ok(api.post("/v1/checkout/orders", order))
    ok(api.post("/v1/refunds", {"member_id": "k1", "order_id": "c1", "refund_id": "r1", "amount": "3.00"}))
    ok(api.post("/v1/refunds", {"member_id": "k1", "order_id": "o1", "refund_id": "r2", "amount": "60.00"}))
    ok(api.post("/v1/activities", {"member_id": "k3", "activity_id": "a1", "type": "review"}))
    for member_id in ("k3", "k4"):
        adjustment = {"adjustment_id": f"adj-{member_id}", "points": 1500, "reason": "welcome back"}
        ok(api.post(f"/v1/members/{member_id}/adjustments", adjustment, key=ADMIN))
    partner("/redemptions", {"redemption_id": "p1", "member_id": "k3", "reward_id": "coffee"})
    partner("/redemptions", {"redemption_id": "p2", "member_id": "k3", "reward_id": "free-item"})
    api.set_clock("2026-01-06T10:00:00Z")
    partner("/redemptions/p1/cancel", {}, 200)
    for redemption_id in ("h1", "h2", "h3"):
        hold = {"redemption_id": redemption_id, "member_id": "k4", "points": 100, "capture": False}
        ok(api.post("/v1/redemptions", hold))
    ok(api.post("/v1/redemptions", {"redemption_id": "h4", "member_id": "k3", "points": 200}))
    ok(api.post("/v1/redemptions/h1/capture"), 200)
    ok(api.post("/v1/redemptions/h2/void"), 200)
    api.set_clock("2026-01-06T10:45:00Z")
    job("hold-release")  # h3's hold ends here
    ok(api.post("/v1/members/k5/tier", {"tier_id": "gold", "reason": "vip", "until": "2026-03-01"}, key=ADMIN), 200)
    ok(api.post("/v1/members/k4/subscriptions", {"subscription_id": "s1", "tier_id": "silver", "months": 1}, key=ADMIN))

    # what a merge by time and member id alone would get wrong, each in one instant (the review's cases)
    api.set_clock("2026-01-07T10:00:00Z")
    api.enroll("zz-ref")
    api.enroll("aa-new", referred_by="zz-ref")  # referred by a member enrolled the same instant, id after it
    api.enroll("s2a")
    api.enroll("s2b", referred_by="s2a")
    # a suspension lifted later: the referral its referred member's first order made meanwhile paid nothing
    # (two members' writes in one instant have no order the table can tell: these are a minute apart)
    api.set_clock("2026-01-07T10:01:00Z")
    ok(api.post("/v1/members/s2a/status", {"status": "suspended", "reason": "check"}, key=ADMIN), 200)
    api.set_clock("2026-01-07T10:02:00Z")
    ok(api.post("/v1/earn", {"member_id": "s2b", "order_id": "o-s2b", "amount": "20.00", "currency": "USD"}))
    api.set_clock("2026-01-07T10:03:00Z")
    ok(api.post("/v1/members/s2a/status", {"status": "active", "reason": "cleared"}, key=ADMIN), 200)
    api.set_clock("2026-01-07T10:04:00Z")
    api.enroll("s3")
    ok(api.post("/v1/earn", {"member_id": "s3", "order_id": "o-s3", "amount": "100.00", "currency": "USD"}))
    ok(
        api.post(
            "/v1/members/s3/subscriptions", {"subscription_id": "s3-1", "tier_id": "silver", "months": 2}, key=ADMIN
        )
    )
    api.enroll("s4")
    ok(api.post("/v1/members/s4/adjustments", {"adjustment_id": "a-s4", "points": 500, "reason": "x"}, key=ADMIN))
    ok(api.post("/v1/redemptions", {"redemption_id": "h-s4", "member_id": "s4", "points": 100, "capture": False}))
    ok(api.post("/v1/members/s4/status", {"status": "closed", "reason": "left"}, key=ADMIN), 200)
    api.enroll("ka")
    ok(api.post("/v1/redemptions", {"redemption_id": "h-ka", "member_id": "ka", "points": 100, "capture": False}))
    api.enroll("kb", referred_by="ka")
    api.set_clock("2026-01-07T10:05:00Z")
    ok(api.post("/v1/earn", {"member_id": "kb", "order_id": "o-kb", "amount": "10.00", "currency": "USD"}))
    partner("/redemptions", {"redemption_id": "p-ka", "member_id": "ka", "reward_id": "coffee"})  # the bonus pays
    ok(api.post("/v1/redemptions/h-ka/capture"), 200)
    api.set_clock("2026-01-07T10:31:00Z")
    job("hold-release")  # the closed member's hold: released with no ledger line
    # an account and a transfer, which the replay does not replay: their members are said to be unreconciled,
    # neither passed nor failed (and kept in one group with whom they are tied: the pool, the other side)
    api.set_clock("2026-01-08T10:00:00Z")
    for member_id in ("ac1", "tx1", "tx2"):
        api.enroll(member_id)
    account = {"account_id": "house", "kind": "household", "name": "House", "member_share_percent": 50}
    ok(api.post("/v1/accounts", account, key=ADMIN))
    ok(api.post("/v1/accounts/house/members", {"member_id": "ac1", "role": "owner"}, key=ADMIN), 200)
    ok(api.post("/v1/earn", {"member_id": "ac1", "order_id": "o-ac1", "amount": "80.00", "currency": "USD"}))
    ok(api.post("/v1/transfers", {"transfer_id": "t1", "from_member_id": "tx1", "to_member_id": "tx2", "points": 50}))
    api.set_clock("2026-02-01T00:05:00Z")
    job("expiry", "2026-02-01")
    job("tier-evaluation", "2026-02-01")
    api.set_clock("2026-02-10T09:00:00Z")
    ok(api.post("/v1/earn", {"member_id": "k5", "order_id": "o5", "amount": "40.00", "currency": "USD"}))
    ok(api.post("/v1/members/k2/status", {"status": "suspended", "reason": "fraud check"}, key=ADMIN), 200)
    ok(api.post("/v1/members/k3/status", {"status": "closed", "reason": "asked to leave"}, key=ADMIN), 200)
    ok(api.request("DELETE", "/v1/members/k4", key=ADMIN), 200)
    api.set_clock("2026-03-01T00:05:00Z")
    job("expiry", "2026-03-01")
    job("tier-evaluation", "2026-03-01")

    saved = tmp_path / "history.jsonl.gz"
    run = _what_if(
        "--program",
        str(_candidate(tmp_path, 1800)),
        "--url",
        api.base,
        "--save-history",
        str(saved),
        "--out",
        str(tmp_path),
    )
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    (path,) = tmp_path.glob("candidate-*.json")
    summary = json.loads(path.read_text())
    assert summary["reconciliation"]["equal"], summary["reconciliation"]
    unreplayed = summary["reconciliation"]["unreplayed"]
    assert (unreplayed["members"], unreplayed["differing"], unreplayed["listed"]) == (3, 3, ["ac1", "tx1", "tx2"])
    assert "NOT RECONCILED: 3 members in an account or a transfer" in run.stdout
    assert summary["reconciliation"]["members"] == summary["history"]["members"] - 3
    assert set(summary["history"]["requests"]) == {
        "enrol",
        "earn",
        "checkout",
        "refund",
        "activity",
        "adjust",
        "partner_redeem",
        "partner_cancel",
        "pay_with_points",
        "capture",
        "void",
        "release",
        "override",
        "subscribe",
        "suspend",
        "reactivate",
        "close",
        "erase",
    }
    assert summary["history"]["derived_entries"].keys() >= {"signup", "referral", "checkout_reward", "checkout_points"}
    assert summary["refused"] == {"current": {}, "candidate": {}}

    # the same history read as a deployed table is (a read-only Scan, here of the stack's embedded AWS): the
    # same requests, the same result, and the table it read is left as it was
    door = re.search(r"for tools outside it: (http://127\.0\.0\.1:\d+)", every_kind.output_from_start())
    assert door, every_kind.output()
    before = every_kind.table_items()
    scanned = subprocess.run(
        [
            sys.executable,
            "-m",
            "loyalty_local.whatif",
            "--no-chart",
            "--program",
            str(DEMO),
            "--table",
            "LoyaltyTable",
            "--endpoint",
            door.group(1),
            "--current",
            str(DEMO),
            "--out",
            str(tmp_path / "scan"),
            "--group-members",
            "1",  # each group of tied members in an engine of its own
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={
            **os.environ,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "us-east-1",
        },
    )
    assert scanned.returncode == 0, scanned.stdout + scanned.stderr[-3000:]
    assert "read LoyaltyTable [" in scanned.stderr  # the progress bar of the scan
    (by_scan,) = (tmp_path / "scan").glob("*.json")
    scan_summary = json.loads(by_scan.read_text())
    assert scan_summary["history"] == summary["history"]
    # replayed group by group, under the demo twice: the same figures as the replay in one engine
    assert re.search(r"in (\d+) shards of up to 1 members", scanned.stderr)
    assert scan_summary["reconciliation"] == summary["reconciliation"]
    assert scan_summary["totals"]["current"] == summary["totals"]["current"]
    assert [m["current"] for m in scan_summary["months"]] == [m["current"] for m in summary["months"]]
    assert every_kind.table_items() == before

    # the same history, its table made to disagree with its ledger: the reconciliation says where
    program, items = _export(saved)
    lines_out = [json.dumps({"Program": program})]
    typed = TypeSerializer()
    for item in items:
        if item.get("kind") == "member" and item["member_id"] == "k1":
            item["available"] += 7
        lines_out.append(json.dumps({"Item": {k: typed.serialize(v) for k, v in item.items()}}))
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("\n".join(lines_out) + "\n")
    bad = _what_if("--program", str(DEMO), "--history", str(tampered), "--out", str(tmp_path / "bad"))
    assert bad.returncode == 1, bad.stdout + bad.stderr[-3000:]
    assert "RECONCILIATION FAILED: 1 differences" in bad.stdout
    (bad_summary,) = (tmp_path / "bad").glob("*.json")
    listed = json.loads(bad_summary.read_text())["reconciliation"]["listed"]
    assert [(d["member_id"], d["figure"], d["live"] - d["replay"]) for d in listed] == [("k1", "available", 7)]


def test_what_if_refuses_bad_input_before_replaying(tmp_path: Path) -> None:
    missing = _what_if("--program", str(DEMO), "--history", str(tmp_path / "nothing.jsonl"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("program_id: x\n")
    bad_program = _what_if("--program", str(broken), "--history", str(tmp_path / "nothing.jsonl"))
    assert bad_program.returncode == 2 and "--program" in bad_program.stderr
    nobody = _what_if("--program", str(DEMO), "--url", "http://127.0.0.1:9")
    assert nobody.returncode == 2 and "no local stack answers" in nobody.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text(json.dumps({"Program": "bundled:demo"}) + "\n")
    no_history = _what_if("--program", str(DEMO), "--history", str(empty))
    assert no_history.returncode == 2 and "holds no history" in no_history.stderr
