"""The replay engine: the local stack in this process, without HTTP, driven request by request.

The same handlers and the same domain code as `make run`, called directly (API Gateway's event built by
`loyalty_local.gateway`, the authorizer included), with the clock set to each request's own time, on the
template's tables held in memory (`loyalty_local.memtable`, a client of boto3's shape; moto keeps the queues,
the bus, the secrets and the parameters). Two producers feed it:

- the what-if replay (`loyalty_local.whatif`), with the history a stack or a table recorded;
- the simulator (`python -m simulator`), with the synthetic members' actions.

One engine per process: moto's backends, the clock and the process environment are the process's own.
It never reaches AWS: endpoints from the environment or the AWS config files, profiles and real
credentials are dropped from its process first (the what-if reads a deployed table in another process).
`outbox=False` leaves the table stream off (no report counters, events or metrics), for a replay that
reads only the members and the ledger: the stream processor is most of the local stack's CPU.
`store="moto"` (or LOYALTY_ENGINE_STORE=moto) keeps the tables in moto, as the local stack does; "check"
makes every DynamoDB call to both and fails on a difference. On moto, `direct=False` (or
LOYALTY_ENGINE_DIRECT=0) sends the DynamoDB calls through botocore's whole HTTP round trip; by default moto
answers them from botocore's `before-call` hook (`loyalty_local.direct`), with the same answers
(LOYALTY_ENGINE_DIRECT=check: each one compared).
"""

from __future__ import annotations

import gc
import json
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loyalty_local.emulator import ACCOUNT, REGION
from loyalty_local.gateway import HttpAnswer
from loyalty_local.provision import LOCAL_KEYS
from loyalty_local.template import TEMPLATE, Template

STORES = ("memory", "moto", "check")
ADMIN_KEY = next(token for token, (_, scopes) in LOCAL_KEYS.items() if "admin" in scopes)


# What could send an AWS call out of the process: an endpoint set in the environment or in a profile of
# the AWS config files, and the credentials to sign it with. The engine's AWS is moto in this process.
_AWAY = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN")


def _only_in_process() -> None:
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")] + list(_AWAY):
        os.environ.pop(name, None)
    # no config or credentials file is read: no profile in them can name an endpoint
    os.environ["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = "true"
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    os.environ["AWS_ACCESS_KEY_ID"] = "engine"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "engine"  # noqa: S105 - not a secret: moto reads no signature


class Engine:
    def __init__(
        self,
        program_document: str = "bundled:demo",
        *,
        outbox: bool = True,
        template: Path = TEMPLATE,
        direct: bool | None = None,
        store: str | None = None,
    ):
        from loyalty_local.server import LocalStack

        _only_in_process()
        # A batch process whose heap is the emulated table, growing request by request: the cyclic collector
        # off, and what is alive moved out of its sight after each job run (server._settle). Its collections
        # walked the month's new objects again and again: a fifth of a 500-member replay's CPU (17.5 -> 13.7 s),
        # for no memory (peak 506 -> 509 MB): the requests make almost no reference cycles, and the process
        # ends with its shard.
        gc.disable()
        self.stack = LocalStack(Template(template), program_document=program_document, outbox=outbox)
        # the functions' INFO lines (a job's start and end) are the stack's log, not the replay's output
        logging.getLogger(os.environ.get("POWERTOOLS_SERVICE_NAME") or "loyalty").setLevel(logging.WARNING)
        if not outbox:
            self._stream_off()
        from loyalty_local import direct as direct_path

        # DynamoDB answered by moto without botocore's HTTP round trip (loyalty_local.direct), unless turned off
        # here or by LOYALTY_ENGINE_DIRECT=0 (the workers of a what-if inherit it: a run with and one without)
        setting = os.environ.get("LOYALTY_ENGINE_DIRECT", "1")
        if direct if direct is not None else setting != "0":
            direct_path.CHECK = setting == "check"  # each fast answer also parsed by botocore, and compared
            direct_path.install()
        else:
            direct_path.uninstall()
        # the tables in memory (loyalty_local.memtable) unless LOYALTY_ENGINE_STORE=moto; "check": both, compared
        self.store = store or os.environ.get("LOYALTY_ENGINE_STORE", "memory")
        if self.store not in STORES:
            raise ValueError(f"LOYALTY_ENGINE_STORE={self.store}: one of {', '.join(STORES)}")
        if self.store != "moto":
            self._tables_in_memory(check=self.store == "check")
        # what starting made (the modules, botocore's models, moto's backends, the seeded tables) out of the
        # collector's sight now: the first job run's collection walked all of it (0.3 s a replay), for the few
        # thousand objects of garbage it found, which now stay
        gc.freeze()

    def _tables_in_memory(self, *, check: bool) -> None:
        """The template's tables handed from moto to `MemoryDynamo`, with what the stack seeded in them; with
        `check`, every call also made to moto and the answers compared (`loyalty_local.memtable.checked`)."""
        from loyalty.store import core

        from loyalty_local.memtable import MemoryDynamo
        from loyalty_local.memtable.checked import CheckedDynamo

        specs = self.stack.template.table_definitions()
        memory = MemoryDynamo(specs)
        for spec in specs:
            memory.load(spec["TableName"], self.stack.emulator.table_items(spec["TableName"], ""))
        if check:
            core.use_client("dynamodb", CheckedDynamo(memory, core.client("dynamodb")))
        else:
            core.use_client("dynamodb", memory)
            self.stack.emulator.memory = memory
        self.memory = memory

    def _stream_off(self) -> None:
        """No stream records at all: nothing reads them, and moto would keep every one."""
        from moto.dynamodb.models import dynamodb_backends

        with self.stack.emulator.lock:
            for table in dynamodb_backends[ACCOUNT][REGION].tables.values():
                table.stream_shard = None

    # -- requests ----------------------------------------------------------------------------------
    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> HttpAnswer:
        """One request, as the HTTP server would pass it on (the /_local routes included)."""
        local = self.stack.local_route(method, path, body or b"")
        if local is not None:
            return local
        sent = {"Content-Type": "application/json", **(headers or {})}
        return self.stack.gateway.handle(method, path, sent, body, "127.0.0.1")

    def send(self, method: str, path: str, body: Any = None, *, key: str | None = ADMIN_KEY) -> HttpAnswer:
        """A JSON request with a bearer key: the answer, its body undecoded."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return self.request(method, path, json.dumps(body).encode() if body is not None else None, headers)

    def call(self, method: str, path: str, body: Any = None, *, key: str | None = ADMIN_KEY) -> tuple[int, Any]:
        """A JSON request with a bearer key: (status, decoded body)."""
        answer = self.send(method, path, body, key=key)
        return answer.status, json.loads(answer.body) if answer.body else None

    # -- time and jobs -----------------------------------------------------------------------------
    def set_clock(self, now: datetime | None) -> None:
        from loyalty.kernel.clock import CLOCK

        CLOCK.set(now.astimezone(UTC) if now is not None else None)

    def run_job(self, job: str, as_of: str | None = None) -> dict[str, Any]:
        """A scheduled job, as `POST /_local/jobs/{job}` runs it (`as_of` None: now, the clock's)."""
        answer = self.stack.run_job(job, {"as_of": as_of} if as_of else {})
        body = json.loads(answer.body)
        if answer.status != 200:
            raise RuntimeError(f"job {job} as of {as_of}: {answer.status} {body}")
        return dict(body)

    def add_partner_secret(self, secret_id: str, secret: str) -> None:
        """A partner the replay signs for (the history's partners are not the local demo's)."""
        from loyalty_local.provision import put_partner_secret

        put_partner_secret(secret_id, secret)

    # -- what the tables hold ----------------------------------------------------------------------
    def items(self, prefix: str) -> Iterator[dict[str, Any]]:
        """Every item of the loyalty table whose PK starts with `prefix`, deserialised, read in process."""
        from loyalty.store.core import from_item, table_name

        memory = self.stack.emulator.memory
        # the tables in memory are read in place: deserialising makes the copy (a binary value comes as the
        # bytes boto3 answers, not as an export's base64)
        held = (
            memory.items_under(table_name(), prefix)
            if memory is not None
            else self.stack.emulator.table_items(table_name(), prefix)
        )
        for item in held:
            yield from_item(item)

    def ledger_sums(self) -> dict[str, int]:
        """Each member's ledger summed (the points of every entry on the `ledger` index), in one pass of the
        table's entries."""
        from loyalty.store.core import table_name

        sums: dict[str, int] = {}
        for owner, points in self.stack.emulator.table_values(table_name(), "ENTRY#", ("GSI1PK", "points")):
            if owner is not None:
                member_id = str(owner).removeprefix("MEMBER#")
                sums[member_id] = sums.get(member_id, 0) + int(points or 0)
        return sums
