from __future__ import annotations

import logging

from tests.support.aws import api_event, call


def test_an_unexpected_error_is_a_500_with_a_request_id_and_no_trace(aws, monkeypatch):
    import io

    from loyalty.kernel.observability import logger
    from loyalty.store import members as store

    log = io.StringIO()
    handler = logging.StreamHandler(log)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)

    def explode(member_id: str):
        raise RuntimeError("boom: botocore said AccessDenied on arn:aws:dynamodb:secret-table")

    monkeypatch.setattr(store, "load_member", explode)
    status, body, _ = call("MembersFunction", api_event("GetMember", path_params={"member_id": "cust-1"}))
    assert status == 500
    assert body["error"]["code"] == "internal_error"
    assert body["error"]["request_id"] == "sample-GetMember"
    assert "boom" not in str(body) and "Traceback" not in str(body)
    logger.removeHandler(handler)
    logged = log.getvalue()
    assert "Traceback" in logged and "boom" in logged  # the stack trace is in the log, not the answer


def test_scopes_are_enforced_per_route(aws):
    status, body, _ = call("MembersFunction", api_event("Enroll", scopes="read"))
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, body, _ = call("MembersFunction", api_event("GetMember", scopes="earn"))
    assert status == 403


def test_a_body_that_is_not_utf8_is_a_422_not_a_500(aws):
    import base64

    event = api_event("Enroll")
    event["body"] = base64.b64encode(b"\x80\xff").decode()
    event["isBase64Encoded"] = True
    status, body, _ = call("MembersFunction", event)
    assert status == 422 and body["error"]["details"] == [{"field": "body", "message": "the body is not UTF-8 JSON"}]
