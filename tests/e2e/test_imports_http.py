"""Imports over HTTP against the local stack (CONTRACT.md v1.2, "Import"): the file PUT to the answered upload URL
as a client does it, both formats, the rejections listed, validation writing nothing, applying twice; then the
imported members live normal lives: found by phone at the till, earning at their imported tier, spending their
imported points soonest-first, those points expiring in their month, the tier kept to `until` and no longer."""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

from tests.support.http import ADMIN, Client


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def phone() -> str:
    return "+1415" + "".join(random.choice("0123456789") for _ in range(7))


def put(url: str, content: bytes) -> int:
    request = urllib.request.Request(url, data=content, method="PUT")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def wait_for(api: Client, import_id: str, *statuses: str, seconds: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        found = api.get(f"/v1/imports/{import_id}", key=ADMIN)
        assert found.status == 200, found.raw
        if found.json["status"] in statuses:
            return dict(found.json)
        assert time.monotonic() < deadline, found.json
        time.sleep(0.1)


def imported(api: Client, content: bytes, fmt: str = "jsonl", *, apply: bool = True) -> tuple[str, dict[str, Any]]:
    import_id = unique("imp")
    created = api.post("/v1/imports", {"import_id": import_id, "format": fmt}, key=ADMIN)
    assert created.status == 201, created.raw
    upload = created.json["upload"]
    assert upload["method"] == "PUT" and created.json["status"] == "awaiting_upload"
    assert put(upload["url"], content) == 200
    assert api.get(f"/v1/imports/{import_id}", key=ADMIN).json["status"] == "uploaded"
    asked = api.post(f"/v1/imports/{import_id}/validate", key=ADMIN)
    assert asked.status == 202, asked.raw
    found = wait_for(api, import_id, "validated", "failed")
    if apply:
        asked = api.post(f"/v1/imports/{import_id}/apply", key=ADMIN)
        assert asked.status == 202, asked.raw
        found = wait_for(api, import_id, "applied", "failed")
    return import_id, found


def line(**row: Any) -> str:
    return json.dumps({"enrolled_at": "2024-02-01T09:00:00Z", **row})


def test_both_formats_the_errors_and_applying_twice(api: Client) -> None:
    api.set_clock(None)
    a, b, c = unique("a"), unique("b"), unique("c")
    shared = phone()
    content = "\n".join(
        [
            line(member_id=a, phone=shared, balances=[{"points": 120, "expires": None}]),
            "{not json",
            line(member_id=b, phone=shared),
            line(member_id=c, name="Cleo", balances=[{"points": 80, "expires": "2099-01"}]),
        ]
    ).encode()
    import_id, validated = imported(api, content, apply=False)
    assert validated["rows"] == {"total": 4, "valid": 1, "rejected": 3, "applied": 0, "skipped": 0}
    assert validated["points"] == {"total": 80}
    assert api.get(f"/v1/members/{c}", key=ADMIN).status == 404  # validation writes nothing
    page = api.get(f"/v1/imports/{import_id}/errors?limit=2", key=ADMIN).json
    rest = api.get(f"/v1/imports/{import_id}/errors?limit=2&cursor={page['next_cursor']}", key=ADMIN).json
    assert [(e["row"], e["code"]) for e in page["errors"] + rest["errors"]] == [
        (1, "duplicate_in_file"),
        (2, "bad_line"),
        (3, "duplicate_in_file"),
    ]
    assert rest["next_cursor"] is None
    assert api.post(f"/v1/imports/{import_id}/apply", key=ADMIN).status == 202
    done = wait_for(api, import_id, "applied")
    assert done["rows"]["applied"] == 1 and done["applied_at"]
    again = api.post(f"/v1/imports/{import_id}/apply", key=ADMIN)
    assert again.status == 202 and again.json == done
    member = api.get(f"/v1/members/{c}", key=ADMIN).json
    assert member["points"]["available"] == 80 and member["channel"] == "import"

    d = unique("d")
    csv = (
        "member_id,email,phone,card_id,name,birth_date,enrolled_at,status,tier,points,expires\n"
        f"{d},{d}@example.com,,,Dee,,2021-06-01T00:00:00Z,active,silver,900,2099-12\n"
        f"{d},,,,,,2021-06-01T00:00:00Z,active,,10,\n"
    ).encode()
    _, csv_done = imported(api, csv, "csv")
    assert csv_done["rows"] == {"total": 2, "valid": 0, "rejected": 2, "applied": 0, "skipped": 0}
    e = unique("e")
    csv = (
        "member_id,email,phone,card_id,name,birth_date,enrolled_at,status,tier,points,expires\n"
        f"{e},{e}@example.com,,,Eve,,2021-06-01T00:00:00Z,active,silver,900,2099-12\n"
    ).encode()
    _, csv_done = imported(api, csv, "csv")
    assert csv_done["rows"]["applied"] == 1 and csv_done["points"] == {"total": 900}
    found = api.post("/v1/members/lookup", {"email": f"{e.upper()}@EXAMPLE.COM"}).json
    assert found["member_id"] == e and found["tier"]["id"] == "silver"


def test_an_upload_url_refuses_what_s3_refuses(api: Client) -> None:
    import_id = unique("imp")
    url = api.post("/v1/imports", {"import_id": import_id, "format": "jsonl"}, key=ADMIN).json["upload"]["url"]
    assert put(url.split("?")[0], b"x") == 403  # not signed
    assert api.post("/v1/imports", {"import_id": import_id, "format": "jsonl"}).status == 403  # the checkout key


def test_imported_members_live_normal_lives(api: Client) -> None:
    member_id, tel = unique("life"), phone()
    api.set_clock("2027-01-15T10:00:00Z")
    try:
        row = line(
            member_id=member_id,
            phone=tel,
            tier={"id": "gold", "until": "2027-02"},
            balances=[{"points": 300, "expires": "2027-01"}, {"points": 500, "expires": "2027-06"}],
        )
        _, done = imported(api, row.encode())
        assert done["rows"]["applied"] == 1, done
        # found by phone at the till, at its imported tier
        found = api.post("/v1/members/lookup", {"phone": tel})
        assert found.status == 200 and found.json["member_id"] == member_id
        assert found.json["tier"]["id"] == "gold"
        # earns at gold (x2.0): 100 base + 100 tier
        earned = api.post(
            "/v1/earn", {"member_id": member_id, "order_id": unique("o"), "amount": "100.00", "currency": "USD"}
        )
        assert earned.status == 201, earned.raw
        assert earned.json["points"] == 200 and earned.json["balance"] == 1000
        # spends the points that expire soonest first: the imported January's
        spent = api.post("/v1/redemptions", {"redemption_id": unique("r"), "member_id": member_id, "points": 200})
        assert spent.status == 201, spent.raw
        member = api.get(f"/v1/members/{member_id}").json
        assert member["expiring"] == [
            {"month": "2027-01", "points": 100},
            {"month": "2027-06", "points": 500},
            {"month": "2028-01", "points": 200},
        ]
        # the imported points expire in their month
        api.set_clock("2027-02-01T00:10:00Z")
        ran = api.post("/_local/jobs/expiry", {"as_of": "2027-02-01"}, key=None)
        assert ran.status == 200, ran.raw
        member = api.get(f"/v1/members/{member_id}").json
        assert member["points"]["available"] == 700 and member["points"]["lifetime_expired"] == 100
        # the tier is kept to the end of `until` (February), whatever the evaluations say; then, as when an override
        # ends, the member has the tier it qualifies for (100 qualifying points: red)
        assert api.post("/_local/jobs/tier-evaluation", {"as_of": "2027-02-01"}, key=None).status == 200
        before = api.get(f"/v1/members/{member_id}").json["tier"]
        assert before["id"] == "gold" and before["source"] == "manual"
        api.set_clock("2027-03-01T01:10:00Z")
        assert api.post("/_local/jobs/tier-evaluation", {"as_of": "2027-03-01"}, key=None).status == 200
        assert api.get(f"/v1/members/{member_id}").json["tier"] == {**before, "id": "red", "name": "Red"} | {
            "since": "2027-03-01T00:00:00Z",
            "source": "qualified",
        }
        ledger = api.get(f"/v1/members/{member_id}/ledger").json["entries"]
        assert [e["type"] for e in reversed(ledger)] == ["import", "earn", "redeem", "expire"]
    finally:
        api.set_clock(None)
