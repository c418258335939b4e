"""boto3 plumbing: the lazily built client, (de)serialisation, transactions and their errors."""

from __future__ import annotations

import functools
import random
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from loyalty.kernel.config import settings
from loyalty.kernel.errors import Contention

_lock = threading.Lock()
_clients: dict[str, Any] = {}
# One boto3 session for every client of the process: a client built in a session that already loaded its
# endpoint and credential data costs ~12 ms, in a new session ~60-85 ms. Built with the first client, so
# importing a handler imports no boto3 (it is the largest import of a cold start).
_session: Any = None


@functools.cache
def _codec() -> tuple[Any, Any]:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


def client(service: str = "dynamodb") -> Any:
    """A boto3 client, built on first use (importing a handler needs neither AWS nor env vars).

    `AWS_ENDPOINT_URL_DYNAMODB` (or `AWS_ENDPOINT_URL`) points it elsewhere, as boto3 itself reads them.
    """
    found = _clients.get(service)
    if found is not None:
        return found
    global _session
    with _lock:
        if service not in _clients:
            import boto3
            from botocore.config import Config

            if _session is None:
                _session = boto3.session.Session()

            cfg = Config(
                retries={"mode": "standard", "max_attempts": 4},
                connect_timeout=2,
                # Locally one emulator serves every call in turn: a call may wait behind many others, and
                # an SDK retry after a read timeout would repeat a transaction that did commit.
                read_timeout=60 if settings().local_mode else 5,
                max_pool_connections=64,
            )
            _clients[service] = _session.client(service, config=cfg)
        return _clients[service]


def reset_clients() -> None:
    """Forget built clients and their session (tests start a fresh moto, the local stack changes endpoints);
    a stand-in (`use_client`) stays."""
    global _session
    with _lock:
        _clients.clear()
        _clients.update(_stand_ins)
        _session = None


_stand_ins: dict[str, Any] = {}


def use_client(service: str, stand_in: Any | None) -> None:
    """Answer `client(service)` with `stand_in`, an object of the boto3 client's shape, until it is set to None
    (the replay engine's in-memory DynamoDB, `loyalty_local.memtable`: a dev tool's process only)."""
    with _lock:
        _clients.pop(service, None)
        _stand_ins.pop(service, None)
        if stand_in is not None:
            _stand_ins[service] = _clients[service] = stand_in


def table_name() -> str:
    return settings().table_name


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    return {k: serialize(v) for k, v in data.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: deserialize(v) for k, v in item.items()}


# boto3's TypeSerializer and TypeDeserializer, with the types every item is made of (str, int, Decimal, bool,
# None, dict, list) done here, exactly as boto3 does them, and anything else (sets, binary, subclasses, a float
# boto3 refuses) handed to boto3: each of the two walks a value through a chain of isinstance tests and
# method lookups, some 20% of a request's CPU in the replay engine, and a share of every Lambda's.
# tests/unit/test_item_codec.py holds the two to boto3's answers.
def serialize(value: Any) -> dict[str, Any]:
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is int or kind is Decimal:
        return {"N": _number(value)}
    if kind is dict:
        return {"M": {k: serialize(v) for k, v in value.items()}}
    if kind is list:
        return {"L": [serialize(v) for v in value]}
    if kind is bool:
        return {"BOOL": value}
    if value is None:
        return {"NULL": True}
    return _codec()[0].serialize(value)


def _number(value: int | Decimal) -> str:
    number = str(_dynamodb_context().create_decimal(value))
    if number in ("Infinity", "NaN"):
        raise TypeError("Infinity and NaN not supported")
    return number


def deserialize(value: dict[str, Any]) -> Any:
    kind = next(iter(value)) if value else None
    if kind == "S":
        return value["S"]
    if kind == "N":
        return _dynamodb_context().create_decimal(value["N"])
    if kind == "M":
        return {k: deserialize(v) for k, v in value["M"].items()}
    if kind == "L":
        return [deserialize(v) for v in value["L"]]
    if kind == "BOOL":
        return value["BOOL"]
    if kind == "NULL":
        return None
    return _codec()[1].deserialize(value)


@functools.cache
def _dynamodb_context() -> Any:
    from boto3.dynamodb.types import DYNAMODB_CONTEXT

    return DYNAMODB_CONTEXT


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


class ConditionFailed(Exception):
    """A condition in a transaction failed; `index` says which item (the first), `item` is its old image,
    `indexes` every item whose condition failed (DynamoDB gives a reason for each item of the transaction),
    `items` their old images (those asked with `ReturnValuesOnConditionCheckFailure: ALL_OLD`)."""

    def __init__(
        self,
        index: int,
        item: dict[str, Any] | None,
        indexes: tuple[int, ...] = (),
        items: dict[int, dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(f"condition failed on transaction item {index}")
        self.index = index
        self.item = from_item(item) if item else None
        self.indexes = indexes or (index,)
        self.items = {i: from_item(old) for i, old in (items or {}).items() if old}
        if self.item is not None:
            self.items.setdefault(index, self.item)


def outcome_unknown(exc: BaseException) -> bool:
    """A write that failed this way may have been applied: the answer was lost (a timeout, a dropped
    connection) or DynamoDB failed inside (HTTP 5xx). Sending it again is how to find out."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0) >= 500
    return isinstance(exc, BotoCoreError)


class WriteConflict(Exception):
    """Another transaction touched the same items at the same time (TransactionConflict)."""


def transact(items: list[dict[str, Any]]) -> None:
    """Write `items` atomically. A single Put goes as a conditional PutItem: the same guarantee at half
    the write units of a transaction (a tier evaluation's per-period record of a member)."""
    from botocore.exceptions import ClientError

    if len(items) == 1 and set(items[0]) == {"Put"}:
        _put(items[0]["Put"])
        return
    try:
        client().transact_write_items(TransactItems=items)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") != "TransactionCanceledException":
            raise
        reasons = exc.response.get("CancellationReasons") or _reasons_from_message(error.get("Message", ""))
        failed = tuple(i for i, reason in enumerate(reasons) if reason.get("Code") == "ConditionalCheckFailed")
        if failed:
            item: dict[str, Any] | None = reasons[failed[0]].get("Item")  # type: ignore[assignment]
            olds: dict[int, dict[str, Any]] = {i: dict(reasons[i].get("Item") or {}) for i in failed}
            raise ConditionFailed(failed[0], item, failed, olds) from None
        raise WriteConflict(error.get("Message", "transaction cancelled")) from None


def _put(put: dict[str, Any]) -> None:
    from botocore.exceptions import ClientError

    try:
        client().put_item(**put)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            item: dict[str, Any] | None = exc.response.get("Item")  # type: ignore[assignment]
            raise ConditionFailed(0, item) from None
        raise


def _reasons_from_message(message: str) -> list[dict[str, Any]]:
    # "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]"
    if "[" not in message:
        return []
    inner = message[message.rindex("[") + 1 : message.rindex("]")]
    return [{"Code": part.strip()} for part in inner.split(",")]


BATCH_GET_ATTEMPTS = 8


def batch_get(
    keys: list[dict[str, Any]], *, sleep: Callable[[float], None] = time.sleep, projection: str | None = None
) -> list[dict[str, Any]]:
    """Strongly consistent BatchGetItem of up to 100 keys in one round trip.

    Unprocessed keys (throttling) are asked again after an exponential backoff with full jitter, as AWS
    advises, never at once: a throttled table is not hammered in a hot loop.
    """
    name = table_name()
    request: dict[str, Any] = {name: {"Keys": keys, "ConsistentRead": True}}
    if projection:  # the attributes wanted (key names only: none is a reserved word)
        request[name]["ProjectionExpression"] = projection
    found: list[dict[str, Any]] = []
    for attempt in range(BATCH_GET_ATTEMPTS):
        if attempt:
            sleep(random.uniform(0, min(1.0, 0.025 * 2**attempt)))  # noqa: S311 - jitter, not crypto
        answer = client().batch_get_item(RequestItems=request)
        found.extend(from_item(i) for i in answer.get("Responses", {}).get(name, []))
        request = answer.get("UnprocessedKeys") or {}
        if not request:
            return found
    # DynamoDB kept refusing the read: the request fails (503, the client retries); nothing was written
    raise Contention(f"the table is busy ({len(request[name]['Keys'])} keys unread); retry the request")


BATCH_WRITE_ATTEMPTS = 8


def batch_write(requests: list[dict[str, Any]], what: str, *, sleep: Callable[[float], None] = time.sleep) -> None:
    """BatchWriteItem of Put or Delete requests, 25 a call. Unprocessed requests (throttling) are sent again after an
    exponential backoff with full jitter, as `batch_get` does; still refused after 8 attempts, the error names `what`.
    Each request must be one that may be repeated (a put of the same item, a delete)."""
    name = table_name()
    for start in range(0, len(requests), 25):
        waiting: dict[str, Any] = {name: requests[start : start + 25]}
        for attempt in range(BATCH_WRITE_ATTEMPTS):
            if attempt:
                sleep(random.uniform(0, min(1.0, 0.025 * 2**attempt)))  # noqa: S311 - jitter, not crypto
            waiting = client().batch_write_item(RequestItems=waiting).get("UnprocessedItems") or {}
            if not waiting:
                break
        if waiting:
            raise RuntimeError(f"DynamoDB kept refusing {what}")


SEND_BATCH = 10  # SendMessageBatch takes at most 10 entries


def send_messages(queue_url: str, bodies: list[dict[str, Any]], what: str = "job") -> None:
    """SendMessageBatch in tens; entries SQS refuses are sent again, then the error surfaces (naming `what`)."""
    import json

    sqs = client("sqs")
    for start in range(0, len(bodies), SEND_BATCH):
        pending = {
            str(i): json.dumps(b, separators=(",", ":")) for i, b in enumerate(bodies[start : start + SEND_BATCH])
        }
        for _ in range(3):
            answer = sqs.send_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": i, "MessageBody": body} for i, body in pending.items()],
            )
            pending = {f["Id"]: pending[f["Id"]] for f in answer.get("Failed", [])}
            if not pending:
                break
        if pending:
            raise RuntimeError(f"SQS refused {len(pending)} {what} messages")


def get(pk: str, sk: str, *, consistent: bool = True) -> dict[str, Any] | None:
    answer = client().get_item(TableName=table_name(), Key=key(pk, sk), ConsistentRead=consistent)
    item = answer.get("Item")
    return from_item(item) if item else None


def put(item: dict[str, Any], *, condition: str | None = None) -> None:
    kwargs: dict[str, Any] = {"TableName": table_name(), "Item": to_item(item)}
    if condition:
        kwargs["ConditionExpression"] = condition
    client().put_item(**kwargs)


def query(**kwargs: Any) -> dict[str, Any]:
    return dict(client().query(TableName=table_name(), **kwargs))


def query_items(**kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item (as DynamoDB answers it) of a Query, page after page."""
    while True:
        answer = query(**kwargs)
        yield from answer.get("Items", [])
        if "LastEvaluatedKey" not in answer:
            return
        kwargs = {**kwargs, "ExclusiveStartKey": answer["LastEvaluatedKey"]}


def on_call(hook: Callable[..., None]) -> Callable[[], None]:
    """Register a botocore `before-call` hook on the DynamoDB client (round-trip counting)."""
    events = client().meta.events
    events.register("before-call.dynamodb", hook)
    return lambda: events.unregister("before-call.dynamodb", hook)
