"""The console's page of the lists before a message goes out (v1.2): a month picker, each list's rows as the API
answers them, "More" following the cursor, and a CSV download of every page."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import shot
from tests.browser.test_console import sign_in
from tests.support.http import ADMIN, Client, LocalStackProcess


@pytest.fixture(scope="module")
def stack() -> Iterator[Client]:
    """Members with points expiring at the end of 2027-03 (earned in 2026-03), two of them silver with a tier the
    evaluation of 2027-03 keeps and the next one drops."""
    process = LocalStackProcess()
    api = process.client
    try:
        api.set_clock("2026-03-10T10:00:00Z")
        for n in range(60):  # more than a page of the console (50)
            api.enroll(f"msg-{n:02d}", email=f"msg-{n:02d}@example.com", name=f"Member {n:02d}")
        for member_id, amount in (("msg-00", "1200.00"), ("msg-01", "1100.00")):
            order = {"member_id": member_id, "order_id": f"o-{member_id}", "amount": amount, "currency": "USD"}
            assert api.post("/v1/earn", order).status == 201  # silver at once
        api.set_clock("2027-03-01T00:10:00Z")
        assert api.post("/_local/jobs/tier-evaluation", {"as_of": "2027-03-01"}, key=None).status == 200
        api.set_clock("2027-03-05T10:00:00Z")
        assert api.get("/_local/events?detail_type=none", key=None).status == 200
        yield api
    finally:
        process.stop()


def test_a_manager_picks_a_month_reads_both_lists_and_downloads_them_as_csv(page: Any, stack: Client) -> None:
    sign_in(page, stack.base, ADMIN)
    page.get_by_role("link", name="Messages").click()
    page.get_by_role("heading", name="Points expiring at the end of 2027-03").wait_for()
    assert page.get_by_label("Month").input_value() == "2027-03"  # the stack's month, as the API answered it
    page.get_by_label("Month").fill("2027-04")
    page.get_by_role("button", name="Show").click()
    page.get_by_role("heading", name="Points expiring at the end of 2027-04").wait_for()
    assert page.url.endswith("#/messages/2027-04")
    assert page.get_by_text("No member has points expiring that month.").is_visible()
    assert page.get_by_text("The evaluation of that month warned no one.").is_visible()
    page.get_by_label("Month").fill("2027-03")
    page.get_by_role("button", name="Show").click()
    page.get_by_role("heading", name="Points expiring at the end of 2027-03").wait_for()

    expiring = page.locator('[data-table="messages-expiring"] tbody tr')
    assert expiring.count() == 50  # a page
    page.locator('[data-list="expiring"]').get_by_role("button", name="More").click()
    page.locator('[data-count="expiring"]').filter(has_text="60 shown").wait_for()
    api_rows = stack.get("/v1/reports/expiring-points?month=2027-03&limit=100", key=ADMIN).json["members"]
    row = page.locator('[data-table="messages-expiring"] [data-row="msg-00"]')
    wanted = next(r for r in api_rows if r["member_id"] == "msg-00")
    assert row.locator("td").all_inner_texts()[:3] == [wanted["name"], wanted["email"], "—"]
    assert row.locator("td").nth(5).inner_text() == f"{wanted['points']:,}"

    drops = page.locator('[data-table="messages-downgrades"] tbody tr')
    assert drops.count() == 2
    heading = "Tier drops at the evaluation of 2027-04-01 unless they earn more"
    assert page.get_by_role("heading", name=heading).is_visible()
    cells = page.locator('[data-table="messages-downgrades"] [data-row="msg-01"] td').all_inner_texts()
    assert cells[-4:] == ["silver", "1,000", "0", "1,000"]
    shot(page, "manager-messages")

    with page.expect_download() as started:
        page.locator('[data-list="expiring"]').get_by_role("button", name="Download CSV").click()
    download = started.value
    assert download.suggested_filename == "expiring-points-2027-03.csv"
    text = Path(download.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 60 and text.count("member_id,") == 1  # every page, one header line
    assert {r["member_id"] for r in rows} == {r["member_id"] for r in api_rows}

    with page.expect_download() as started:
        page.locator('[data-list="downgrades"]').get_by_role("button", name="Download CSV").click()
    drops_csv = list(csv.DictReader(io.StringIO(Path(started.value.path()).read_text(encoding="utf-8"))))
    assert sorted((r["member_id"], r["remaining"]) for r in drops_csv) == [("msg-00", "1000"), ("msg-01", "1000")]
