"""Webhooks under a burst: 10,000 events fanned out to 5 endpoints on the local stack (`python -m loyalty_local`,
as `make run` starts it), once with every endpoint healthy and once with one of them failing, in the same run.

The events are enrolments (each publishes one `MemberEnrolled`, the endpoints' one type), sent by 4 clients at
once as fast as the stack takes them. The receivers run in this process; each records when each `webhook-id`
arrived. A message's delay is from the moment its enrolment was answered to the moment the receiver got it: the
outbox, the bus, the queues, the dispatcher and the attempt, what a receiver waits. The failing endpoint answers
500 at once, so it is retried 5 s later, and again, and its retries share the queue and the stack with the healthy
endpoints' first attempts.

The bar (issue 25): the healthy endpoints' delay, p50 and p99, stays within 2× of the run with no failing endpoint;
and every healthy endpoint gets every event.
"""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.localstack import StackProcess
from loyalty_local.template import ROOT

ADMIN = {"Authorization": "Bearer lk_local_admin", "Content-Type": "application/json"}
ENDPOINTS = 5
CLIENTS = 4
FULL: dict[str, Any] = {"events": 10_000}
QUICK: dict[str, Any] = {"events": 500}
RATIO_MAX = 2.0


class Receivers:
    """`count` receivers on 127.0.0.1; `failing` ones answer 500. Each records (webhook-id, arrival)."""

    def __init__(self, count: int, failing: int) -> None:
        self.arrived: list[dict[str, float]] = [{} for _ in range(count)]
        self.failing = failing
        self.posts = [0] * count
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                index = int(self.path.strip("/").split("/")[-1])
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.time()
                failing = index < outer.failing
                with lock:
                    outer.posts[index] += 1
                    if not failing:
                        outer.arrived[index].setdefault(self.headers["webhook-id"], now)
                self.send_response(500 if failing else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 256
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/{index}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _call(conn: http.client.HTTPConnection, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    raw = response.read()
    return response.status, json.loads(raw) if raw else None


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _run(failing: int, events: int, log: Any) -> dict[str, Any]:
    stack = StackProcess(Path(ROOT))
    receivers = Receivers(ENDPOINTS, failing)
    try:
        run = uuid.uuid4().hex[:6]
        for index in range(ENDPOINTS):
            endpoint = {
                "endpoint_id": f"bench-{run}-{index}",
                "url": receivers.url(index),
                "event_types": ["MemberEnrolled"],
            }
            status, body = _call(stack.conn, "POST", "/v1/webhooks", endpoint, ADMIN)
            assert status == 201, body
        sent: dict[str, float] = {}  # member id -> when its enrolment was answered
        event_of: dict[str, str] = {}
        lock = threading.Lock()
        members = [f"bench-wh-{run}-{n}" for n in range(events)]

        def client(share: list[str]) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=120)
            for member_id in share:
                status, _ = _call(conn, "POST", "/v1/members", {"member_id": member_id, "channel": "web"}, ADMIN)
                assert status == 201, status
                with lock:
                    sent[member_id] = time.time()
            conn.close()

        began = time.perf_counter()
        threads = [threading.Thread(target=client, args=(members[i::CLIENTS],)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        burst_seconds = time.perf_counter() - began
        healthy = range(failing, ENDPOINTS)
        deadline = time.monotonic() + max(600, events * 0.2)
        while any(len(receivers.arrived[i]) < events for i in healthy):
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        drained_seconds = time.perf_counter() - began
        # which event is whose: the stack's own list, member id -> event id
        _, listed = _call(stack.conn, "GET", "/_local/events?detail_type=MemberEnrolled", None, {})
        for event in listed["events"]:
            event_of[event["detail"]["member_id"]] = event["detail"]["event_id"]
        delays: list[float] = []
        missing = 0
        for i in healthy:
            for member_id in members:
                arrived = receivers.arrived[i].get(event_of.get(member_id, ""))
                if arrived is None:
                    missing += 1
                else:
                    delays.append((arrived - sent[member_id]) * 1000)
        if log:
            log(f"    {failing} failing: {len(delays)} healthy messages in {drained_seconds:.0f} s, {missing} missing")
        return {
            "failing_endpoints": failing,
            "events": events,
            "burst_s": round(burst_seconds, 1),
            "events_per_s": round(events / burst_seconds, 1),
            "all_delivered_s": round(drained_seconds, 1),
            "healthy_messages": len(delays),
            "missing": missing,
            "failing_attempts": sum(receivers.posts[:failing]),
            "delay_ms": {
                "p50": round(statistics.median(delays), 1) if delays else None,
                "p99": round(_percentile(delays, 0.99), 1) if delays else None,
                "max": round(max(delays), 1) if delays else None,
            },
        }
    finally:
        receivers.close()
        stack.stop()


def measure(quick: bool, log: Any = None) -> dict[str, Any]:
    events = int((QUICK if quick else FULL)["events"])
    if log:
        log(f"  {events} events to {ENDPOINTS} endpoints: all healthy, then one failing (500)")
    healthy = _run(0, events, log)
    one_failing = _run(1, events, log)
    ratio = {
        k: round(one_failing["delay_ms"][k] / healthy["delay_ms"][k], 2)
        if healthy["delay_ms"][k] and one_failing["delay_ms"][k]
        else None
        for k in ("p50", "p99")
    }
    return {"all_healthy": healthy, "one_failing": one_failing, "ratio": ratio, "ratio_max": RATIO_MAX}


def broken_budgets(results: dict[str, Any]) -> list[str]:
    data = results.get("webhooks")
    if not data:
        return []
    out = []
    for side in ("all_healthy", "one_failing"):
        if data[side]["missing"]:
            out.append(f"webhooks: {side}: {data[side]['missing']} messages never reached a healthy endpoint")
    for k, value in data["ratio"].items():
        if value is None or value > RATIO_MAX:
            out.append(
                f"webhooks: the healthy endpoints' {k} delay with one failing is {value}x (at most {RATIO_MAX}x)"
            )
    return out
