"""Hostile input is refused at the edge (issue 13): strict bodies, ASCII money, the posting window, and JSON
that would crash a parser. Every answer is 2xx or 4xx in the contract's error shape, never 5xx, and a 4xx
writes nothing. Handlers are invoked with the events/ fixtures under moto; the property tests feed
hypothesis's timestamps (years 1 to 9999, every offset) and odd JSON to every route.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loyalty.kernel.clock import CLOCK
from loyalty.kernel.errors import ValidationFailed
from loyalty.redemption.signatures import header_value
from loyalty.store import core

from tests.support import jobs
from tests.support.aws import api_event, headers_of, invoke, load_event, mocked_aws

NOW = datetime(2026, 3, 14, 10, tzinfo=UTC)  # the posting window: 2026-02-01T00:00:00Z to 2026-03-14T10:05:00Z
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
PARTNER_SECRET = "demo-partner-secret"
FUNCTIONS = {
    "Enroll": "MembersFunction",
    "GetMember": "MembersFunction",
    "GetLedger": "MembersFunction",
    "Adjust": "MembersFunction",
    "Subscribe": "MembersFunction",
    "OverrideTier": "MembersFunction",
    "Earn": "EarnFunction",
    "EarnPreview": "EarnFunction",
    "Refund": "EarnFunction",
    "Activity": "EarnFunction",
    "ListRewards": "RedeemFunction",
    "PayWithPoints": "RedeemFunction",
    "Capture": "RedeemFunction",
    "Void": "RedeemFunction",
    "PartnerRedeem": "PartnersFunction",
    "PartnerCancel": "PartnersFunction",
    "CheckoutQuote": "CheckoutFunction",
    "CheckoutOrder": "CheckoutFunction",
    "GetProgram": "ProgramFunction",
    "Liability": "ProgramFunction",
    "OpenApi": "ProgramFunction",
    "Docs": "ProgramFunction",
}
ROUTES = sorted(FUNCTIONS)
# the routes whose body is a request model of loyalty.requests (capture and void take none)
BODY_ROUTES = [
    "Enroll",
    "Adjust",
    "Subscribe",
    "OverrideTier",
    "Earn",
    "EarnPreview",
    "Refund",
    "Activity",
    "PayWithPoints",
    "PartnerRedeem",
    "PartnerCancel",
    "CheckoutQuote",
    "CheckoutOrder",
]
# the routes that take no body (capture and void, the reads): `{}` or no body at all, nothing else
NO_BODY_ROUTES = [r for r in ROUTES if r not in BODY_ROUTES]
READS = [r for r in NO_BODY_ROUTES if r not in ("Capture", "Void")]
POSTING_ROUTES = ["Earn", "EarnPreview", "Activity", "PartnerRedeem", "CheckoutQuote", "CheckoutOrder"]
CALENDAR_ENDS = ["0001-01-01T00:30:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]


# -- plumbing --------------------------------------------------------------------------------------
def sample_body(route: str) -> dict[str, Any]:
    """The route's events/ body: valid in the module's `world`."""
    raw = load_event(route).get("body")
    return json.loads(raw) if raw else {}


def event_for(route: str, raw: str | None, query: dict[str, str] | None = None) -> dict[str, Any]:
    if route.startswith("Partner"):  # partners sign the raw body; a bad signature would hide the body's fate
        signature = header_value(PARTNER_SECRET, int(time.time()), (raw or "").encode())
        return api_event(route, raw_body=raw or "", headers={"Loyalty-Signature": signature}, query=query)
    event = api_event(route, query=query)
    event["body"] = raw
    return event


def send(route: str, raw: str | None, query: dict[str, str] | None = None) -> tuple[int, Any, list[str]]:
    """Invoke the route's function with this raw body (and these query parameters, if given): (status, parsed
    answer, DynamoDB writes that took effect; a conditional write the table refused changed nothing)."""
    written: list[str] = []

    def after_call(http_response: Any = None, model: Any = None, **_: Any) -> None:
        if model is not None and model.name in WRITES and http_response.status_code == 200:
            written.append(model.name)

    events = core.client().meta.events
    events.register("after-call.dynamodb", after_call)
    try:
        answer = invoke(FUNCTIONS[route], event_for(route, raw, query))
    finally:
        events.unregister("after-call.dynamodb", after_call)
    body = answer.get("body")
    parsed = json.loads(body) if body and headers_of(answer).get("Content-Type") == "application/json" else body
    return answer["statusCode"], parsed, written


def send_json(route: str, body: Any) -> tuple[int, Any, list[str]]:
    return send(route, json.dumps(body))


def assert_refused_cleanly(status: int, body: Any, writes: list[str]) -> None:
    """A 4xx in the contract's shape that wrote nothing."""
    assert 400 <= status < 500, (status, body)
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert {"code", "message", "request_id"} <= set(error) <= {"code", "message", "request_id", "details"}
    assert all(isinstance(error[k], str) and error[k] for k in ("code", "message", "request_id"))
    if error["code"] == "validation_error":
        assert error["details"] and all(set(d) == {"field", "message"} for d in error["details"])
    assert writes == [], writes


def assert_never_5xx(status: int, body: Any, writes: list[str]) -> None:
    assert status < 500, (status, body)
    if status >= 400:
        assert_refused_cleanly(status, body, writes)


def fields(body: Any) -> list[str]:
    return [d["field"] for d in body["error"].get("details") or []]


@pytest.fixture(scope="module")
def world() -> Iterator[None]:
    """One moto world for the whole module (a 4xx writes nothing, so the refusals cannot disturb it; the
    writes the tests do make use ids of their own): cust-1 as the events/ bodies expect (points, order-1
    earned, red-1 held and redeemed with demo-partner), and `prop`, the property tests' own member."""
    with mocked_aws():
        CLOCK.set(NOW)
        for route, body in (
            ("Enroll", sample_body("Enroll")),
            ("Enroll", {"member_id": "prop", "channel": "web"}),
            ("Adjust", {"adjustment_id": "adj-setup", "points": 1_000_000, "reason": "a float"}),
            ("Earn", sample_body("Earn")),
            ("PayWithPoints", {**sample_body("PayWithPoints"), "redemption_id": "red-1"}),
            ("PartnerRedeem", sample_body("PartnerRedeem")),
        ):
            status, answer, _ = send_json(route, body)
            assert status == 201, (route, answer)
        yield


@pytest.fixture(autouse=True)
def clock(world: None) -> None:
    CLOCK.set(NOW)


# -- strict bodies -----------------------------------------------------------------------------------
@pytest.mark.parametrize("route", BODY_ROUTES)
def test_every_body_model_refuses_an_unknown_field_naming_it(world, route):
    status, body, writes = send_json(route, {**sample_body(route), "itmes": [1]})
    assert_refused_cleanly(status, body, writes)
    assert status == 422 and body["error"]["code"] == "validation_error"
    assert {"field": "itmes", "message": "Extra inputs are not permitted"} in body["error"]["details"]


@pytest.mark.parametrize("route", NO_BODY_ROUTES)
def test_a_route_that_takes_no_body_refuses_fields_naming_them(world, route):
    status, body, writes = send_json(route, {"itmes": [1], "reason": "a typo"})
    assert_refused_cleanly(status, body, writes)
    assert status == 422 and body["error"]["code"] == "validation_error"
    assert sorted(fields(body)) == ["itmes", "reason"]
    assert {"field": "itmes", "message": "Extra inputs are not permitted"} in body["error"]["details"]


@pytest.mark.parametrize("route", READS)
@pytest.mark.parametrize("raw", [None, "", "{}"])
def test_no_body_or_an_empty_object_is_no_body(world, route, raw):
    status, body, _ = send(route, raw)
    assert status == 200, body


def known_query(route: str) -> dict[str, str]:
    return dict(load_event(route).get("queryStringParameters") or {})


PAGES = ["OpenApi", "Docs"]  # outside the OpenAPI document: web pages, not API routes


@pytest.mark.parametrize("route", [r for r in ROUTES if r not in PAGES])
def test_an_unknown_query_parameter_is_refused_naming_it_on_every_route(world, route):
    raw = load_event(route).get("body")
    status, body, writes = send(route, raw, query={**known_query(route), "memberid": "cust-2"})
    assert_refused_cleanly(status, body, writes)
    assert status == 422 and body["error"]["code"] == "validation_error"
    assert body["error"]["details"] == [{"field": "memberid", "message": "not a query parameter of this route"}]
    if route in READS:  # the parameters the route declares are still taken
        assert send(route, raw, query=known_query(route))[0] == 200


@pytest.mark.parametrize("route", PAGES)
def test_a_page_takes_a_links_query_string_as_a_web_page_does(world, route):
    status, _, writes = send(route, None, query={"utm_source": "newsletter", "v": "2"})
    assert status == 200 and writes == []


def test_a_misspelt_ledger_parameter_is_refused_not_ignored(world):
    status, body, writes = send("GetLedger", None, query={"limit": "1", "Limit": "2", "cursr": "x"})
    assert_refused_cleanly(status, body, writes)
    assert sorted(fields(body)) == ["Limit", "cursr"]


def test_a_misspelt_items_with_a_gift_card_earns_nothing(world):
    gift_card = [{"sku": "gc-25", "category": "gift-cards", "amount": "25.00", "quantity": 1}]
    order = {"member_id": "cust-1", "order_id": "o-gift", "amount": "25.00", "currency": "USD", "itmes": gift_card}
    status, body, writes = send_json("Earn", order)
    assert_refused_cleanly(status, body, writes)
    assert fields(body) == ["itmes"]
    order["items"] = order.pop("itmes")
    status, body, _ = send_json("Earn", order)
    assert status == 201 and body["points"] == 0  # spelt right, the gift card earns nothing


def test_an_unknown_field_inside_an_item_is_named_by_its_path(world):
    item = {"sku": "tv", "category": "electronics", "amount": "10.00", "quantity": 1, "colour": {"a": [[{}]]}}
    order = {"member_id": "cust-1", "order_id": "o-colour", "amount": "10.00", "currency": "USD", "items": [item]}
    status, body, writes = send_json("Earn", order)
    assert_refused_cleanly(status, body, writes)
    assert fields(body) == ["items.0.colour"]


@pytest.mark.parametrize("amount", ["١٢٠.٠٠", "１２０", "12٠", "۱۲۰", "१२०", "120.٠٠"])
def test_money_strings_take_ascii_digits_only(world, amount):
    order = {"member_id": "cust-1", "order_id": "o-digits", "amount": amount, "currency": "USD"}
    for route in ("Earn", "EarnPreview"):
        status, body, writes = send_json(route, order)
        assert_refused_cleanly(status, body, writes)
        assert fields(body) == ["amount"]
    item = {"sku": "a", "category": "books", "amount": amount, "quantity": 1}
    status, body, writes = send_json("Earn", {**order, "amount": "200.00", "items": [item]})
    assert_refused_cleanly(status, body, writes)
    assert fields(body) == ["items.0.amount"]
    status, body, writes = send_json("Refund", {**sample_body("Refund"), "amount": amount})
    assert_refused_cleanly(status, body, writes)
    assert fields(body) == ["amount"]


# -- the posting window ------------------------------------------------------------------------------
def posting_body(route: str, occurred_at: str, n: int | str, member_id: str = "cust-1") -> dict[str, Any]:
    """A body of the route that would write (or preview) something new, at `occurred_at`."""
    body = sample_body(route)
    key = {
        "Earn": "order_id",
        "EarnPreview": "order_id",
        "Activity": "activity_id",
        "PartnerRedeem": "redemption_id",
        "CheckoutQuote": "order_id",
        "CheckoutOrder": "order_id",
    }
    if route != "CheckoutQuote":  # a quote has no key: it writes nothing
        body[key[route]] = f"pw-{route}-{n}"
    if route == "PartnerRedeem":
        body["reward_id"] = "free-item"
    if route.startswith("Checkout"):
        body.pop("rewards", None)  # `prop` has its signup points only
    return {**body, "member_id": member_id, "occurred_at": occurred_at}


@pytest.mark.parametrize("route", POSTING_ROUTES)
@pytest.mark.parametrize("occurred_at", CALENDAR_ENDS)
def test_occurred_at_at_the_ends_of_the_calendar_is_a_422_not_a_500(world, route, occurred_at):
    status, body, writes = send_json(route, posting_body(route, occurred_at, "end"))
    assert_refused_cleanly(status, body, writes)
    assert status == 422 and fields(body) == ["occurred_at"]


# in the window (2026-03-14T09:00Z) but not RFC 3339: the request models took them (issue 30, defect 6)
NOT_RFC3339 = [
    1773478800,
    1773478800.5,
    "1773478800",
    "2026-03-14 09:00:00Z",
    "2026-03-14T09:00Z",
    "2026-03-14T09:00:00+0000",
]


@pytest.mark.parametrize("route", POSTING_ROUTES)
@pytest.mark.parametrize("n", range(len(NOT_RFC3339)), ids=lambda n: repr(NOT_RFC3339[n]))
def test_an_occurred_at_that_is_not_rfc3339_is_a_422_naming_it(world, route, n):
    status, body, writes = send_json(route, posting_body(route, NOT_RFC3339[n], f"fmt-{n}"))  # type: ignore[arg-type]
    assert_refused_cleanly(status, body, writes)
    assert status == 422 and fields(body) == ["occurred_at"] and "RFC 3339" in body["error"]["message"], body
    accepted = ["2026-03-14T09:00:00Z", "2026-03-14t09:00:00.25z", "2026-03-14T10:00:00+01:00"][n % 3]
    status, body, _ = send_json(route, posting_body(route, accepted, f"rfc-{n}", member_id="prop"))
    assert status in (200, 201) or "occurred_at" not in fields(body), (accepted, body)  # (prop's review cap)


@pytest.mark.parametrize("route", POSTING_ROUTES)
def test_the_posting_window_reaches_back_to_the_first_of_the_previous_month(world, route):
    created = 200 if route in ("EarnPreview", "CheckoutQuote") else 201
    for n, occurred_at in enumerate(["2026-01-31T23:59:59Z", "2026-02-01T00:30:00+01:00", "2025-03-14T10:00:00Z"]):
        status, body, writes = send_json(route, posting_body(route, occurred_at, f"old-{n}"))
        assert_refused_cleanly(status, body, writes)
        assert fields(body) == ["occurred_at"] and "2026-02-01T00:00:00Z" in body["error"]["message"]
    for n, occurred_at in enumerate(["2026-02-01T00:00:00Z", "2026-02-01T01:00:00+01:00", "2026-03-14T10:05:00Z"]):
        status, body, _ = send_json(route, posting_body(route, occurred_at, f"in-{n}"))
        assert status == created, (occurred_at, body)
    status, body, writes = send_json(route, posting_body(route, "2026-03-14T10:05:01Z", "ahead"))
    assert_refused_cleanly(status, body, writes)
    assert fields(body) == ["occurred_at"]


def test_the_window_moves_with_the_clock(world):
    body = posting_body("Earn", "2026-03-20T12:00:00Z", "later")
    assert send_json("Earn", body)[0] == 422  # six days ahead of the clock
    CLOCK.set(datetime(2026, 4, 30, tzinfo=UTC))
    assert send_json("Earn", body)[0] == 201
    CLOCK.set(datetime(2026, 5, 1, tzinfo=UTC))  # March has left the window
    status, answer, writes = send_json("Earn", posting_body("Earn", "2026-03-31T23:59:59Z", "closed"))
    assert_refused_cleanly(status, answer, writes)


# -- hostile JSON ------------------------------------------------------------------------------------
@pytest.mark.parametrize("route", ROUTES)
def test_a_body_of_20000_nested_arrays_is_a_422_on_every_route(world, route):
    status, body, writes = send(route, "[" * 20_000 + "]" * 20_000)
    assert_refused_cleanly(status, body, writes)
    assert status == 422 and fields(body) == ["body"]


@pytest.mark.parametrize("route", ["Earn", "Enroll", "PartnerRedeem"])
def test_nesting_is_counted_outside_strings_only(world, route):
    deep = sample_body(route)
    inner: Any = {}
    for _ in range(80):
        inner = {"a": inner}
    status, body, writes = send_json(route, {**deep, "x": inner})
    assert_refused_cleanly(status, body, writes)
    assert "nests more than 64" in body["error"]["message"]
    # brackets inside a string are text: 20,000 of them make a long string, not a deep body
    status, body, writes = send_json(route, {**deep, "x": "[" * 20_000})
    assert_refused_cleanly(status, body, writes)
    assert fields(body) == ["x"]  # refused as an unknown field, after parsing


def with_raw(route: str, field: str, raw_value: str) -> str:
    """The route's sample body as text, with `field` set to raw JSON text (which json.dumps cannot write)."""
    body = sample_body(route)
    body[field] = "__RAW__"
    return json.dumps(body).replace('"__RAW__"', raw_value)


HOSTILE = {
    "a 5,000-digit integer": ("Adjust", "points", "9" * 5_000),
    "a 5,000-digit integer in an unknown field": ("Earn", "x", "-" + "1" * 5_000),
    "NaN": ("Adjust", "points", "NaN"),
    "Infinity": ("PayWithPoints", "points", "Infinity"),
    "-Infinity in an item": ("Earn", "items", '[{"sku": "a", "category": "b", "amount": "1", "quantity": -Infinity}]'),
    "a lone high surrogate": ("Enroll", "name", '"Ana \\ud800"'),
    "a lone low surrogate": ("Adjust", "reason", '"\\udc00"'),
    "a lone surrogate in a key": ("Activity", "type", '"review", "\\ud83d": 1'),
    "a duplicate key": ("Adjust", "points", '10, "points": -10'),
    "a duplicate key in an item": (
        "Earn",
        "items",
        '[{"sku": "a", "category": "books", "category": "gift-cards", "amount": "1.00"}]',
    ),
    "a 60,000-character name": ("Enroll", "name", json.dumps("n" * 60_000)),
    "a 60,000-character id": ("Earn", "order_id", json.dumps("o" * 60_000)),
    "a float for an integer": ("Adjust", "points", "1e400"),
    "a number for money": ("Earn", "amount", "120.00"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_json_is_a_4xx_in_the_error_shape_and_writes_nothing(world, case):
    route, field, raw_value = HOSTILE[case]
    status, body, writes = send(route, with_raw(route, field, raw_value))
    assert_refused_cleanly(status, body, writes)
    assert status == 422


@pytest.mark.parametrize("route", [*BODY_ROUTES, "Capture", "Void"])
@pytest.mark.parametrize("raw", ["[]", '"x"', "1", "null", "true", "", "{", '{"a": 1}}', "\ufeff{}"])
def test_a_body_that_is_not_one_json_object_is_refused(world, route, raw):
    status, body, writes = send(route, raw)
    if raw == "" and route in ("Capture", "Void", "PartnerCancel"):
        assert status < 500  # no body at all: capture and void need none; an unsigned cancel is refused
        return
    assert_refused_cleanly(status, body, writes)


def test_a_surrogate_pair_is_a_character_and_is_kept(world):
    raw = with_raw("Enroll", "name", '"Ana \\ud83d\\ude00"').replace("cust-1", "cust-emoji")
    raw = raw.replace("ana@example.com", "emoji@example.com")  # an email identifies one member
    status, body, writes = send("Enroll", raw)
    assert status == 201 and writes, body  # a pair is one character (U+1F600), stored as UTF-8


# -- other dates the API and the jobs accept --------------------------------------------------------
@pytest.mark.parametrize("as_of", ["0001-01-01", "0001-12-31", "9999-12-31", "2026-03-15", "2026-02-30", "x"])
@pytest.mark.parametrize("job", ["tier-evaluation", "expiry", "pending-activation"])
def test_a_job_answers_any_as_of_with_a_summary_or_a_422(world, job, as_of):
    try:
        if job == "pending-activation":
            summary = invoke("PendingActivationFunction", {"job": job, "as_of": as_of})
        else:
            summary = jobs.run(job, as_of)
    except ValidationFailed as refused:
        assert refused.details and refused.details[0]["field"] == "as_of"
        assert as_of > NOW.date().isoformat() or as_of in ("2026-02-30", "x")
    else:
        assert summary["as_of"] == as_of and as_of <= NOW.date().isoformat()


# -- property tests ----------------------------------------------------------------------------------
OFFSETS = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))


def rfc3339(when: datetime, zulu: bool) -> str:
    text = when.isoformat()
    return text.replace("+00:00", "Z") if zulu else text


TIMESTAMPS = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59), timezones=OFFSETS),
    # near the window's two ends, where a mistake would show
    st.datetimes(min_value=datetime(2026, 1, 30), max_value=datetime(2026, 3, 15), timezones=OFFSETS),
)
COUNTER = iter(range(10**9))


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(route=st.sampled_from(POSTING_ROUTES), when=TIMESTAMPS, zulu=st.booleans())
def test_any_rfc3339_occurred_at_is_2xx_or_a_clean_4xx(world, route, when, zulu):
    CLOCK.set(NOW)
    text = rfc3339(when, zulu)
    status, body, writes = send_json(route, posting_body(route, text, next(COUNTER), member_id="prop"))
    assert_never_5xx(status, body, writes)
    inside = datetime(2026, 2, 1, tzinfo=UTC) <= when <= NOW + timedelta(minutes=5)
    if not inside:
        assert status == 422 and fields(body) == ["occurred_at"], (text, body)
    else:
        assert status in (200, 201) or "occurred_at" not in fields(body), (text, body)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(day=st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)), route=st.sampled_from(["b", "u"]))
def test_any_birth_date_or_until_is_2xx_or_a_clean_4xx(world, day, route):
    CLOCK.set(NOW)
    if route == "b":
        body = {"member_id": f"born-{next(COUNTER)}", "channel": "web", "birth_date": day.isoformat()}
        status, answer, writes = send_json("Enroll", body)
        assert_never_5xx(status, answer, writes)
        if day <= NOW.date():
            assert status == 201, answer  # any calendar date up to today is a birth date
        else:
            assert status == 422 and fields(answer) == ["birth_date"], answer
    else:
        status, answer, writes = send_json("OverrideTier", {"tier_id": "gold", "reason": "r", "until": day.isoformat()})
        assert_never_5xx(status, answer, writes)
        assert (status == 200) == (day > NOW.date()), answer


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
FRAGMENTS = st.sampled_from(
    ["NaN", "Infinity", "-Infinity", '"\\ud800"', '"\\udfff"', "9" * 4_400, "1e999", "-0", '"\\u0000"', "[]", "{}"]
)


@st.composite
def odd_bodies(draw: st.DrawFn, route: str) -> str:
    kind = draw(st.sampled_from(["value", "field", "extra", "fragment", "nested", "text"]))
    base = sample_body(route)
    if kind == "value":  # any JSON at all
        return json.dumps(draw(JSON_VALUES))
    if kind == "field" and base:  # a defined field of any type
        base[draw(st.sampled_from(sorted(base)))] = draw(JSON_VALUES)
        return json.dumps(base)
    if kind == "extra":  # an undefined field
        return json.dumps({**base, draw(st.text(max_size=8)): draw(JSON_VALUES)})
    if kind == "fragment":  # text json.dumps would not write, at a field or as a new one
        field = draw(st.sampled_from([*sorted(base), "extra"])) if base else "extra"
        return with_raw(route, field, draw(FRAGMENTS)) if base else "{" + f'"extra": {draw(FRAGMENTS)}' + "}"
    if kind == "nested":  # arrays or objects, shallow to far too deep, balanced or not
        depth = draw(st.integers(1, 30_000))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}"), ('[{"a":', "}]")]))
        end = "1" if opener.endswith(":") else ""
        return opener * depth + end + closer * draw(st.sampled_from([depth, depth - 1, 0]))
    return draw(st.text(max_size=200))


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), route=st.sampled_from(ROUTES))
def test_odd_json_on_every_route_is_2xx_or_a_clean_4xx(world, data, route):
    CLOCK.set(NOW)
    raw = data.draw(odd_bodies(route))
    status, body, writes = send(route, raw)
    assert_never_5xx(status, body, writes)
