"""The posting window: how far back and ahead a client's `occurred_at` may lie (CONTRACT.md, Conventions).

A write may be back-dated, but not before 00:00:00Z on the first day of the previous calendar month
(older months are closed: their caps, expiry and qualifying value are settled), and never more than
5 minutes ahead of now (a till's clock may run a little fast). The request edge applies it to every
`occurred_at` a client sends (`loyalty.requests.common.PostingTime`) and the domain may apply it again with the
same `check`. Comparing aware datetimes never converts them, so a timestamp at the ends of the calendar
(`0001-01-01T00:00:00+01:00`, `9999-12-31T23:59:59-01:00`) is refused, not an OverflowError.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from loyalty.kernel.clock import isoformat
from loyalty.kernel.errors import ValidationFailed

AHEAD = timedelta(minutes=5)
_FIRST = datetime.min.replace(tzinfo=UTC)
_LAST = datetime.max.replace(tzinfo=UTC)


def window(now: datetime) -> tuple[datetime, datetime]:
    """(earliest, latest) accepted at `now`, both in UTC and inclusive."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("the posting window needs an aware `now`")
    now = now.astimezone(UTC)
    year, month = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
    earliest = datetime(year, month, 1, tzinfo=UTC) if year >= 1 else _FIRST
    latest = now + AHEAD if now <= _LAST - AHEAD else _LAST
    return earliest, latest


def check(when: datetime, now: datetime, field: str = "occurred_at") -> datetime:
    """`when` in UTC if it lies in the window at `now`; else `ValidationFailed` naming `field`."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValidationFailed.field(field, "must carry a UTC offset (RFC 3339, e.g. 2026-03-14T10:00:00Z)")
    earliest, latest = window(now)
    if when < earliest:  # aware comparison: no conversion, so no overflow at year 1 or 9999
        opens = "the posting window opens on the first day of the previous month"
        raise ValidationFailed.field(field, f"must not be before {isoformat(earliest)} ({opens})")
    if when > latest:
        raise ValidationFailed.field(field, f"must not be later than {isoformat(latest)} (5 minutes ahead of now)")
    return when.astimezone(UTC)
