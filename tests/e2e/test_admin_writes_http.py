"""Issue 28, item 5: who made an admin write, and what an adjustment does to the member's lifetime figures.

Every admin write (an adjustment, a status change, a tier override, a subscription) keeps the key that made it,
`actor: {"key_id", "name"}`, in its ledger entry's details or its audit record; an adjustment counts in
`lifetime_adjusted`, never in `lifetime_earned`."""

from __future__ import annotations

import json
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from tests.support.http import ADMIN, Client


def _records(api: Client, member_id: str) -> list[dict[str, Any]]:
    """The stack's stored items of the member (the local history export, one JSON item a line)."""
    lines = api.get("/_local/history", key=None).raw.decode().splitlines()
    read = TypeDeserializer().deserialize
    items = [{k: read(v) for k, v in json.loads(line)["Item"].items()} for line in lines[1:]]
    return [i for i in items if i.get("member_id") == member_id]


def test_a_typo_of_minus_100000_leaves_lifetime_earned_and_names_the_key_that_made_it(api: Client) -> None:
    api.enroll("e2e-typo")  # the 100-point signup bonus
    me = api.get("/v1/keys/current", key=ADMIN).json
    actor = {"key_id": me["key_id"], "name": me["name"]}
    body = {"adjustment_id": "typo-1", "points": -100000, "reason": "goodwill, one zero too many"}
    entry = api.post("/v1/members/e2e-typo/adjustments", body, key=ADMIN)
    assert entry.status == 201 and entry.json["details"] == {"reason": body["reason"], "actor": actor}
    points = api.get("/v1/members/e2e-typo").json["points"]
    assert points == {
        "available": -99900,
        "pending": 0,
        "lifetime_earned": 100,  # not -99,900: what orders and bonuses earned
        "lifetime_redeemed": 0,
        "lifetime_expired": 0,
        "lifetime_adjusted": -100000,
    }
    fix = {"adjustment_id": "typo-2", "points": 100000, "reason": "undo the typo"}
    assert api.post("/v1/members/e2e-typo/adjustments", fix, key=ADMIN).status == 201
    points = api.get("/v1/members/e2e-typo").json["points"]
    assert (points["available"], points["lifetime_earned"], points["lifetime_adjusted"]) == (100, 100, 0)
    ledger = api.get("/v1/members/e2e-typo/ledger").json["entries"]
    assert [e["details"].get("actor") for e in ledger] == [actor, actor, None]  # the bonus: no one's write


def test_status_changes_overrides_and_subscriptions_record_the_key(api: Client) -> None:
    api.enroll("e2e-actor")
    me = api.get("/v1/keys/current", key=ADMIN).json
    actor = {"key_id": me["key_id"], "name": me["name"]}
    said = {"status": "suspended", "reason": "card reported stolen"}
    assert api.post("/v1/members/e2e-actor/status", said, key=ADMIN).status == 200
    tier = {"tier_id": "gold", "reason": "VIP"}
    assert api.post("/v1/members/e2e-actor/tier", tier, key=ADMIN).status == 200
    sub = {"subscription_id": "sub-1", "tier_id": "silver", "months": 1}
    assert api.post("/v1/members/e2e-actor/subscriptions", sub, key=ADMIN).status == 201
    closing = {"status": "closed", "reason": "asked to leave"}
    assert api.post("/v1/members/e2e-actor/status", closing, key=ADMIN).status == 200
    records = _records(api, "e2e-actor")
    audits = {r["kind"]: r for r in records if r.get("kind") in ("tier_audit", "subscription")}
    statuses = [r for r in records if r.get("kind") == "status_audit"]
    assert [s["status"] for s in statuses] == ["suspended", "closed"]
    assert [s["actor"] for s in statuses] == [actor, actor]
    assert audits["tier_audit"]["actor"] == actor and audits["subscription"]["actor"] == actor
    close = api.get("/v1/members/e2e-actor/ledger").json["entries"][0]
    assert close["details"] == {"reason": "closed", "note": "asked to leave", "actor": actor}
    points = api.get("/v1/members/e2e-actor").json["points"]
    assert (points["available"], points["lifetime_earned"], points["lifetime_adjusted"]) == (0, 100, -100)
