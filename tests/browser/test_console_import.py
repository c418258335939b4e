"""The console's Import page (issue 26, contract v1.2 "Import"), in a real Chromium against its own local stack: an
administrator picks a file (its format guessed from its name), the page makes the import and sends the file with a
plain PUT to the URL the API answered, validates it, reads the rejected rows (paged, and saved as CSV with formula
cells quoted), applies it after a question naming how many members and points it creates, and follows the
progress to the end; the members exist with their balances. A refusal is said in the API's words; a key without
the admin scope sees none of it. Every figure is compared with the API's own answer.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import shot
from tests.browser.test_console import STAMP, sign_in
from tests.support.http import ADMIN, CHECKOUT, Client, LocalStackProcess


@pytest.fixture(scope="module")
def stack() -> Iterator[Client]:
    process = LocalStackProcess()
    try:
        yield process.client
    finally:
        process.stop()


def jsonl(*rows: dict[str, Any] | str) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


# Five lines: two members, a line that is not JSON, and a member id twice (both rows rejected). The id "@twice"
# starts like a spreadsheet formula: the CSV of the errors quotes it.
MEMBERS_JSONL = jsonl(
    {
        "member_id": "imp-ana",
        "email": "ana.import@example.com",
        "name": "Ana Import",
        "enrolled_at": "2024-03-01T09:00:00Z",
        "tier": {"id": "gold", "until": "2030-12"},
        "balances": [{"points": 1200, "expires": "2030-06"}, {"points": 300, "expires": None}],
    },
    '{"member_id": "imp-broken", "enrolled_at": ',
    {"member_id": "@twice", "email": "twice.one@example.com", "enrolled_at": "2024-04-01T09:00:00Z"},
    {"member_id": "@twice", "email": "twice.two@example.com", "enrolled_at": "2024-04-02T09:00:00Z"},
    {
        "member_id": "imp-ben",
        "phone": "+14155550199",
        "enrolled_at": "2025-06-01T12:00:00Z",
        "balances": [{"points": 250, "expires": "2030-01"}],
    },
)

CSV_HEADER = "member_id,email,phone,card_id,name,birth_date,enrolled_at,status,tier,points,expires"


def imported(stack: Client, import_id: str) -> dict[str, Any]:
    answer = stack.get(f"/v1/imports/{import_id}", key=ADMIN)
    assert answer.status == 200, answer.raw
    return dict(answer.json)


def every_error(stack: Client, import_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        after = f"&cursor={cursor}" if cursor else ""
        answer = stack.get(f"/v1/imports/{import_id}/errors?limit=100{after}", key=ADMIN)
        assert answer.status == 200, answer.raw
        found += answer.json["errors"]
        cursor = answer.json["next_cursor"]
        if not cursor:
            return found


def shown_errors(page: Any) -> list[tuple[str, str, str, str, str]]:
    rows = page.locator('[data-table="import-errors"] tbody tr')
    return [tuple(r.locator("th, td").all_inner_texts()) for r in rows.all()]  # type: ignore[misc]


def as_shown(e: dict[str, Any]) -> tuple[str, str, str, str, str]:
    return (f"{e['row']:,}", e.get("member_id") or "—", e.get("field") or "—", e["code"], e["message"])


def figure(page: Any, name: str) -> str:
    return str(page.locator(f'[data-figure="{name}"]').inner_text())


def upload(page: Any, name: str, content: bytes, import_id: str | None = None) -> None:
    page.get_by_role("navigation").get_by_role("link", name="Import").click()
    page.get_by_role("heading", name="Start an import").wait_for()
    mime = "text/csv" if name.endswith(".csv") else "application/x-ndjson"
    page.get_by_label("File").set_input_files({"name": name, "mimeType": mime, "buffer": content})
    if import_id is not None:
        page.get_by_label("Import id").fill(import_id)
    page.get_by_role("button", name="Upload").click()


def test_an_admin_uploads_a_jsonl_file_validates_it_reads_the_rejected_rows_and_applies_it(
    page: Any, stack: Client
) -> None:
    sign_in(page, stack.base, ADMIN)
    page.get_by_role("navigation").get_by_role("link", name="Import").click()
    page.get_by_role("heading", name="Start an import").wait_for()
    assert page.get_by_label("Import id").input_value().startswith("import-")  # an id is proposed
    page.get_by_label("Format").select_option("csv")
    page.get_by_label("File").set_input_files(
        {"name": "members.jsonl", "mimeType": "application/x-ndjson", "buffer": MEMBERS_JSONL}
    )
    assert page.get_by_label("Format").input_value() == "jsonl"  # guessed from the name
    assert figure(page, "format-guess") == "members.jsonl: JSONL, by its name."
    page.get_by_label("Import id").fill("console-jsonl")
    sent: list[tuple[str, str, str | None]] = []
    page.on("request", lambda r: sent.append((r.method, r.url, r.headers.get("authorization"))))
    page.get_by_role("button", name="Upload").click()

    # made, then the file sent with a plain PUT to the answered URL (no API key), then the import's page
    page.get_by_role("heading", name="Import console-jsonl").wait_for()
    page.get_by_role("status").filter(has_text=f"Uploaded members.jsonl ({len(MEMBERS_JSONL)} bytes)").wait_for()
    puts = [(url, auth) for method, url, auth in sent if method == "PUT"]
    assert len(puts) == 1 and puts[0][1] is None, sent
    assert ("POST", f"{stack.base}/v1/imports") in [(m, u) for m, u, _ in sent]
    assert figure(page, "import_status") == "uploaded" == imported(stack, "console-jsonl")["status"]
    assert figure(page, "format") == "JSONL"

    # validated: the counts and the rejected rows, as the API says them
    page.get_by_role("button", name="Validate").click()
    page.locator('[data-figure="import_status"]').filter(has_text="validated").wait_for(timeout=30000)
    page.locator('[data-table="import-errors"]').wait_for()
    after = imported(stack, "console-jsonl")
    assert after["status"] == "validated" and after["rows"] == {
        "total": 5,
        "valid": 2,
        "rejected": 3,
        "applied": 0,
        "skipped": 0,
    }
    assert after["points"] == {"total": 1750}
    assert [figure(page, f"rows_{k}") for k in ("total", "valid", "rejected", "applied", "skipped")] == [
        "5",
        "2",
        "3",
        "0",
        "0",
    ]
    assert figure(page, "points_total") == "1,750"
    assert STAMP.fullmatch(figure(page, "validated"))
    errors = every_error(stack, "console-jsonl")
    assert [(e["row"], e.get("member_id"), e["code"]) for e in errors] == [
        (2, None, "bad_line"),
        (3, "@twice", "duplicate_in_file"),
        (4, "@twice", "duplicate_in_file"),
    ]
    assert shown_errors(page) == [as_shown(e) for e in errors]
    assert page.get_by_role("button", name="Apply").is_enabled()
    shot(page, "manager-import-validated")

    # the errors as CSV, made in the page: every error, the formula-like member id quoted
    with page.expect_download() as started:
        page.get_by_role("button", name="Download errors (CSV)").click()
    assert started.value.suggested_filename == "console-jsonl-errors.csv"
    text = Path(started.value.path()).read_bytes().decode()  # (read_text would turn CRLF into LF)
    saved = list(csv.DictReader(io.StringIO(text)))
    assert text.startswith("row,member_id,field,code,message\r\n")
    assert [(r["row"], r["member_id"], r["code"], r["message"]) for r in saved] == [
        (str(e["row"]), "'" + e["member_id"] if e.get("member_id") else "", e["code"], e["message"]) for e in errors
    ]

    # applying is asked first, with how many members and points; Cancel sends nothing
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.get_by_role("button", name="Apply").click()
    dialog = page.get_by_role("dialog", name="Apply import console-jsonl?")
    dialog.wait_for()
    words = dialog.inner_text()
    assert "2 members will be created, with 1,750 points in all" in words
    assert "3 rejected rows are left out" in words
    shot(page, "manager-import-apply-confirm", full_page=False)
    dialog.get_by_role("button", name="Cancel").click()
    page.get_by_role("status").filter(has_text="Not applied").wait_for()
    assert posts == [] and imported(stack, "console-jsonl")["status"] == "validated"
    page.get_by_role("button", name="Apply").click()
    page.get_by_role("dialog").get_by_role("button", name="Apply").click()

    # the progress to 100 %, then the counts
    page.locator('[data-figure="import_status"]').filter(has_text="applied").wait_for(timeout=60000)
    assert posts == [f"{stack.base}/v1/imports/console-jsonl/apply"]
    done = imported(stack, "console-jsonl")
    assert done["status"] == "applied" and done["rows"]["applied"] == 2 and done["rows"]["skipped"] == 0
    assert page.locator(".apply-progress progress").get_attribute("value") == "100"
    assert figure(page, "progress") == "100 %: 2 of 2 valid rows applied."
    assert [figure(page, f"rows_{k}") for k in ("applied", "skipped", "rejected")] == ["2", "0", "3"]
    assert figure(page, "points_total") == "1,750" and STAMP.fullmatch(figure(page, "applied_at"))
    assert page.get_by_role("button", name="Apply").count() == 0  # applied: nothing more to do
    shot(page, "manager-import-applied")

    # the members are here, with their opening balances and the kept tier
    ana = stack.get("/v1/members/imp-ana", key=ADMIN)
    assert ana.status == 200, ana.raw
    assert ana.json["points"]["available"] == 1500 and ana.json["tier"]["id"] == "gold"
    assert stack.get("/v1/members/imp-ben", key=ADMIN).json["points"]["available"] == 250
    assert stack.get("/v1/members/@twice", key=ADMIN).status == 404

    # the list of recent imports reopens it
    page.get_by_role("link", name="← All imports").click()
    row = page.locator('[data-table="imports"] [data-import="console-jsonl"]')
    row.wait_for()
    cells = row.locator("td").all_inner_texts()
    assert cells[:7] == ["jsonl", "applied", "5", "2", "3", "2", "1,750"]
    shot(page, "manager-imports")
    row.get_by_role("link", name="console-jsonl").click()
    page.get_by_role("heading", name="Import console-jsonl").wait_for()
    assert page.url.endswith("#/imports/console-jsonl")


def test_a_csv_file_with_many_rejected_rows_pages_its_errors_and_applies_what_is_valid(
    page: Any, stack: Client
) -> None:
    lines = [
        CSV_HEADER,
        "csv-1,csv1@example.com,,,Cee One,,2024-05-01T10:00:00Z,active,silver,400,2030-03",
        "csv-2,,,card-csv-2,,,2024-05-02T10:00:00Z,,,,",
        "csv-3,not-an-email,,,,,2024-05-03T10:00:00Z,,,100,",
    ] + [f"short-{n},line" for n in range(55)]  # 55 lines with the wrong number of columns
    content = ("\r\n".join(lines) + "\r\n").encode()
    sign_in(page, stack.base, ADMIN)
    upload(page, "programme-export.csv", content, "console-csv")
    page.get_by_role("heading", name="Import console-csv").wait_for()
    assert figure(page, "format") == "CSV"
    assert imported(stack, "console-csv")["format"] == "csv"
    page.get_by_role("button", name="Validate").click()
    page.locator('[data-table="import-errors"]').wait_for(timeout=30000)
    after = imported(stack, "console-csv")
    assert after["rows"]["total"] == 58 and after["rows"]["valid"] == 2 and after["rows"]["rejected"] == 56
    assert after["points"]["total"] == 400

    # 50 errors a page, Load more for the rest; the lines are the file's (the header is line 1)
    errors = every_error(stack, "console-csv")
    assert (errors[0]["row"], errors[0]["code"], errors[0]["field"]) == (4, "validation_error", "email")
    assert [e["row"] for e in errors[1:]] == list(range(5, 60)) and {e["code"] for e in errors[1:]} == {"bad_line"}
    assert shown_errors(page) == [as_shown(e) for e in errors[:50]]
    assert page.locator('[data-count="errors"]').inner_text() == "50 shown, more to load"
    page.get_by_role("button", name="Load more").click()
    page.locator('[data-count="errors"]').filter(has_text="56 shown").wait_for()
    assert shown_errors(page) == [as_shown(e) for e in errors]
    assert page.get_by_role("button", name="Load more").count() == 0
    with page.expect_download() as started:
        page.get_by_role("button", name="Download errors (CSV)").click()
    saved = list(csv.DictReader(io.StringIO(Path(started.value.path()).read_text(encoding="utf-8"))))
    assert [(int(r["row"]), r["code"]) for r in saved] == [(e["row"], e["code"]) for e in errors]

    page.get_by_role("button", name="Apply").click()
    dialog = page.get_by_role("dialog", name="Apply import console-csv?")
    assert "2 members will be created, with 400 points in all" in dialog.inner_text()
    dialog.get_by_role("button", name="Apply").click()
    page.locator('[data-figure="import_status"]').filter(has_text="applied").wait_for(timeout=60000)
    assert figure(page, "progress") == "100 %: 2 of 2 valid rows applied."
    one = stack.get("/v1/members/csv-1", key=ADMIN).json
    assert one["points"]["available"] == 400 and one["tier"]["id"] == "silver"
    assert stack.get("/v1/members/csv-2", key=ADMIN).json["points"]["available"] == 0

    # the recent imports, newest first, as the API lists them
    page.get_by_role("link", name="← All imports").click()
    page.locator('[data-import="console-csv"]').wait_for()
    listed = [i["import_id"] for i in stack.get("/v1/imports?limit=20", key=ADMIN).json["imports"]]
    shown = page.locator('[data-table="imports"] tbody tr').evaluate_all("rows => rows.map(r => r.dataset.import)")
    assert shown == listed and listed[0] == "console-csv"


def test_a_refused_import_is_said_in_the_apis_words(page: Any, stack: Client) -> None:
    sign_in(page, stack.base, ADMIN)
    page.watch.expected += ["answer 422", "status of 422", "answer 409", "status of 409"]
    upload(page, "members.jsonl", MEMBERS_JSONL, "not an id!")
    alert = page.get_by_role("alert")
    alert.wait_for()
    answer = stack.post("/v1/imports", {"import_id": "not an id!", "format": "jsonl"}, key=ADMIN)
    assert answer.status == 422
    assert answer.json["error"]["details"][0]["message"] in alert.inner_text()
    assert alert.inner_text().startswith("Import id:") and "{" not in alert.inner_text()

    # an import made but its file never sent: its page says so and offers the upload; validating it is refused
    made = stack.post("/v1/imports", {"import_id": "never-sent", "format": "csv"}, key=ADMIN)
    assert made.status == 201, made.raw
    page.goto(f"{stack.base}/console#/imports/never-sent")
    page.locator('[data-figure="import_status"]').filter(has_text="awaiting_upload").wait_for()
    assert "has not arrived" in figure(page, "next")
    assert page.get_by_role("button", name="Validate").count() == 0
    refused = stack.post("/v1/imports/never-sent/validate", {}, key=ADMIN)
    assert refused.status == 409 and refused.json["error"]["code"] == "invalid_state"

    # a CSV file whose first line is not the header: the import failed, said as an alert with the API's reason
    upload(page, "wrong.csv", b"id,mail\r\nx,x@example.com\r\n", "wrong-header")
    page.get_by_role("heading", name="Import wrong-header").wait_for()
    page.get_by_role("button", name="Validate").click()
    page.locator('[data-figure="import_status"]').filter(has_text="failed").wait_for(timeout=30000)
    failed = imported(stack, "wrong-header")
    assert failed["status"] == "failed" and failed["failed_reason"]
    said = page.get_by_role("alert")
    assert said.inner_text().startswith("The import failed") and failed["failed_reason"] in said.inner_text()
    assert page.get_by_role("button", name="Validate").count() == page.get_by_role("button", name="Apply").count() == 0
    shot(page, "manager-import-failed")

    # the same id again: the import that has its file keeps it, and the page says so (no second PUT)
    puts: list[str] = []
    page.on("request", lambda r: puts.append(r.url) if r.method == "PUT" else None)
    upload(page, "wrong.csv", b"member_id\r\n", "wrong-header")
    page.get_by_role("alert").filter(has_text="exists already").wait_for()
    assert "Import wrong-header exists already (failed)" in page.get_by_role("alert").inner_text()
    assert puts == [] and imported(stack, "wrong-header")["status"] == "failed"

    # an unknown import: said, with the API's message
    page.watch.expected += ["answer 404", "status of 404"]
    page.goto(f"{stack.base}/console#/imports/no-such-import")
    page.get_by_role("heading", name="No such import").wait_for()
    missing = stack.get("/v1/imports/no-such-import", key=ADMIN)
    assert missing.status == 404 and missing.json["error"]["message"] in page.get_by_role("alert").inner_text()


def test_a_key_without_the_admin_scope_is_not_offered_the_import(page: Any, stack: Client) -> None:
    sign_in(page, stack.base, CHECKOUT)
    assert page.get_by_role("navigation").get_by_role("link", name="Import").count() == 0
    page.goto(f"{stack.base}/console#/imports")
    page.get_by_role("heading", name="Not available").wait_for()
    page.goto(f"{stack.base}/console#/imports/console-jsonl")
    page.get_by_role("heading", name="Not available").wait_for()
