"""An import: a file of another programme's members, checked first and applied second (CONTRACT.md v1.2, "Import").

`Import` is the stored record of one (item `IMPORT#<import_id>` / `IMPORT`): its state and its figures. A row of
the file becomes an `ImportRow` (checked, ready to apply) or a `RowError` (why it is rejected, by its 1-based line).
Pure: reading the file is `loyalty.imports.rows`, the work is `loyalty.imports.work`, storage is
`loyalty.store.imports`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

ImportFormat = Literal["jsonl", "csv"]
ImportStatus = Literal["awaiting_upload", "uploaded", "validating", "validated", "applying", "applied", "failed"]
ErrorCode = Literal["validation_error", "duplicate_in_file", "member_exists", "identifier_in_use", "bad_line"]

# The CSV header, exactly (CONTRACT.md v1.2): one balance per row.
CSV_HEADER = (
    "member_id",
    "email",
    "phone",
    "card_id",
    "name",
    "birth_date",
    "enrolled_at",
    "status",
    "tier",
    "points",
    "expires",
)
# A line longer than this is a bad line, never read whole (validation holds one row at a time).
MAX_LINE_BYTES = 64 * 1024
# Rows per unit of the apply: a chunk is a byte range of the file, one SQS message, counted once.
CHUNK_ROWS = 250
# An empty CSV `expires`: the points expire as if earned in the month of the apply.
IMPORT_MONTH = "import-month"


class Import(BaseModel):
    """One import and its figures. `rows_valid`/`points_total` are the validation's, less the rows an apply found
    taken since (moved to `rows_rejected`); `rows_applied + rows_skipped` of `rows_valid` is the apply's progress."""

    model_config = ConfigDict(extra="ignore")

    import_id: str
    format: ImportFormat
    status: ImportStatus = "awaiting_upload"
    object_key: str
    created_at: datetime
    validated_at: datetime | None = None
    applied_at: datetime | None = None
    failed_reason: str | None = None
    asked_at: datetime | None = None  # when validate or apply was last asked of the worker
    rows_total: int = 0
    rows_valid: int = 0
    rows_rejected: int = 0
    rows_applied: int = 0
    rows_skipped: int = 0
    points_total: int = 0
    size: int | None = None  # bytes of the uploaded file
    etag: str | None = None  # the file the validation read: the apply reads that one or none (a PUT again changes it)
    chunks: int = 0  # the apply's units (the validation's plan)
    chunks_done: int = 0
    apply_month: str | None = None  # YYYY-MM: the month of the apply (a CSV row's empty `expires`)
    request_hash: str
    response: str  # the creation's first answer, replayed byte for byte
    version: int = 0


@dataclass(frozen=True)
class RowError:
    """Why the row on `row` (the file's 1-based line) is rejected."""

    row: int
    code: ErrorCode
    message: str
    field: str | None = None
    member_id: str | None = None


@dataclass(frozen=True)
class Balance:
    points: int
    expires: str | None  # YYYY-MM; None: never; IMPORT_MONTH: the month of the apply (an empty CSV cell)


@dataclass
class ImportRow:
    """A row that passed every check of its own (the file's and the table's are the validation's)."""

    row: int
    member_id: str
    enrolled_at: datetime
    status: Literal["active", "suspended"] = "active"
    email: str | None = None
    phone: str | None = None
    card_id: str | None = None
    name: str | None = None
    birth_date: date | None = None
    tier_id: str | None = None
    tier_until: str | None = None  # YYYY-MM: kept to the end of that month
    qualifying: dict[str, int] = field(default_factory=dict)
    balances: list[Balance] = field(default_factory=list)

    @property
    def points(self) -> int:
        return sum(b.points for b in self.balances)


@dataclass(frozen=True)
class Chunk:
    """One unit of the apply: the rows of bytes `start`..`end` of the file, the first on line `first_row`."""

    index: int
    start: int
    end: int
    first_row: int
    rows: int
