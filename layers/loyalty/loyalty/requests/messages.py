"""The programme manager's lists (v1.2): their query's month, page and format (loyalty.reports.messages)."""

from __future__ import annotations

from typing import Literal

MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
ListFormat = Literal["json", "csv"]
CSV = "text/csv; charset=utf-8"
NEXT_CURSOR_HEADER = "Next-Cursor"  # a CSV page's cursor of the next (absent on the last page)
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
