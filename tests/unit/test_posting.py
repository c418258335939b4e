"""The posting window (CONTRACT.md, Conventions) as a pure rule: `loyalty.domain.posting`; no AWS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loyalty.domain import posting
from loyalty.kernel.errors import ValidationFailed

NOW = datetime(2026, 3, 14, 10, tzinfo=UTC)
# Every offset RFC 3339 can write (±23:59), so a local time near year 1 or 9999 may lie outside datetime's range in UTC
OFFSETS = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
ANY_TIME = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59), timezones=OFFSETS)


def test_the_window_opens_on_the_first_of_the_previous_month_and_closes_five_minutes_ahead():
    assert posting.window(NOW) == (datetime(2026, 2, 1, tzinfo=UTC), NOW + timedelta(minutes=5))
    assert posting.window(datetime(2027, 1, 10, tzinfo=UTC))[0] == datetime(2026, 12, 1, tzinfo=UTC)
    # "now" in another offset is the same instant: 2026-03-01T00:30+02:00 is still February in UTC
    assert posting.window(datetime(2026, 3, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))))[0] == datetime(
        2026, 1, 1, tzinfo=UTC
    )


def test_both_ends_are_inclusive_and_the_answer_is_utc():
    earliest, latest = posting.window(NOW)
    assert posting.check(earliest, NOW) == earliest
    assert posting.check(latest, NOW) == latest
    paris = datetime(2026, 2, 1, 1, 0, tzinfo=timezone(timedelta(hours=1)))  # 2026-02-01T00:00Z
    assert posting.check(paris, NOW) == earliest and posting.check(paris, NOW).tzinfo is UTC
    for outside in (earliest - timedelta(microseconds=1), latest + timedelta(microseconds=1)):
        with pytest.raises(ValidationFailed) as refused:
            posting.check(outside, NOW)
        assert refused.value.status == 422 and refused.value.details
        assert refused.value.details[0]["field"] == "occurred_at"


@pytest.mark.parametrize(
    "text", ["0001-01-01T00:30:00+00:00", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]
)
def test_the_ends_of_the_calendar_are_refused_not_overflowed(text):
    with pytest.raises(ValidationFailed) as refused:
        posting.check(datetime.fromisoformat(text), NOW, field="when")
    assert refused.value.details and refused.value.details[0]["field"] == "when"


def test_a_time_without_an_offset_is_refused_and_now_must_be_aware():
    with pytest.raises(ValidationFailed):
        posting.check(datetime(2026, 3, 1), NOW)
    with pytest.raises(ValueError):
        posting.window(datetime(2026, 3, 1))


def test_a_clock_at_the_ends_of_the_calendar_still_gives_a_window():
    assert posting.window(datetime(1, 1, 5, tzinfo=UTC))[0] == datetime.min.replace(tzinfo=UTC)
    assert posting.window(datetime.max.replace(tzinfo=UTC))[1] == datetime.max.replace(tzinfo=UTC)


CLOCKS = st.one_of(  # the clock keeps UTC
    st.just(NOW), st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=st.just(UTC))
)


@settings(max_examples=300, deadline=None)
@given(
    now=CLOCKS,
    anywhere=ANY_TIME,
    shift=st.timedeltas(min_value=-timedelta(days=70), max_value=timedelta(minutes=10)),
    offset=OFFSETS,
    near=st.booleans(),
)
def test_any_time_is_accepted_exactly_when_it_lies_in_the_window(now, anywhere, shift, offset, near):
    when = (now + shift).astimezone(offset) if near else anywhere  # near: both sides of each end, often
    earliest, latest = posting.window(now)
    try:
        accepted = posting.check(when, now)
    except ValidationFailed as refused:
        assert refused.details and refused.details[0]["field"] == "occurred_at"
        assert when < earliest or when > latest
    else:
        assert earliest <= accepted <= latest and accepted == when and accepted.tzinfo is UTC


# -- what a client may send as `occurred_at` (loyalty.requests.common.PostingTime) ----------------------
NOT_RFC3339 = {
    "a unix number": 1773482400,
    "a unix float": 1773482400.5,
    "a unix number in a string": "1773482400",
    "a space for the T": "2026-03-14 09:00:00Z",
    "no seconds": "2026-03-14T09:00Z",
    "no seconds, with an offset": "2026-03-14T09:00+01:00",
    "a comma before the fraction": "2026-03-14T09:00:00,5Z",
    "an offset without its colon": "2026-03-14T09:00:00+0100",
    "an offset of hours only": "2026-03-14T09:00:00+01",
    "no offset": "2026-03-14T09:00:00",
    "a date": "2026-03-14",
    "the basic format": "20260314T090000Z",
    "a trailing newline": "2026-03-14T09:00:00Z\n",
    "a leading space": " 2026-03-14T09:00:00Z",
    "a dot without digits": "2026-03-14T09:00:00.Z",
    "Arabic-Indic digits": "٢٠٢٦-03-14T09:00:00Z",
    "a boolean": True,
}
RFC3339 = {
    "2026-03-14T09:00:00Z": datetime(2026, 3, 14, 9, tzinfo=UTC),
    "2026-03-14t09:00:00z": datetime(2026, 3, 14, 9, tzinfo=UTC),  # RFC 3339 allows lower case
    "2026-03-14T09:00:00.5Z": datetime(2026, 3, 14, 9, 0, 0, 500_000, tzinfo=UTC),
    "2026-03-14T09:00:00.123456789Z": datetime(2026, 3, 14, 9, 0, 0, 123_456, tzinfo=UTC),
    "2026-03-14T10:30:00+01:30": datetime(2026, 3, 14, 9, tzinfo=UTC),
    "2026-03-14T09:00:00-00:00": datetime(2026, 3, 14, 9, tzinfo=UTC),
}


@pytest.fixture
def posting_time() -> Iterator[Any]:
    from loyalty.kernel.clock import CLOCK
    from loyalty.requests.common import PostingTime
    from pydantic import TypeAdapter

    CLOCK.set(NOW)
    try:
        yield TypeAdapter(PostingTime)
    finally:
        CLOCK.set(None)


@pytest.mark.parametrize("case", sorted(NOT_RFC3339))
def test_an_occurred_at_that_is_not_rfc3339_is_refused(posting_time, case):
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as refused:
        posting_time.validate_python(NOT_RFC3339[case])
    assert "RFC 3339" in str(refused.value), refused.value


@pytest.mark.parametrize("text", sorted(RFC3339))
def test_an_rfc3339_occurred_at_is_taken_in_utc(posting_time, text):
    assert posting_time.validate_python(text) == RFC3339[text]
    assert posting_time.validate_json(json.dumps(text)) == RFC3339[text]
