"""Webhook endpoints as an administrator runs them: create (the secret shown once), read, change, delete,
rotate the secret; and an endpoint's delivery log, a retry by hand, a test message.
"""

from __future__ import annotations

import json
import secrets as random
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from loyalty.answers.webhooks import (
    CreatedEndpoint,
    DeletedEndpoint,
    DeliveryPage,
    DeliveryView,
    EndpointAnswer,
    EndpointList,
    RotatedSecret,
)
from loyalty.domain.events import CONTRACT_TYPES
from loyalty.domain.webhooks import ROTATION_OVERLAP, Delivery, Endpoint
from loyalty.kernel.clock import isoformat, utcnow
from loyalty.kernel.config import settings
from loyalty.kernel.errors import (
    Contention,
    DeliveryNotFound,
    EndpointExists,
    EndpointNotFound,
    ValidationFailed,
)
from loyalty.ledger.operations import Outcome, request_hash
from loyalty.store import webhooks as store
from loyalty.store.core import ConditionFailed
from loyalty.webhooks import delivery as sending
from loyalty.webhooks import outbound, signing

SAVE_ATTEMPTS = 5


# -- views -----------------------------------------------------------------------------------------------
def endpoint_view(endpoint: Endpoint) -> EndpointAnswer:
    return EndpointAnswer(
        endpoint_id=endpoint.endpoint_id,
        url=endpoint.url,
        event_types=endpoint.event_types,
        description=endpoint.description,
        status=endpoint.status,
        disabled_reason=endpoint.disabled_reason,
        created_at=isoformat(endpoint.created_at),
    )


def delivery_view(delivery: Delivery) -> DeliveryView:
    return DeliveryView.model_validate(
        {
            "delivery_id": delivery.delivery_id,
            "event_id": delivery.event_id,
            "type": delivery.type,
            "status": delivery.status,
            "created_at": isoformat(delivery.created_at),
            "next_attempt_at": isoformat(delivery.next_attempt_at)
            if delivery.next_attempt_at and delivery.status == "pending"
            else None,
            "attempts": [
                {
                    "at": isoformat(a.at),
                    "response_status": a.response_status,
                    "error": a.error,
                    "duration_ms": a.duration_ms,
                }
                for a in delivery.attempts
            ],
        }
    )


# -- checks ----------------------------------------------------------------------------------------------
def checked_url(url: str) -> str:
    """The URL, if the product may send to it (CONTRACT.md: https, never this network); else 422 on `url`."""
    local = settings().local_mode
    try:
        _, host, port = outbound.check_url(url, local=local)
        if not (local and host in outbound.LOCAL_HOSTS):
            outbound.resolve_checked(host, port, local=local)
    except outbound.Refused as refused:
        raise ValidationFailed.field("url", str(refused)) from None
    return url


def checked_types(event_types: Sequence[str]) -> list[str]:
    unknown = [t for t in event_types if t != "*" and t not in CONTRACT_TYPES]
    if unknown:
        raise ValidationFailed.field(
            "event_types", f"unknown event type {unknown[0]!r}; the types are {', '.join(CONTRACT_TYPES)}, or *"
        )
    return list(dict.fromkeys(event_types))


def _found(endpoint_id: str) -> Endpoint:
    found = store.load_endpoint(endpoint_id)
    if found is None:
        raise EndpointNotFound(f"no webhook endpoint {endpoint_id!r}")
    return found[0]


# -- create, read, change, delete, rotate ----------------------------------------------------------------
def _created_text(first_answer: str, secret: str) -> str:
    body = json.loads(first_answer)
    body["secret"] = secret
    return CreatedEndpoint.model_validate(body).body()


def create(endpoint_id: str, url: str, event_types: list[str], description: str | None) -> Outcome:
    """A new endpoint and its secret. The same body again answers the first answer, its secret included; the
    same id with another body is `409 endpoint_exists`."""
    types = checked_types(event_types)
    hash_ = request_hash({"endpoint_id": endpoint_id, "url": url, "event_types": types, "description": description})

    def replay_or_refuse() -> Outcome | None:
        found = store.load_endpoint(endpoint_id)
        if found is None:
            return None
        endpoint, creation = found
        if creation.get("request_hash") != hash_:
            raise EndpointExists(f"webhook endpoint {endpoint_id!r} exists with other details")
        first = str(store.read_secret(endpoint.secret_ref)["first"])
        return Outcome(200, _created_text(str(creation["first_answer"]), first), replayed=True)

    found = replay_or_refuse()
    if found is not None:
        return found
    checked_url(url)
    now = utcnow()
    generation = random.token_hex(4)
    endpoint = Endpoint(
        endpoint_id=endpoint_id,
        url=url,
        event_types=types,
        description=description,
        created_at=now,
        updated_at=now,
        generation=generation,
        secret_ref=store.secret_ref(endpoint_id, generation),
    )
    secret = signing.new_secret()
    first_answer = endpoint_view(endpoint).model_dump(mode="json", exclude={"disabled_reason"})
    text = _created_text(json.dumps(first_answer), secret)
    store.create_secret(endpoint.secret_ref, {"version": 1, "first": secret, "current": secret})
    try:
        store.create_endpoint(endpoint, hash_, json.dumps(first_answer))
    except ConditionFailed:  # another request made it meanwhile: its answer, or the conflict
        store.delete_secret(endpoint.secret_ref)
        again = replay_or_refuse()
        if again is None:  # pragma: no cover - it was there a moment ago
            raise
        return again
    return Outcome(201, text)


def listing() -> EndpointList:
    return EndpointList(endpoints=[endpoint_view(e) for e in store.list_endpoints()])


def read(endpoint_id: str) -> EndpointAnswer:
    return endpoint_view(_found(endpoint_id))


def change(
    endpoint_id: str,
    url: str | None,
    event_types: list[str] | None,
    description: str | None,
    status: str | None,
) -> EndpointAnswer:
    if url is not None:
        checked_url(url)
    types = checked_types(event_types) if event_types is not None else None
    for _ in range(SAVE_ATTEMPTS):
        endpoint = _found(endpoint_id)
        changed = endpoint.model_copy(deep=True)
        if url is not None:
            changed.url = url
        if types is not None:
            changed.event_types = types
        if description is not None:
            changed.description = description
        if status == "enabled":
            changed.status, changed.disabled_reason, changed.failing_since = "enabled", None, None
            if endpoint.status != "enabled":
                changed.enabled_since = utcnow()
        elif status == "disabled":
            changed.status = "disabled"
            if endpoint.status == "enabled":
                changed.disabled_reason = None
        if changed == endpoint:
            return endpoint_view(endpoint)
        changed.updated_at = utcnow()
        changed.version = endpoint.version + 1
        try:
            store.save_endpoint(changed, endpoint.version, healed=status == "enabled")
        except ConditionFailed:
            continue
        return endpoint_view(changed)
    raise Contention("the endpoint kept changing; retry")


def delete(endpoint_id: str) -> DeletedEndpoint:
    """The endpoint, its secret, and what it was still to be sent: nothing more goes to it."""
    endpoint = _found(endpoint_id)
    if store.delete_endpoint(endpoint):
        store.delete_secret(endpoint.secret_ref)
    return DeletedEndpoint(endpoint_id=endpoint_id, deleted=True)


def rotate(endpoint_id: str) -> RotatedSecret:
    """A new secret. The endpoint's `secret_version` moves first (so no process keeps signing with a copy of
    the old list), then the secret: for 24 hours every message is signed with both, the new one first."""
    for _ in range(SAVE_ATTEMPTS):
        endpoint = _found(endpoint_id)
        moved = endpoint.model_copy(update={"secret_version": endpoint.secret_version + 1})
        moved.version = endpoint.version + 1
        moved.updated_at = now = utcnow()
        try:
            store.save_endpoint(moved, endpoint.version)
        except ConditionFailed:
            continue
        old = store.read_secret(endpoint.secret_ref)
        secret = signing.new_secret()
        store.put_secret(
            endpoint.secret_ref,
            {
                "version": moved.secret_version,
                "first": old.get("first", old["current"]),
                "current": secret,
                "previous": old["current"],
                "previous_until": isoformat(now + ROTATION_OVERLAP),
            },
        )
        return RotatedSecret(secret=secret)
    raise Contention("the endpoint kept changing; retry")


# -- the delivery log ------------------------------------------------------------------------------------
def deliveries(endpoint_id: str, status: str | None, limit: int, cursor: str | None) -> DeliveryPage:
    endpoint = _found(endpoint_id)
    found, next_cursor = store.deliveries_page(endpoint, status, limit, cursor)
    return DeliveryPage(deliveries=[delivery_view(d) for d in found], next_cursor=next_cursor)


def retry(endpoint_id: str, delivery_id: str) -> DeliveryView:
    """Send the delivery again now, a new attempt outside the schedule (a failed delivery becomes pending)."""
    endpoint = _found(endpoint_id)
    for _ in range(SAVE_ATTEMPTS):
        found = store.load_delivery(endpoint, delivery_id)
        if found is None:
            raise DeliveryNotFound(f"endpoint {endpoint_id!r} has no delivery {delivery_id!r}")
        reopened = sending.send_now(found)
        if reopened is not None:
            return delivery_view(reopened)
        if store.ask_retry(found, utcnow()):  # an attempt is in flight: it makes the retry once it has recorded
            return delivery_view(found.model_copy(update={"status": "pending"}))
    raise Contention("the delivery kept changing; retry")


def test(endpoint_id: str) -> DeliveryView:
    """A `WebhookTest` message for this endpoint alone, whatever its event types, sent now."""
    endpoint = _found(endpoint_id)
    now: datetime = utcnow()
    event_id = "ev_test_" + random.token_hex(12)
    detail: dict[str, Any] = {"version": 1, "event_id": event_id, "endpoint_id": endpoint_id}
    return delivery_view(sending.deliver_new(endpoint, "WebhookTest", detail, now, now))
