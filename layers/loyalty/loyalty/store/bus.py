"""Publishing domain events to the EventBridge bus (PutEvents)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from loyalty.config import settings
from loyalty.events import SOURCE, DomainEvent
from loyalty.store.core import client

PUT_EVENTS_MAX = 10  # entries per PutEvents call


class PublishFailed(Exception):
    """EventBridge refused some entries (FailedEntryCount > 0): the stream record must be retried."""

    def __init__(self, failures: list[dict[str, Any]]) -> None:
        codes = sorted({str(f.get("ErrorCode")) for f in failures})
        super().__init__(f"{len(failures)} event(s) not published: {', '.join(codes)}")
        self.failures = failures


def entry(event: DomainEvent, bus_name: str) -> dict[str, Any]:
    return {
        "Source": SOURCE,
        "DetailType": event.detail_type,
        "Detail": json.dumps(event.detail_json(), separators=(",", ":")),
        "EventBusName": bus_name,
    }


def publish(events: Sequence[DomainEvent]) -> None:
    """Put every event on the bus; raise PublishFailed if any entry was refused (never drop silently).

    A retry publishes the whole record's events again: consumers de-duplicate on `detail.event_id`.
    """
    bus_name = settings().event_bus_name
    failures: list[dict[str, Any]] = []
    for start in range(0, len(events), PUT_EVENTS_MAX):
        chunk = events[start : start + PUT_EVENTS_MAX]
        answer = client("events").put_events(Entries=[entry(e, bus_name) for e in chunk])
        if answer.get("FailedEntryCount"):
            for sent, result in zip(chunk, answer.get("Entries", []), strict=False):
                if result.get("ErrorCode"):
                    failures.append({"event_id": sent.event_id, **result})
            if not failures:  # a count without per-entry codes: still a failure
                failures.append({"ErrorCode": "Unknown", "ErrorMessage": "FailedEntryCount without entries"})
    if failures:
        raise PublishFailed(failures)
