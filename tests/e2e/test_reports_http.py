"""The reports, the job runs and Swagger UI over HTTP on the local stack (as `make run` serves them)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.support.http import ADMIN, Client


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def settled(api: Client) -> None:
    """What was written so far has been through the stream processor (the local stack flushes it first)."""
    assert api.get("/_local/events?detail_type=none", key=None).status == 200


def tiers(api: Client) -> dict[str, Any]:
    answer = api.get("/v1/reports/tiers", key=ADMIN)
    assert answer.status == 200, answer.raw
    return dict(answer.json)


def test_the_reports_follow_what_members_do(api):
    # a month of its own, so the activity figures are this test's alone (the stack is shared)
    api.set_clock("2031-05-10T10:00:00Z")
    settled(api)
    before = tiers(api)
    ana, ben = unique("rep-ana"), unique("rep-ben")
    api.enroll(ana)
    api.enroll(ben)
    earn = {"member_id": ana, "order_id": unique("o"), "amount": "1200.00", "currency": "USD"}
    assert api.post("/v1/earn", earn).status == 201  # 1,200 points, and silver
    adjustment = {"adjustment_id": "adj-1", "points": 25, "reason": "goodwill"}
    assert api.post(f"/v1/members/{ben}/adjustments", adjustment, key=ADMIN).status == 201
    gift = {"transfer_id": unique("t"), "from_member_id": ana, "to_member_id": ben, "points": 300}
    assert api.post("/v1/transfers", gift).status == 201  # counted apart: neither earned nor redeemed
    company = {"account_id": unique("rep-acct"), "kind": "company", "name": "Reports Ltd"}
    assert api.post("/v1/accounts", company, key=ADMIN).status == 201
    settled(api)

    after = tiers(api)
    moved = {t["id"]: t["members"] for t in after["tiers"]}
    was = {t["id"]: t["members"] for t in before["tiers"]}
    assert {tier: moved[tier] - was[tier] for tier in moved} == {"red": 1, "silver": 1, "gold": 0}
    assert after["members"] - before["members"] == 2
    pools = {t["id"]: t["accounts"] - w["accounts"] for t, w in zip(after["tiers"], before["tiers"], strict=True)}
    assert pools == {"red": 1, "silver": 0, "gold": 0}  # accounts are counted apart from members
    assert after["accounts"] - before["accounts"] == 1

    answer = api.get("/v1/reports/activity?from=2031-04&to=2031-06", key=ADMIN)
    assert answer.status == 200, answer.raw
    april, may, june = answer.json["months"]
    assert [april["month"], may["month"], june["month"]] == ["2031-04", "2031-05", "2031-06"]
    assert may == {
        "month": "2031-05",
        "enrolled": 2,
        "earned": 1400,
        "redeemed": 0,
        "expired": 0,
        "adjusted": 25,
        "transferred": 300,
        "imported": 0,
    }
    assert april["enrolled"] == june["enrolled"] == 0

    refused = api.get("/v1/reports/activity?from=2031-06&to=2031-04", key=ADMIN)
    assert refused.status == 422 and refused.json["error"]["code"] == "validation_error"
    assert api.get("/v1/reports/tiers").status == 403  # the checkout's key is not an administrator's


def test_the_job_runs_show_the_expiry_run_with_its_summary(api):
    api.set_clock("2031-07-01T00:30:00Z")
    ran = api.post("/_local/jobs/expiry", {"as_of": "2031-07-01"}, key=None)
    assert ran.status == 200, ran.raw

    answer = api.get("/v1/jobs", key=ADMIN)
    assert answer.status == 200, answer.raw
    runs = answer.json["jobs"]
    started = [r["started_at"] for r in runs]
    assert started == sorted(started, reverse=True)  # newest first
    (run,) = [r for r in runs if r["job"] == "expiry" and r["started_at"] == "2031-07-01T00:30:00Z"]
    assert run["status"] == "done" and run["as_of"] == "2031-07-01"
    assert run["summary"] == ran.json
    assert run["finished_at"] and run["dead_letters"] == 0


def test_swagger_ui_is_served_by_the_stack_itself(api):
    page = api.get("/docs", key=None)
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    html = page.raw.decode()
    assert "://" not in html  # no CDN, no external URL of any kind: it works offline
    # the icon is an empty data: URL (the browser asks for no /favicon.ico); every file is relative
    referenced = [r for r in re.findall(r'(?:href|src)="([^"]+)"', html) if r != "data:,"]
    assert set(referenced) == {"docs/swagger-ui.css", "docs/swagger-ui-bundle.js", "docs/LICENSE"}
    for path in referenced:  # relative to /docs: under the stage prefix when deployed
        asset = api.get(f"/{path}", key=None)
        assert asset.status == 200, path
        assert len(asset.raw) > 1000
    assert api.get("/docs/swagger-ui-bundle.js", key=None).headers["Content-Type"].startswith("text/javascript")
    assert b"Apache License" in api.get("/docs/LICENSE", key=None).raw
    assert api.get("/docs/secrets.txt", key=None).status == 404

    document = api.get("/openapi.json", key=None).json
    assert document["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    assert document["paths"]["/v1/reports/tiers"]["get"]["security"] == [{"bearer": []}]
