"""Campaign windows: one-off or yearly, with an announce date ahead of the start (UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from loyalty.program.rules import Campaign


def occurrence(campaign: Campaign, when: datetime) -> tuple[datetime, datetime] | None:
    """The campaign's window (start inclusive, end exclusive) that is current or next at `when`.

    None when a one-off campaign has ended.
    """
    window = campaign.window
    if window.recurrence == "once":
        start = _day(date.fromisoformat(window.start))
        end = _day(date.fromisoformat(window.end)) + timedelta(days=1)
        return (start, end) if when < end else None
    for year in (when.year - 1, when.year, when.year + 1):
        start, end = _yearly(window.start, window.end, year)
        if when < end:
            return start, end
    return None  # pragma: no cover - the next year's window always ends later


def _yearly(start_md: str, end_md: str, year: int) -> tuple[datetime, datetime]:
    start = _day(_md(start_md, year))
    end_year = year if end_md >= start_md else year + 1  # a window over New Year ends the year after
    return start, _day(_md(end_md, end_year)) + timedelta(days=1)


def _md(md: str, year: int) -> date:
    month, day = int(md[:2]), int(md[3:5])
    if month == 2 and day == 29:
        try:
            return date(year, 2, 29)
        except ValueError:
            return date(year, 2, 28)
    return date(year, month, day)


def _day(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def is_active(campaign: Campaign, when: datetime) -> bool:
    window = occurrence(campaign, when)
    return window is not None and window[0] <= when < window[1]


def is_visible(campaign: Campaign, now: datetime) -> bool:
    """Shown by GET /v1/program from its announce date until it ends."""
    window = occurrence(campaign, now)
    if window is None:
        return False
    return now >= window[0] - timedelta(days=campaign.window.announce_days)
