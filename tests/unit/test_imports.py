"""An import file read and checked without AWS (loyalty.imports.rows and loyalty.imports.validation): lines and their
byte ranges, each rejection reason's field, duplicates found exactly (a shared hash alone rejects nothing), the
plan's chunks covering every row once, and the table's answers asked side by side giving what one at a time gives."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from loyalty.domain.imports import ImportRow, RowError
from loyalty.imports import rows as reading
from loyalty.imports import validation
from loyalty.imports.validation import Validator
from loyalty.program.rules import load_program_file

from loyalty_local.template import ROOT

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def program() -> Any:
    return load_program_file(str(ROOT / "programs" / "demo.yaml"))


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("size", [1, 3, 7, 1 << 20])
def test_lines_keep_their_numbers_and_byte_ranges_whatever_the_pieces(size: int) -> None:
    data = b'{"a":1}\r\n\n{"b":2}\nlast'
    got = list(reading.lines(pieces(data, size)))
    assert [(x.row, x.text) for x in got] == [(1, b'{"a":1}'), (2, b""), (3, b'{"b":2}'), (4, b"last")]
    assert [data[x.start : x.end] for x in got] == [b'{"a":1}\r\n', b"\n", b'{"b":2}\n', b"last"]


def test_a_line_too_long_is_not_held_and_is_a_bad_line(program: Any) -> None:
    long = b"x" * (reading.MAX_LINE_BYTES + 10)
    data = b"first\n" + long + b"\nthird\n"
    got = list(reading.lines(pieces(data, 4096)))
    assert [(x.row, x.text) for x in got] == [(1, b"first"), (2, None), (3, b"third")]
    assert data[got[1].start : got[1].end] == long + b"\n"
    found = reading.parse(got[1], "jsonl", program, NOW)
    assert isinstance(found, RowError) and found.code == "bad_line"


def row(**fields: Any) -> bytes:
    return json.dumps({"member_id": "m-1", "enrolled_at": "2024-01-01T00:00:00Z", **fields}).encode()


@pytest.mark.parametrize(
    ("text", "code", "field"),
    [
        (b"nope", "bad_line", None),
        (b'"a string"', "bad_line", None),
        (row(email="x"), "validation_error", "email"),
        (row(phone="0044 20"), "validation_error", "phone"),
        (row(member_id="has space"), "validation_error", "member_id"),
        (row(enrolled_at="2024-01-01"), "validation_error", "enrolled_at"),
        (row(enrolled_at="2027-01-01T00:00:00Z"), "validation_error", "enrolled_at"),
        (row(status="closed"), "validation_error", "status"),
        (row(tier={"id": "platinum"}), "validation_error", "tier.id"),
        (row(tier={"id": "gold", "until": "2026-11"}), "validation_error", "tier.until"),
        (row(qualifying=[{"month": "2025-12", "value": 5}]), "validation_error", "qualifying[0].month"),
        (row(qualifying=[{"month": "2026-05", "value": -1}]), "validation_error", "qualifying[0].value"),
        (row(balances=[{"points": 0, "expires": None}]), "validation_error", "balances[0].points"),
        (row(balances=[{"points": 5, "expires": "2026-13"}]), "validation_error", "balances[0].expires"),
        (row(balances=[{"points": 5, "expires": "2026-11"}]), "validation_error", "balances[0].expires"),
        (row(balances=[{"points": "5", "expires": None}]), "validation_error", "balances[0].points"),
        (row(balances=[{"points": 5}]), "validation_error", "balances[0].expires"),
        (row(points=5), "validation_error", "points"),
    ],
)
def test_each_rejection_names_its_field(program: Any, text: bytes, code: str, field: str | None) -> None:
    found = reading.parse(reading.Line(7, 0, len(text), text), "jsonl", program, NOW)
    assert isinstance(found, RowError), found
    assert (found.row, found.code, found.field) == (7, code, field)


def test_a_good_row_keeps_everything_it_says(program: Any) -> None:
    text = row(
        email="Ana@Example.com",
        phone="+14155550123",
        tier={"id": "gold", "until": "2026-12"},
        qualifying=[{"month": "2026-12", "value": 7}],
        balances=[{"points": 5, "expires": "2026-12"}, {"points": 6, "expires": None}],
    )
    found = reading.parse(reading.Line(1, 0, len(text), text), "jsonl", program, NOW)
    assert isinstance(found, ImportRow)
    assert found.points == 11 and found.tier_until == "2026-12" and found.qualifying == {"2026-12": 7}
    assert reading.keys(found) == [("member_id", "m-1"), ("email", "ana@example.com"), ("phone", "+14155550123")]


def validate(program: Any, data: bytes, **options: Any) -> tuple[validation.Summary, list[RowError]]:
    written: list[RowError] = []

    def taken(members: list[str], identifiers: list[tuple[str, str]]) -> tuple[set[str], set[tuple[str, str]]]:
        return {m for m in members if m.startswith("here")}, {i for i in identifiers if i[1].startswith("+1999")}

    checker = Validator("jsonl", program, NOW, taken=taken, put_errors=written.extend, **options)
    summary = checker.run(pieces(data, 100), lambda: pieces(data, 100))
    return summary, sorted(written, key=lambda e: e.row)


def many(count: int) -> bytes:
    lines = []
    for i in range(count):
        if i % 17 == 3:
            lines.append(b"broken")
        elif i % 23 == 5:
            lines.append(row(member_id=f"here-{i}"))
        elif i % 29 == 7:
            lines.append(row(member_id=f"m{i}", phone="+19990000000"))
        else:
            lines.append(
                row(member_id=f"m{i % 400}", email=f"e{i}@example.com", balances=[{"points": i + 1, "expires": None}])
            )
    return b"\n".join(lines) + b"\n"


def test_asked_side_by_side_the_table_answers_what_one_at_a_time_does(program: Any) -> None:
    data = many(1000)
    one, one_errors = validate(program, data)
    side, side_errors = validate(program, data, parallel=4)
    assert (one.total, one.valid, one.rejected, one.points) == (side.total, side.valid, side.rejected, side.points)
    assert one_errors == side_errors
    assert {e.code for e in one_errors} == {"bad_line", "member_exists", "identifier_in_use", "duplicate_in_file"}
    assert one.valid + one.rejected == one.total == 1000


def test_duplicates_are_decided_on_values_not_hashes(program: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every key made to share one hash: the second read compares the values, and only real duplicates go."""
    monkeypatch.setattr(validation, "hash", lambda _: 42, raising=False)
    data = b"\n".join(
        [
            row(member_id="a", email="a@example.com"),
            row(member_id="b", email="b@example.com"),
            row(member_id="c", email="A@example.com"),
            row(member_id="b"),
            row(member_id="d", email="d@example.com"),  # shares the hash only: valid
        ]
    )
    summary, errors = validate(program, data)
    assert [(e.row, e.code, e.field) for e in errors] == [
        (1, "duplicate_in_file", "email"),
        (2, "duplicate_in_file", "member_id"),
        (3, "duplicate_in_file", "email"),
        (4, "duplicate_in_file", "member_id"),
    ]
    assert summary.valid == 1 and summary.rejected == 4


def test_the_plan_covers_every_row_once(program: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validation, "CHUNK_ROWS", 7)
    data = many(100)
    summary, _ = validate(program, data)
    covered = []
    for chunk in summary.chunks:
        part = list(reading.lines([data[chunk.start : chunk.end]], chunk.start, chunk.first_row))
        assert len([x for x in part if not reading.blank(x)]) == chunk.rows
        covered += [x.row for x in part]
    assert covered == list(range(1, 101))
