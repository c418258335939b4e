"""The local stack: moto in this process, the template's resources, the API and the `/_local` routes."""

from __future__ import annotations

import errno
import gc
import json
import os
import socket
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, quote, unquote, urlsplit

from loyalty_local.capture import EventCapture
from loyalty_local.emulator import Emulator
from loyalty_local.gateway import GATEWAY_MAX_BODY, Gateway, HttpAnswer
from loyalty_local.queues import BackgroundRunner
from loyalty_local.runtime import FunctionPool
from loyalty_local.streams import StreamPoller
from loyalty_local.template import Template, TemplateError

UPLOAD_PATH = "/_local/s3"  # presigned S3 PUTs (import files) land here: `UPLOAD_ENDPOINT_URL` points at it
UPLOAD_MAX_BYTES = 5 << 30  # S3's limit for a single PUT


class StartupError(Exception):
    """`make run` cannot start: the message says why (taken port, broken template)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def point_sdk_at_emulator() -> None:
    """Every boto3 client of this process is answered by the in-process emulator, unless a service is
    pointed elsewhere by its own variable.

    `AWS_ENDPOINT_URL_DYNAMODB` set by the user (DynamoDB Local, a real account) wins for DynamoDB, and
    for its streams too (DynamoDB Local serves both on one endpoint) unless that has its own variable.
    A general `AWS_ENDPOINT_URL` would send every service away from the emulator: it is ignored here.
    """
    os.environ.pop("AWS_ENDPOINT_URL", None)
    dynamodb = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
    if dynamodb:
        os.environ.setdefault("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", dynamodb)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"]


class LocalStack:
    """`outbox=False` leaves the table stream unread: no counters, events or metrics downstream (the
    replay engine, `loyalty_local.engine`, which reads only the members and the ledger)."""

    def __init__(self, template: Template, *, program_document: str = "bundled:demo", outbox: bool = True) -> None:
        from loyalty.kernel import config
        from loyalty.program import rules as program
        from loyalty.store import core

        self.template = template
        self.functions = template.functions()
        self.pools = {name: FunctionPool(fn) for name, fn in self.functions.items()}
        point_sdk_at_emulator()
        self.emulator = Emulator()
        self.emulator.start()
        os.environ.update(template.environment())
        os.environ["LOYALTY_LOCAL"] = "1"
        os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        config.reset()
        core.use_client("dynamodb", None)  # a replay engine's in-memory tables (loyalty_local.memtable) end here
        core.reset_clients()
        program.PROGRAMS.override(None)

        from loyalty_local import provision

        self.resources = provision.provision(template, program_document)
        for pool in self.pools.values():
            pool.warm()
        self.gateway = Gateway(template, self.pools)
        archive = next(iter(self.resources["archives"]), None)
        if archive is None:
            raise TemplateError("template.yaml has no AWS::Events::Archive: the local stack lists events from it")
        self.capture = EventCapture(archive, self.emulator.lock)
        # the stream is read in process, unless DynamoDB's streams live at another endpoint
        in_process = not os.environ.get("AWS_ENDPOINT_URL_DYNAMODB_STREAMS")
        self.streams = (
            StreamPoller(template, self.pools, read_records=self.emulator.stream_records if in_process else None)
            if outbox
            else None
        )
        if self.streams is not None:
            self.streams.start()
        # SQS event sources (the webhooks') and minute schedules, in the background, as AWS runs them
        self.background = BackgroundRunner(template, self.functions, self.pools) if outbox else None
        if self.background is not None:
            self.background.start()

    def flush_stream(self) -> int:
        """Deliver every table-stream record written so far to its functions (the outbox), retries included."""
        return self.streams.flush() if self.streams is not None else 0

    # -- /_local ---------------------------------------------------------------------------------
    def local_route(self, method: str, raw_path: str, body: bytes) -> HttpAnswer | None:
        split = urlsplit(raw_path)
        path = split.path
        if not path.startswith("/_local/"):
            return None
        try:
            payload = json.loads(body or b"{}") if method == "POST" else {}
            if not isinstance(payload, dict):
                raise ValueError("the body must be a JSON object")
        except ValueError as exc:
            return _json(422, _error("validation_error", f"the body is not a JSON object: {exc}"))
        if method == "POST" and path.startswith("/_local/jobs/"):
            return self.run_job(path.removeprefix("/_local/jobs/"), payload)
        if method == "GET" and path == "/_local/events":
            wanted = parse_qs(split.query).get("detail_type", [None])[-1]
            self.flush_stream()  # what was written before this call is published before it answers
            return _json(200, {"events": self.capture.events(wanted)})
        if path == "/_local/clock" and method in ("GET", "POST"):
            return self.clock(payload if method == "POST" else None)
        if method == "GET" and path == "/_local/history":
            return self.history()
        if method == "GET" and path == "/_local/aws":
            return self.aws()
        return _json(404, _error("not_found", "no such local route"))

    def clock(self, payload: dict[str, Any] | None) -> HttpAnswer:
        from loyalty.kernel.clock import CLOCK, isoformat

        if payload is not None:
            if "now" not in payload:
                return _json(422, _error("validation_error", "`now` is required (a timestamp, or null)", "now"))
            raw = payload["now"]
            if raw is None:
                CLOCK.set(None)
            else:
                try:
                    when = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
                    if when.tzinfo is None:
                        when = when.replace(tzinfo=UTC)
                except ValueError:
                    return _json(422, _error("validation_error", "`now` is not an RFC 3339 timestamp", "now"))
                CLOCK.set(when)
        return _json(200, {"now": isoformat(CLOCK.now()), "fixed": CLOCK.is_set})

    def aws(self) -> HttpAnswer:
        """Where tools outside the process reach the stack's AWS (`python -m loyalty ... --local <API URL>`
        asks here): the embedded AWS's door, DynamoDB's endpoint when it is pointed elsewhere, the table."""
        from loyalty.store.core import table_name

        dynamodb = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or self.emulator.url
        return _json(200, {"endpoint": self.emulator.url, "dynamodb": dynamodb, "table": table_name()})

    def history(self) -> HttpAnswer:
        """The table's recorded history for a what-if replay (`python -m loyalty_local.whatif`), as a DynamoDB
        export holds it (one `{"Item": ...}` per line), after a first line with the programme the stack runs."""
        from loyalty.store.core import table_name
        from loyalty.store.history import HISTORY_PREFIXES

        from loyalty_local.provision import program_document

        lines = [json.dumps({"Program": program_document(self.template)})]
        for prefix in HISTORY_PREFIXES:
            lines += [json.dumps({"Item": item}) for item in self.emulator.table_items(table_name(), prefix)]
        return HttpAnswer(200, {"Content-Type": "application/x-ndjson"}, ("\n".join(lines) + "\n").encode())

    def job_functions(self) -> dict[str, str]:
        """Job name -> the function whose schedule names it in its Input."""
        out = {}
        for name, fn in self.functions.items():
            for schedule in fn.schedules:
                job = json.loads(schedule.get("Input") or "{}").get("job")
                if job:
                    out[job] = name
        return out

    def run_job(self, job: str, payload: dict[str, Any]) -> HttpAnswer:
        from loyalty.kernel.clock import utcnow
        from loyalty.kernel.errors import LoyaltyError

        jobs = self.job_functions()
        if job not in jobs:
            return _json(404, _error("not_found", f"no job {job!r}; jobs: {', '.join(sorted(jobs))}"))
        as_of = payload.get("as_of")
        if as_of is not None:
            try:
                if date.fromisoformat(str(as_of)) > utcnow().date():
                    raise ValueError("later than now")
            except ValueError as exc:
                return _json(422, _error("validation_error", f"as_of: {exc}", "as_of"))
        event = {"job": job, **({"as_of": as_of} if as_of else {})}
        try:
            started = self.pools[jobs[job]].invoke(event)
            self.drain_queues()
            self.flush_stream()
            summary = self.pools[jobs[job]].invoke({"job": job, "summary_of": started})
        except LoyaltyError as exc:
            return _json(exc.status, _error(exc.code, exc.message, details=exc.details))
        _settle()
        return _json(200, summary)

    def drain_queues(self, max_rounds: int = 10_000, function: str | None = None) -> int:
        """Deliver the scheduled jobs' work queues to the functions the template subscribes to them, until all
        are empty (the other queues, the webhooks', are the background runner's); or, given `function`, that
        function's queues (the API reference's walk, which runs no background runner, for the import worker).

        As Lambda's event source mapping does: batches, partial-failure reports honoured (failed
        messages return to the queue and reach the dead-letter queue after maxReceiveCount).
        """
        import boto3

        from loyalty_local.queues import job_queues, run_batch

        sqs = boto3.client("sqs")
        jobs = job_queues(self.template, self.functions)
        delivered = 0
        for _ in range(max_rounds):
            busy = False
            for name, fn in self.functions.items():
                if function is not None and name != function:
                    continue
                for source in fn.sqs_sources:
                    url = self._queue_url(source["Queue"])
                    if function is None and url not in jobs:
                        continue
                    if not self.emulator.queue_holds_messages(url.rsplit("/", 1)[1]):
                        continue  # most of a drain's rounds find most queues empty: no call for nothing
                    got = sqs.receive_message(
                        QueueUrl=url,
                        MaxNumberOfMessages=min(10, int(source.get("BatchSize", 10))),
                        AttributeNames=["All"],
                    ).get("Messages", [])
                    if not got:
                        continue
                    busy = True
                    delivered += len(got)
                    run_batch(self.pools[name], sqs, url, source["Queue"], got, 0)
            if not busy:
                return delivered
        raise RuntimeError("queues did not drain")

    def _queue_url(self, arn_or_url: str) -> str:
        name = arn_or_url.rsplit("/" if arn_or_url.startswith("http") else ":", 1)[1]
        return f"https://sqs.{self.template.region}.amazonaws.com/{self.template.account}/{name}"

    # -- HTTP ------------------------------------------------------------------------------------
    # -- uploads (S3 presigned PUTs, served here) -------------------------------------------------
    def upload(self, raw_path: str, headers: Any, body: Any) -> HttpAnswer:
        """A presigned S3 PUT (an import's file): the object goes into the emulator's bucket, streamed a MiB at a
        time through a spooled file. Refused, as S3 would, when the URL is not signed or has expired (by the real
        time, which the signature's date is in), or without a Content-Length."""
        split = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        bucket, _, key = split.path.removeprefix(UPLOAD_PATH + "/").partition("/")
        if not bucket or not key or "X-Amz-Signature" not in query or "X-Amz-Date" not in query:
            return _s3_error(403, "AccessDenied", "the URL is not a presigned URL")
        try:
            signed = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            expires = signed + timedelta(seconds=int(query.get("X-Amz-Expires", "0")))
        except ValueError:
            return _s3_error(403, "AccessDenied", "the URL's date is not one S3 gives")
        if time.time() > expires.timestamp():  # the signature's date is the real time's (botocore signs with it)
            return _s3_error(403, "AccessDenied", "Request has expired")
        if not _signed(split, headers):  # another key, another bucket, a longer life than signed: not this URL's
            return _s3_error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match")
        if headers.get("Content-Length") is None:
            return _s3_error(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
        length = int(headers.get("Content-Length"))
        if length < 0:  # read(-n) would wait for the connection's end
            return _s3_error(400, "InvalidArgument", "the Content-Length is negative")
        if length > UPLOAD_MAX_BYTES:
            return _s3_error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
        import boto3

        with tempfile.SpooledTemporaryFile(max_size=64 << 20) as spool:
            left = length
            while left:
                piece = body.read(min(left, 1 << 20))
                if not piece:
                    return _s3_error(400, "IncompleteBody", "the body is shorter than its Content-Length")
                spool.write(piece)
                left -= len(piece)
            spool.seek(0)
            try:
                answer = boto3.client("s3").put_object(Bucket=bucket, Key=unquote(key), Body=spool)
            except Exception as exc:  # no such bucket, say: S3's own words
                code = getattr(exc, "response", {}).get("Error", {}).get("Code", "InternalError")
                return _s3_error(404 if code == "NoSuchBucket" else 500, code, str(code))
        return HttpAnswer(200, {"ETag": str(answer.get("ETag", ""))}, b"")

    def serve(self, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
        stack = self
        # the upload URLs the API answers point here (loyalty.store.imports.upload_url)
        from loyalty.kernel import config

        os.environ["UPLOAD_ENDPOINT_URL"] = f"http://{host}:{port}{UPLOAD_PATH}"
        config.reset()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "loyalty-local"
            # Headers and body leave in one send (a buffered writer, flushed once the request is handled)
            # with TCP_NODELAY: two small sends met the client's delayed ACK, about 40 ms a request.
            wbufsize = -1
            disable_nagle_algorithm = True

            def log_message(self, fmt: str, *args: Any) -> None:
                if os.environ.get("LOYALTY_LOCAL_ACCESS_LOG"):
                    super().log_message(fmt, *args)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if self.command == "PUT" and self.path.startswith(UPLOAD_PATH + "/"):
                    answer = stack.upload(self.path, self.headers, self.rfile)
                    # refused, its body may be unread: never served as the next request
                    self.close_connection = self.close_connection or answer.status != 200
                elif length > GATEWAY_MAX_BODY:
                    answer = stack.gateway.gateway_error("REQUEST_TOO_LARGE", 413, "local")
                    self.close_connection = True
                else:
                    body = self.rfile.read(length) if length else b""
                    answer = stack.local_route(self.command, self.path, body) or stack.gateway.handle(
                        self.command,
                        self.path,
                        dict(self.headers.items()),
                        body or None,
                        self.client_address[0],
                    )
                self.send_response(answer.status)
                for key, value in answer.headers.items():
                    if key.lower() not in ("content-length", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def __getattr__(self, name: str) -> Any:
                # every method (QUERY, TRACE, ...) reaches the gateway, which answers what the template
                # does not route, as API Gateway does
                if name.startswith("do_"):
                    return self._handle
                raise AttributeError(name)

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # the default 5 resets connections when 20 clients arrive at once

        try:
            server = Server((host, port), Handler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartupError(f"port {port} is taken; free it or set PORT=<another port>") from None
            raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        server.daemon_threads = True
        return server


def _error(code: str, message: str, field: str | None = None, details: list[Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "request_id": "local"}
    if field:
        error["details"] = [{"field": field, "message": message}]
    elif details:
        error["details"] = details
    return {"error": error}


def _signed(split: Any, headers: Any) -> bool:
    """Whether the presigned URL's SigV4 query signature is the one this stack's credentials give for this PUT, this
    path and these query parameters (S3's check: the path, the expiry and the signed headers are all signed)."""
    import hashlib
    import hmac

    import boto3

    pairs = parse_qsl(split.query, keep_blank_values=True)
    given = dict(pairs)
    credentials = boto3.session.Session().get_credentials()
    try:
        access_key, scope = given["X-Amz-Credential"].split("/", 1)
        day, region, service, _ = scope.split("/")
        signed_headers = given["X-Amz-SignedHeaders"]
        wanted = given["X-Amz-Signature"]
    except (KeyError, ValueError):
        return False
    if credentials is None or access_key != credentials.access_key:
        return False

    def enc(text: str) -> str:
        return quote(text, safe="-_.~")

    query = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(pairs) if k != "X-Amz-Signature")
    names = signed_headers.split(";")
    header_lines = "".join(f"{n}:{' '.join(str(headers.get(n) or '').split())}\n" for n in names)
    canonical = "\n".join(["PUT", split.path, query, header_lines, signed_headers, "UNSIGNED-PAYLOAD"])
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", given.get("X-Amz-Date", ""), scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + credentials.secret_key).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.compare_digest(hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), wanted)


def _s3_error(status: int, code: str, message: str) -> HttpAnswer:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return HttpAnswer(status, {"Content-Type": "application/xml"}, body.encode())


def _json(status: int, body: dict[str, Any]) -> HttpAnswer:
    return HttpAnswer(status, {"Content-Type": "application/json"}, json.dumps(body).encode())


def _settle() -> None:
    """What is alive after a job run is, almost all of it, the emulated tables, kept for the rest of the
    session: out of the cyclic collector's sight, which would otherwise walk all of it again and again (a
    seventh of a 1,000-member simulated year's CPU, more as the tables grow). Reference counting still
    frees what goes; only a reference cycle among these objects would stay. With the collector off (the
    replay engine, `loyalty_local.engine`, a process that ends with its shard) nothing is collected here either:
    a month of a 500-member replay left some 6,500 objects in cycles, and collecting them walked every object
    the month made (2% of the replay's CPU)."""
    gc.freeze()
