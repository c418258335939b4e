"""Each route lists the error codes it may answer (http.answers(errors=...)), and only those: the document and
docs/api.md show them. Every test's error answer is checked against its route's list (tests.support.aws.call);
here, for a few routes, every code of the list that the route's own code raises is provoked, and the codes of
other routes are not listed."""

from __future__ import annotations

from typing import Any

from tests.support.aws import api_event, call, declared_errors

# what the edge answers on every keyed route, and on every signed one: not the route's own code
KEYED = {"unauthorized", "forbidden", "validation_error", "internal_error", "payload_too_large", "busy"}
SIGNED = {"invalid_signature", "validation_error", "internal_error", "payload_too_large", "busy"}


def codes(method: str, path: str) -> set[str]:
    return {code for _, code in declared_errors()[(method, path)]}


def _code(function: str, name: str, body: dict[str, Any] | None = None, **kw: Any) -> str | None:
    status, answer, _ = call(function, api_event(name, body=body, **kw) if body is not None else api_event(name, **kw))
    return None if status < 400 else str(answer["error"]["code"])


def test_a_route_lists_only_its_own_errors() -> None:
    assert codes("post", "/v1/members") >= {"member_exists", "identifier_in_use"}
    assert not codes("post", "/v1/members") & {"insufficient_points", "refund_exceeds_order", "order_not_found"}
    keyed = [(m, p) for (m, p) in declared_errors() if not p.startswith("/v1/partners/")]
    assert all("invalid_signature" not in codes(m, p) for m, p in keyed)
    assert all("unauthorized" not in codes(m, p) for m, p in declared_errors() if p.startswith("/v1/partners/"))
    assert codes("get", "/v1/program") == {"unauthorized", "forbidden", "validation_error", "internal_error"}


def test_every_refund_error_listed_is_one_the_refund_answers(aws) -> None:
    order = {"member_id": "r-1", "order_id": "o-1", "amount": "100.00", "currency": "USD"}
    refund = {"member_id": "r-1", "order_id": "o-1", "refund_id": "rf-1", "amount": "40.00"}
    assert _code("MembersFunction", "Enroll", {"member_id": "r-1", "channel": "web"}) is None
    assert _code("EarnFunction", "Earn", order) is None
    provoked = {
        _code("EarnFunction", "Refund", {**refund, "member_id": "nobody"}),
        _code("EarnFunction", "Refund", {**refund, "order_id": "o-none"}),
        _code("EarnFunction", "Refund", {**refund, "amount": "100.01"}),
        _code("EarnFunction", "Refund", {**refund, "amount": "oops"}),
        _code("EarnFunction", "Refund", refund),
        _code("EarnFunction", "Refund", {**refund, "amount": "41.00"}),  # the same refund id, another body
    }
    status = api_event("SetStatus", path_params={"member_id": "r-1"}, body={"status": "closed", "reason": "gone"})
    assert call("MembersFunction", status)[0] == 200
    provoked.add(_code("EarnFunction", "Refund", {**refund, "refund_id": "rf-2"}))
    assert provoked - {None} == codes("post", "/v1/refunds") - KEYED | {"validation_error"}


def test_every_enrolment_error_listed_is_one_the_enrolment_answers(aws) -> None:
    enrol = {"member_id": "e-1", "channel": "web", "email": "e1@example.com"}
    assert _code("MembersFunction", "Enroll", enrol) is None
    provoked = {
        _code("MembersFunction", "Enroll", {**enrol, "channel": "pos"}),
        _code("MembersFunction", "Enroll", {**enrol, "member_id": "e-2"}),
        _code("MembersFunction", "Enroll", {**enrol, "member_id": "e-3", "email": "e3@", "channel": "web"}),
    }
    status = api_event("SetStatus", path_params={"member_id": "e-1"}, body={"status": "closed", "reason": "gone"})
    assert call("MembersFunction", status)[0] == 200
    provoked.add(_code("MembersFunction", "Enroll", {"member_id": "e-1", "channel": "web"}))
    assert provoked == codes("post", "/v1/members") - KEYED | {"validation_error"}
