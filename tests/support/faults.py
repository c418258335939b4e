"""Fault injection on the product's DynamoDB client with botocore hooks.

- `before-send` answers instead of DynamoDB (throttling, a 500, TransactionCanceled/TransactionConflict):
  the request never reaches the table (moto sees a harmless ListTables), as when AWS refuses it.
- `after-call` raises a timeout AFTER DynamoDB has applied the write: the caller cannot tell whether it
  committed, the case that idempotency keys exist for.
- `killed_after_commit`: the runtime ends the invocation right after DynamoDB applied the write
  (`WorkerKilled`, raised from inside a worker: the harness in `tests.support.jobs` delivers the invocation as
  failed, with no answer).
- `run_figures`: what the ledger (and the members) say a job's run did, which its summary must say after any
  retry: the invariant of the jobs' fault tests.
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


class WorkerKilled(BaseException):
    """The Lambda runtime ended the invocation (its timeout, out of memory): none of our code runs after it,
    no `except Exception` sees it, and the messages it held come back after their visibility timeout."""


AFTER_COMMIT = ("timeout_after_commit", "killed_after_commit")


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


@dataclass
class Fault:
    operation: str  # e.g. TransactWriteItems
    kind: str  # throttle | server_error | access_denied | conflict | timeout_after_commit | killed_after_commit
    times: int = 1
    skip: int = 0  # requests let through before the first refused (or answered, after the commit)
    target: str | None = None  # only requests whose body holds this text (a key prefix: "WARN#") count
    injected: int = 0
    _blanked: Any = None  # (the request refused, its body and target): given back if the SDK retries it
    _match: bool = True
    _seen: int = 0

    def before_send(self, request: Any = None, **_: Any) -> AWSResponse | None:
        # botocore runs every before-send handler and takes the first answer, so moto (a later handler)
        # still sees the request: blank its body while refusing, give it back when the SDK retries that very
        # request (never to another one: a refusal the SDK does not retry leaves nothing to give back).
        if self._blanked is not None:
            refused, (sent, operation) = self._blanked
            if refused is request:
                request.body, request.headers["X-Amz-Target"] = sent, operation
            self._blanked = None
        raw = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        self._match = self.target is None or self.target.encode() in raw
        if self.kind in AFTER_COMMIT or not self._match:
            return None
        self._seen += 1
        if self._seen <= self.skip or self.injected >= self.times:
            return None
        self._blanked = (request, (request.body, request.headers["X-Amz-Target"]))
        request.body, request.headers["X-Amz-Target"] = b"{}", "DynamoDB_20120810.ListTables"  # no side effect
        self.injected += 1
        status, code, message = ERRORS[self.kind]
        body: dict[str, Any] = {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}
        if self.kind == "conflict":
            body["CancellationReasons"] = [{"Code": "TransactionConflict"}, {"Code": "None"}]
        headers: Any = {"x-amzn-RequestId": "fault", "Content-Type": "application/x-amz-json-1.0"}
        return AWSResponse(request.url, status, headers, _Raw(json.dumps(body).encode()))

    def after_call(self, **_: Any) -> None:
        if self.kind not in AFTER_COMMIT or not self._match:
            return
        self._seen += 1
        if self._seen <= self.skip or self.injected >= self.times:
            return
        self.injected += 1
        if self.kind == "killed_after_commit":
            raise WorkerKilled("Task timed out after 120.00 seconds")
        raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")


@contextmanager
def inject(operation: str, kind: str, times: int = 1, skip: int = 0, target: str | None = None) -> Iterator[Fault]:
    from loyalty.store.core import client

    fault = Fault(operation, kind, times, skip, target)
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


def _items(kind: str) -> list[dict[str, Any]]:
    from loyalty.store import core

    out: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": core.table_name(),
        "FilterExpression": "kind = :k",
        "ExpressionAttributeValues": {":k": {"S": kind}},
    }
    while True:
        page = core.client().scan(**kwargs)
        out.extend(core.from_item(i) for i in page["Items"])
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def run_figures(job: str, period: str, run_id: str) -> dict[str, int]:
    """What the table says the run `run_id` of `job` for `period` did, by the summary's figures (scans:
    tests only). The expiry: its `expire` entries of the period (each names the run that wrote it) and its
    warnings. The tier evaluation: the members it evaluated for the period (one run of the period assumed)
    and the tier changes it made (`tier_run`, `tier_run_change`)."""
    from loyalty.jobs import registry
    from loyalty.program.rules import current_program

    if job == registry.EXPIRY.name:
        expired = [
            e
            for e in _items("entry")
            if e["type"] == "expire"
            and str(e["key"]).endswith(f"#{period}")
            and json.loads(e["response"])["run_id"] == run_id
        ]
        warned = [w for w in _items("expiry_warning") if w["month"] == period and w.get("run_id") == run_id]
        pools = [e for e in expired if e.get("account_id")]
        return {
            "members_affected": len(expired) - len(pools),
            "points_expired": int(sum(-e["points"] for e in expired)),
            "members_warned": len([w for w in warned if not w.get("account_id")]),
            "accounts_affected": len(pools),
            "accounts_warned": len([w for w in warned if w.get("account_id")]),
        }
    rank = current_program().tier_rank
    figures = dict.fromkeys(registry.TIER_EVALUATION.summary, 0)
    for member in _items("member"):
        if member.get("tier_period") != period or member.get("status") == "closed":
            continue
        figures["members_evaluated"] += 1
        moved = (
            (member.get("tier_run_change") or member.get("tier_change")) if member.get("tier_run") == run_id else None
        )
        step = rank(moved["to"]) - rank(moved["from"]) if moved else 0
        figures["upgraded" if step > 0 else "downgraded" if step < 0 else "unchanged"] += 1
    return figures
