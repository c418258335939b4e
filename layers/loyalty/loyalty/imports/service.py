"""The import routes' work (CONTRACT.md v1.2, "Import"): create one (its upload URL), read it, list them, page its
rejected rows, ask for its validation and its apply. The routes only ask: the import worker does the work
(`loyalty.imports.work`), so each answers at once (`202`) whatever the file's size."""

from __future__ import annotations

from datetime import timedelta

from loyalty.answers.imports import (
    CreatedImport,
    ErrorPage,
    ImportAnswer,
    ImportList,
    ImportPoints,
    RowCounts,
    RowErrorView,
    Upload,
)
from loyalty.domain.imports import Import, ImportFormat
from loyalty.kernel.clock import isoformat, utcnow
from loyalty.kernel.errors import Contention, ImportExists, ImportNotFound, InvalidState
from loyalty.kernel.months import month_of
from loyalty.ledger.operations import Outcome, dumps, request_hash
from loyalty.store import imports as store
from loyalty.store.core import ConditionFailed

UPLOAD_SECONDS = 3600  # how long an upload URL works
SAVE_ATTEMPTS = 5
# A step asked this long ago that has not moved is asked again (its message may never have been sent): longer than
# the worker's timeout (15 minutes), so a step still running is not asked twice.
ASK_AGAIN_AFTER = timedelta(minutes=20)


def view(record: Import) -> ImportAnswer:
    return ImportAnswer(
        import_id=record.import_id,
        format=record.format,
        status=record.status,
        rows=RowCounts(
            total=record.rows_total,
            valid=record.rows_valid,
            rejected=record.rows_rejected,
            applied=record.rows_applied,
            skipped=record.rows_skipped,
        ),
        points=ImportPoints(total=record.points_total),
        created_at=isoformat(record.created_at),
        validated_at=isoformat(record.validated_at) if record.validated_at else None,
        applied_at=isoformat(record.applied_at) if record.applied_at else None,
        **({"failed_reason": record.failed_reason} if record.failed_reason else {}),
    )


def create(import_id: str, fmt: ImportFormat) -> Outcome:
    """A new import awaiting its file; the same id and format again is a replay of the first answer."""
    hash_ = request_hash({"import_id": import_id, "format": fmt})
    existing = store.load(import_id)
    if existing is not None:
        return _replay(existing, hash_)
    now = utcnow()
    key = store.object_key(import_id)
    body = dumps(
        CreatedImport(
            import_id=import_id,
            format=fmt,
            status="awaiting_upload",
            upload=Upload(
                method="PUT",
                url=store.upload_url(key, UPLOAD_SECONDS),
                expires_at=isoformat(now + timedelta(seconds=UPLOAD_SECONDS)),
            ),
        )
    )
    record = Import(import_id=import_id, format=fmt, object_key=key, created_at=now, request_hash=hash_, response=body)
    try:
        store.create(record)
    except ConditionFailed:  # created at the same instant by another request
        found = store.load(import_id)
        if found is None:  # pragma: no cover - imports are never deleted
            raise Contention("the import is being created; retry") from None
        return _replay(found, hash_)
    return Outcome(201, body)


def _replay(existing: Import, hash_: str) -> Outcome:
    if existing.request_hash != hash_:
        raise ImportExists(f"import {existing.import_id!r} exists with another format")
    return Outcome(200, existing.response, replayed=True)


def _load(import_id: str) -> Import:
    record = store.load(import_id)
    if record is None:
        raise ImportNotFound(f"no import {import_id!r}")
    return record


def _noticed_upload(record: Import) -> Import:
    """`uploaded` once the file is there (S3 is asked while the import awaits it)."""
    if record.status != "awaiting_upload":
        return record
    size = store.file_size(record.object_key)
    if size is None:
        return record
    expected = record.version
    record.status = "uploaded"
    record.size = size
    if store.save(record, expected):
        return record
    return _load(record.import_id)


def read(import_id: str) -> ImportAnswer:
    return view(_noticed_upload(_load(import_id)))


def listing(limit: int, cursor: str | None) -> ImportList:
    records, next_cursor = store.listing(limit, cursor)
    # an import awaiting its file is asked about it here too, so the list says what reading it says
    return ImportList(imports=[view(_noticed_upload(r)) for r in records], next_cursor=next_cursor)


def errors(import_id: str, limit: int, cursor: str | None) -> ErrorPage:
    _load(import_id)
    found, next_cursor = store.errors_page(import_id, limit, cursor)
    return ErrorPage(
        errors=[
            RowErrorView(
                row=e.row,
                **({"member_id": e.member_id} if e.member_id else {}),
                field=e.field,
                code=e.code,
                message=e.message,
            )
            for e in found
        ],
        next_cursor=next_cursor,
    )


def ask_validate(import_id: str) -> ImportAnswer:
    """`uploaded` → `validating`, and the worker told. While it runs or once done, nothing changes."""
    for _ in range(SAVE_ATTEMPTS):
        record = _noticed_upload(_load(import_id))
        if record.status == "awaiting_upload":
            raise InvalidState(f"import {import_id!r} has no file yet: PUT it to its upload URL first")
        if record.status == "failed":
            raise InvalidState(f"import {import_id!r} failed: {record.failed_reason}")
        if record.status == "validating" and _lost(record):
            if _ask_again(record, {"step": "validate", "import_id": import_id}):
                return view(record)
            continue
        if record.status != "uploaded":
            return view(record)  # validating, validated, applying, applied: asked before
        expected = record.version
        record.status = "validating"
        record.asked_at = utcnow()
        if store.save(record, expected):
            _tell({"step": "validate", "import_id": import_id}, record, "uploaded")
            return view(record)
    raise Contention("the import kept changing; retry")


def ask_apply(import_id: str) -> ImportAnswer:
    """`validated` → `applying` (the month of the apply fixed), and the worker told to fan out the plan."""
    for _ in range(SAVE_ATTEMPTS):
        record = _noticed_upload(_load(import_id))
        if record.status in ("awaiting_upload", "uploaded", "validating"):
            raise InvalidState(f"import {import_id!r} is {record.status}: it must be validated first")
        if record.status == "failed":
            raise InvalidState(f"import {import_id!r} failed: {record.failed_reason}")
        if record.status == "applying" and _lost(record):
            if _ask_again(record, {"step": "plan", "import_id": import_id}):
                return view(record)
            continue
        if record.status != "validated":
            return view(record)  # applying, applied: asked before
        expected = record.version
        record.status = "applying"
        record.asked_at = utcnow()
        record.apply_month = month_of(utcnow())
        if store.save(record, expected):
            _tell({"step": "plan", "import_id": import_id}, record, "validated")
            return view(record)
    raise Contention("the import kept changing; retry")


def _lost(record: Import) -> bool:
    """Whether the worker's message may have been lost: the route that asked died between saving the status and
    sending it (no message, so nothing moves). Asked more than `ASK_AGAIN_AFTER` ago, longer than a worker runs."""
    return record.asked_at is None or utcnow() - record.asked_at > ASK_AGAIN_AFTER


def _ask_again(record: Import, message: dict[str, str]) -> bool:
    """The step asked once more (its work is the same again: a validation rewrites what it wrote, a chunk is counted
    once), if nobody asked meanwhile. False: the import changed, read it again."""
    expected = record.version
    record.asked_at = utcnow()
    if not store.save(record, expected):
        return False
    store.send_work([message])
    return True


def _tell(message: dict[str, str], record: Import, before: str) -> None:
    """The worker told; if SQS refuses, the import goes back to `before` (asking again tries again)."""
    try:
        store.send_work([message])
    except Exception:
        expected = record.version
        record.status = before  # type: ignore[assignment]  # a status the caller read
        record.apply_month = None if before == "validated" else record.apply_month
        store.save(record, expected)
        raise
