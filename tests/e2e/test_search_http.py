"""Issue 28, item 4 over HTTP: the programme says its country, a search reads a phone as people write it, and the
strict routes say the plain sentence instead of a regular expression."""

from __future__ import annotations

from tests.support.http import Client

SENTENCE = "use the international format, e.g. +14155550123"


def test_the_programme_says_its_country(api: Client) -> None:
    assert api.get("/v1/program").json["country"] == "US"


def test_a_search_finds_a_member_by_a_national_phone_an_email_a_card_or_an_id(api: Client) -> None:
    api.enroll("e2e-find", phone="+14155550177", email="find@example.com", card_id="card-e2e-find")
    for typed, kind, value in [
        ("(415) 555-0177", "phone", "+14155550177"),
        ("415 555 0177", "phone", "+14155550177"),
        ("+1 415-555-0177", "phone", "+14155550177"),
        ("FIND@example.com", "email", "FIND@example.com"),
        ("card-e2e-find", "card_id", "card-e2e-find"),
        ("e2e-find", "member_id", "e2e-find"),
    ]:
        found = api.post("/v1/members/search", {"query": typed})
        assert found.status == 200, (typed, found.json)
        assert (found.json["found_by"], found.json["value"], found.json["member"]["member_id"]) == (
            kind,
            value,
            "e2e-find",
        ), typed
        assert found.json["member"] == api.get("/v1/members/e2e-find").json


def test_a_search_that_finds_no_one_or_cannot_read_a_phone_says_so_plainly(api: Client) -> None:
    missing = api.post("/v1/members/search", {"query": "(415) 555-0999"})
    assert missing.status == 404 and missing.json["error"]["message"] == "no member has phone +14155550999"
    unread = api.post("/v1/members/search", {"query": "(415) 555"})
    assert unread.status == 422 and unread.json["error"]["details"] == [{"field": "query", "message": SENTENCE}]


def test_the_strict_routes_refuse_a_national_phone_with_the_same_sentence(api: Client) -> None:
    for path, body in [
        ("/v1/members/lookup", {"phone": "(415) 555-0005"}),
        ("/v1/members", {"member_id": "e2e-national", "channel": "web", "phone": "(415) 555-0005"}),
    ]:
        refused = api.post(path, body)
        assert refused.status == 422
        assert refused.json["error"]["details"] == [{"field": "phone", "message": SENTENCE}], refused.json
        assert "pattern" not in refused.json["error"]["message"]
