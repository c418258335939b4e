"""What a replay of the history needs that no ledger line holds: each status change, subscription and
override says when it happened, after how many of the member's ledger entries, at which version."""

from __future__ import annotations

from typing import Any

from loyalty.store.core import client, from_item, table_name

from tests.support.aws import api_event, call


def _items(prefix: str) -> list[dict[str, Any]]:
    found = client().scan(
        TableName=table_name(),
        FilterExpression="begins_with(PK, :p)",
        ExpressionAttributeValues={":p": {"S": prefix}},
    )["Items"]
    return sorted((from_item(i) for i in found), key=lambda i: int(i.get("version", 0)))


def _member(member_id: str) -> dict[str, Any]:
    return {"member_id": member_id}


def test_status_changes_subscriptions_and_overrides_record_their_place_in_the_ledger(aws):
    status, _, _ = call("MembersFunction", api_event("Enroll", body={"member_id": "r1", "channel": "web"}))
    assert status == 201
    adjust = {"adjustment_id": "a1", "points": 40, "reason": "goodwill"}
    assert call("MembersFunction", api_event("Adjust", body=adjust, path_params=_member("r1")))[0] == 201
    for state in ("suspended", "active"):
        body = {"status": state, "reason": "a check"}
        assert call("MembersFunction", api_event("SetStatus", body=body, path_params=_member("r1")))[0] == 200
    subscription = {"subscription_id": "s1", "tier_id": "silver", "months": 1}
    assert call("MembersFunction", api_event("Subscribe", body=subscription, path_params=_member("r1")))[0] == 201
    override = {"tier_id": "gold", "reason": "vip"}
    assert call("MembersFunction", api_event("OverrideTier", body=override, path_params=_member("r1")))[0] == 200
    assert call("MembersFunction", api_event("Erase", path_params=_member("r1")))[0] == 200

    audits = _items("STATUSAUDIT#r1")
    assert [(a["status"], int(a["entries"])) for a in audits] == [("suspended", 2), ("active", 2), ("erased", 2)]
    versions = [int(a["version"]) for a in audits]
    assert versions == sorted(versions) and len(set(versions)) == 3
    assert all(
        set(a) == {"PK", "SK", "kind", "member_id", "status", "entries", "version", "recorded_at", "actor"}
        for a in audits
    )
    assert all(a["actor"] == {"key_id": "local"} for a in audits)  # the key that made it (issue 28)
    (sub,) = _items("SUBSCRIPTION#r1#")
    (tier,) = _items("TIERAUDIT#r1")
    assert (int(sub["entries"]), int(tier["entries"])) == (2, 2)
    assert versions[1] < int(sub["version"]) < int(tier["version"]) < versions[2]
    # the erasure's own closing line came after the record of it (entries 2: before the forfeit)
    _, ledger, _ = call("MembersFunction", api_event("GetLedger", path_params=_member("r1")))
    assert [e["type"] for e in ledger["entries"]] == ["adjust", "adjust", "bonus"]


def test_a_status_the_member_already_has_records_nothing(aws):
    call("MembersFunction", api_event("Enroll", body={"member_id": "r2", "channel": "web"}))
    body = {"status": "active", "reason": "no change"}
    assert call("MembersFunction", api_event("SetStatus", body=body, path_params=_member("r2")))[0] == 200
    assert _items("STATUSAUDIT#r2") == []
