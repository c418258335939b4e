"""Fuzzing: schemathesis generates requests from the project's own OpenAPI document and sends them to
the local stack with every auth mode (admin key, checkout key, no key; partners signed and unsigned).
No answer may be a 5xx, and every answer must conform to the document. FUZZ_EXAMPLES sets the number
of examples per operation (`make soak` raises it); the figures are printed at the end.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import time
import uuid
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from loyalty_local import api_reference
from tests.support.aws import declared_errors

ROOT = Path(__file__).resolve().parents[2]
# The checks that say "no 5xx, every answer conforms to the document". Left out on purpose: the checks
# that judge auth from the case's own intent (this test sets the auth mode itself) and the one that
# expects 405 for an undeclared method (it runs in the coverage phase only; tests/e2e/test_method_not_allowed.py
# sends every undeclared method of every route instead).
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
DOCUMENT = json.loads((ROOT / "layers/loyalty/loyalty/openapi.json").read_text())
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))
# The coverage phase (boundary values of every field, many explicit examples per operation) runs in
# `make soak`; `make test` keeps to generated examples.
COVERAGE = os.environ.get("FUZZ_COVERAGE") == "1"
schema = schemathesis.openapi.from_dict(
    DOCUMENT, config=schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": COVERAGE}}})
)
FIGURES = {"requests": 0, "server_errors": 0}
AUTH_MODES = ["admin", "checkout", "none"]
SECRETS = {"demo-partner": "demo-partner-secret", "other-partner": "other-partner-secret"}


@pytest.fixture(scope="module", autouse=True)
def no_endpoints_left_behind(stack):
    """The generated requests create webhook endpoints (an URL to 127.0.0.1 is a good one locally): delete them
    after the module, so that the stack's later tests do not send every event to them."""
    yield
    listed = stack.client.get("/v1/webhooks", key="lk_local_admin").json or {}
    for endpoint in listed.get("endpoints", []):
        stack.client.request("DELETE", f"/v1/webhooks/{endpoint['endpoint_id']}", key="lk_local_admin")


def _headers(case: schemathesis.Case, body: bytes, mode: str) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if case.path.startswith("/v1/partners/"):
        partner = str((case.path_parameters or {}).get("partner_id", ""))
        if mode != "none" and partner in SECRETS:
            t = str(int(time.time()))
            digest = hmac.new(SECRETS[partner].encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
            headers["Loyalty-Signature"] = f"t={t},v1={digest}"
    elif mode != "none":
        headers["Authorization"] = "Bearer " + ("lk_local_admin" if mode == "admin" else "lk_local_checkout")
    return headers


@pytest.mark.parametrize("mode", AUTH_MODES)
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors_and_answers_conform(case: schemathesis.Case, mode: str, stack) -> None:
    if case.body is schemathesis.core.NOT_SET:
        body = b""
    elif isinstance(case.body, bytes):
        body = case.body
    else:
        body = json.dumps(case.body).encode()
    headers = _headers(case, body, mode)
    case.headers = {**(case.headers or {}), **headers}  # what is sent is what the checks judge
    kwargs = case.as_transport_kwargs(base_url=stack.client.base)
    response = requests.request(
        case.method, kwargs["url"], params=kwargs.get("params"), data=body or None, headers=headers, timeout=30
    )
    FIGURES["requests"] += 1
    if response.status_code >= 500:
        FIGURES["server_errors"] += 1
    assert response.status_code < 500, (case.method, case.path, dict(case.query or {}), body[:300], response.text[:300])
    case.validate_response(schemathesis.Response.from_requests(response, verify=True), checks=CHECKS)
    # An error's code is one the route declares, not only its status. `not_found` is the gateway's for a path that
    # is no route: an id of `.` or `..` is a dot-segment the client removes, and the request reaches no route.
    if response.status_code >= 400 and response.json()["error"]["code"] != "not_found":
        declared = declared_errors()[(case.method.lower(), case.path)]
        code = response.json()["error"]["code"]
        assert (response.status_code, code) in declared, (case.method, case.path, response.status_code, code)


def test_print_figures() -> None:
    print(f"\nfuzzing: {FIGURES['requests']} requests, {FIGURES['server_errors']} server errors")


def test_the_hostile_bodies_of_issue_13_are_422_over_http(api) -> None:
    """What schemathesis does not send: the reproductions of issue 13 through the local stack's gateway.
    Every POST of the document gets 20,000 nested arrays (a RecursionError, a 500, before the fix)."""
    nested = b"[" * 20_000 + b"]" * 20_000
    posts = [path for path, operations in DOCUMENT["paths"].items() if "post" in operations]
    assert len(posts) >= 10
    for path in posts:
        url = path.replace("{partner_id}", "demo-partner").replace("{member_id}", "hostile-1")
        url = url.replace("{redemption_id}", "hostile-red")
        headers = {"Content-Type": "application/json"}
        if path.startswith("/v1/partners/"):
            t = str(int(time.time()))
            digest = hmac.new(b"demo-partner-secret", t.encode() + b"." + nested, hashlib.sha256).hexdigest()
            headers["Loyalty-Signature"] = f"t={t},v1={digest}"
        answer = api.request("POST", url, raw=nested, key="lk_local_admin", headers=headers)
        assert answer.status == 422, (path, answer.raw[:200])
        assert answer.json["error"]["details"] == [
            {"field": "body", "message": "the body nests more than 64 levels deep"}
        ]
    api.set_clock("2026-03-14T10:00:00Z")
    api.enroll("hostile-1")
    order = {"member_id": "hostile-1", "amount": "10.00", "currency": "USD"}
    for n, when in enumerate(["0001-01-01T00:30:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]):
        answer = api.post("/v1/earn", {**order, "order_id": f"hostile-{n}", "occurred_at": when})
        assert answer.status == 422 and answer.json["error"]["details"][0]["field"] == "occurred_at", answer.raw
    answer = api.post("/v1/earn", {**order, "order_id": "hostile-3", "amount": "١٢٠.٠٠"})
    assert answer.status == 422 and answer.json["error"]["details"][0]["field"] == "amount", answer.raw
    assert api.get("/v1/members/hostile-1").json["points"]["available"] == 100  # the signup bonus alone


# The ids of the reference's walk, made this run's own (other tests share the stack)
WALK_IDS = [
    *("cust-1", "cust-2", "order-1", "order-2", "refund-1", "review-1", "adj-1", "red-1", "pwp-1", "pwp-2"),
    *("till-order-1", "acme", "gift-1"),  # v1.2: the walk's account and its transfer
    "email-platform",  # v1.2: the walk's webhook endpoint
    "from-square-1",  # v1.2: the walk's import
]


def _own(tag: str, text: str) -> str:
    for old in [*WALK_IDS, "sub-1", "card-0001"]:
        for before in ('"', "/", "="):  # a body's value, a path's segment, a query's value
            text = text.replace(f"{before}{old}", f"{before}{tag}-{old}")
    phone = str(int(tag, 16) % 10**7).zfill(7)
    # the search's example is the phone as a person writes it: this run's phone, written with spaces
    text = text.replace("(415) 555-0123", f"+1 415 {phone}")
    return text.replace("+14155550123", "+1415" + phone).replace("ana@", f"{tag}@")


NOT_SET = schemathesis.core.NOT_SET


def test_every_route_s_success_answer_conforms_to_the_document(api) -> None:
    """What the generated examples rarely reach: a 2xx of every route. The API reference's walk (a member's
    day, every route once at least) is sent to the local stack and each answer is judged by schemathesis
    against the document: the status is documented, and the body has the status's schema."""
    tag = uuid.uuid4().hex[:8]
    api.set_clock(api_reference.NOW)
    judged = set()
    delivery_id = ""  # the walk's retry names the delivery its test made
    upload = ""  # the walk's import: its file PUT to the URL its creation answered, then its worker waited for
    for method, path, payload in api_reference.WALK:
        if method == api_reference.UPLOAD:
            assert requests.put(upload, data=api_reference.IMPORT_FILE, timeout=30).status_code == 200
            continue
        if method == api_reference.WORK:
            _work_done(api, f"{tag}-from-square-1")
            continue
        path = _own(tag, path).replace("{delivery_id}", delivery_id)
        body = json.loads(_own(tag, json.dumps(payload))) if payload is not None else None
        raw = json.dumps(body).encode() if body is not None else b""
        url_path, _, query = path.partition("?")
        operation = schema.find_operation_by_path(method, url_path)
        assert operation is not None, (method, path)
        params = re.fullmatch(re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(operation.path)), url_path)
        assert params is not None, (operation.path, url_path)
        headers = {"Content-Type": "application/json"}
        if url_path.startswith("/v1/partners/"):
            t = str(int(time.time()))
            digest = hmac.new(b"demo-partner-secret", t.encode() + b"." + raw, hashlib.sha256).hexdigest()
            headers["Loyalty-Signature"] = f"t={t},v1={digest}"
        else:
            headers["Authorization"] = "Bearer lk_local_admin"
        query_params = dict(pair.split("=", 1) for pair in query.split("&")) if query else {}
        case = operation.Case(
            path_parameters=params.groupdict(),
            query=query_params,
            headers=headers,
            body=body if "requestBody" in DOCUMENT["paths"][operation.path][method.lower()] else NOT_SET,
        )
        response = requests.request(
            method, stack_url(api) + url_path, params=query_params, data=raw or None, headers=headers, timeout=30
        )
        assert 200 <= response.status_code < 300, (method, path, response.text[:300])
        delivery_id = response.json().get("delivery_id", delivery_id) if response.content else delivery_id
        upload = response.json().get("upload", {}).get("url", upload) if response.content else upload
        case.validate_response(schemathesis.Response.from_requests(response, verify=True), checks=CHECKS)
        judged.add((method.lower(), operation.path))
    assert judged == {(m, p) for p, ops in DOCUMENT["paths"].items() for m in ops}


def _work_done(api, import_id: str) -> None:
    """The stack's import worker has done what was asked (the status is no longer validating or applying)."""
    deadline = time.monotonic() + 60
    while api.get(f"/v1/imports/{import_id}", key="lk_local_admin").json["status"] in ("validating", "applying"):
        assert time.monotonic() < deadline
        time.sleep(0.1)


def stack_url(api) -> str:
    return str(api.base)
