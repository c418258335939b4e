"""The programme manager's lists before a message goes out (v1.2), over HTTP on the local stack: points expiring at
the end of a month, tier drops at the next evaluation; JSON pages with a cursor, and the same pages as CSV."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

from tests.support.http import ADMIN, Client


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def settled(api: Client) -> None:
    assert api.get("/_local/events?detail_type=none", key=None).status == 200


def every_page(api: Client, path: str, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Every row of a list, following its cursor; and how many pages it took."""
    rows, cursor, pages = [], None, 0
    while True:
        answer = api.get(f"{path}&limit={limit}" + (f"&cursor={cursor}" if cursor else ""), key=ADMIN)
        assert answer.status == 200, answer.raw
        assert len(answer.json["members"]) <= limit
        rows += answer.json["members"]
        pages += 1
        cursor = answer.json["next_cursor"]
        if cursor is None:
            return rows, pages


def every_csv_page(api: Client, path: str, limit: int) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    cursor = None
    while True:
        answer = api.get(f"{path}&format=csv&limit={limit}" + (f"&cursor={cursor}" if cursor else ""), key=ADMIN)
        assert answer.status == 200, answer.raw
        assert answer.headers["Content-Type"].startswith("text/csv")
        rows += list(csv.DictReader(io.StringIO(answer.raw.decode())))
        cursor = answer.headers.get("Next-Cursor")
        if cursor is None:
            return rows


def test_the_members_with_points_expiring_at_the_end_of_a_month_page_by_page_and_as_csv(api: Client) -> None:
    api.set_clock("2033-03-10T10:00:00Z")  # earned now: expires at the end of 2034-03
    ana, ben, cy, gone = (unique(p) for p in ("exp-ana", "exp-ben", "exp-cy", "exp-gone"))
    api.enroll(ana, email=f"{ana}@example.com", phone="+14155550101", name="Ana =Lima")
    api.enroll(ben, email=f"{ben}@example.com", name="Ben")
    api.enroll(gone)
    for member_id, amount in ((ana, "40.00"), (ben, "7.00"), (gone, "10.00")):
        order = {"member_id": member_id, "order_id": unique("o"), "amount": amount, "currency": "USD"}
        assert api.post("/v1/earn", order).status == 201
    api.set_clock("2033-04-02T10:00:00Z")
    api.enroll(cy)  # its points expire at the end of 2034-04: not listed for 2034-03
    closing = {"status": "closed", "reason": "asked to"}
    assert api.post(f"/v1/members/{gone}/status", closing, key=ADMIN).status == 200
    settled(api)

    ours = {ana, ben, cy, gone}
    rows, pages = every_page(api, "/v1/reports/expiring-points?month=2034-03", limit=1)
    mine = [r for r in rows if r["member_id"] in ours]
    assert pages >= 2
    assert sorted(mine, key=lambda r: r["member_id"]) == [
        {
            "member_id": ana,
            "name": "Ana =Lima",
            "email": f"{ana}@example.com",
            "phone": "+14155550101",
            "status": "active",
            "tier_id": "red",
            "points": 140,  # the signup bonus and the order, both of 2033-03
            "balance": 140,
        },
        {
            "member_id": ben,
            "name": "Ben",
            "email": f"{ben}@example.com",
            "phone": None,
            "status": "active",
            "tier_id": "red",
            "points": 107,
            "balance": 107,
        },
    ]
    assert len({r["member_id"] for r in rows}) == len(rows)  # no member twice across pages

    listed = [r for r in every_csv_page(api, "/v1/reports/expiring-points?month=2034-03", 2) if r["member_id"] in ours]
    assert sorted((r["member_id"], r["name"], r["phone"], r["points"]) for r in listed) == sorted(
        [(ana, "Ana =Lima", "+14155550101", "140"), (ben, "Ben", "", "107")]
    )
    april, _ = every_page(api, "/v1/reports/expiring-points?month=2034-04", limit=100)
    assert [r["member_id"] for r in april if r["member_id"] in ours] == [cy]

    raw = api.get("/v1/reports/expiring-points?month=2034-03&format=csv&limit=1000", key=ADMIN).raw.decode()
    assert raw.splitlines()[0] == "member_id,name,email,phone,status,tier_id,points,balance"

    refused = api.get("/v1/reports/expiring-points?month=2034-13", key=ADMIN)
    assert (refused.status, refused.json["error"]["code"]) == (422, "validation_error")
    foreign = rows and api.get("/v1/reports/expiring-points?month=2034-04&cursor=eyJ4Ijo1fQ", key=ADMIN)
    assert foreign and (foreign.status, foreign.json["error"]["code"]) == (422, "validation_error")
    assert api.get("/v1/reports/expiring-points?month=2034-03", key="lk_local_checkout").status == 403
    api.set_clock(None)


def test_the_members_whose_tier_drops_at_the_next_evaluation_with_their_figures(api: Client) -> None:
    api.set_clock("2035-06-10T10:00:00Z")
    dee, eve = unique("drop-dee"), unique("drop-eve")
    api.enroll(dee, email=f"{dee}@example.com", name="Dee")
    api.enroll(eve, name="Eve")
    for member_id in (dee, eve):  # 1,200 qualifying in 2035-06: silver at once
        order = {"member_id": member_id, "order_id": unique("o"), "amount": "1200.00", "currency": "USD"}
        assert api.post("/v1/earn", order).status == 201
    api.set_clock("2036-01-15T10:00:00Z")
    order = {"member_id": eve, "order_id": unique("o"), "amount": "600.00", "currency": "USD"}
    assert api.post("/v1/earn", order).status == 201
    api.set_clock("2036-06-01T00:10:00Z")
    # the evaluation of 2036-06 (window 2035-06 … 2036-05) keeps both silver; the next (2035-07 … 2036-06)
    # finds 0 for Dee and 600 for Eve
    ran = api.post("/_local/jobs/tier-evaluation", {"as_of": "2036-06-01"}, key=None)
    assert ran.status == 200, ran.raw
    settled(api)

    rows, _ = every_page(api, "/v1/reports/tier-downgrades?month=2036-06", limit=1)
    mine = {r["member_id"]: r for r in rows if r.get("member_id") in (dee, eve)}
    assert mine[dee] == {
        "member_id": dee,
        "name": "Dee",
        "email": f"{dee}@example.com",
        "phone": None,
        "status": "active",
        "tier_id": "silver",
        "threshold": 1000,
        "qualifying_then": 0,
        "remaining": 1000,
        "evaluation_on": "2036-07-01",
    }
    assert (mine[eve]["qualifying_then"], mine[eve]["remaining"]) == (600, 400)
    page = api.get("/v1/reports/tier-downgrades?month=2036-06", key=ADMIN).json
    assert (page["month"], page["evaluation_on"]) == ("2036-06", "2036-07-01")

    listed = {r["member_id"]: r for r in every_csv_page(api, "/v1/reports/tier-downgrades?month=2036-06", 1)}
    assert (listed[eve]["tier_id"], listed[eve]["remaining"], listed[eve]["evaluation_on"]) == (
        "silver",
        "400",
        "2036-07-01",
    )

    events = api.get("/_local/events?detail_type=TierDowngradeUpcoming", key=None).json["events"]
    figures = {e["detail"]["member_id"]: e["detail"]["remaining"] for e in events if e["detail"].get("member_id")}
    assert (figures[dee], figures[eve]) == (1000, 400)
    api.set_clock(None)
