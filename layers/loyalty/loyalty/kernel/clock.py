"""The one source of "now".

Every timestamp the product uses comes from `CLOCK.now()`. In AWS it is the system clock; the local
stack can set it (`POST /_local/clock`) to replay a year in seconds. Nothing else reads the wall clock.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class Clock:
    def __init__(self) -> None:
        self._fixed: datetime | None = None
        self._lock = threading.Lock()

    def now(self) -> datetime:
        fixed = self._fixed
        if fixed is not None:
            return fixed
        return datetime.fromtimestamp(time.time(), tz=UTC)

    def set(self, when: datetime | None) -> None:
        """Freeze "now" at `when` (UTC), or return to real time with None."""
        with self._lock:
            if when is not None and when.tzinfo is None:
                raise ValueError("the clock needs an aware datetime")
            self._fixed = when.astimezone(UTC) if when is not None else None

    @property
    def is_set(self) -> bool:
        return self._fixed is not None

    def unix_seconds_candidates(self) -> tuple[float, ...]:
        """What "now" may mean for a transport freshness check (partner signatures).

        A signature's age is a property of the wire, not of business time: partners sign with their
        own wall clock. When the local clock is set, both the set time and the wall time are accepted,
        so a partner simulator may sign with either.
        """
        wall = time.time()
        fixed = self._fixed
        return (wall,) if fixed is None else (wall, fixed.timestamp())


CLOCK = Clock()


def utcnow() -> datetime:
    return CLOCK.now()


def isoformat(dt: datetime) -> str:
    """RFC 3339 in UTC with a Z, whole seconds unless there are sub-seconds."""
    dt = dt.astimezone(UTC)
    text = dt.isoformat(timespec="milliseconds" if dt.microsecond else "seconds")
    return text.replace("+00:00", "Z")
