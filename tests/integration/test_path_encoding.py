"""Ids in the path as API Gateway's REST APIs hand them to a function: percent-encoded as the client sent them
(`:` as %3A, `@` as %40). The edge decodes them once (loyalty.edge.http.decode_path)."""

from __future__ import annotations

import pytest

from tests.support.aws import api_event, call

ENCODED = {"shop:42@acme": "shop%3A42%40acme", "a.b_c-D9": "a.b_c-D9"}


def _enrolled(member_id: str) -> None:
    status, body, _ = call("MembersFunction", api_event("Enroll", body={"member_id": member_id, "channel": "web"}))
    assert status == 201, body


def _get(encoded: str) -> tuple[int, object]:
    event = api_event("GetMember", path_params={"member_id": encoded})
    assert event["path"] == f"/v1/members/{encoded}"  # the path and its parameter both still encoded
    status, body, _ = call("MembersFunction", event)
    return status, body


@pytest.mark.parametrize("member_id", sorted(ENCODED))
def test_an_encoded_id_in_the_path_finds_the_member(aws, member_id):
    _enrolled(member_id)
    status, body = _get(ENCODED[member_id])
    assert status == 200, body
    assert body["member_id"] == member_id  # type: ignore[index]


def test_an_encoded_partner_and_redemption_id_reach_the_signature_check_decoded(aws):
    """The partner signature check reads the partner's id from the path parameters: decoded before it runs."""
    from loyalty.edge import http

    event = http.decode_path(
        {"path": "/v1/partners/demo%2Dpartner/redemptions", "pathParameters": {"partner_id": "demo%2Dpartner"}}
    )
    assert (event["path"], event["pathParameters"]) == (
        "/v1/partners/demo-partner/redemptions",
        {"partner_id": "demo-partner"},
    )


@pytest.mark.parametrize(
    ("encoded", "why"),
    [
        ("shop%253A42", "decoded once: %253A is the text %3A, which no id holds"),
        ("a%2Fb", "a slash is never made from an id: the segment stays as sent"),
        ("caf%FF", "not UTF-8 once decoded: kept as sent"),
    ],
)
def test_what_decodes_to_no_id_is_a_422_naming_the_parameter(aws, encoded, why):
    _enrolled("shop:42")  # would be found if %253A were decoded twice
    status, body = _get(encoded)
    assert status == 422, (why, body)
    assert body["error"]["details"][0]["field"] == "member_id", why  # type: ignore[index]
