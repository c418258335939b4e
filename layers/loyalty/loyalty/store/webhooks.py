"""Webhook endpoints, their secrets, deliveries and the schedule, in the table, Secrets Manager and SQS.

| item       | PK                                       | SK                        |
|------------|------------------------------------------|---------------------------|
| endpoint   | `WEBHOOKS`                               | `ENDPOINT#<endpoint_id>`  |
| delivery   | `WHDELIV#<endpoint_id>#<generation>`     | `DELIVERY#<delivery_id>`  |

A delivery id starts with the event's time, so a Query of its endpoint's partition backwards is the log newest
first. A delivery still to be attempted is in the sparse `webhook-due` index (`DUEPK`: one of 8 shards,
`DUESK`: when the schedule next looks at it, then its key), which the dispatcher reads by time, never a scan;
a finished delivery leaves it. Deliveries expire with the table's TTL (`ttl`) after 30 days.

Which attempt is in flight is a lease on the delivery (`lease_until`): an attempt claims it (a conditional
update that answers the delivery), and its record is written under that same lease, so a message delivered
twice, or the dispatcher's and the queue's copy of one, attempts once.

Secrets: each endpoint's in Secrets Manager at `<prefix><endpoint_id>/<generation>`, a JSON object `{"current",
"previous", "previous_until", "first"}` (`first`: the secret the creation answered, for its replays).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from loyalty.domain.webhooks import KEPT_FOR, Attempt, Delivery, Endpoint, Verdict
from loyalty.kernel.clock import isoformat
from loyalty.kernel.config import settings
from loyalty.store.core import ConditionFailed, client, from_item, get, key, query, query_items, table_name, to_item
from loyalty.store.members import decode_cursor, encode_cursor

ENDPOINTS_PK = "WEBHOOKS"
DUE_SHARDS = 8
DUE_INDEX = "webhook-due"
SQS_BATCH = 10
SQS_MAX_DELAY = 900  # seconds: SQS's longest DelaySeconds


def endpoint_sk(endpoint_id: str) -> str:
    return f"ENDPOINT#{endpoint_id}"


def delivery_pk(endpoint_id: str, generation: str) -> str:
    return f"WHDELIV#{endpoint_id}#{generation}"


def delivery_sk(delivery_id: str) -> str:
    return f"DELIVERY#{delivery_id}"


def _due_pk(delivery_id: str) -> str:
    shard = int(hashlib.sha256(delivery_id.encode()).hexdigest()[:8], 16) % DUE_SHARDS
    return f"WHDUE#{shard}"


def _due_sk(at: datetime, delivery: Delivery) -> str:
    return f"{isoformat(at)}#{delivery.endpoint_id}#{delivery.generation}#{delivery.delivery_id}"


def _conditional(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    return (
        isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
    )


# -- endpoints -------------------------------------------------------------------------------------------
def _endpoint_item(endpoint: Endpoint) -> dict[str, Any]:
    data = endpoint.model_dump(mode="json", exclude_none=True)
    return {"PK": ENDPOINTS_PK, "SK": endpoint_sk(endpoint.endpoint_id), "kind": "webhook_endpoint", **data}


def load_endpoint(endpoint_id: str) -> tuple[Endpoint, dict[str, Any]] | None:
    """The endpoint and its creation record (`request_hash`, `first_answer`), read consistently."""
    item = get(ENDPOINTS_PK, endpoint_sk(endpoint_id))
    if item is None:
        return None
    return Endpoint.model_validate(item), {k: item.get(k) for k in ("request_hash", "first_answer")}


def list_endpoints() -> list[Endpoint]:
    """Every endpoint, by id (a programme has a handful: one partition, one Query page or two)."""
    items = query_items(
        KeyConditionExpression="PK = :pk AND begins_with(SK, :sk)",
        ExpressionAttributeValues={":pk": {"S": ENDPOINTS_PK}, ":sk": {"S": "ENDPOINT#"}},
        ConsistentRead=True,
    )
    return [Endpoint.model_validate(from_item(i)) for i in items]


def create_endpoint(endpoint: Endpoint, request_hash: str, first_answer: str) -> None:
    """Raises ConditionFailed when the id exists."""
    item = {**_endpoint_item(endpoint), "request_hash": request_hash, "first_answer": first_answer}
    try:
        client().put_item(TableName=table_name(), Item=to_item(item), ConditionExpression="attribute_not_exists(PK)")
    except Exception as exc:
        if _conditional(exc):
            raise ConditionFailed(0, None) from None
        raise


def save_endpoint(endpoint: Endpoint, expected_version: int, *, healed: bool = False) -> None:
    """The endpoint's settings (not its creation record), under its version. Raises ConditionFailed.

    The failing streak (`failing_since`) is the deliveries' (`note_failing`, which does not move the version):
    an administrator's change leaves it as it is in the table, whatever this process read, unless `healed`
    (enabling the endpoint starts it afresh)."""
    names = {
        k: v
        for k, v in endpoint.model_dump(mode="json").items()
        if k not in ("endpoint_id", "generation", "secret_ref", "created_at", "failing_since")
    }
    if healed:
        names["failing_since"] = None
    sets = [f"#{k} = :{k}" for k, v in names.items() if v is not None]
    removes = [f"#{k}" for k, v in names.items() if v is None]
    values = to_item({f":{k}": v for k, v in names.items() if v is not None})
    values[":expected"] = {"N": str(expected_version)}
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    try:
        client().update_item(
            TableName=table_name(),
            Key=key(ENDPOINTS_PK, endpoint_sk(endpoint.endpoint_id)),
            UpdateExpression=expression,
            ConditionExpression="#version = :expected AND generation = :generation",
            ExpressionAttributeNames={f"#{k}": k for k in names},
            ExpressionAttributeValues={**values, ":generation": {"S": endpoint.generation}},
        )
    except Exception as exc:
        if _conditional(exc):
            raise ConditionFailed(0, None) from None
        raise


def delete_endpoint(endpoint: Endpoint) -> bool:
    """False when it was gone (or replaced) already."""
    try:
        client().delete_item(
            TableName=table_name(),
            Key=key(ENDPOINTS_PK, endpoint_sk(endpoint.endpoint_id)),
            ConditionExpression="generation = :generation",
            ExpressionAttributeValues={":generation": {"S": endpoint.generation}},
        )
    except Exception as exc:
        if _conditional(exc):
            return False
        raise
    return True


def note_failing(endpoint: Endpoint, since: datetime | None) -> None:
    """The endpoint's failing streak began `since` (None: it succeeded). Written only when it changes, with a
    condition on the old value, never the version: an administrator's change is not held up by deliveries."""
    k = key(ENDPOINTS_PK, endpoint_sk(endpoint.endpoint_id))
    try:
        if since is None:
            client().update_item(
                TableName=table_name(),
                Key=k,
                UpdateExpression="REMOVE failing_since",
                ConditionExpression="attribute_exists(failing_since) AND generation = :g",
                ExpressionAttributeValues={":g": {"S": endpoint.generation}},
            )
        else:
            client().update_item(
                TableName=table_name(),
                Key=k,
                UpdateExpression="SET failing_since = :since",
                ConditionExpression="attribute_not_exists(failing_since) AND generation = :g",
                ExpressionAttributeValues={":since": {"S": isoformat(since)}, ":g": {"S": endpoint.generation}},
            )
    except Exception as exc:
        if not _conditional(exc):
            raise


def disable_endpoint(endpoint: Endpoint, reason: str, at: datetime) -> None:
    """The delivery's verdict: the endpoint is gone (410) or has failed for 5 days. Once: only while enabled."""
    try:
        client().update_item(
            TableName=table_name(),
            Key=key(ENDPOINTS_PK, endpoint_sk(endpoint.endpoint_id)),
            UpdateExpression="SET #status = :disabled, disabled_reason = :reason, updated_at = :at ADD #version :one",
            ConditionExpression="#status = :enabled AND generation = :g",
            ExpressionAttributeNames={"#status": "status", "#version": "version"},
            ExpressionAttributeValues={
                ":disabled": {"S": "disabled"},
                ":enabled": {"S": "enabled"},
                ":reason": {"S": reason},
                ":at": {"S": isoformat(at)},
                ":one": {"N": "1"},
                ":g": {"S": endpoint.generation},
            },
        )
    except Exception as exc:
        if not _conditional(exc):
            raise


# -- secrets ---------------------------------------------------------------------------------------------
_secret_cache: dict[str, dict[str, Any]] = {}
_secret_lock = threading.Lock()


def secret_ref(endpoint_id: str, generation: str) -> str:
    return f"{settings().webhook_secret_prefix}{endpoint_id}/{generation}"


def create_secret(ref: str, value: dict[str, Any]) -> None:
    client("secretsmanager").create_secret(Name=ref, SecretString=json.dumps(value))


def put_secret(ref: str, value: dict[str, Any]) -> None:
    client("secretsmanager").put_secret_value(SecretId=ref, SecretString=json.dumps(value))


def read_secret(ref: str, version: int | None = None) -> dict[str, Any]:
    """The endpoint's secrets, `{"version", "current", "previous"?, "previous_until"?, "first"}`. With `version`
    (the endpoint's `secret_version`), a copy kept in this process serves while it is of that version or later,
    so a message costs no Secrets Manager call; a copy older than the endpoint (a rotation since) is read again,
    and one read in the middle of a rotation (the endpoint moved on, the secret not yet) is not kept."""
    if version is not None:
        with _secret_lock:
            found = _secret_cache.get(ref)
        if found is not None and int(found.get("version", 1)) >= version:
            return found
    raw = client("secretsmanager").get_secret_value(SecretId=ref)["SecretString"]
    value: dict[str, Any] = json.loads(raw)
    if version is not None and int(value.get("version", 1)) >= version:
        with _secret_lock:
            if len(_secret_cache) > 1000:
                _secret_cache.clear()
            _secret_cache[ref] = value
    return value


def delete_secret(ref: str) -> None:
    sm = client("secretsmanager")
    with contextlib.suppress(sm.exceptions.ResourceNotFoundException):
        sm.delete_secret(SecretId=ref, ForceDeleteWithoutRecovery=True)


# -- deliveries ------------------------------------------------------------------------------------------
def _delivery_item(delivery: Delivery, due_at: datetime | None) -> dict[str, Any]:
    data = delivery.model_dump(mode="json", exclude_none=True)
    item: dict[str, Any] = {
        "PK": delivery_pk(delivery.endpoint_id, delivery.generation),
        "SK": delivery_sk(delivery.delivery_id),
        "kind": "webhook_delivery",
        **data,
        "ttl": int((delivery.created_at + KEPT_FOR).timestamp()),
    }
    if due_at is not None:
        item["DUEPK"] = _due_pk(delivery.delivery_id)
        item["DUESK"] = _due_sk(due_at, delivery)
    return item


def add_delivery(delivery: Delivery, due_at: datetime) -> bool:
    """A new delivery, looked at by the schedule at `due_at`. False when it exists (the same event again)."""
    try:
        client().put_item(
            TableName=table_name(),
            Item=to_item(_delivery_item(delivery, due_at)),
            ConditionExpression="attribute_not_exists(PK)",
        )
    except Exception as exc:
        if _conditional(exc):
            return False
        raise
    return True


def load_delivery(endpoint: Endpoint, delivery_id: str) -> Delivery | None:
    item = get(delivery_pk(endpoint.endpoint_id, endpoint.generation), delivery_sk(delivery_id))
    return Delivery.model_validate(item) if item else None


def claim(
    endpoint_id: str, generation: str, delivery_id: str, now: datetime, lease: timedelta
) -> tuple[Delivery, str] | None:
    """Take the delivery's due attempt for `lease` (None: not due, finished, or another has it), moving its
    place in the schedule to the lease's end: if the attempt never reports, the dispatcher finds it again.
    Returns the delivery and the lease (its end, then a token of this claim's own: two claims made in the same
    instant are two leases, and only its own claimant can write the attempt's outcome)."""
    until = now + lease
    held = f"{isoformat(until)}#{secrets.token_hex(6)}"  # compares by its time first, as the condition needs
    try:
        answer = client().update_item(
            TableName=table_name(),
            Key=key(delivery_pk(endpoint_id, generation), delivery_sk(delivery_id)),
            UpdateExpression="SET lease_until = :until, DUESK = :due",
            ConditionExpression="#status = :pending AND next_attempt_at <= :now "
            "AND (attribute_not_exists(lease_until) OR lease_until <= :now)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":until": {"S": held},
                ":due": {"S": f"{isoformat(until)}#{endpoint_id}#{generation}#{delivery_id}"},
                ":pending": {"S": "pending"},
                ":now": {"S": isoformat(now)},
            },
            ReturnValues="ALL_NEW",
        )
    except Exception as exc:
        if _conditional(exc):
            return None
        raise
    return Delivery.model_validate(from_item(answer["Attributes"])), held


def record(
    delivery: Delivery,
    attempt: Attempt | None,
    verdict: Verdict,
    lease_until: str,
    due_at: datetime | None,
) -> tuple[bool, bool]:
    """An attempt's outcome, under the lease that made it. Returns (written: False when the lease was lost and
    nothing was written, asked: a retry by hand was asked while the attempt was in flight)."""
    attempts = [*delivery.attempts, *([attempt] if attempt else [])][-50:]
    values: dict[str, Any] = {
        ":status": verdict.status,
        ":attempts": [a.model_dump(mode="json", exclude_none=True) for a in attempts],
        ":scheduled": verdict.scheduled,
        ":lease": lease_until,
    }
    sets = ["#status = :status", "attempts = :attempts", "scheduled = :scheduled"]
    removes = ["lease_until", "manual", "reopened_from", "resume_at", "retry_asked"]
    if verdict.next_attempt_at is not None and due_at is not None:
        sets += ["next_attempt_at = :next", "DUESK = :due"]
        values[":next"] = isoformat(verdict.next_attempt_at)
        values[":due"] = _due_sk(due_at, delivery)
    else:
        removes += ["next_attempt_at", "DUEPK", "DUESK"]
    try:
        answer = client().update_item(
            TableName=table_name(),
            Key=key(delivery_pk(delivery.endpoint_id, delivery.generation), delivery_sk(delivery.delivery_id)),
            UpdateExpression="SET " + ", ".join(sets) + " REMOVE " + ", ".join(removes),
            ConditionExpression="lease_until = :lease",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item(values),
            ReturnValues="UPDATED_OLD",
        )
    except Exception as exc:
        if _conditional(exc):
            return False, False
        raise
    return True, "retry_asked" in (answer.get("Attributes") or {})


def reopen(delivery: Delivery, now: datetime, due_at: datetime) -> Delivery | None:
    """A retry by hand: the delivery is pending, due now, its next attempt outside the schedule (a pending
    delivery keeps its scheduled time in `resume_at`, where a failed retry by hand leaves it). None when an
    attempt holds it at this moment (`ask_retry` then)."""
    finished = delivery.status != "pending"
    values: dict[str, Any] = {
        ":pending": "pending",
        ":now": isoformat(now),
        ":true": True,
        ":due": _due_sk(due_at, delivery),
        ":duepk": _due_pk(delivery.delivery_id),
    }
    sets = ["#status = :pending", "next_attempt_at = :now", "manual = :true", "DUESK = :due", "DUEPK = :duepk"]
    if finished:
        sets.append("reopened_from = :was")
        values[":was"] = delivery.status
    elif delivery.next_attempt_at is not None and not delivery.manual:
        sets.append("resume_at = :resume")
        values[":resume"] = isoformat(delivery.next_attempt_at)
    try:
        answer = client().update_item(
            TableName=table_name(),
            Key=key(delivery_pk(delivery.endpoint_id, delivery.generation), delivery_sk(delivery.delivery_id)),
            UpdateExpression="SET " + ", ".join(sets) + " REMOVE retry_asked",
            ConditionExpression="attribute_exists(PK) AND (attribute_not_exists(lease_until) OR lease_until <= :now)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item(values),
            ReturnValues="ALL_NEW",
        )
    except Exception as exc:
        if _conditional(exc):
            return None
        raise
    return Delivery.model_validate(from_item(answer["Attributes"]))


def ask_retry(delivery: Delivery, now: datetime) -> bool:
    """A retry by hand asked while an attempt holds the delivery: noted on it, for the attempt to make once it
    has recorded its own outcome. False when no attempt holds it any more (reopen it then)."""
    try:
        client().update_item(
            TableName=table_name(),
            Key=key(delivery_pk(delivery.endpoint_id, delivery.generation), delivery_sk(delivery.delivery_id)),
            UpdateExpression="SET retry_asked = :true",
            ConditionExpression="attribute_exists(lease_until) AND lease_until > :now",
            ExpressionAttributeValues={":true": {"BOOL": True}, ":now": {"S": isoformat(now)}},
        )
    except Exception as exc:
        if _conditional(exc):
            return False
        raise
    return True


LOG_FIELDS = "delivery_id, endpoint_id, generation, event_id, #type, #status, created_at, next_attempt_at, attempts"


def deliveries_page(
    endpoint: Endpoint, status: str | None, limit: int, cursor: str | None, reads: int = 10
) -> tuple[list[Delivery], str | None]:
    """A page of the endpoint's log, newest first, of one status or all (without the messages' bodies). With a
    status, pages are read until `limit` are found or `reads` pages were read (then the cursor goes on)."""
    pk = delivery_pk(endpoint.endpoint_id, endpoint.generation)
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": "PK = :pk AND begins_with(SK, :sk)",
        "ScanIndexForward": False,
        "ProjectionExpression": LOG_FIELDS,
        "ExpressionAttributeNames": {"#type": "type", "#status": "status"},
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":sk": {"S": "DELIVERY#"}},
    }
    if status:
        kwargs["FilterExpression"] = "#status = :status"
        kwargs["ExpressionAttributeValues"][":status"] = {"S": status}
    start = decode_cursor(cursor, pk, owner_key="PK", keys=("PK", "SK")) if cursor else None
    found: list[Delivery] = []
    after: dict[str, Any] | None = None  # where the next page starts
    for _ in range(reads):
        kwargs["Limit"] = 100 if status else limit - len(found)
        if start:
            kwargs["ExclusiveStartKey"] = start
        answer = query(**kwargs)
        for item in answer.get("Items", []):
            data = from_item(item)
            found.append(Delivery.model_validate({**data, "payload": ""}))
            if len(found) == limit:
                after = key(pk, delivery_sk(str(data["delivery_id"])))
                break
        if len(found) == limit:
            break
        start = answer.get("LastEvaluatedKey")
        if start is None:
            break
    else:
        after = start  # the read budget is spent: the next page goes on from here
    if after is not None and not status:
        probe = {k: v for k, v in kwargs.items() if k not in ("ProjectionExpression", "ExpressionAttributeNames")}
        probe.update(Limit=1, ExclusiveStartKey=after, ProjectionExpression="SK")
        if not query(**probe).get("Items"):  # a full page that ends the log has no next page
            after = None
    return found, (encode_cursor(after) if after is not None else None)


def due(now: datetime, limit: int) -> list[tuple[dict[str, Any], str]]:
    """Deliveries whose place in the schedule is at or before `now`, oldest first in each shard, at most `limit`
    in all: (their key, their DUESK)."""
    out: list[tuple[dict[str, Any], str]] = []
    bound = isoformat(now) + "~"  # after every `<time>#...` of that second
    per_shard = max(1, limit // DUE_SHARDS)
    for shard in range(DUE_SHARDS):
        items = query_items(
            IndexName=DUE_INDEX,
            KeyConditionExpression="DUEPK = :pk AND DUESK <= :now",
            ExpressionAttributeValues={":pk": {"S": f"WHDUE#{shard}"}, ":now": {"S": bound}},
            Limit=min(per_shard, 1000),
        )
        for n, item in enumerate(items):
            if n >= per_shard:
                break
            out.append(({"PK": item["PK"], "SK": item["SK"]}, item["DUESK"]["S"]))
    return out


def push_due(item_key: dict[str, Any], seen: str, at: datetime) -> str | None:
    """Move a due delivery's place in the schedule to `at` (the dispatcher sent it), unless it moved meanwhile.
    Returns the delivery's (endpoint_id, generation, delivery_id) as `DUESK` names them, or None."""
    _, endpoint_id, generation, delivery_id = seen.split("#", 3)
    try:
        client().update_item(
            TableName=table_name(),
            Key=item_key,
            UpdateExpression="SET DUESK = :new",
            ConditionExpression="DUESK = :seen",
            ExpressionAttributeValues={
                ":seen": {"S": seen},
                ":new": {"S": f"{isoformat(at)}#{endpoint_id}#{generation}#{delivery_id}"},
            },
        )
    except Exception as exc:
        if _conditional(exc):
            return None
        raise
    return seen.split("#", 1)[1]


# -- the delivery queue ----------------------------------------------------------------------------------
def send(targets: Sequence[tuple[str, str, str]], delay_seconds: int = 0) -> None:
    """Ask the delivery function to attempt these deliveries ((endpoint_id, generation, delivery_id)), now
    or after `delay_seconds` (at most 15 minutes), 10 a SendMessageBatch."""
    url = settings().webhook_queue_url
    if not url:
        raise RuntimeError("WEBHOOK_QUEUE_URL is not set")
    sqs = client("sqs")
    for start in range(0, len(targets), SQS_BATCH):
        chunk = targets[start : start + SQS_BATCH]
        entries = [
            {
                "Id": str(i),
                "MessageBody": json.dumps({"endpoint_id": e, "generation": g, "delivery_id": d}),
                **({"DelaySeconds": min(SQS_MAX_DELAY, delay_seconds)} if delay_seconds else {}),
            }
            for i, (e, g, d) in enumerate(chunk)
        ]
        answer = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        if answer.get("Failed"):
            # what was not sent is found again by the dispatcher, by its place in the schedule
            raise RuntimeError(f"{len(answer['Failed'])} delivery message(s) not sent")
