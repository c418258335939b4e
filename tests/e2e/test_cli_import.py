"""`python -m loyalty.cli import FILE` against the local stack (contract v1.2, Import; docs/imports.md): the file
is created, uploaded, checked and applied over HTTP; rejections are shown and exit 1; a wrong key is one line and
exit 2; an import applied once changes nothing the second time."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support.http import ADMIN, ROOT, Client

NOW = "2026-06-15T12:00:00Z"  # the stack's clock for every test here: expiry months are judged by it


def loyalty_cli(api: Client, *args: str, key: str = ADMIN) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(ROOT), "LOYALTY_URL": api.base, "LOYALTY_KEY": key}
    return subprocess.run(
        [sys.executable, "-m", "loyalty.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env
    )


@pytest.fixture
def now(api: Client) -> Client:
    api.set_clock(NOW)
    return api


@pytest.fixture
def tag() -> str:
    """A suffix that keeps this test's members and identifiers apart from every other test's on the stack."""
    return uuid.uuid4().hex[:8]


def jsonl(path: Path, *rows: Any) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def member(api: Client, member_id: str) -> Any:
    answer = api.get(f"/v1/members/{member_id}", key=ADMIN)
    assert answer.status == 200, answer.raw
    return answer.json


def the_import(api: Client, import_id: str) -> Any:
    answer = api.get(f"/v1/imports/{import_id}", key=ADMIN)
    assert answer.status == 200, answer.raw
    return answer.json


def test_a_jsonl_file_is_checked_then_applied(now, tmp_path, tag):
    full = {
        "member_id": f"imp-ana-{tag}",
        "email": f"ana-{tag}@example.com",
        "phone": "+1415555" + str(int(tag, 16) % 10_000).zfill(4),
        "card_id": f"card-{tag}",
        "name": "Ana",
        "birth_date": "1990-04-01",
        "enrolled_at": "2024-03-01T09:00:00Z",
        "status": "active",
        "tier": {"id": "gold", "until": "2026-12"},
        "qualifying": [{"month": "2026-05", "value": 300}],
        "balances": [{"points": 500, "expires": "2027-03"}, {"points": 200, "expires": None}],
    }
    bare = {"member_id": f"imp-bo-{tag}", "enrolled_at": "2025-01-10T00:00:00Z"}
    done = loyalty_cli(now, "import", str(jsonl(tmp_path / "members.jsonl", full, bare)), "--id", f"imp-{tag}", "--yes")
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "checked 2 rows: 2 valid, 0 rejected; 700 points" in done.stdout, done.stdout
    assert f"applied import imp-{tag}: 2 members in, 0 skipped" in done.stdout, done.stdout
    # not a terminal: the progress is a line per step on stderr, ending at 100 %
    assert re.search(r"^validating \[#+\] 100% 2/2 rows$", done.stderr, re.M), done.stderr
    assert re.search(r"^applying \[#+\] 100% 2/2 rows$", done.stderr, re.M), done.stderr

    ana = member(now, f"imp-ana-{tag}")
    assert ana["points"]["available"] == 700  # the balances, no signup bonus
    assert ana["expiring"] == [{"month": "2027-03", "points": 500}]  # the 200 that never expire are not listed
    assert ana["tier"]["id"] == "gold" and ana["channel"] == "import"
    assert ana["enrolled_at"].startswith("2024-03-01T09:00:00")
    assert member(now, f"imp-bo-{tag}")["points"]["available"] == 0
    found = the_import(now, f"imp-{tag}")
    assert found["status"] == "applied"
    assert found["rows"] == {"total": 2, "valid": 2, "rejected": 0, "applied": 2, "skipped": 0}
    assert found["points"] == {"total": 700}


def test_a_csv_file_with_an_empty_expiry_expires_as_if_earned_this_month(now, tmp_path, tag):
    header = "member_id,email,phone,card_id,name,birth_date,enrolled_at,status,tier,points,expires"
    rows = [
        f'imp-cy-{tag},cy-{tag}@example.com,,,"Cy, Jr.",1985-12-31,2023-05-02T08:30:00Z,active,silver,300,2027-01',
        f"imp-di-{tag},,,,Di,,2024-11-20T17:00:00Z,suspended,,150,",
    ]
    path = tmp_path / "members.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8-sig")  # as Excel's "CSV UTF-8": a BOM
    done = loyalty_cli(now, "import", str(path), "--yes")
    assert done.returncode == 0, (done.stdout, done.stderr)
    import_id = re.search(r"created import (\S+) \(csv\)", done.stdout)
    assert import_id and import_id.group(1).startswith("members-"), done.stdout  # the file's name and the time

    cy = member(now, f"imp-cy-{tag}")
    assert cy["points"]["available"] == 300 and cy["expiring"] == [{"month": "2027-01", "points": 300}]
    assert cy["tier"]["id"] == "silver" and cy["profile"]["name"] == "Cy, Jr."
    di = member(now, f"imp-di-{tag}")
    assert di["status"] == "suspended" and di["points"]["available"] == 150
    earned_now = now.enroll(f"imp-control-{tag}")["expiring"]  # the signup bonus, earned in the import's month
    assert [e["month"] for e in di["expiring"]] == [e["month"] for e in earned_now]
    assert the_import(now, import_id.group(1))["rows"]["applied"] == 2


def test_rejected_rows_are_shown_and_exit_1_the_valid_ones_applied(now, tmp_path, tag):
    now.enroll(f"imp-here-{tag}", email=f"here-{tag}@example.com")
    rows: list[Any] = [
        {
            "member_id": f"imp-ok-{tag}",
            "enrolled_at": "2025-01-01T00:00:00Z",
            "balances": [{"points": 40, "expires": None}],
        },
        {"member_id": f"imp-bad-{tag}", "email": "not-an-email", "enrolled_at": "2025-01-01T00:00:00Z"},
        {
            "member_id": f"imp-old-{tag}",
            "enrolled_at": "2025-01-01T00:00:00Z",
            "balances": [{"points": 5, "expires": "2026-01"}],
        },
        {"member_id": f"imp-here-{tag}", "enrolled_at": "2025-01-01T00:00:00Z"},
        {"member_id": f"imp-mine-{tag}", "email": f"here-{tag}@example.com", "enrolled_at": "2025-01-01T00:00:00Z"},
        {"member_id": f"imp-twice-{tag}", "enrolled_at": "2025-01-01T00:00:00Z"},
        {"member_id": f"imp-twice-{tag}", "enrolled_at": "2025-02-01T00:00:00Z"},
        *(["this is not json"] * 20),
    ]
    done = loyalty_cli(now, "import", str(jsonl(tmp_path / "mixed.jsonl", *rows)), "--id", f"imp-mixed-{tag}", "--yes")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "checked 27 rows: 1 valid, 26 rejected; 40 points" in done.stdout, done.stdout
    assert "rejected rows (the first 20 of 26):" in done.stdout, done.stdout
    shown = re.findall(r"^  row (\d+)\s+(\S+)\s+(\S+)\s+(.*)$", done.stdout, re.M)
    assert len(shown) == 20, done.stdout
    codes = {int(row): (code, field) for row, code, field, _ in shown}
    assert codes[2] == ("validation_error", "email")
    assert codes[3][0] == "validation_error"  # an expiry month already over
    assert codes[4][0] == "member_exists" and codes[5][0] == "identifier_in_use"
    assert codes[6][0] == codes[7][0] == "duplicate_in_file"
    assert codes[8] == ("bad_line", "-")
    assert f"every rejected row: python -m loyalty.cli import --errors imp-mixed-{tag}" in done.stdout
    assert f"applied import imp-mixed-{tag}: 1 member in, 0 skipped (already in), 26 rejected" in done.stdout
    assert member(now, f"imp-ok-{tag}")["points"]["available"] == 40
    assert now.get(f"/v1/members/imp-bad-{tag}", key=ADMIN).status == 404

    every = loyalty_cli(now, "import", "--errors", f"imp-mixed-{tag}")
    assert every.returncode == 0, every.stderr
    listed = re.findall(r"^  row (\d+) ", every.stdout, re.M)
    assert sorted(int(r) for r in listed) == list(range(2, 28))


def test_validate_only_applies_nothing_and_says_how_to_apply(now, tmp_path, tag):
    path = jsonl(tmp_path / "later.jsonl", {"member_id": f"imp-later-{tag}", "enrolled_at": "2025-01-01T00:00:00Z"})
    for flags in (["--validate-only", "--yes"], []):  # --validate-only wins over --yes; without --yes it stops too
        import_id = f"imp-later-{tag}-{len(flags)}"
        done = loyalty_cli(now, "import", str(path), "--id", import_id, *flags)
        assert done.returncode == 0, (done.stdout, done.stderr)
        assert "checked 1 row: 1 valid, 0 rejected" in done.stdout, done.stdout
        apply = f"python -m loyalty.cli import --resume {import_id} --yes"
        assert f"nothing applied yet; to apply the 1 valid row: {apply}" in done.stdout, done.stdout
        assert the_import(now, import_id)["status"] == "validated"
        assert now.get(f"/v1/members/imp-later-{tag}", key=ADMIN).status == 404

    applied = loyalty_cli(now, *apply.split()[3:])
    assert applied.returncode == 0, (applied.stdout, applied.stderr)
    assert the_import(now, import_id)["status"] == "applied"
    assert member(now, f"imp-later-{tag}")["channel"] == "import"


@pytest.mark.parametrize(("key", "code"), [("lk_nobody", "unauthorized"), ("lk_local_checkout", "forbidden")])
def test_a_key_that_may_not_import_is_one_line_and_exit_2(now, tmp_path, tag, key, code):
    path = jsonl(tmp_path / "m.jsonl", {"member_id": f"imp-key-{tag}", "enrolled_at": "2025-01-01T00:00:00Z"})
    done = loyalty_cli(now, "import", str(path), "--yes", key=key)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == "" and "Traceback" not in done.stderr
    assert re.fullmatch(rf"error: {code}: .+\n", done.stderr), done.stderr


def test_an_applied_import_run_again_changes_nothing(now, tmp_path, tag):
    rows = [
        {
            "member_id": f"imp-once-{tag}",
            "enrolled_at": "2025-01-01T00:00:00Z",
            "balances": [{"points": 90, "expires": None}],
        },
        "not json",
    ]
    path = jsonl(tmp_path / "once.jsonl", *rows)
    first = loyalty_cli(now, "import", str(path), "--id", f"imp-once-{tag}", "--yes")
    assert first.returncode == 1, (first.stdout, first.stderr)
    before = the_import(now, f"imp-once-{tag}")
    ledger = now.get(f"/v1/members/imp-once-{tag}/ledger", key=ADMIN).json["entries"]

    for again in (
        loyalty_cli(now, "import", "--resume", f"imp-once-{tag}", "--yes"),
        loyalty_cli(now, "import", str(path), "--id", f"imp-once-{tag}", "--yes"),  # the same command again
    ):
        assert again.returncode == 1, (again.stdout, again.stderr)  # the rejected row is still rejected
        summary = f"applied import imp-once-{tag}: 1 member in, 0 skipped (already in), 1 rejected, 90 points"
        assert summary in again.stdout, again.stdout
        assert the_import(now, f"imp-once-{tag}") == before
        assert now.get(f"/v1/members/imp-once-{tag}/ledger", key=ADMIN).json["entries"] == ledger
        assert member(now, f"imp-once-{tag}")["points"]["available"] == 90
    assert f"import imp-once-{tag} exists (applied): carrying it on" in again.stdout, again.stdout


def test_a_csv_without_the_contracts_header_fails_in_one_line(now, tmp_path, tag):
    """Excel saving "CSV" where decimals take a comma writes semicolons: the header is not the contract's."""
    path = tmp_path / "semicolons.csv"
    header = "member_id;email;phone;card_id;name;birth_date;enrolled_at;status;tier;points;expires"
    path.write_text(f"{header}\nimp-semi-{tag};;;;;;2025-01-01T00:00:00Z;;;;\n", encoding="utf-8")
    done = loyalty_cli(now, "import", str(path), "--id", f"imp-semi-{tag}", "--yes")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert re.search(rf"^error: import imp-semi-{tag} failed: .*header.*\n\Z", done.stderr, re.M), done.stderr
    assert the_import(now, f"imp-semi-{tag}")["status"] == "failed"


def test_reconcile_answers_to_loyalty_cli_too(api):
    done = subprocess.run(
        [sys.executable, "-m", "loyalty.cli", "reconcile", "--local", api.base],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT), "AWS_EC2_METADATA_DISABLED": "true"},
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"reconciled \d+ members, \d+ entries: 0 differences", done.stdout), done.stdout
