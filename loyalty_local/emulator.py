"""The local stack's AWS: moto in this process, serialised, with the DynamoDB guarantees moto lacks.

Every boto3 client of the process is answered by moto's backends directly (moto's `mock_aws`: a botocore
`before-send` hook), so a handler's DynamoDB call costs moto's work, not an HTTP round trip to a server.
A loopback HTTP door onto the same backends serves tools outside the process (`python -m loyalty --local`,
the aws CLI). A service pointed elsewhere by its own variable (`AWS_ENDPOINT_URL_DYNAMODB=...`: DynamoDB
Local, a real account) is not answered by moto: its requests leave the process as usual.

moto is not safe under concurrent calls (conditional TransactWriteItems on one item from 16 threads
answered 500, 'dictionary changed size during iteration'), so one lock admits one call at a time, from
the process and from the door alike: conditional writes keep DynamoDB's guarantees locally.

It also keeps two DynamoDB guarantees moto lacks:
- TransactWriteItems is idempotent per ClientRequestToken for 10 minutes. botocore sends one token for
  all SDK retries of a call, so a retry of a transaction that committed (its answer lost to a timeout)
  gets the success answer again instead of failing its own conditions.
- A transaction costs what it touches and a failed one leaves no stream record (`moto_fast`, which
  also spares DynamoDB's answers moto's slow serialiser).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit

from botocore.handlers import BUILTIN_HANDLERS

T = TypeVar("T")
ACCOUNT = "123456789012"  # moto's default account: the local stack's clients carry no other
REGION = "us-east-1"


class TransactionTokens:
    """DynamoDB's ClientRequestToken idempotency for TransactWriteItems (10 minutes), for moto.

    Callers hold the emulator's lock."""

    TTL = 600.0

    def __init__(self) -> None:
        self._done: dict[str, tuple[float, str, Any]] = {}
        self._pruned = time.monotonic()

    def answer(self, body: bytes | str | None, call: Callable[[], T], succeeded: Callable[[T], bool]) -> T:
        """`call()`'s answer, or the answer of the committed call with the same token and parameters."""
        try:
            request = json.loads(body or b"{}")
            token = request.pop("ClientRequestToken", None) if isinstance(request, dict) else None
        except ValueError:
            token = None
        if not token:
            return call()
        now = time.monotonic()
        if now - self._pruned > 60:  # forget what is past DynamoDB's window, now and then
            self._done = {k: v for k, v in self._done.items() if now - v[0] < self.TTL}
            self._pruned = now
        digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
        seen = self._done.get(token)
        if seen is not None and now - seen[0] < self.TTL and seen[1] == digest:
            answer: T = seen[2]
            return answer
        answer = call()
        if succeeded(answer):
            self._done[token] = (now, digest, answer)
        return answer


# services a user may point elsewhere, and the variable that does it (moto then lets them through)
ELSEWHERE = {"dynamodb": "AWS_ENDPOINT_URL_DYNAMODB", "dynamodbstreams": "AWS_ENDPOINT_URL_DYNAMODB_STREAMS"}


def unsigned_in_process(params: Any = None, context: Any = None, event_name: str = "", **_: Any) -> None:
    """botocore's before-call hook: a request that moto answers in this process is not signed (moto reads
    no signature; SigV4 was a tenth of a call). One to any other host, or to a service pointed elsewhere by
    its own AWS_ENDPOINT_URL_<SERVICE> (DynamoDB Local, a real account), is signed as usual, and so is S3's."""
    service = event_name.split(".")[1] if event_name.count(".") >= 1 else ""  # before-call.<service-id>.<op>
    host = urlsplit(str((params or {}).get("url", ""))).hostname or ""
    elsewhere = os.environ.get("AWS_ENDPOINT_URL_" + service.replace("-", "_").upper())
    if service == "s3":  # moto's S3 reads the signature: an unsigned request is anonymous, refused a private bucket
        return
    if context is not None and host.endswith(".amazonaws.com") and not elsewhere:
        context["auth_type"] = "none"  # botocore's own word for an operation that is not signed


def _is_transaction(target: Any) -> bool:
    if isinstance(target, bytes):
        target = target.decode("latin-1")
    return str(target or "").endswith(".TransactWriteItems")


class Emulator:
    """moto for this process (and, through a loopback door, for tools outside it)."""

    def __init__(self, *, door: bool = True) -> None:
        self.lock = threading.RLock()
        self.tokens = TransactionTokens()  # in process (answers are moto's (status, headers, body))
        self.door_tokens = TransactionTokens()  # at the door (answers are WSGI's)
        self._mock: Any = None
        self._door: Any = None
        self._door_thread: threading.Thread | None = None
        self.url: str | None = None
        self._want_door = door
        # the replay engine's in-memory DynamoDB (loyalty_local.memtable), when it holds the tables instead of moto
        self.memory: Any = None

    # -- in process ----------------------------------------------------------------------------------
    def start(self) -> None:
        from moto import mock_aws
        from moto.core.models import botocore_stubber

        from loyalty_local import moto_fast

        # transactions cost what they touch; DynamoDB's answers dumped as JSON, not walked shape by shape;
        # an item measured once, not per attribute; the archive's input transformer parsed once; update
        # expressions copied in C (calls are serialised by the lock below)
        moto_fast.install_all()
        # the process's own credentials stay (a real account behind AWS_ENDPOINT_URL_DYNAMODB needs them)
        # and a service pointed elsewhere passes through moto, even to AWS's own endpoint
        passthrough = [service for service, variable in ELSEWHERE.items() if os.environ.get(variable)]
        self._mock = mock_aws(config={"core": {"mock_credentials": False, "passthrough": {"services": passthrough}}})
        self._mock.start()
        original = type(botocore_stubber).process_request.__get__(botocore_stubber)
        lock, tokens = self.lock, self.tokens

        def serialised(request: Any) -> Any:
            with lock:
                if not _is_transaction(request.headers.get("X-Amz-Target")):
                    return original(request)
                return tokens.answer(
                    request.body, lambda: original(request), lambda a: a is not None and int(a[0]) == 200
                )

        # an instance attribute: moto's `__call__` looks `process_request` up on the instance first
        botocore_stubber.process_request = serialised  # type: ignore[method-assign]
        BUILTIN_HANDLERS.append(("before-call", unsigned_in_process))
        if self._want_door:
            self._start_door()

    def stop(self) -> None:
        from moto.core.models import botocore_stubber

        if self._door is not None:
            self._door.shutdown()
            self._door = None
        botocore_stubber.__dict__.pop("process_request", None)
        if ("before-call", unsigned_in_process) in BUILTIN_HANDLERS:
            BUILTIN_HANDLERS.remove(("before-call", unsigned_in_process))
        if self._mock is not None:
            self._mock.stop()
            self._mock = None

    # -- the door: moto's server app on loopback, the same backends ----------------------------------
    def _start_door(self) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        app = DomainDispatcherApplication(create_backend_app)
        lock, tokens = self.lock, self.door_tokens

        def serialised(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            with lock:
                if not _is_transaction(environ.get("HTTP_X_AMZ_TARGET")):
                    return list(app(environ, start_response))
                import io

                length = int(environ.get("CONTENT_LENGTH") or 0)
                body = environ["wsgi.input"].read(length) if length else b""
                environ["wsgi.input"] = io.BytesIO(body)

                def call() -> tuple[str, list[Any], list[bytes]]:
                    seen: dict[str, Any] = {}

                    def capture(status: str, headers: list[Any], exc_info: Any = None) -> Any:
                        seen.update(status=status, headers=list(headers))
                        return lambda data: None

                    chunks = list(app(environ, capture))
                    return seen["status"], seen["headers"], chunks

                status, headers, chunks = tokens.answer(body, call, lambda a: a[0].startswith("200"))
                start_response(status, headers)
                return chunks

        class QuietHandler(MotoRequestHandler):
            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                pass

        self._door = make_server("127.0.0.1", 0, serialised, threaded=True, request_handler=QuietHandler)
        self.url = f"http://127.0.0.1:{self._door.server_address[1]}"
        door = self._door
        # polled every 50 ms for a stop (the default 0.5 s made every stop wait a quarter of a second)
        self._door_thread = threading.Thread(
            target=lambda: door.serve_forever(poll_interval=0.05), daemon=True, name="moto-door"
        )
        self._door_thread.start()

    # -- the table stream, read in process --------------------------------------------------------------
    def stream_records(
        self, table: str, after: str | None, limit: int, keep: Callable[[dict[str, Any]], bool] | None = None
    ) -> list[dict[str, Any]]:
        """Up to `limit` records of `table`'s stream after the sequence number `after` (from the start when
        None), as GetRecords answers them, read from moto in this process: the stream poller's pages cost
        what they hold, not a request and a response of full item images each way.

        With `keep`, only the records it accepts are answered, read until `limit` are kept (as Lambda fills
        a batch with the records its filter lets through). `keep` is called on every record read, in order,
        with the record as moto holds it (its timestamp a datetime, binary values bytes): a refused record
        is never copied, so a filter costs what it lets through."""
        from moto.dynamodb.models import dynamodb_backends

        from loyalty_local import moto_fast

        with self.lock:
            shard = dynamodb_backends[ACCOUNT][REGION].get_table(table).stream_shard
            if shard is None:
                return []
            items = shard.items
            start = max(0, 0 if after is None else int(after) - shard.starting_sequence_number + 1)
            kept: list[dict[str, Any]] = []
            for index in range(start, len(items)):
                if len(kept) == limit:
                    break
                raw = items[index].to_json()
                if keep is None or keep(raw):
                    # the same JSON GetRecords would carry (a copy: moto keeps its records)
                    kept.append(json.loads(moto_fast.dump_answer(raw)))
            return kept

    # -- a table's items, read in process (the replay engine's snapshots) ----------------------------------
    def table_items(self, table: str, prefix: str) -> list[dict[str, Any]]:
        """Every item of `table` whose partition key starts with `prefix`, as DynamoDB types them: read from
        moto's own dictionaries (a Scan would evaluate a filter on every item of the table)."""
        if self.memory is not None:
            return [
                {k: v.copy() if "S" in v or "N" in v else _wire(v) for k, v in item.items()}
                for item in self.memory.items_under(table, prefix)
            ]
        with self.lock:
            return [item.to_json()["Attributes"] for item in _items_under(table, prefix)]

    def table_values(self, table: str, prefix: str, names: tuple[str, ...]) -> list[tuple[Any, ...]]:
        """The values of the attributes `names` (None where an item has none) of every item of `table` whose
        partition key starts with `prefix`: strings and numbers as DynamoDB's JSON carries them (a number is
        its text), read off moto's items without building them whole."""
        if self.memory is not None:
            return [
                tuple(next(iter(item[n].values())) if n in item else None for n in names)
                for item in self.memory.items_under(table, prefix)
            ]
        with self.lock:
            return [
                tuple(item.attrs[n].value if n in item.attrs else None for n in names)
                for item in _items_under(table, prefix)
            ]

    def queue_holds_messages(self, name: str) -> bool:
        """Whether moto's queue `name` holds a message (visible or not); True for a queue moto does not hold (a
        receive from it says what is wrong). A receive from a queue that holds none answers nothing."""
        from moto.sqs.models import sqs_backends

        with self.lock:
            queue = sqs_backends[ACCOUNT][REGION].queues.get(name)
            return queue is None or len(queue._messages) > 0


def _wire(value: Any) -> Any:
    """An item (or a value) as DynamoDB's JSON carries it: binary values in base64; a copy."""
    if isinstance(value, dict):
        return {k: base64.b64encode(v).decode() if k == "B" else _wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [base64.b64encode(v).decode() if isinstance(v, bytes) else _wire(v) for v in value]
    return value


def _items_under(table: str, prefix: str) -> Iterator[Any]:
    """moto's items of `table` whose partition key starts with `prefix` (the caller holds the lock)."""
    from moto.dynamodb.models import dynamodb_backends

    found = dynamodb_backends[ACCOUNT][REGION].get_table(table)
    for hash_key, held in found.items.items():
        if str(hash_key.value).startswith(prefix):
            yield from held.values() if isinstance(held, dict) else [held]
