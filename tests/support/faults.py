"""Fault injection on the product's DynamoDB client with botocore hooks.

- `before-send` answers instead of DynamoDB (throttling, a 500, TransactionCanceled/TransactionConflict):
  the request never reaches the table (moto sees a harmless ListTables), as when AWS refuses it.
- `after-call` raises a timeout AFTER DynamoDB has applied the write: the caller cannot tell whether it
  committed, the case that idempotency keys exist for.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

ERRORS = {
    "throttle": (400, "ThrottlingException", "Rate of requests exceeds the allowed throughput."),
    "server_error": (500, "InternalServerError", "Internal server error"),
    # not retried by the SDK: the call fails at once (a policy that lost a permission, say)
    "access_denied": (400, "AccessDeniedException", "User is not authorized to perform this action"),
    "conflict": (
        400,
        "TransactionCanceledException",
        "Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict, None]",
    ),
}


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


@dataclass
class Fault:
    operation: str  # e.g. TransactWriteItems
    kind: str  # throttle | server_error | access_denied | conflict | timeout_after_commit
    times: int = 1
    skip: int = 0  # requests let through before the first refused
    injected: int = 0
    _body: Any = None
    _seen: int = 0

    def before_send(self, request: Any = None, **_: Any) -> AWSResponse | None:
        # botocore runs every before-send handler and takes the first answer, so moto (a later handler)
        # still sees the request: blank its body while refusing, give it back for the real attempt.
        if self.kind == "timeout_after_commit":
            return None
        self._seen += 1
        if self._seen <= self.skip:
            return None
        if self.injected >= self.times:
            if self._body is not None:
                (request.body, request.headers["X-Amz-Target"]), self._body = self._body, None
            return None
        if self._body is None:
            self._body = (request.body, request.headers["X-Amz-Target"])
        request.body, request.headers["X-Amz-Target"] = b"{}", "DynamoDB_20120810.ListTables"  # no side effect
        self.injected += 1
        status, code, message = ERRORS[self.kind]
        body: dict[str, Any] = {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}
        if self.kind == "conflict":
            body["CancellationReasons"] = [{"Code": "TransactionConflict"}, {"Code": "None"}]
        headers = {"x-amzn-RequestId": "fault", "Content-Type": "application/x-amz-json-1.0"}
        return AWSResponse(request.url, status, headers, _Raw(json.dumps(body).encode()))

    def after_call(self, **_: Any) -> None:
        if self.kind == "timeout_after_commit" and self.injected < self.times:
            self.injected += 1
            raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")


@contextmanager
def inject(operation: str, kind: str, times: int = 1, skip: int = 0) -> Iterator[Fault]:
    from loyalty.store.core import client

    fault = Fault(operation, kind, times, skip)
    events = client().meta.events
    send_name = f"before-send.dynamodb.{operation}"
    call_name = f"after-call.dynamodb.{operation}"
    events.register_first(send_name, fault.before_send)
    events.register(call_name, fault.after_call)
    try:
        yield fault
    finally:
        events.unregister(send_name, fault.before_send)
        events.unregister(call_name, fault.after_call)
