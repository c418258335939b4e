"""The import worker's steps, one SQS message each (ImportWorkerFunction; the routes only ask):

- `validate`: the whole file checked (`loyalty.imports.validation`); the import becomes `validated` with its
  figures and its plan. Run again (a redelivered message), it does the same again and writes the same.
- `plan`: the apply fans out: one message per chunk of the plan (a byte range of about `CHUNK_ROWS` rows), sent
  ten a call. Many workers then apply chunks side by side (the event source's maximum concurrency).
- `chunk`: the chunk's bytes read (an S3 range GET), its rows not rejected written `GROUP_ROWS` to a transaction
  (each row: the member, its identifiers and its `import` entry, on condition that none exists; groups side by side
  deployed). A group that cannot be written whole goes a row at a time (`loyalty.store.transaction.enroll`), which
  says why: a row whose member already exists from this import was applied before (a worker killed half way):
  `skipped`; a member or an identifier taken since the validation: rejected now. Then the chunk's figures are
  counted once (`store.count_chunk`), and whoever counts the last chunk marks the import `applied`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from loyalty.domain import keys
from loyalty.domain.imports import IMPORT_MONTH, Chunk, Import, ImportRow, RowError
from loyalty.domain.model import NEVER, Member, identifiers
from loyalty.domain.writes import IdentifierClaimed, SideWrite, WriteRefused
from loyalty.imports import rows as reading
from loyalty.imports.validation import Validator
from loyalty.kernel.clock import utcnow
from loyalty.kernel.config import settings
from loyalty.kernel.months import add_months, month_of
from loyalty.kernel.observability import logger
from loyalty.ledger.funnel import Books, expiry_month_for
from loyalty.ledger.operations import Retry, retrying
from loyalty.program.rules import Program
from loyalty.store import imports as store
from loyalty.store import members as member_store
from loyalty.store import transaction
from loyalty.tiers.evaluation import start_of
from loyalty.tiers.maths import highest_qualified, qualifying_value

# what a row came to (applied, skipped, or why it is rejected now) and its points as the validation counted them
Outcome = tuple[str | RowError, int]
CHECKS_AT_ONCE = 8  # a validation's BatchGetItem calls in flight (deployed)
GROUP_ROWS = 20  # rows written in one transaction (a row is at most 5 items; a transaction at most 100)
GROUPS_AT_ONCE = 8  # a chunk's groups written side by side (deployed; locally one emulator serves every call)
Group = list[tuple[ImportRow | RowError, int]]


# -- validate ------------------------------------------------------------------------------------------------
def validate(program: Program, import_id: str) -> None:
    record = store.load(import_id)
    if record is None or record.status != "validating":
        return  # asked twice, or done: nothing to do
    now = utcnow()
    key = record.object_key
    validator = Validator(
        record.format,
        program,
        now,
        taken=store.taken,  # type: ignore[arg-type]  # identifier kinds are the row's
        put_errors=lambda errors: store.put_errors(import_id, errors),
        parallel=1 if settings().local_mode else CHECKS_AT_ONCE,
    )
    etag = store.file_etag(key)
    try:
        summary = validator.run(store.read_file(key, etag), lambda: store.read_file(key, etag))
    except reading.HeaderRefused as refused:
        _fail(import_id, str(refused))
        return
    except store.FileChanged:
        _fail(import_id, "the file changed during its validation (PUT again): create another import for it")
        return
    # an attempt that died may have rejected a row this one found valid (its identifier freed since): not listed
    store.drop_errors(import_id, validator.was_rejected)
    store.put_plan(import_id, summary.chunks)
    for _ in range(5):
        record = store.load(import_id)
        if record is None or record.status != "validating":
            return
        expected = record.version
        record.status = "validated"
        record.validated_at = now
        record.rows_total = summary.total
        record.rows_valid = summary.valid
        record.rows_rejected = summary.rejected
        record.points_total = summary.points
        record.chunks = len(summary.chunks)
        record.etag = etag
        if store.save(record, expected):
            logger.info("import validated", extra={"import_id": import_id, "rows": summary.total})
            return
    raise Retry()


def _fail(import_id: str, reason: str) -> None:
    for _ in range(5):
        record = store.load(import_id)
        if record is None or record.status in ("applied", "failed"):
            return
        expected = record.version
        record.status = "failed"
        record.failed_reason = reason
        if store.save(record, expected):
            return


def fail(import_id: str, reason: str) -> None:
    """The worker gave up on a message (its last receive): the import says so."""
    _fail(import_id, reason)


# -- plan ----------------------------------------------------------------------------------------------------
def fan_out(import_id: str) -> None:
    record = store.load(import_id)
    if record is None or record.status != "applying":
        return
    if record.chunks == 0:
        store.finish_apply(import_id, utcnow())
        return
    messages = [
        {
            "step": "chunk",
            "import_id": import_id,
            "chunk": c.index,
            "start": c.start,
            "end": c.end,
            "first_row": c.first_row,
            "rows": c.rows,
        }
        for c in store.plan(import_id, record.chunks)
    ]
    store.send_work(messages)


# -- chunk ---------------------------------------------------------------------------------------------------
def apply_chunk(program: Program, import_id: str, chunk: Chunk) -> None:
    record = store.load(import_id)
    if record is None or record.status != "applying":
        return
    if store.chunk_counted(import_id, chunk.index):  # delivered again (or the plan asked again): done before
        store.finish_apply(import_id, utcnow())
        return
    try:
        data = store.read_range(record.object_key, chunk.start, chunk.end, record.etag)
    except store.FileChanged:
        _fail(import_id, "the file changed since its validation (PUT again): create another import for it")
        return
    lines = [line for line in reading.lines([data], chunk.start, chunk.first_row) if not reading.blank(line)]
    now = utcnow()
    before: list[int] = []  # the points of rows an apply of this chunk rejected before (killed before its count)
    if lines:
        rejected = store.rejected_rows(import_id, lines[0].row, lines[-1].row)
        before = [_read(program, record, line, now)[1] for line in lines if rejected.get(line.row)]
        lines = [line for line in lines if line.row not in rejected]
    month = record.apply_month or month_of(now)
    rows = [_read(program, record, line, now) for line in lines]
    groups = _groups(rows)
    outcomes = [o for done in _each(groups, lambda group: _write(program, import_id, group, now, month)) for o in done]
    errors = [o for o, _ in outcomes if isinstance(o, RowError)]
    if errors:
        store.put_errors(import_id, errors, by_apply=True)
    figures = {
        "applied": sum(1 for o, _ in outcomes if o == "applied"),
        "skipped": sum(1 for o, _ in outcomes if o == "skipped"),
        "rejected": len(errors) + len(before),
        "points_rejected": sum(points for o, points in outcomes if isinstance(o, RowError)) + sum(before),
    }
    store.count_chunk(import_id, chunk.index, figures, now)
    # asked even when the chunk was counted before: a worker may have died between its count and this
    store.finish_apply(import_id, now)


def _read(program: Program, record: Import, line: reading.Line, now: datetime) -> tuple[ImportRow | RowError, int]:
    """The row as it reads now, and its points as the validation counted them (what the import's total loses if the
    row is rejected now: its member or an identifier taken since, or a month over since)."""
    then = reading.parse(line, record.format, program, record.validated_at or now)
    points = then.points if isinstance(then, ImportRow) else 0
    return reading.parse(line, record.format, program, now), points


def _groups(rows: list[tuple[ImportRow | RowError, int]]) -> list[list[tuple[ImportRow | RowError, int]]]:
    """The chunk's rows in groups of at most GROUP_ROWS, each written in one transaction (at most 5 items a row:
    the member, its entry, three identifiers)."""
    return [rows[i : i + GROUP_ROWS] for i in range(0, len(rows), GROUP_ROWS)]


def _write(
    program: Program, import_id: str, group: list[tuple[ImportRow | RowError, int]], now: datetime, month: str
) -> list[Outcome]:
    """A group of rows in one transaction; when any of them cannot be (a member or an identifier exists: written
    before by this import, or taken since), each on its own, which says which and why."""
    good = [row for row, _ in group if isinstance(row, ImportRow)]
    if len(good) > 1:
        writes = []
        for row in good:
            member, books = member_of(program, import_id, row, now, month)
            books.close()
            claims: list[SideWrite] = [
                IdentifierClaimed(k, v, member.member_id) for k, v in identifiers(member).items()
            ]
            writes.append((member, books.entries, claims))
        try:
            transaction.enroll_group(writes)
            return [(row if isinstance(row, RowError) else "applied", points) for row, points in group]
        except transaction.GroupRefused:
            pass
    return [
        (row if isinstance(row, RowError) else apply_row(program, import_id, row, now, month), points)
        for row, points in group
    ]


def _each(groups: list[Group], write: Callable[[Group], list[Outcome]]) -> list[list[Outcome]]:
    """The groups side by side (one at a time locally, where one emulator serves every call). A group that raises
    stops the chunk: the groups not started are not written (the message comes again; what was written is skipped)."""
    if settings().local_mode or len(groups) < 2:
        return [write(group) for group in groups]
    with ThreadPoolExecutor(GROUPS_AT_ONCE) as pool:
        futures = [pool.submit(write, group) for group in groups]
        try:
            return [f.result() for f in futures]
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def member_of(program: Program, import_id: str, row: ImportRow, now: datetime, month: str) -> tuple[Member, Books]:
    """The member a row makes, and its books with the opening balance in them (not written)."""
    member = Member(
        member_id=row.member_id,
        channel="import",
        email=row.email,
        name=row.name,
        phone=row.phone,
        card_id=row.card_id,
        birth_date=row.birth_date,
        enrolled_at=row.enrolled_at,
        status=row.status,
        status_reason="imported suspended" if row.status == "suspended" else None,
        status_changed_at=now if row.status == "suspended" else None,
        tier_id=program.base_tier.id,
        tier_since=now,
        tier_reached_at=now,
        import_id=import_id,
        imported_at=now,
    )
    if program.qualification.measure == "spend":
        from decimal import Decimal

        member.spend = {m: Decimal(v) for m, v in row.qualifying.items()}
    else:
        member.qualifying = dict(row.qualifying)
    if row.tier_id is not None:
        member.tier_id = row.tier_id
    else:
        member.tier_id = highest_qualified(program, qualifying_value(member, program, month_of(now))).id
    member.tier_reason = "import"
    if row.tier_until is not None:
        member.tier_source = "manual"
        member.manual_until = start_of_month(add_months(row.tier_until, 1))
    books = Books(program, member, now)
    months: dict[str, int] = {}
    for balance in row.balances:
        if balance.expires == IMPORT_MONTH:
            target = expiry_month_for(program, start_of_month(month))
        else:
            target = balance.expires or NEVER
        months[target] = months.get(target, 0) + balance.points
    if months:
        moved = books.bring(months)
        books.entry(
            keys.imported(row.member_id),
            "import",
            row.points,
            import_id,
            now,
            details={"import_id": import_id, "row": row.row},
            buckets=moved,
        )
    return member, books


def start_of_month(month: str) -> datetime:
    from datetime import date

    return start_of(date(int(month[:4]), int(month[5:7]), 1))


def apply_row(program: Program, import_id: str, row: ImportRow, now: datetime, month: str) -> str | RowError:
    """One row written: `applied`, `skipped` (this import applied it before), or why it cannot be now."""

    def attempt() -> str | RowError:
        member, books = member_of(program, import_id, row, now, month)
        books.close()
        claims = [IdentifierClaimed(kind, value, member.member_id) for kind, value in identifiers(member).items()]
        try:
            transaction.enroll(member, books.entries, None, list(claims))
        except transaction.MemberAlreadyExists:
            there = member_store.load_member(row.member_id)
            if there is None:
                raise Retry() from None
            if there.import_id == import_id:
                return "skipped"
            return RowError(row.row, "member_exists", f"member {row.member_id!r} exists", "member_id", row.member_id)
        except WriteRefused as refused:
            if isinstance(refused.write, IdentifierClaimed):
                kind = refused.write.kind
                return RowError(row.row, "identifier_in_use", f"{kind}: belongs to another member", kind, row.member_id)
            raise
        return "applied"

    return retrying(attempt)


def message_chunk(body: dict[str, Any]) -> Chunk:
    return Chunk(int(body["chunk"]), int(body["start"]), int(body["end"]), int(body["first_row"]), int(body["rows"]))
