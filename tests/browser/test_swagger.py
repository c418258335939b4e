"""Swagger UI's "Try it out" (`/docs`) fills each body with the contract's example, which the API takes: an
enrolment and an earn sent as Swagger fills them answer 201 (or, sent before, 200 replayed)."""

from __future__ import annotations

import json
from typing import Any

from tests.support.http import ADMIN, LocalStackProcess


def _open(page: Any, base: str) -> None:
    page.goto(f"{base}/docs")
    page.get_by_role("button", name="Authorize").first.click()
    page.locator("#auth-bearer-value").fill(ADMIN)
    page.get_by_role("button", name="Apply credentials").first.click()
    page.locator(".btn-done").first.click()


def _try(page: Any, path: str, *, execute: bool) -> tuple[Any, str | None]:
    block = page.locator(".opblock-post").filter(has=page.locator(f'.opblock-summary-path[data-path="{path}"]'))
    block.locator(".opblock-summary").first.click()
    block.get_by_role("button", name="Try it out").click()
    body = json.loads(block.locator("textarea.body-param__text").input_value())
    if not execute:
        return body, None
    block.get_by_role("button", name="Execute").click()
    status = block.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for()
    return body, status.inner_text().strip()


def test_try_it_out_fills_every_body_with_an_example_the_api_takes(page: Any, stack: LocalStackProcess) -> None:
    document = json.loads(stack.client.get("/openapi.json", key=None).raw)
    schemas = document["components"]["schemas"]
    _open(page, stack.client.base)
    body, status = _try(page, "/v1/members", execute=True)
    assert body == schemas["EnrollRequest"]["examples"][0] and body["member_id"] == "cust-1"
    assert status in ("201", "200"), status
    body, status = _try(page, "/v1/earn", execute=True)
    assert body == schemas["EarnRequest"]["examples"][0]
    assert status in ("201", "200"), status
    body, _ = _try(page, "/v1/members/lookup", execute=False)
    assert body == {"phone": "+14155550123"}  # one identifier, not all three
