"""What the console stands on, over HTTP: its files (no key, a strict CSP), the caller's key, a member's events."""

from __future__ import annotations

import uuid

from tests.support.http import ADMIN, CHECKOUT, Client


def test_the_console_is_served_without_a_key_with_a_policy_that_allows_only_this_origin(api: Client) -> None:
    page = api.get("/console", key=None)
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "unsafe-inline" not in policy and "http" not in policy  # no inline script, no other host
    assert b'src="console/console.js"' in page.raw and b"//" not in page.raw.split(b"<body>")[0].replace(b"<!--", b"")
    script = api.get("/console/console.js", key=None)
    assert script.status == 200 and script.headers["Content-Type"].startswith("text/javascript")
    assert b"sessionStorage" in script.raw and b"localStorage.setItem" not in script.raw
    assert api.get("/console/console.css", key=None).headers["Content-Type"].startswith("text/css")
    missing = api.get("/console/secrets.py", key=None)
    assert missing.status == 404 and missing.json["error"]["code"] == "not_found"


def test_a_key_learns_its_own_scopes_and_nothing_else(api: Client) -> None:
    mine = api.get("/v1/keys/current", key=CHECKOUT)
    assert mine.status == 200, mine.raw
    assert mine.json["scopes"] == ["earn", "enroll", "read", "redeem"]
    assert set(mine.json) == {"key_id", "name", "scopes"} and CHECKOUT not in mine.raw.decode()
    assert api.get("/v1/keys/current", key=ADMIN).json["scopes"] == ["admin", "earn", "enroll", "read", "redeem"]
    assert api.get("/v1/keys/current", key=None).status == 401
    assert api.get("/v1/keys/current", key="lk_nobody").status == 401


def test_a_members_recent_events_are_what_the_bus_published(api: Client) -> None:
    member_id = f"ev-{uuid.uuid4().hex[:10]}"
    api.enroll(member_id)
    earn = {"member_id": member_id, "order_id": f"o-{member_id}", "amount": "1200.00", "currency": "USD"}
    assert api.post("/v1/earn", earn).status == 201  # 1,200 points: silver at once
    bus = api.get("/_local/events", key=None).json["events"]  # flushes the stream first
    published = [e for e in bus if e["detail"].get("member_id") == member_id]
    assert {e["detail_type"] for e in published} == {"MemberEnrolled", "PointsEarned", "TierChanged", "RewardUnlocked"}
    unlocked = [
        (e["detail"]["reward_id"], e["detail"]["balance"]) for e in published if e["detail_type"] == "RewardUnlocked"
    ]
    assert unlocked == [("free-item", 100), ("coffee", 1300), ("free-drink", 1300)]  # v1.2: lounge-pass is gold's

    answer = api.get(f"/v1/members/{member_id}/events")  # the checkout's key reads them (scope read)
    assert answer.status == 200, answer.raw
    kept = answer.json["events"]
    assert sorted(e["event_id"] for e in kept) == sorted(e["detail"]["event_id"] for e in published)
    assert kept[-1]["detail_type"] == "MemberEnrolled"  # newest first
    assert {e["event_id"]: e["detail"] for e in kept} == {e["detail"]["event_id"]: e["detail"] for e in published}
    assert len(api.get(f"/v1/members/{member_id}/events?limit=1").json["events"]) == 1
    assert api.get(f"/v1/members/{member_id}/events?limit=0").status == 422
    assert api.get("/v1/members/nobody-at-all/events").json["error"]["code"] == "member_not_found"
