"""Publishing domain events to the EventBridge bus (PutEvents)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from loyalty.domain.events import SOURCE, DomainEvent
from loyalty.kernel.config import settings
from loyalty.store.core import client

PUT_EVENTS_MAX = 10  # entries per PutEvents call


class PublishFailed(Exception):
    """EventBridge refused some entries (FailedEntryCount > 0) or the call failed: the stream records from
    the one of event `first` (the first not known to be on the bus) must be retried."""

    def __init__(self, failures: list[dict[str, Any]], first: int = 0) -> None:
        codes = sorted({str(f.get("ErrorCode")) for f in failures})
        super().__init__(f"{len(failures)} event(s) not published: {', '.join(codes)}")
        self.failures = failures
        self.first = first


def entry(event: DomainEvent, bus_name: str, at: str | None = None) -> dict[str, Any]:
    """The PutEvents entry. `at`: when the event happened (RFC 3339), the event's `time` on the bus: the same
    however often the event is published, so a consumer that orders or keys by it (the webhooks' delivery ids)
    sees one time per event, and by the stack's clock locally."""
    out: dict[str, Any] = {
        "Source": SOURCE,
        "DetailType": event.detail_type,
        "Detail": json.dumps(event.detail_json(), separators=(",", ":")),
        "EventBusName": bus_name,
    }
    if at:
        with contextlib.suppress(ValueError):  # not a time: EventBridge stamps its own
            out["Time"] = datetime.fromisoformat(at.replace("Z", "+00:00"))
    return out


def publish(events: Sequence[DomainEvent], times: Sequence[str] | None = None) -> None:
    """Put every event on the bus, in order, 10 a call; raise PublishFailed at the first call with a refused
    entry (never drop silently), without sending the calls after it.

    A retry publishes the failed record's events again: consumers de-duplicate on `detail.event_id`.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    bus_name = settings().event_bus_name
    for start in range(0, len(events), PUT_EVENTS_MAX):
        chunk = events[start : start + PUT_EVENTS_MAX]
        try:
            at = times[start : start + PUT_EVENTS_MAX] if times is not None else [None] * len(chunk)
            answer = client("events").put_events(
                Entries=[entry(e, bus_name, t) for e, t in zip(chunk, at, strict=True)]
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "ClientError")
            raise PublishFailed([{"ErrorCode": code, "ErrorMessage": str(exc)}], start) from exc
        except BotoCoreError as exc:  # no answer (a timeout, a connection refused): nothing known published
            raise PublishFailed([{"ErrorCode": type(exc).__name__, "ErrorMessage": str(exc)}], start) from exc
        if not answer.get("FailedEntryCount"):
            continue
        failures: list[dict[str, Any]] = []
        first: int | None = None
        for offset, (sent, result) in enumerate(zip(chunk, answer.get("Entries", []), strict=False)):
            if result.get("ErrorCode"):
                failures.append({"event_id": sent.event_id, **result})
                first = start + offset if first is None else first
        if not failures:  # a count without per-entry codes: still a failure, of the whole call
            failures.append({"ErrorCode": "Unknown", "ErrorMessage": "FailedEntryCount without entries"})
        raise PublishFailed(failures, start if first is None else first)
