"""The domain events a member's changes published, kept 90 days for the back office (`EVENTS#<member_id>`).

The stream processor writes one item per published event, keyed by when the event happened (the time the
domain gives it, stable under redelivery: loyalty.outbox.processor), the member's sequence and the event's own id, so
a redelivered stream record writes the same items again (idempotent, never a duplicate) and a Query
backwards reads the newest first.
DynamoDB's TTL removes them after `KEPT_DAYS`; they hold what the event carried, never a personal field
(a reason an agent typed is free text: erasure rewrites it, `rewrite`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from loyalty.kernel.clock import isoformat, utcnow
from loyalty.store.core import client, from_item, query, table_name, to_item

if TYPE_CHECKING:  # the events' models are the stream processor's; a member read need not build them
    from loyalty.domain.events import DomainEvent

KEPT_DAYS = 90
BATCH = 25  # BatchWriteItem's limit


def events_pk(member_id: str) -> str:
    return f"EVENTS#{member_id}"


def event_item(event: DomainEvent, at: str, published_at: str, ttl: int) -> dict[str, Any]:
    detail = event.detail_json()
    # newest first by when it happened, then the member's sequence; at one instant and sequence a ledger
    # event (or the enrolment) comes before what it caused (a tier change, a warning)
    rank = 0 if "entry_type" in detail or event.detail_type == "MemberEnrolled" else 1
    return {
        # an event of a pool with no member (its tier, its expiry) is kept under the account
        "PK": events_pk(str(detail["member_id"]))
        if detail.get("member_id")
        else f"EVENTS#ACCOUNT#{detail['account_id']}",
        "SK": f"{at}#{int(detail['sequence']):012d}#{rank}#{event.event_id}",
        "kind": "member_event",
        "event_id": event.event_id,
        "detail_type": event.detail_type,
        "detail": json.dumps(detail, separators=(",", ":"), sort_keys=True),
        "at": at,
        "published_at": published_at,
        "ttl": ttl,
    }


class EventsNotKept(Exception):
    """A BatchWriteItem of member events failed: the events from index `first` on are not known kept."""

    def __init__(self, first: int, reason: str) -> None:
        super().__init__(f"member events from #{first} not kept: {reason}")
        self.first = first


def record(events: Sequence[tuple[DomainEvent, str]], *, sleep: Callable[[float], None] = time.sleep) -> None:
    """Keep each event, with when it happened, under its member (BatchWriteItem, 25 a call, in order;
    unprocessed items sent again). Raises EventsNotKept at the first call that fails."""
    now = utcnow()
    ttl = int((now + timedelta(days=KEPT_DAYS)).timestamp())
    _put_all([event_item(e, at, isoformat(now), ttl) for e, at in events], sleep=sleep)


def _put_all(items: list[dict[str, Any]], *, sleep: Callable[[float], None] = time.sleep) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    requests = [{"PutRequest": {"Item": to_item(item)}} for item in items]
    for start in range(0, len(requests), BATCH):
        waiting = requests[start : start + BATCH]
        for attempt in range(8):
            try:
                answer = client().batch_write_item(RequestItems={table_name(): waiting})
            except (BotoCoreError, ClientError) as exc:
                raise EventsNotKept(start, str(exc)) from exc
            waiting = answer.get("UnprocessedItems", {}).get(table_name(), [])
            if not waiting:
                break
            sleep(min(1.0, 0.05 * 2**attempt))
        else:
            raise EventsNotKept(start, f"{len(waiting)} member event(s) unprocessed after 8 attempts")


def rewrite(member_id: str, change: Callable[[str, dict[str, Any]], dict[str, Any] | None]) -> int:
    """Put again each kept event of the member whose detail `change(detail_type, detail)` rewrites (None: as
    it is), a page of the member's events at a time, 25 a BatchWriteItem; the same keys and `ttl`. How many
    were rewritten (erasure: their free text; idempotent)."""
    rewritten = 0
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": "PK = :pk",
        "ExpressionAttributeValues": {":pk": {"S": events_pk(member_id)}},
        "ConsistentRead": True,
    }
    while True:
        answer = query(**kwargs)
        items = []
        for raw in answer.get("Items", []):
            item = from_item(raw)
            detail = change(str(item["detail_type"]), json.loads(item["detail"]))
            if detail is not None:
                items.append({**item, "detail": json.dumps(detail, separators=(",", ":"), sort_keys=True)})
        _put_all(items)
        rewritten += len(items)
        if "LastEvaluatedKey" not in answer:
            return rewritten
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def recent(member_id: str, limit: int) -> list[dict[str, Any]]:
    """The member's newest `limit` events, newest first (one Query)."""
    answer = query(
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": events_pk(member_id)}},
        ScanIndexForward=False,
        Limit=limit,
    )
    out = []
    for raw in answer.get("Items", []):
        item = from_item(raw)
        out.append(
            {
                "event_id": item["event_id"],
                "detail_type": item["detail_type"],
                "at": item["at"],
                "published_at": item["published_at"],
                "detail": json.loads(item["detail"]),
            }
        )
    return out
