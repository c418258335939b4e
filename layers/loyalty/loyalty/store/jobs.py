"""Job bookkeeping in the table and the jobs' SQS work queues.

Keys:
- `JOBRUNS` / `<run_id>#<job>`: the run (job, period, as_of, chunks, `status` running | done | failed,
  started_at, finished_at, summary, error; `last_receives`: `<deadline>#<message id>` of each message on its
  last receive whose worker has not answered yet). Run ids start with the start time, so one Query of this
  partition, backwards, lists the newest runs first (a few runs a month: never a hot partition).
- One partition per run, so the summary (and the check whether the run is complete) is one Query:
  - `JOB#<job>#<period>#<run_id>` / `RUN`: the run's plan (as_of, chunks).
  - `JOB#<job>#<period>#<run_id>` / `PAGE#<chunk>#<cursor digest>`: one page of one chunk. Written
    first with the member ids the page holds and the cursor after it (so a retried message processes the
    same members, even when the index moved under it), then marked `done` with the page's counts. `isolated`
    (a string set) names the members that failed on it and went on in messages of their own: the page never
    counts them, whichever delivery of it completes.
  - `JOB#<job>#<period>#<run_id>` / `MEMBER#<member_id>#<page key>`: a member isolated from that page,
    retried on its own: written when it is isolated, marked `done` with its counts when its own message
    succeeds (`MEMBER#<member_id>` for a message that names no page).
  - `JOB#<job>#<period>#<run_id>` / `CHUNK#<chunk>`: the chunk was walked to its end.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from loyalty.store.core import client, from_item, key, query_items, table_name, to_item
from loyalty.store.core import send_messages as send_messages  # the runner sends its chunks through this module


def run_pk(job: str, period: str, run_id: str) -> str:
    return f"JOB#{job}#{period}#{run_id}"


def cursor_digest(cursor: dict[str, Any] | None) -> str:
    if cursor is None:
        return "start"
    return hashlib.sha256(json.dumps(cursor, sort_keys=True).encode()).hexdigest()[:20]


def page_sk(chunk: str, cursor: dict[str, Any] | None) -> str:
    """The key of the page of `chunk` that starts at `cursor`: the same for every delivery of it."""
    return f"PAGE#{chunk}#{cursor_digest(cursor)}"


RUNS = "JOBRUNS"


def run_sk(job: str, run_id: str) -> str:
    return f"{run_id}#{job}"


def put_run(job: str, run_id: str, pk: str, record: dict[str, Any]) -> None:
    """Record a run as started: its plan in its partition, its record (`status` running) in the runs list."""
    client().put_item(
        TableName=table_name(),
        Item=to_item({"PK": pk, "SK": "RUN", "kind": "job_run", **record}),
        ConditionExpression="attribute_not_exists(PK)",
    )
    client().put_item(
        TableName=table_name(),
        Item=to_item({"PK": RUNS, "SK": run_sk(job, run_id), "kind": "job_status", "status": "running", **record}),
        ConditionExpression="attribute_not_exists(PK)",
    )


def finish_run(job: str, run_id: str, status: str, fields: dict[str, Any], *, unless: str) -> bool:
    """Set the run's `status` and `fields`, unless it already has status `unless` (a run is finished once:
    `done` is final; `failed` may still become `done` when its dead letters are redriven). False: it had."""
    from botocore.exceptions import ClientError

    names = {"#s": "status", **{f"#f{i}": name for i, name in enumerate(fields)}}
    values = to_item({":s": status, ":unless": unless, **{f":f{i}": v for i, v in enumerate(fields.values())}})
    sets = ", ".join(["#s = :s", *[f"#f{i} = :f{i}" for i in range(len(fields))]])
    try:
        client().update_item(
            TableName=table_name(),
            Key=key(RUNS, run_sk(job, run_id)),
            UpdateExpression=f"SET {sets}",
            ConditionExpression="attribute_exists(PK) AND #s <> :unless",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def note_last_receive(job: str, run_id: str, note: str) -> None:
    """A message of the run is on its last receive (`note`: until when, which message): `last_receives`."""
    _last_receives(job, run_id, "ADD", note)


def clear_last_receive(job: str, run_id: str, note: str) -> None:
    """The worker answered for that message (it succeeded, or failed the run itself)."""
    _last_receives(job, run_id, "DELETE", note)


def _last_receives(job: str, run_id: str, action: str, note: str) -> None:
    from botocore.exceptions import ClientError

    try:
        client().update_item(
            TableName=table_name(),
            Key=key(RUNS, run_sk(job, run_id)),
            UpdateExpression=f"{action} last_receives :n",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues={":n": {"SS": [note]}},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise  # (no record: a run started before runs had one; nothing to note)


def latest_runs(limit: int) -> list[dict[str, Any]]:
    """The newest `limit` runs of every job, newest first (one Query)."""
    answer = client().query(
        TableName=table_name(),
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": RUNS}},
        ScanIndexForward=False,
        Limit=limit,
        ConsistentRead=True,
    )
    return [from_item(i) for i in answer.get("Items", [])]


def end_chunk(pk: str, chunk: str) -> None:
    """The chunk was walked to its end (idempotent: a redelivered last message writes the same item)."""
    client().put_item(TableName=table_name(), Item=to_item({"PK": pk, "SK": f"CHUNK#{chunk}", "kind": "job_chunk"}))


def member_sk(member_id: str, page: str | None) -> str:
    """The key of a member isolated from `page` (the run's item its own message counts on)."""
    return f"MEMBER#{member_id}#{page}" if page else f"MEMBER#{member_id}"


def isolate_members(pk: str, page: str, member_ids: list[str]) -> bool:
    """Members of `page` failed and go on in messages of their own: the page names them (it never counts
    them) and the run waits for each. False: the page was counted already (by another delivery of it, which
    counted them), nothing written. Idempotent: a redelivered page names them again."""
    from botocore.exceptions import ClientError

    try:
        client().update_item(
            TableName=table_name(),
            Key=key(pk, page),
            UpdateExpression="ADD isolated :m",
            ConditionExpression="attribute_exists(PK) AND attribute_not_exists(done)",
            ExpressionAttributeValues={":m": {"SS": sorted(set(member_ids))}},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    for member_id in member_ids:
        try:
            client().put_item(
                TableName=table_name(),
                Item=to_item({"PK": pk, "SK": member_sk(member_id, page), "kind": "job_member", "page": page}),
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
    return True


@dataclass
class FrozenPage:
    member_ids: list[str]
    next_cursor: dict[str, Any] | None
    done: bool
    fresh: bool  # True: this call froze it; False: an earlier delivery had
    isolated: list[str] = field(default_factory=list)  # members an earlier delivery isolated from it


def freeze_page(
    pk: str, chunk: str, cursor: dict[str, Any] | None, member_ids: list[str], next_cursor: dict[str, Any] | None
) -> FrozenPage:
    """Record which members the page starting at `cursor` holds, unless an earlier delivery did.

    One round trip either way: a failed condition returns the page an earlier delivery froze.
    """
    from botocore.exceptions import ClientError

    sk = page_sk(chunk, cursor)
    item: dict[str, Any] = {
        "PK": pk,
        "SK": sk,
        "kind": "job_page",
        "chunk": chunk,
        "member_ids": member_ids,
        "next_cursor": json.dumps(next_cursor) if next_cursor is not None else None,
    }
    try:
        client().put_item(
            TableName=table_name(),
            Item=to_item(item),
            ConditionExpression="attribute_not_exists(PK)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        returned: dict[str, Any] = exc.response.get("Item") or {}  # type: ignore[assignment]
        return _frozen(from_item(returned) if returned else _get(pk, sk))
    return FrozenPage(member_ids, next_cursor, done=False, fresh=True)


def frozen_page(pk: str, chunk: str, cursor: dict[str, Any] | None) -> FrozenPage | None:
    """The page an earlier delivery froze at `cursor`, if one did (a consistent GetItem)."""
    old = _get(pk, page_sk(chunk, cursor))
    return _frozen(old) if old else None


def _frozen(old: dict[str, Any]) -> FrozenPage:
    stored_next = old.get("next_cursor")
    return FrozenPage(
        member_ids=list(old.get("member_ids") or []),
        next_cursor=json.loads(stored_next) if stored_next else None,
        done=bool(old.get("done")),
        fresh=False,
        isolated=sorted(old.get("isolated") or []),
    )


def _get(pk: str, sk: str) -> dict[str, Any]:
    answer = client().get_item(TableName=table_name(), Key=key(pk, sk), ConsistentRead=True)
    return from_item(answer.get("Item") or {})


class PageMoved(Exception):
    """Another delivery of the page isolated a member this one counted: this delivery must not count it."""


def complete_page(
    pk: str, chunk: str, cursor: dict[str, Any] | None, counts: dict[str, int], isolated: int = 0
) -> bool:
    """Mark the page done with its counts, unless another delivery of it has (False) or has isolated more
    members than the `isolated` this delivery left out (PageMoved: its counts may hold one of them)."""
    from botocore.exceptions import ClientError

    try:
        client().update_item(
            TableName=table_name(),
            Key=key(pk, page_sk(chunk, cursor)),
            UpdateExpression="SET done = :t, counts = :c",
            ConditionExpression="attribute_exists(PK) AND attribute_not_exists(done) "
            "AND (attribute_not_exists(isolated) OR size(isolated) = :n)",
            ExpressionAttributeValues=to_item({":t": True, ":c": counts, ":n": isolated}),
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        old = from_item(exc.response.get("Item") or {})  # type: ignore[arg-type]
        if old.get("done") or not old:
            return False
        raise PageMoved(f"page {page_sk(chunk, cursor)} of {pk}: a member was isolated by another delivery") from None
    return True


def record_member(pk: str, sk: str, counts: dict[str, int]) -> bool:
    """Counts of a member retried on its own (`sk`: `member_sk`), at most once per run."""
    from botocore.exceptions import ClientError

    try:
        client().update_item(
            TableName=table_name(),
            Key=key(pk, sk),
            UpdateExpression="SET done = :t, kind = if_not_exists(kind, :k), counts = :c",
            ConditionExpression="attribute_not_exists(done)",
            ExpressionAttributeValues=to_item({":t": True, ":k": "job_member", ":c": counts}),
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def run_items(pk: str) -> list[dict[str, Any]]:
    """Every item of a run (its pages, its retried members, its ended chunks), for the summary."""
    out: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": "PK = :pk",
        "ExpressionAttributeValues": {":pk": {"S": pk}},
        "ConsistentRead": True,
    }
    out.extend(from_item(i) for i in query_items(**kwargs))
    return out


# -- SQS ----------------------------------------------------------------------------------------
@functools.cache
def max_receives(queue_url: str) -> int | None:
    """How many receives the queue allows before its redrive policy dead-letters a message (None: no DLQ)."""
    answer = client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])
    policy = answer.get("Attributes", {}).get("RedrivePolicy")
    return int(json.loads(policy)["maxReceiveCount"]) if policy else None


def waiting_messages(queue_url: str) -> int:
    """Approximately how many messages wait in the queue (visible and in flight)."""
    answer = client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )
    attributes = answer.get("Attributes", {})
    return int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
        attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
    )
