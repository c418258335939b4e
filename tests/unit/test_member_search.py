"""Issue 28, item 4: what a person types in the console's search box, read as a member id, a card, an email or
a phone number (a national number in the programme's country), without AWS."""

from __future__ import annotations

import pytest
from loyalty.kernel.errors import ValidationFailed
from loyalty.members.search import phone, readings
from loyalty.requests.common import PHONE_FORMAT, LookupRequest
from pydantic import ValidationError


@pytest.mark.parametrize(
    ("typed", "country", "e164"),
    [
        ("(415) 555-0005", "US", "+14155550005"),
        ("415.555.0005", "US", "+14155550005"),
        ("1 415 555 0005", "US", "+14155550005"),
        ("+1 415 555 0005", None, "+14155550005"),
        ("+44 20 7946 0000", "US", "+442079460000"),
        ("020 7946 0000", "GB", "+442079460000"),
        ("(415) 555-0005", None, None),  # a national number with no country to read it in
        ("555-0005", "US", None),  # too short to be a US number
        ("020 7946 0000", "US", None),
    ],
)
def test_a_phone_as_people_write_it_is_read_with_the_programmes_country(typed, country, e164):
    assert phone(typed, country) == e164


def test_what_was_typed_decides_what_is_tried_and_in_which_order():
    assert readings("(415) 555-0005", "US") == [("phone", "+14155550005")]
    assert readings("ana@example.com", "US") == [("email", "ana@example.com"), *both("ana@example.com")]
    assert readings("cust-1", "US") == both("cust-1")
    assert readings("card-0001", "US") == both("card-0001")
    assert readings("4155550005", "US") == [*both("4155550005"), ("phone", "+14155550005")]
    assert readings(" +14155550005 ", "US") == [("phone", "+14155550005")]


def both(value: str) -> list[tuple[str, str]]:
    return [("member_id", value), ("card_id", value)]


@pytest.mark.parametrize("typed", ["(415) 555", "(415) 555-0005 x"])
def test_a_text_that_can_only_be_a_phone_and_cannot_be_read_says_the_international_format(typed):
    with pytest.raises(ValidationFailed) as refused:
        readings(typed, "US")
    assert PHONE_FORMAT in refused.value.details[0]["message"]
    assert refused.value.details[0]["field"] == "query"


def test_the_api_stays_strict_and_says_the_same_plain_sentence():
    assert PHONE_FORMAT == "use the international format, e.g. +14155550123"
    with pytest.raises(ValidationError) as refused:
        LookupRequest.model_validate({"phone": "(415) 555-0005"})
    assert [e["msg"] for e in refused.value.errors()] == [PHONE_FORMAT]
    assert LookupRequest.model_validate({"phone": "+14155550005"}).identifier == ("phone", "+14155550005")
