"""Imports in the table, their files in S3 and their work on SQS (CONTRACT.md v1.2, "Import").

| item                                   | PK                    | SK                              |
|----------------------------------------|-----------------------|---------------------------------|
| the import (state, figures, first answer) | `IMPORT#<import_id>` | `IMPORT`                       |
| a rejected row                         | `IMPORT#<import_id>`  | `ERROR#<row, 10 digits>`        |
| the apply's plan (1,000 chunks an item) | `IMPORT#<import_id>` | `PLAN#<4 digits>`               |
| a chunk the apply counted              | `IMPORT#<import_id>`  | `CHUNK#<6 digits>`              |
| the list of imports, newest first      | `IMPORTS`             | `<created_at>#<import_id>`      |

The file is the object `imports/<import_id>` of the import bucket (private, encrypted, deleted by a lifecycle rule);
the client PUTs it to a presigned URL. The import worker reads it as a stream (validation) and by byte ranges (a
chunk of the apply).
"""

from __future__ import annotations

import functools
import json
import random
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from loyalty.domain.imports import Chunk, Import, RowError
from loyalty.domain.model import IdentifierKind
from loyalty.kernel.clock import isoformat
from loyalty.kernel.config import settings
from loyalty.store.codecs import member_pk
from loyalty.store.core import (
    ConditionFailed,
    WriteConflict,
    batch_get,
    batch_write,
    client,
    from_item,
    get,
    key,
    put,
    query,
    query_items,
    send_messages,
    table_name,
    to_item,
    transact,
)
from loyalty.store.members import decode_cursor, encode_cursor

LIST_PK = "IMPORTS"
PLAN_CHUNKS = 1_000  # chunks per plan item (each about 40 bytes: far under the 400 KB item limit)
READ_BYTES = 1 << 20  # the validation reads the file a MiB at a time
COUNT_ATTEMPTS = 6  # a chunk's count tried again when another chunk's count conflicts with it


def import_pk(import_id: str) -> str:
    return f"IMPORT#{import_id}"


def error_sk(row: int) -> str:
    return f"ERROR#{row:010d}"


def object_key(import_id: str) -> str:
    return f"imports/{import_id}"


# -- the import ----------------------------------------------------------------------------------------------
def _record_item(record: Import) -> dict[str, Any]:
    data = record.model_dump(mode="json", exclude_none=True)
    return {"PK": import_pk(record.import_id), "SK": "IMPORT", "kind": "import", **data}


def create(record: Import) -> None:
    """The import and its place in the list, in one transaction. Raises ConditionFailed when the id exists."""
    listed = {"PK": LIST_PK, "SK": f"{isoformat(record.created_at)}#{record.import_id}", "import_id": record.import_id}
    transact(
        [
            {
                "Put": {
                    "TableName": table_name(),
                    "Item": to_item(_record_item(record)),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
            {"Put": {"TableName": table_name(), "Item": to_item(listed)}},
        ]
    )


def load(import_id: str) -> Import | None:
    item = get(import_pk(import_id), "IMPORT")
    return Import.model_validate(item) if item else None


def save(record: Import, expected_version: int) -> bool:
    """The whole record at its next version, if nobody changed it since `expected_version`. False if somebody did."""
    record.version = expected_version + 1
    try:
        transact(
            [
                {
                    "Put": {
                        "TableName": table_name(),
                        "Item": to_item(_record_item(record)),
                        "ConditionExpression": "#v = :v",
                        "ExpressionAttributeNames": {"#v": "version"},
                        "ExpressionAttributeValues": {":v": {"N": str(expected_version)}},
                    }
                }
            ]
        )
    except ConditionFailed:
        record.version = expected_version
        return False
    return True


def listing(limit: int, cursor: str | None) -> tuple[list[Import], str | None]:
    """Newest first: a page of the list, then the records (one BatchGetItem)."""
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": "PK = :pk",
        "ExpressionAttributeValues": {":pk": {"S": LIST_PK}},
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if cursor:
        kwargs["ExclusiveStartKey"] = decode_cursor(cursor, LIST_PK, "PK", ("PK", "SK"))
    answer = query(**kwargs)
    ids = [str(from_item(i)["import_id"]) for i in answer.get("Items", [])]
    records: dict[str, Import] = {}
    if ids:
        for item in batch_get([key(import_pk(i), "IMPORT") for i in ids]):
            found = Import.model_validate(item)
            records[found.import_id] = found
    last = answer.get("LastEvaluatedKey")
    return [records[i] for i in ids if i in records], encode_cursor(last) if last else None


# -- rejected rows -------------------------------------------------------------------------------------------
def _error_item(import_id: str, error: RowError, by_apply: bool = False) -> dict[str, Any]:
    item: dict[str, Any] = {
        "PK": import_pk(import_id),
        "SK": error_sk(error.row),
        "row": error.row,
        "code": error.code,
        "message": error.message,
    }
    if error.field is not None:
        item["field"] = error.field
    if error.member_id is not None:
        item["member_id"] = error.member_id
    if by_apply:
        item["by_apply"] = True
    return item


def put_errors(import_id: str, errors: list[RowError], *, by_apply: bool = False) -> None:
    """BatchWriteItem, 25 a call; what DynamoDB leaves unprocessed is sent again (each put is the same item).
    `by_apply`: rows the apply rejected (taken since the validation), which a retry of their chunk counts again."""
    requests = [{"PutRequest": {"Item": to_item(_error_item(import_id, e, by_apply))}} for e in errors]
    batch_write(requests, "the import's error rows")


def drop_errors(import_id: str, keep: Callable[[int], bool]) -> None:
    """The import's rejected rows that `keep` refuses deleted (what an attempt that died wrote for a row this one
    found valid): a Query of the keys, BatchWriteItem deletes, 25 a call."""
    pk = import_pk(import_id)
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": "PK = :pk AND begins_with(SK, :e)",
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":e": {"S": "ERROR#"}},
        "ProjectionExpression": "PK, SK, #r",
        "ExpressionAttributeNames": {"#r": "row"},
    }
    gone = [
        {"DeleteRequest": {"Key": {"PK": i["PK"], "SK": i["SK"]}}}
        for i in query_items(**kwargs)
        if not keep(int(i["row"]["N"]))
    ]
    batch_write(gone, "to delete the import's error rows")


def errors_page(import_id: str, limit: int, cursor: str | None) -> tuple[list[RowError], str | None]:
    pk = import_pk(import_id)
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": "PK = :pk AND begins_with(SK, :e)",
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":e": {"S": "ERROR#"}},
        "Limit": limit,
    }
    if cursor:
        kwargs["ExclusiveStartKey"] = decode_cursor(cursor, pk, "PK", ("PK", "SK"))
    answer = query(**kwargs)
    errors = [_error(from_item(i)) for i in answer.get("Items", [])]
    last = answer.get("LastEvaluatedKey")
    return errors, encode_cursor(last) if last else None


def rejected_rows(import_id: str, first: int, last: int) -> dict[int, bool]:
    """The rows between `first` and `last` (inclusive) that have an error: the apply skips them. True: the apply
    rejected it (a retry of the chunk counts it again), False: the validation did."""
    pk = import_pk(import_id)
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": "PK = :pk AND SK BETWEEN :a AND :b",
        "ExpressionAttributeValues": {
            ":pk": {"S": pk},
            ":a": {"S": error_sk(first)},
            ":b": {"S": error_sk(last)},
        },
        "ProjectionExpression": "#r, by_apply",
        "ExpressionAttributeNames": {"#r": "row"},
    }
    return {int(i["row"]): bool(i.get("by_apply")) for i in map(from_item, query_items(**kwargs))}


def _error(item: dict[str, Any]) -> RowError:
    return RowError(
        row=int(item["row"]),
        code=item["code"],
        message=str(item["message"]),
        field=item.get("field"),
        member_id=item.get("member_id"),
    )


# -- the plan and the chunks ---------------------------------------------------------------------------------
def put_plan(import_id: str, chunks: list[Chunk]) -> None:
    for part in range(0, max(len(chunks), 1), PLAN_CHUNKS):
        cells = [[c.start, c.end, c.first_row, c.rows] for c in chunks[part : part + PLAN_CHUNKS]]
        item = {"PK": import_pk(import_id), "SK": f"PLAN#{part // PLAN_CHUNKS:04d}", "chunks": json.dumps(cells)}
        put(item)


def plan(import_id: str, chunks: int) -> Iterator[Chunk]:
    index = 0
    for part in range(0, chunks, PLAN_CHUNKS):
        item = get(import_pk(import_id), f"PLAN#{part // PLAN_CHUNKS:04d}")
        if item is None:  # pragma: no cover - the validation writes the plan before the import says validated
            raise RuntimeError(f"import {import_id!r} has no plan part {part // PLAN_CHUNKS}")
        for start, end, first_row, rows in json.loads(str(item["chunks"])):
            yield Chunk(index, int(start), int(end), int(first_row), int(rows))
            index += 1


def chunk_counted(import_id: str, index: int) -> bool:
    """Whether the chunk's figures were added to the import (a message delivered again finds it done)."""
    return get(import_pk(import_id), f"CHUNK#{index:06d}") is not None


def count_chunk(import_id: str, index: int, figures: dict[str, int], at: datetime) -> bool:
    """The chunk's figures added to the import, once: the chunk's item and the sums in one transaction. False when
    the chunk was counted before (a message delivered twice)."""
    adds = {f"rows_{k}": v for k, v in figures.items() if k in ("applied", "skipped")}
    moved = figures.get("rejected", 0)
    adds.update(rows_rejected=moved, rows_valid=-moved, points_total=-figures.get("points_rejected", 0))
    adds["chunks_done"] = 1
    names = {f"#{k}": k for k in adds}
    values = {f":{k}": {"N": str(v)} for k, v in adds.items()}
    chunk = {"PK": import_pk(import_id), "SK": f"CHUNK#{index:06d}", **figures, "at": isoformat(at)}
    items = [
        {"Put": {"TableName": table_name(), "Item": to_item(chunk), "ConditionExpression": "attribute_not_exists(PK)"}},
        {
            "Update": {
                "TableName": table_name(),
                "Key": key(import_pk(import_id), "IMPORT"),
                "UpdateExpression": "ADD " + ", ".join(f"#{k} :{k}" for k in adds),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        },
    ]
    for attempt in range(COUNT_ATTEMPTS):
        try:
            transact(items)
        except ConditionFailed:
            return False
        except WriteConflict:  # another chunk counted into the import at the same instant: nothing was written
            if attempt == COUNT_ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311 - jitter, not a secret
            continue
        return True
    return False  # pragma: no cover - the loop returns or raises


def finish_apply(import_id: str, at: datetime) -> bool:
    """`applied` when every chunk is counted (whoever counts the last one gets there). False: not yet, or done."""
    from botocore.exceptions import ClientError

    try:
        client().update_item(
            TableName=table_name(),
            Key=key(import_pk(import_id), "IMPORT"),
            UpdateExpression="SET #s = :applied, applied_at = :at ADD #v :one",
            ConditionExpression="#s = :applying AND chunks_done >= chunks",
            ExpressionAttributeNames={"#s": "status", "#v": "version"},
            ExpressionAttributeValues={
                ":applied": {"S": "applied"},
                ":applying": {"S": "applying"},
                ":at": {"S": isoformat(at)},
                ":one": {"N": "1"},
            },
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


# -- the file (S3) -------------------------------------------------------------------------------------------
def _bucket() -> str:
    bucket = settings().import_bucket
    if not bucket:
        raise RuntimeError("IMPORT_BUCKET is not set")
    return bucket


def upload_url(object_name: str, expires_in: int) -> str:
    """A presigned PUT of the import's file (SigV4). `UPLOAD_ENDPOINT_URL` (the local stack's) is where it points, if
    set: the URL is only signed here, no call is made."""
    return str(
        _signer(settings().upload_endpoint_url).generate_presigned_url(
            "put_object", Params={"Bucket": _bucket(), "Key": object_name}, ExpiresIn=expires_in, HttpMethod="PUT"
        )
    )


@functools.cache
def _signer(endpoint: str | None) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(signature_version="s3v4", s3={"addressing_style": "path" if endpoint else "virtual"})
    return boto3.session.Session().client("s3", endpoint_url=endpoint or None, config=config)


def file_size(object_name: str) -> int | None:
    """The uploaded file's size, or None when nothing is uploaded yet."""
    from botocore.exceptions import ClientError

    try:
        answer = client("s3").head_object(Bucket=_bucket(), Key=object_name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return int(answer["ContentLength"])


class FileChanged(Exception):
    """The file is not the one `etag` names any more: it was PUT again."""


def file_etag(object_name: str) -> str:
    """The uploaded file's ETag (which a PUT again changes)."""
    return str(client("s3").head_object(Bucket=_bucket(), Key=object_name)["ETag"])


def _get(object_name: str, etag: str | None, **extra: Any) -> Any:
    from botocore.exceptions import ClientError

    if etag:
        extra["IfMatch"] = etag
    try:
        return client("s3").get_object(Bucket=_bucket(), Key=object_name, **extra)["Body"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
            raise FileChanged(object_name) from None
        raise


def read_file(object_name: str, etag: str | None = None) -> Iterator[bytes]:
    """The file as a stream, a MiB at a time: never whole in memory. FileChanged when it is not `etag`'s."""
    body = _get(object_name, etag)
    try:
        yield from body.iter_chunks(READ_BYTES)
    finally:
        body.close()


def read_range(object_name: str, start: int, end: int, etag: str | None = None) -> bytes:
    """Bytes `start` to `end` (exclusive) of the file: one chunk of the apply. FileChanged when it is not `etag`'s."""
    if end <= start:
        return b""
    return bytes(_get(object_name, etag, Range=f"bytes={start}-{end - 1}").read())


# -- the work (SQS) ------------------------------------------------------------------------------------------
def _queue() -> str:
    url = settings().import_queue_url
    if not url:
        raise RuntimeError("IMPORT_QUEUE_URL is not set")
    return url


def send_work(bodies: list[dict[str, Any]]) -> None:
    send_messages(_queue(), bodies, "import")


# -- what the table holds already ----------------------------------------------------------------------------
def taken(
    member_ids: list[str], identifiers: list[tuple[IdentifierKind, str]]
) -> tuple[set[str], set[tuple[str, str]]]:
    """Which of these member ids exist, and which identifiers (compared form) a member holds: BatchGetItem, 100 keys
    a call, the keys only."""
    from loyalty.store.identity import identifier_pk

    # each key once (BatchGetItem refuses a list with duplicates; a file may hold a member id twice)
    wanted = [key(member_pk(m), "MEMBER") for m in dict.fromkeys(member_ids)]
    by_pk = {identifier_pk(kind, value): (kind, value) for kind, value in identifiers}
    wanted += [key(pk, "IDENT") for pk in by_pk]
    members: set[str] = set()
    held: set[tuple[str, str]] = set()
    for start in range(0, len(wanted), 100):
        for item in batch_get(wanted[start : start + 100], projection="PK"):
            pk = str(item["PK"])
            if pk in by_pk:
                held.add(by_pk[pk])
            else:
                members.add(pk.removeprefix("MEMBER#"))
    return members, held
