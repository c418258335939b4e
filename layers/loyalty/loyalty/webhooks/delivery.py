"""Delivering events to endpoints: at least once, on the contract's schedule, one endpoint never holding up
another.

Three steps, each its own Lambda function behind a queue, so a slow or dead receiver never holds up the stream
processor that publishes the events, nor another endpoint:

1. Fan out (`fan_out`, WebhookDispatchFunction on WebhookEventsQueue, which the bus's rule fills): each event
   becomes one delivery per enabled endpoint that takes its type, written once (the delivery's key comes from
   the event, so the same event again writes nothing), and a message on the delivery queue.
2. Attempt (`attempt_all`, WebhookDeliveryFunction on WebhookDeliveryQueue): claim the delivery's due attempt
   under a lease, send the signed message, record the attempt and what follows (`domain.webhooks.judge`).
3. The schedule (`dispatch_due`, WebhookDispatchFunction every minute; locally every second, by the stack's
   clock): deliveries whose next attempt is due, read from the `webhook-due` index, go back on the queue.
   Deployed, a wait of up to 15 minutes also rides on the message itself (SQS DelaySeconds), so the 5-second
   retry is not a minute late; the schedule in the table stays the truth, and the lease makes the two copies
   one attempt.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from loyalty.domain.webhooks import ANSWER_SECONDS, Attempt, Delivery, Endpoint, Verdict, judge
from loyalty.kernel.clock import isoformat, utcnow
from loyalty.kernel.config import settings
from loyalty.kernel.observability import count, logger
from loyalty.program.rules import current_program
from loyalty.store import webhooks as store
from loyalty.webhooks import outbound, signing

LEASE = timedelta(seconds=2 * ANSWER_SECONDS)  # an attempt's hold on its delivery
# A delivery sent to the queue is looked at again by the dispatcher after this, if its attempt has not claimed it
# by then (a message lost, or a queue far behind: long enough that a backlog is not sent twice over)
DISPATCH_GRACE = timedelta(minutes=10)
SQS_DELAY_MAX = timedelta(minutes=15)
ATTEMPTS_AT_ONCE = 10  # a batch's attempts run side by side


def _compact(at: str) -> str:
    return at.replace("-", "").replace(":", "").split(".")[0].removesuffix("Z") + "Z"


def delivery_id(event_time: str, endpoint: Endpoint, event_id: str) -> str:
    """Time-ordered (the log reads newest first), and the same for the same event and endpoint."""
    digest = hashlib.sha256(f"{endpoint.endpoint_id}#{endpoint.generation}#{event_id}".encode()).hexdigest()[:20]
    return f"{_compact(event_time)}-{digest}"


def message(event_type: str, detail: dict[str, Any], at: datetime) -> str:
    """The body every attempt sends, byte for byte (CONTRACT.md: `{"type", "timestamp", "data"}`)."""
    return json.dumps(
        {"type": event_type, "timestamp": isoformat(at), "data": detail}, separators=(",", ":"), ensure_ascii=False
    )


def _new(endpoint: Endpoint, event_type: str, detail: dict[str, Any], event_time: str, now: datetime) -> Delivery:
    event_id = str(detail["event_id"])
    return Delivery(
        delivery_id=delivery_id(event_time, endpoint, event_id),
        endpoint_id=endpoint.endpoint_id,
        generation=endpoint.generation,
        event_id=event_id,
        type=event_type,
        created_at=now,
        next_attempt_at=now,
        payload=message(event_type, detail, now),
    )


def _target(d: Delivery) -> tuple[str, str, str]:
    return (d.endpoint_id, d.generation, d.delivery_id)


# -- 1. fan out ------------------------------------------------------------------------------------------
def fan_out(events: Sequence[dict[str, Any]]) -> int:
    """Events from the bus (EventBridge's envelope: `id`, `detail-type`, `time`, `detail`) → deliveries.
    Returns how many deliveries were new."""
    endpoints = [e for e in store.list_endpoints() if e.status == "enabled"]
    if not endpoints:
        return 0
    now = utcnow()
    new: list[Delivery] = []
    for event in events:
        event_type, detail = str(event["detail-type"]), event["detail"]
        if "event_id" not in detail:
            logger.warning("an event without event_id is not delivered", extra={"detail_type": event_type})
            continue
        event_time = str(event.get("time") or isoformat(now))
        happened = _when(event_time, now)
        for endpoint in endpoints:
            if not endpoint.takes(event_type) or not endpoint.was_taking(happened):
                continue
            delivery = _new(endpoint, event_type, detail, event_time, now)
            if store.add_delivery(delivery, now + DISPATCH_GRACE):
                new.append(delivery)
    store.send([_target(d) for d in new])
    if new:
        count("WebhookDeliveriesCreated", len(new), program_id=current_program().program_id)
    return len(new)


def _when(event_time: str, now: datetime) -> datetime:
    """The bus's `time` of an event (when it happened), or `now` when it is not a time."""
    try:
        at = datetime.fromisoformat(event_time.replace("Z", "+00:00"))
    except ValueError:
        return now
    return at if at.tzinfo is not None else at.replace(tzinfo=now.tzinfo)


def deliver_new(endpoint: Endpoint, event_type: str, detail: dict[str, Any], at: datetime, now: datetime) -> Delivery:
    """One delivery made here and sent now (a test message)."""
    delivery = _new(endpoint, event_type, detail, isoformat(at), now)
    store.add_delivery(delivery, now + DISPATCH_GRACE)
    store.send([_target(delivery)])
    return delivery


def send_now(delivery: Delivery) -> Delivery | None:
    """A retry by hand: pending, due now, on the queue now. None while an attempt holds it."""
    now = utcnow()
    reopened = store.reopen(delivery, now, now + DISPATCH_GRACE)
    if reopened is not None:
        store.send([_target(reopened)])
    return reopened


# -- 2. attempt ------------------------------------------------------------------------------------------
def _signing_secrets(endpoint: Endpoint, now: datetime) -> list[str]:
    value = store.read_secret(endpoint.secret_ref, endpoint.secret_version)
    out = [str(value["current"])]
    previous, until = value.get("previous"), value.get("previous_until")
    if previous and until and now < datetime.fromisoformat(str(until).replace("Z", "+00:00")):
        out.append(str(previous))
    return out


def attempt(target: tuple[str, str, str], endpoints: dict[str, Endpoint | None]) -> str:
    """One due attempt of one delivery, if it is still due and no one else holds it. Returns what happened:
    `not-due` (not due, finished, or another attempt holds it), `dropped` (its endpoint is deleted or
    disabled), `lost` (the lease ran out before the outcome was written), or the attempt's `succeeded`,
    `retrying`, `failed`."""
    endpoint_id, generation, delivery_id_ = target
    now = utcnow()
    claimed = store.claim(endpoint_id, generation, delivery_id_, now, LEASE)
    if claimed is None:
        return "not-due"
    delivery, lease = claimed
    if endpoint_id not in endpoints:
        found = store.load_endpoint(endpoint_id)
        endpoints[endpoint_id] = found[0] if found else None
    endpoint = endpoints[endpoint_id]
    if endpoint is None or endpoint.generation != generation or endpoint.status != "enabled":
        # deleted, or disabled: a disabled endpoint gets nothing until it is enabled again (CONTRACT.md), not
        # even a test or a retry by hand; the delivery is over, without an attempt
        store.record(delivery, None, Verdict("failed", None, delivery.scheduled), lease, None)
        return "dropped"
    body = delivery.payload.encode()
    headers = signing.headers(_signing_secrets(endpoint, now), delivery.event_id, int(now.timestamp()), body)
    answered = outbound.post(endpoint.url, body, headers, local=settings().local_mode)
    verdict = judge(delivery, endpoint, answered, now)
    made = Attempt(
        at=now,
        response_status=answered.status,
        error=answered.error,
        duration_ms=answered.duration_ms,
        manual=delivery.manual,
    )
    wait = verdict.next_attempt_at - now if verdict.next_attempt_at else None
    on_queue = wait is not None and wait <= SQS_DELAY_MAX and not settings().local_mode
    due_at = (
        None
        if verdict.next_attempt_at is None
        else verdict.next_attempt_at + (DISPATCH_GRACE if on_queue else timedelta())
    )
    written, asked = store.record(delivery, made, verdict, lease, due_at)
    if not written:
        logger.warning("an attempt's lease was lost; its outcome is not recorded", extra={"delivery_id": delivery_id_})
        return "lost"
    if asked:  # a retry by hand came while this attempt was in flight: it is made now, as asked
        send_now(delivery.model_copy(update={"status": verdict.status, "next_attempt_at": verdict.next_attempt_at}))
    if on_queue and wait is not None:
        store.send([target], delay_seconds=max(1, int(wait.total_seconds() + 0.999)))
    if verdict.disable:
        store.disable_endpoint(endpoint, verdict.disable, now)
        endpoints[endpoint_id] = endpoint.model_copy(update={"status": "disabled", "disabled_reason": verdict.disable})
    if (verdict.failing_since is None) != (endpoint.failing_since is None):
        store.note_failing(endpoint, verdict.failing_since)
        endpoints[endpoint_id] = endpoint.model_copy(update={"failing_since": verdict.failing_since})
    return verdict.status if answered.succeeded or verdict.status == "failed" else "retrying"


def attempt_all(targets: Iterable[tuple[str, str, str]]) -> list[str | BaseException]:
    """A batch's attempts side by side (a slow receiver holds up only its own). What each did, or its error."""
    listed = list(targets)
    endpoints: dict[str, Endpoint | None] = {}
    for endpoint_id in {t[0] for t in listed}:
        found = store.load_endpoint(endpoint_id)
        endpoints[endpoint_id] = found[0] if found else None

    def one(target: tuple[str, str, str]) -> str | BaseException:
        try:
            return attempt(target, endpoints)
        except Exception as exc:  # reported per message: the queue gives it again, the lease keeps it single
            logger.exception("webhook attempt failed", extra={"delivery_id": target[2]})
            return exc

    if len(listed) <= 1 or ATTEMPTS_AT_ONCE <= 1:
        outcomes = [one(t) for t in listed]
    else:
        with ThreadPoolExecutor(max_workers=min(ATTEMPTS_AT_ONCE, len(listed))) as pool:
            outcomes = list(pool.map(one, listed))
    made = [o for o in outcomes if o in ("succeeded", "retrying", "failed")]
    if made:  # metrics from this thread only (Powertools' metrics are not for threads)
        program_id = current_program().program_id
        count("WebhookAttempts", len(made), program_id=program_id)
        count("WebhookAttemptsFailed", sum(o != "succeeded" for o in made), program_id=program_id)
    return outcomes


# -- 3. the schedule -------------------------------------------------------------------------------------
def dispatch_due(limit: int = 8000) -> int:
    """Put every delivery whose next attempt is due back on the queue, up to `limit` a run (the next run goes
    on), each once per grace: its place in the schedule moves on as it is sent (16 of those writes at a time)."""
    now = utcnow()
    found = store.due(now, limit)
    if not found:
        return 0

    def move(item: tuple[dict[str, Any], str]) -> str | None:
        return store.push_due(item[0], item[1], now + DISPATCH_GRACE)

    if len(found) == 1:
        moved = [move(found[0])]
    else:
        with ThreadPoolExecutor(max_workers=min(16, len(found))) as pool:
            moved = list(pool.map(move, found))
    sent: list[tuple[str, str, str]] = []
    for one in moved:
        if one is not None:
            endpoint_id, generation, delivery_id_ = one.split("#", 2)
            sent.append((endpoint_id, generation, delivery_id_))
    store.send(sent)
    return len(sent)
