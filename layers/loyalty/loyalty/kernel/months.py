"""Calendar months as `YYYY-MM` strings: they sort, and they are what the contract shows."""

from __future__ import annotations

from datetime import date, datetime


def month_of(when: datetime | date) -> str:
    return f"{when.year:04d}-{when.month:02d}"


def add_months(month: str, n: int) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    index = year * 12 + (mon - 1) + n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_between(first: str, last: str) -> list[str]:
    """Inclusive list of months from `first` to `last` (empty when last < first)."""
    out: list[str] = []
    current = first
    while current <= last:
        out.append(current)
        current = add_months(current, 1)
    return out


def months_apart(earlier: str, later: str) -> int:
    return (int(later[:4]) * 12 + int(later[5:7])) - (int(earlier[:4]) * 12 + int(earlier[5:7]))
