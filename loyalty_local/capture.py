"""The domain events the bus took, for `GET /_local/events` and the tests: the template's EventBridge archive.

template.yaml archives every event of the bus (`EventArchive`, pattern `source: [loyalty]`); locally the
archive is created in moto like the rest, so each PutEvents reaches it through EventBridge's own rule and
target (moto appends the event to the archive's list). The capture reads what was appended since its
last look, in this process (moto runs in it), and keeps the events in a list and an index by detail type:
its cost follows the new events, never the history (the SQS queue it replaces recomputed attributes over
every stored message on each send, and was drained message by message).
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any

ACCOUNT = "123456789012"  # moto's default account, the one the local stack's clients use
REGION = "us-east-1"


def archive_events(name: str, region: str = REGION) -> list[dict[str, Any]]:
    """The archive's own list of events (moto's, in this process): append-only, oldest first."""
    from moto.events.models import events_backends

    archive = events_backends[ACCOUNT][region].archives.get(name)
    if archive is None:
        raise LookupError(f"no EventBridge archive {name!r} in the emulator")
    events: list[dict[str, Any]] = archive.events  # type: ignore[assignment]  # moto's TypedDict events
    return events


def _time(value: Any) -> Any:
    """EventBridge's `time` as the bus delivers it to a target (moto keeps the epoch it stamped)."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def _order(event: dict[str, Any]) -> tuple[Any, str]:
    return ((event["detail"] or {}).get("sequence", 0), event["time"] or "")


class EventCapture:
    """Every event of the archive `name`, listed as `/_local/events` answers them, by detail type too."""

    def __init__(self, name: str, lock: AbstractContextManager[Any] | None = None) -> None:
        self.name = name
        self._emulator_lock = lock or nullcontext()  # moto appends under the emulator's lock
        self._lock = threading.Lock()
        self._read = 0
        self._all: list[dict[str, Any]] = []
        self._by_type: dict[str, list[dict[str, Any]]] = {}
        self._unsorted: set[str | None] = set()

    def _take_new(self) -> None:
        with self._emulator_lock:
            source = archive_events(self.name)
            new = source[self._read :]
            self._read = len(source)
        for raw in new:
            event = {
                "id": raw.get("id"),
                "source": raw.get("source"),
                "time": _time(raw.get("time")),
                "detail_type": raw.get("detail-type"),
                "detail": raw.get("detail"),
            }
            self._all.append(event)
            self._by_type.setdefault(event["detail_type"], []).append(event)
            self._unsorted.update((None, event["detail_type"]))

    def events(self, detail_type: str | None = None) -> list[dict[str, Any]]:
        """The events so far (of one detail type, or all), ordered by the member's sequence, then time."""
        with self._lock:
            self._take_new()
            chosen = self._all if detail_type is None else self._by_type.get(detail_type, [])
            if detail_type in self._unsorted:
                chosen.sort(key=_order)  # stable, and nearly sorted already: about linear
                self._unsorted.discard(detail_type)
            return list(chosen)
