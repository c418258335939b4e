"""A method a route does not have answers 405 `method_not_allowed` in the contract's error shape, with an
`Allow` header naming the methods it has (RFC 9110), not the 404 of a path that does not exist (found by
Schemathesis' unsupported-method check). Locally the stack's gateway routes from template.yaml's API events;
deployed, API Gateway answers its own MISSING_AUTHENTICATION_TOKEN (the template's 404) instead: docs/api.md."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.http import ADMIN, Client

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = json.loads((ROOT / "layers/loyalty/loyalty/openapi.json").read_text())
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _concrete(path: str) -> str:
    return (
        path.replace("{partner_id}", "demo-partner")
        .replace("{member_id}", "cust-405")
        .replace("{redemption_id}", "red-405")
    )


def test_every_method_a_route_lacks_is_a_405_naming_the_methods_it_has(api: Client) -> None:
    answered = 0
    for path, operations in DOCUMENT["paths"].items():
        allowed = {m.upper() for m in operations}
        for method in sorted(set(METHODS) - allowed):
            answer = api.request(method, _concrete(path), key=ADMIN)
            assert answer.status == 405, (method, path, answer.status, answer.raw[:200])
            error = answer.json["error"]
            assert error["code"] == "method_not_allowed" and error["request_id"], (method, path, error)
            assert f"{method} " in error["message"], error
            assert set(answer.headers["Allow"].split(", ")) == allowed, (method, path, answer.headers)
            answered += 1
    assert answered >= 16


def test_a_path_that_does_not_exist_is_still_a_404(api: Client) -> None:
    answer = api.request("GET", "/v1/nothing-here", key=ADMIN)
    assert answer.status == 404 and answer.json["error"]["code"] == "not_found"
    assert "Allow" not in answer.headers
