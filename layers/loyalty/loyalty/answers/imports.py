"""Imports and their rejected rows (CONTRACT.md v1.2, "Import")."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from loyalty.answers.common import Answer, Timestamp
from loyalty.domain.imports import ErrorCode, ImportFormat, ImportStatus


class Upload(Answer):
    method: Literal["PUT"] = "PUT"
    url: str = Field(
        description="Where the file goes, with a plain PUT of its bytes (no key): deployed a presigned S3 "
        "URL (files up to 5 GiB), locally a URL of the local stack."
    )
    expires_at: Timestamp


class CreatedImport(Answer):
    import_id: str
    format: ImportFormat
    status: ImportStatus
    upload: Upload


class RowCounts(Answer):
    total: int = Field(description="Rows of the file (a CSV header and blank lines are not rows).")
    valid: int = Field(description="Rows the validation found valid (less those an apply found taken since).")
    rejected: int = Field(description="Rows with an error (`GET .../errors`).")
    applied: int = Field(description="Members the apply created.")
    skipped: int = Field(description="Rows an apply met already applied (a retry after a crash).")


class ImportPoints(Answer):
    total: int = Field(description="The opening balances of the valid rows.")


class ImportAnswer(Answer):
    import_id: str
    format: ImportFormat
    status: ImportStatus
    rows: RowCounts
    points: ImportPoints
    created_at: Timestamp
    validated_at: Timestamp | None
    applied_at: Timestamp | None
    failed_reason: str | None = Field(default=None, description="Why the import failed (status `failed`).")


class ImportList(Answer):
    imports: list[ImportAnswer] = Field(description="Newest first.")
    next_cursor: str | None


class RowErrorView(Answer):
    row: int = Field(description="The file's line, 1-based (a CSV header is line 1).")
    member_id: str | None = None
    field: str | None
    code: ErrorCode
    message: str


class ErrorPage(Answer):
    errors: list[RowErrorView] = Field(description="By row.")
    next_cursor: str | None
