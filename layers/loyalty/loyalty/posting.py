"""The posting window: how far in the past, and how little in the future, a client may date a write.

`occurred_at` (earn, checkout, activities, partner redemptions) may lie in the past, but not before
00:00:00Z on the first day of the previous calendar month, and never more than 5 minutes ahead of now.
Outside the window a request is `422 validation_error`, never a 5xx (CONTRACT.md, Conventions).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from loyalty.errors import ValidationFailed

FUTURE_TOLERANCE = timedelta(minutes=5)


def window(now: datetime) -> tuple[datetime, datetime]:
    """(earliest, latest) instants a write may be dated at, given `now`."""
    now = now.astimezone(UTC)
    year, month = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
    return datetime(year, month, 1, tzinfo=UTC), now + FUTURE_TOLERANCE


def check(when: datetime, now: datetime, field: str = "occurred_at") -> datetime:
    """`when` in UTC if it lies in the window; otherwise the contract's validation error."""
    earliest, latest = window(now)
    try:
        utc = when.astimezone(UTC)
    except (OverflowError, ValueError):  # years 1 and 9999 with an offset: not a representable instant
        raise ValidationFailed.field(field, "not a representable instant") from None
    if utc < earliest:
        raise ValidationFailed.field(
            field, f"must not be before {earliest.date().isoformat()} (the first day of the previous month)"
        )
    if utc > latest:
        raise ValidationFailed.field(field, "must not be more than 5 minutes ahead of now")
    return utc
