"""The programme manager's lists (loyalty.reports.messages): their CSV and their cursors, pure."""

from __future__ import annotations

import csv
import io

import pytest
from loyalty.answers.messages import ExpiringRow
from loyalty.kernel.errors import ValidationFailed
from loyalty.reports import messages


def row(**changes: object) -> ExpiringRow:
    base = {
        "member_id": "m-1",
        "name": "Ana",
        "email": "ana@example.com",
        "phone": "+14155550101",
        "status": "active",
        "tier_id": "red",
        "points": 40,
        "balance": 140,
    }
    return ExpiringRow.model_validate({**base, **changes})


def test_a_csv_page_has_one_header_line_empty_cells_for_nulls_and_no_formula_a_spreadsheet_would_run() -> None:
    text = messages.csv_page(
        [row(), row(member_id="m-2", name="=HYPERLINK(1)", phone=None), row(member_id="m-3", name="-x", email="@a")],
        messages.EXPIRING_COLUMNS,
    )
    assert text.splitlines()[0] == "member_id,name,email,phone,status,tier_id,points,balance"
    assert "\r\n" in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["name"], r["email"], r["phone"]) for r in rows] == [
        ("Ana", "ana@example.com", "+14155550101"),  # a phone number stays as it is
        ("'=HYPERLINK(1)", "ana@example.com", ""),
        ("'-x", "'@a", "+14155550101"),
    ]


def test_a_cursor_is_read_back_for_its_month_only() -> None:
    last = {"PK": {"S": "MEMBER#m-1"}, "SK": {"S": "MEMBER"}, "EXPPK": {"S": "EXP#03"}, "EXPSK": {"S": "2027-03#m-1"}}
    cursor = messages.encode_cursor("2027-03", 3, last)
    assert messages.decode_cursor(cursor, "2027-03") == (3, last)
    assert messages.decode_cursor(messages.encode_cursor("2027-03", 4, None), "2027-03") == (4, None)
    assert messages.decode_cursor(None, "2027-03") == (0, None)
    for wrong in (
        messages.encode_cursor("2027-04", 3, last),
        "not-a-cursor",
        messages.encode_cursor("2027-03", 16, None),
    ):
        with pytest.raises(ValidationFailed):
            messages.decode_cursor(wrong, "2027-03")
