"""The hot pool: 20 tills earning at once into one account's pool, beside 20 tills earning for 20 members alone,
in the same run, on the local stack over HTTP (`python -m loyalty_local`, as `make run` starts it).

A pool's ledger is in order (each entry's `balance_after`), so its writes are serial: each earn reads the pool
and writes it under its version, and a till that lost the race decides again (`WriteRetries`, the handlers'
metric, read here from the stack's own log). The stack is one process, whose tills of one pool take turns
(loyalty.kernel.turns): the races lost stay near 0, and the bench fails under 50 earns a second into the pool.
Figures per side: earns per second, the latency of an earn (p50, p99, max, ms), the races lost per earn, the
statuses answered. Afterwards the pool's balance must
equal its ledger's sum and the sum of the pool parts the answers gave: any difference fails the bench.
"""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from bench.localstack import StackProcess
from loyalty_local.template import ROOT

ADMIN = {"Authorization": "Bearer lk_local_admin", "Content-Type": "application/json"}
TILL = {"Authorization": "Bearer lk_local_checkout", "Content-Type": "application/json"}
CLIENTS = 20

FULL: dict[str, Any] = {"earns_per_client": 25}
QUICK: dict[str, Any] = {"earns_per_client": 10}


def _call(conn: http.client.HTTPConnection, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    raw = response.read()
    return response.status, json.loads(raw) if raw else None


def _retries(log: Any, start: int) -> int:
    """`WriteRetries` the stack's handlers reported (their EMF lines) since byte `start` of its log."""
    log.seek(start)
    lost = 0
    for line in log.read().decode("utf-8", "replace").splitlines():
        if '"WriteRetries"' not in line or not line.startswith("{"):
            continue
        try:
            values = json.loads(line).get("WriteRetries")
        except ValueError:
            continue
        lost += int(sum(values) if isinstance(values, list) else values or 0)
    return lost


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _side(stack: StackProcess, members: list[str], earns: int, tag: str) -> dict[str, Any]:
    """`CLIENTS` clients, one keep-alive connection each, `earns` orders each, all started together."""
    timings: list[float] = []
    statuses: dict[int, int] = {}
    parts: list[int] = []
    lock = threading.Lock()
    gate = threading.Barrier(len(members))

    def till(member_id: str) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=120)
        gate.wait()
        for n in range(earns):
            order = {"member_id": member_id, "order_id": f"{tag}-{member_id}-{n}", "amount": "15.00", "currency": "USD"}
            began = time.perf_counter()
            status, body = _call(conn, "POST", "/v1/earn", order, TILL)
            took = (time.perf_counter() - began) * 1000
            with lock:
                timings.append(took)
                statuses[status] = statuses.get(status, 0) + 1
                if status == 201 and body.get("account"):
                    parts.append(int(body["account"]["points"]))
        conn.close()

    log_start = stack.log.seek(0, 2)
    began = time.perf_counter()
    threads = [threading.Thread(target=till, args=(m,)) for m in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    time.sleep(0.2)  # the last handler's metrics line reaches the log
    lost = _retries(stack.log, log_start)
    count = len(timings)
    return {
        "earns": count,
        "earns_per_s": round(count / seconds, 1),
        "ms": {
            "p50": round(statistics.median(timings), 1),
            "p99": round(_percentile(timings, 0.99), 1),
            "max": round(max(timings), 1),
        },
        "retries_per_earn": round(lost / count, 2),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "pool_parts": sum(parts),
    }


def measure(quick: bool, log: Any = None) -> dict[str, Any]:
    settings = QUICK if quick else FULL
    earns = int(settings["earns_per_client"])
    stack = StackProcess(Path(ROOT))
    try:
        run = uuid.uuid4().hex[:6]
        account = f"bench-pool-{run}"
        pooled = [f"bench-till-{run}-{i}" for i in range(CLIENTS)]
        alone = [f"bench-alone-{run}-{i}" for i in range(CLIENTS)]
        # the share keeps 1 of each order's 15 points with the member; 900 qualifying a till stays below silver
        company = {"account_id": account, "kind": "company", "name": "Bench Ltd", "member_share_percent": 10}
        conn = stack.conn
        assert _call(conn, "POST", "/v1/accounts", company, ADMIN)[0] == 201
        for member_id in (*pooled, *alone):
            assert _call(conn, "POST", "/v1/members", {"member_id": member_id, "channel": "pos"}, TILL)[0] == 201
        for member_id in pooled:
            joined = {"member_id": member_id, "role": "buyer"}
            assert _call(conn, "POST", f"/v1/accounts/{account}/members", joined, ADMIN)[0] == 200
        if log:
            log(f"  {CLIENTS} tills x {earns} earns into one pool, then for {CLIENTS} members alone")
        one_pool = _side(stack, pooled, earns, "pool")
        separate = _side(stack, alone, earns, "alone")
        _, view = _call(conn, "GET", f"/v1/accounts/{account}", None, ADMIN)
        entries: list[dict[str, Any]] = []
        cursor = ""
        while True:
            _, page = _call(conn, "GET", f"/v1/accounts/{account}/ledger?limit=100{cursor}", None, ADMIN)
            entries.extend(page["entries"])
            if not page["next_cursor"]:
                break
            cursor = f"&cursor={page['next_cursor']}"
        balance = int(view["points"]["available"])
        ledger_sum = sum(int(e["points"]) for e in entries)
        return {
            "clients": CLIENTS,
            "earns_per_client": earns,
            "one_pool": one_pool,
            "separate_members": separate,
            "pool_check": {
                "balance": balance,
                "ledger_sum": ledger_sum,
                "answered_parts": one_pool["pool_parts"],
                "holds": balance == ledger_sum == one_pool["pool_parts"],
            },
        }
    finally:
        stack.stop()


POOL_EARNS_PER_S = 50  # issue 31's bar: 50 earns a second into one pool, sustained, with no error a till sees


def broken_budgets(results: dict[str, Any]) -> list[str]:
    """Every earn answers 201; the pool's balance equals its ledger's sum and the parts answered; one pool
    takes at least `POOL_EARNS_PER_S` earns a second."""
    pool = results.get("hot_pool")
    if not pool:
        return []
    out = []
    for side in ("one_pool", "separate_members"):
        statuses = pool[side]["statuses"]
        if set(statuses) != {"201"}:
            out.append(f"hot pool: {side} answered {statuses} (every earn must answer 201)")
    if pool["one_pool"]["earns_per_s"] < POOL_EARNS_PER_S:
        out.append(f"hot pool: {pool['one_pool']['earns_per_s']} earns/s into one pool (budget {POOL_EARNS_PER_S})")
    if not pool["pool_check"]["holds"]:
        out.append(f"hot pool: the pool's figures disagree: {pool['pool_check']}")
    return out
