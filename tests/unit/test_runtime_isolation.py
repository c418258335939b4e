"""Concurrent requests in the local stack's one process must not see each other's event."""

from __future__ import annotations

import json
import threading
import time

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from loyalty_local.runtime import isolate_powertools_requests


def event(path: str, body: dict) -> dict:
    return {
        "httpMethod": "POST",
        "path": path,
        "resource": path,
        "body": json.dumps(body),
        "headers": {},
        "requestContext": {"requestId": "x", "stage": "local"},
    }


def test_two_resolvers_in_two_threads_each_read_their_own_request():
    isolate_powertools_requests()
    a, b = APIGatewayRestResolver(), APIGatewayRestResolver()
    seen: dict[str, dict] = {}

    @a.post("/a")
    def route_a():
        time.sleep(0.2)  # another request is resolved meanwhile
        seen["a"] = a.current_event.json_body
        return {}

    @b.post("/b")
    def route_b():
        seen["b"] = b.current_event.json_body
        return {}

    worker = threading.Thread(target=lambda: a.resolve(event("/a", {"mine": "a"}), None))
    worker.start()
    time.sleep(0.05)
    b.resolve(event("/b", {"mine": "b"}), None)
    worker.join()
    assert seen == {"a": {"mine": "a"}, "b": {"mine": "b"}}
