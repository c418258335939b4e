"""An import file read line by line, and each line made a row or an error (CONTRACT.md v1.2, "Import").

- `lines` reads a byte stream a piece at a time and yields each line with its number and byte range: at most one
  line (and one piece of the stream) is held at a time; a line over `MAX_LINE_BYTES` is never held whole.
- `parse` turns one line into an `ImportRow` or a `RowError`: the fields as an enrolment checks them (the same
  types), then the programme's rules at `now` (`check`): a known tier, months not over, qualifying months inside
  the current window, an enrolment not in the future.
- `keys` are what must be unique in the file: the member id and each identifier (compared form).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from loyalty.domain.imports import (
    CSV_HEADER,
    IMPORT_MONTH,
    MAX_LINE_BYTES,
    Balance,
    ImportFormat,
    ImportRow,
    RowError,
)
from loyalty.domain.model import identifier_value
from loyalty.kernel.months import month_of
from loyalty.program.rules import Program
from loyalty.requests.imports import CsvRow, JsonlRow, MemberCells
from loyalty.tiers.maths import window


@dataclass(frozen=True)
class Line:
    row: int  # 1-based line of the file
    start: int  # its first byte
    end: int  # the byte after its newline (or the end of the file)
    text: bytes | None  # None: longer than MAX_LINE_BYTES (not kept)


BOM = b"\xef\xbb\xbf"


class HeaderRefused(Exception):
    """A CSV file whose first line is not the contract's header: no row can be read."""


def lines(stream: Iterable[bytes], start: int = 0, first_row: int = 1) -> Iterator[Line]:
    """Every line of the stream (blank ones included, so that numbers are the file's), its `\\r\\n` or `\\n` cut."""
    buffer = bytearray()
    offset = start  # the byte of the file where `buffer` starts
    line_start = start
    row = first_row
    too_long = False
    for piece in stream:
        buffer += piece
        pos = 0
        while (cut := buffer.find(b"\n", pos)) >= 0:
            end = offset + cut + 1
            if too_long or cut - pos > MAX_LINE_BYTES:
                yield Line(row, line_start, end, None)
            else:
                yield Line(row, line_start, end, _text(bytes(buffer[pos:cut]), line_start))
            too_long = False
            pos = cut + 1
            line_start = end
            row += 1
        del buffer[:pos]
        offset += pos
        if len(buffer) > MAX_LINE_BYTES:  # the line goes on: drop what is held, remember it is too long
            offset += len(buffer)
            del buffer[:]
            too_long = True
    if buffer or too_long:
        yield Line(row, line_start, offset + len(buffer), None if too_long else _text(bytes(buffer), line_start))


def _text(line: bytes, start: int) -> bytes:
    """The line without its `\r`; the file's first without a UTF-8 byte order mark (a Windows editor's)."""
    return (line.removeprefix(BOM) if start == 0 else line).rstrip(b"\r")


def blank(line: Line) -> bool:
    return line.text is not None and not line.text.strip()


def check_header(line: Line) -> None:
    text = (line.text or b"").decode("utf-8", "replace").lstrip("\ufeff")
    cells = tuple(c.strip() for c in next(csv.reader([text]), []))
    if cells != CSV_HEADER:
        raise HeaderRefused(f"the first line must be the header {','.join(CSV_HEADER)}")


# -- a line into a row ---------------------------------------------------------------------------------------
def _field(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _refused(row: int, exc: ValidationError, member_id: str | None, rename: dict[str, str]) -> RowError:
    first = exc.errors(include_url=False)[0]
    name = _field(tuple(first["loc"])) or None
    message = "not a field of this format" if first["type"] == "extra_forbidden" else str(first["msg"])
    name = rename.get(name or "", name)
    return RowError(row, "validation_error", f"{name}: {message}" if name else message, name, member_id)


def _member_id(data: Any) -> str | None:
    found = data.get("member_id") if isinstance(data, dict) else None
    return found if isinstance(found, str) and 0 < len(found) <= 128 else None


def parse(line: Line, fmt: ImportFormat, program: Program, now: datetime) -> ImportRow | RowError:
    """One line of the file as a row, or why it is rejected."""
    if line.text is None:
        return RowError(line.row, "bad_line", f"the line is longer than {MAX_LINE_BYTES} bytes")
    try:
        text = line.text.decode("utf-8")
    except UnicodeDecodeError:
        return RowError(line.row, "bad_line", "the line is not UTF-8")
    if fmt == "jsonl":
        return _jsonl(line.row, text, program, now)
    return _csv(line.row, text, program, now)


def _import_row(row: int, parsed: MemberCells, **own: Any) -> ImportRow:
    """The row of a parsed line: the member's cells, which both formats share, and the format's `own` fields."""
    return ImportRow(
        row=row,
        member_id=parsed.member_id,
        enrolled_at=parsed.enrolled_at,
        status=parsed.status,
        email=parsed.email,
        phone=parsed.phone,
        card_id=parsed.card_id,
        name=parsed.name,
        birth_date=parsed.birth_date,
        **own,
    )


def _jsonl(row: int, text: str, program: Program, now: datetime) -> ImportRow | RowError:
    try:  # parsed and checked in one step (pydantic's own JSON parser): the common case, a good row, costs least
        parsed = JsonlRow.model_validate_json(text)
    except ValidationError as exc:
        try:
            data = json.loads(text)
        except ValueError:
            return RowError(row, "bad_line", "the line is not JSON")
        if not isinstance(data, dict):
            return RowError(row, "bad_line", "the line is not a JSON object")
        return _refused(row, exc, _member_id(data), {})
    out = _import_row(
        row,
        parsed,
        tier_id=parsed.tier.id if parsed.tier else None,
        tier_until=parsed.tier.until if parsed.tier else None,
        balances=[Balance(b.points, b.expires) for b in parsed.balances or []],
    )
    for i, q in enumerate(parsed.qualifying or []):
        if q.month in out.qualifying:
            return RowError(
                row,
                "validation_error",
                f"qualifying[{i}].month: {q.month} is given twice",
                f"qualifying[{i}].month",
                out.member_id,
            )
        out.qualifying[q.month] = q.value
    return check(out, program, now, csv_names=False)


def _csv(row: int, text: str, program: Program, now: datetime) -> ImportRow | RowError:
    try:
        cells = next(csv.reader([text], strict=True), [])
    except csv.Error:
        return RowError(row, "bad_line", "the line is not a CSV row (a quote is not closed)")
    if len(cells) != len(CSV_HEADER):
        return RowError(row, "bad_line", f"the line has {len(cells)} columns, the header {len(CSV_HEADER)}")
    data = {name: cell.strip() for name, cell in zip(CSV_HEADER, cells, strict=True) if cell.strip()}
    try:
        parsed = CsvRow.model_validate(data)
    except ValidationError as exc:
        return _refused(row, exc, _member_id(data), {})
    if parsed.expires and not parsed.points:
        return RowError(row, "validation_error", "expires: given without points", "expires", parsed.member_id)
    points = int(parsed.points) if parsed.points else 0
    out = _import_row(
        row, parsed, tier_id=parsed.tier, balances=[Balance(points, parsed.expires or IMPORT_MONTH)] if points else []
    )
    return check(out, program, now, csv_names=True)


def check(row: ImportRow, program: Program, now: datetime, *, csv_names: bool) -> ImportRow | RowError:
    """The programme's rules at `now`: what a well-formed row may still not say."""

    def refuse(field: str, message: str) -> RowError:
        return RowError(row.row, "validation_error", f"{field}: {message}", field, row.member_id)

    month = month_of(now)
    if row.enrolled_at > now:
        return refuse("enrolled_at", "is in the future")
    if row.tier_id is not None and row.tier_id not in {t.id for t in program.tiers}:
        return refuse("tier" if csv_names else "tier.id", f"no tier {row.tier_id!r} in the programme")
    if row.tier_until is not None and row.tier_until < month:
        return refuse("tier.until", f"{row.tier_until} is already over")
    first, last = window(program, month)
    for i, qualifying_month in enumerate(row.qualifying):
        if not first <= qualifying_month <= last:
            return refuse(f"qualifying[{i}].month", f"{qualifying_month} is outside the current window {first}..{last}")
    for i, balance in enumerate(row.balances):
        if balance.expires not in (None, IMPORT_MONTH) and balance.expires < month:
            return refuse("expires" if csv_names else f"balances[{i}].expires", f"{balance.expires} is already over")
    return row


def keys(row: ImportRow) -> list[tuple[str, str]]:
    """What must be unique in the file and in the programme: the member id, and each identifier (compared form)."""
    out = [("member_id", row.member_id)]
    for kind in ("email", "phone", "card_id"):
        value = getattr(row, kind)
        if value:
            out.append((kind, identifier_value(kind, value)))
    return out
