"""What one operation costs in DynamoDB: round trips, and read and write units (reported and computed).

Hooks go on the product's own client (`loyalty.store.core.client("dynamodb")`):
- round trips: `loyalty.store.core.on_call` (a botocore `before-call` hook), one per API call;
- `before-parameter-build.dynamodb` adds `ReturnConsumedCapacity=TOTAL` and, for writes, snapshots the
  items about to change (through a separate client, so the snapshot is neither counted nor metered);
- `after-call.dynamodb` reads what DynamoDB (moto) reported and computes the units from the items read
  and written (bench.capacity), including the writes of the global secondary indexes.
Calls to other services (Secrets Manager, SQS, EventBridge...) made through the product's clients are
counted too, by a `before-call` hook on each of them.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bench.capacity import TableShape, item_size, read_units, usd_per_million, write_units

READS = {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
_PLACEHOLDER = re.compile(r"[#:][A-Za-z0-9_]+")


@dataclass
class Usage:
    """What the calls made inside one `Meter.measure()` cost."""

    calls: list[str] = field(default_factory=list)
    other_calls: list[str] = field(default_factory=list)
    read_units: float = 0.0
    write_units: float = 0.0
    index_write_units: dict[str, float] = field(default_factory=dict)
    reported_units: float = 0.0
    unreported: list[str] = field(default_factory=list)  # calls moto gave no ConsumedCapacity for
    items: list[dict[str, Any]] = field(default_factory=list)  # what was read or written, by size
    items_read: int = 0  # items evaluated (a missing key of a BatchGet/Get counts: it is charged)
    items_written: dict[str, int] = field(default_factory=dict)  # by kind: the PK's prefix (MEMBER, ENTRY...)
    detail: bool = True  # keep `items` (off for the jobs: thousands of them)

    def note(self, record: dict[str, Any]) -> None:
        if self.detail:
            self.items.append(record)

    @property
    def total_write_units(self) -> float:
        return self.write_units + sum(self.index_write_units.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "round_trips": len(self.calls),
            "calls": self.calls,
            "other_aws_calls": self.other_calls,
        }

    def capacity(self) -> dict[str, Any]:
        return {
            "write_units": self.total_write_units,
            "read_units": self.read_units,
            "table_write_units": self.write_units,
            "index_write_units": dict(sorted(self.index_write_units.items())),
            "usd_per_million": str(usd_per_million(self.total_write_units, self.read_units)),
            "moto_reported_units": self.reported_units,
            "moto_unreported_calls": self.unreported,
            "items": self.items,
        }


class Meter:
    def __init__(self, shape: TableShape) -> None:
        import boto3
        from loyalty.store import core

        self.shape = shape
        self.core = core
        self.shadow = boto3.session.Session().client("dynamodb", region_name="us-east-1")
        self.usage: Usage | None = None
        self._hooked: list[Any] = []

    # -- installation -----------------------------------------------------------------------------
    def install(self) -> None:
        events = self.core.client("dynamodb").meta.events
        events.register("before-parameter-build.dynamodb", self._before)
        events.register("after-call.dynamodb", self._after)
        self._unregister_count = self.core.on_call(self._count)
        self.hook_other_clients()

    def uninstall(self) -> None:
        events = self.core.client("dynamodb").meta.events
        events.unregister("before-parameter-build.dynamodb", self._before)
        events.unregister("after-call.dynamodb", self._after)
        self._unregister_count()
        for client in self._hooked:
            client.meta.events.unregister("before-call", self._count_other)
        self._hooked.clear()

    def hook_other_clients(self) -> None:
        """Count calls of the product's other clients (built lazily: call again after a warm-up)."""
        for name, client in list(self.core._clients.items()):
            if name != "dynamodb" and all(client is not c for c in self._hooked):
                client.meta.events.register("before-call", self._count_other)
                self._hooked.append(client)

    @contextmanager
    def measure(self, *, detail: bool = True) -> Iterator[Usage]:
        self.usage = Usage(detail=detail)
        try:
            yield self.usage
        finally:
            self.usage = None

    # -- hooks ------------------------------------------------------------------------------------
    def _count(self, model: Any = None, **_: Any) -> None:
        if self.usage is not None:
            self.usage.calls.append(model.name if model is not None else "?")

    def _count_other(self, model: Any = None, **_: Any) -> None:
        if self.usage is not None and model is not None:
            self.usage.other_calls.append(f"{model.service_model.service_id}.{model.name}")

    def _before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if self.usage is None:
            return
        if "ReturnConsumedCapacity" in model.input_shape.members:
            params["ReturnConsumedCapacity"] = "TOTAL"
        if model.name in WRITES:
            context["bench_old"] = {k: self._current(k) for k in self._written_keys(model.name, params)}
        context["bench_params"] = copy.deepcopy(params)

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        usage = self.usage
        if usage is None:
            return
        reported = parsed.get("ConsumedCapacity")
        if isinstance(reported, dict):
            reported = [reported]
        if reported:
            usage.reported_units += sum(float(c.get("CapacityUnits", 0)) for c in reported)
        elif model.name in READS | WRITES:
            usage.unreported.append(model.name)
        if model.name in READS:
            self._reads(usage, model.name, context.get("bench_params") or {}, parsed)
        elif model.name in WRITES:
            self._writes(usage, model.name, context.get("bench_params") or {}, context.get("bench_old") or {}, parsed)

    # -- writes -----------------------------------------------------------------------------------
    def _key_of(self, item: dict[str, Any]) -> tuple[tuple[str, str], ...]:
        return tuple((k, next(iter(item[k].values()))) for k in self.shape.keys)

    def _written_keys(self, operation: str, params: dict[str, Any]) -> list[tuple[tuple[str, str], ...]]:
        keys = []
        for _, item_or_key, _ in self._write_actions(operation, params):
            keys.append(self._key_of(item_or_key))
        return keys

    def _write_actions(self, operation: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any], bool]]:
        """(action, item or key, transactional) for every item a write request touches in our table."""
        out: list[tuple[str, dict[str, Any], bool]] = []
        if operation == "PutItem" and params.get("TableName") == self.shape.name:
            out.append(("Put", params["Item"], False))
        elif operation in ("UpdateItem", "DeleteItem") and params.get("TableName") == self.shape.name:
            out.append((operation.removesuffix("Item"), params["Key"], False))
        elif operation == "BatchWriteItem":
            for request in (params.get("RequestItems") or {}).get(self.shape.name, []):
                if "PutRequest" in request:
                    out.append(("Put", request["PutRequest"]["Item"], False))
                else:
                    out.append(("Delete", request["DeleteRequest"]["Key"], False))
        elif operation == "TransactWriteItems":
            for action in params.get("TransactItems", []):
                ((kind, body),) = action.items()
                if body.get("TableName") == self.shape.name:
                    out.append((kind, body["Item"] if kind == "Put" else body["Key"], True))
        return out

    def _current(self, key: tuple[tuple[str, str], ...]) -> dict[str, Any] | None:
        typed = {name: {"S": value} for name, value in key}
        found = self.shadow.get_item(TableName=self.shape.name, Key=typed, ConsistentRead=True).get("Item")
        return dict(found) if found else None

    def _writes(
        self,
        usage: Usage,
        operation: str,
        params: dict[str, Any],
        old_images: dict[Any, dict[str, Any] | None],
        parsed: dict[str, Any],
    ) -> None:
        failed = "Error" in parsed
        unprocessed = {
            self._key_of(r.get("PutRequest", {}).get("Item") or r["DeleteRequest"]["Key"])
            for r in (parsed.get("UnprocessedItems") or {}).get(self.shape.name, [])
        }
        for kind, item_or_key, transactional in self._write_actions(operation, params):
            key = self._key_of(item_or_key)
            if key in unprocessed:
                continue
            old = old_images.get(key)
            new = self._current(key)
            size = max(item_size(old), item_size(new), item_size(item_or_key) if kind == "Put" else 0)
            units = write_units(size, transactional=transactional)
            usage.write_units += units
            if not failed and kind != "ConditionCheck":
                kind_name = str(key[0][1]).split("#", 1)[0]
                usage.items_written[kind_name] = usage.items_written.get(kind_name, 0) + 1
            usage.note(
                {
                    "call": operation,
                    "action": kind,
                    "key": "/".join(v for _, v in key),
                    "bytes": size,
                    "write_units": units,
                }
            )
            if not failed:
                for index, spent in self.shape.index_write_units(old, new).items():
                    usage.index_write_units[index] = usage.index_write_units.get(index, 0) + spent

    # -- reads ------------------------------------------------------------------------------------
    def _reads(self, usage: Usage, operation: str, params: dict[str, Any], parsed: dict[str, Any]) -> None:
        if operation == "GetItem":
            item = parsed.get("Item")
            if params.get("ProjectionExpression"):
                item = self._full(params["Key"])
            self._read(usage, operation, params.get("Key", {}), item, params.get("ConsistentRead", False))
        elif operation == "BatchGetItem":
            request = (params.get("RequestItems") or {}).get(self.shape.name) or {}
            unprocessed = {
                self._key_of(k)
                for k in ((parsed.get("UnprocessedKeys") or {}).get(self.shape.name) or {}).get("Keys", [])
            }
            found = {self._key_of(i): i for i in (parsed.get("Responses") or {}).get(self.shape.name, [])}
            for key_item in request.get("Keys", []):
                key = self._key_of(key_item)
                if key in unprocessed:
                    continue
                item = found.get(key)
                if item is not None and request.get("ProjectionExpression"):
                    item = self._full(key_item)
                self._read(usage, operation, key_item, item, request.get("ConsistentRead", False))
        elif operation in ("Query", "Scan"):
            items = parsed.get("Items", [])
            scanned = parsed.get("ScannedCount", len(items))
            if params.get("ProjectionExpression") or params.get("Select") == "COUNT" or scanned != len(items):
                # capacity is on the items evaluated, whole: read them again without the filter and projection
                items = self._evaluated(operation, params, scanned)
            total = sum(item_size(i) for i in items)
            consistent = bool(params.get("ConsistentRead")) and not params.get("IndexName")
            units = read_units(total, consistent=consistent)
            usage.read_units += units
            usage.items_read += len(items)
            usage.note(
                {
                    "call": operation,
                    "index": params.get("IndexName"),
                    "items": len(items),
                    "bytes": total,
                    "read_units": units,
                }
            )
        elif operation == "TransactGetItems":
            for action in params.get("TransactItems", []):
                get = action["Get"]
                self._read(usage, operation, get["Key"], self._full(get["Key"]), True, transactional=True)

    def _read(
        self,
        usage: Usage,
        operation: str,
        key: dict[str, Any],
        item: dict[str, Any] | None,
        consistent: bool,
        *,
        transactional: bool = False,
    ) -> None:
        size = item_size(item)
        units = read_units(size, consistent=consistent, transactional=transactional)
        usage.read_units += units
        usage.items_read += 1
        usage.note(
            {
                "call": operation,
                "key": "/".join(next(iter(v.values())) for v in key.values()),
                "bytes": size,
                "read_units": units,
            }
        )

    def _full(self, key: dict[str, Any]) -> dict[str, Any] | None:
        found = self.shadow.get_item(TableName=self.shape.name, Key=key, ConsistentRead=True).get("Item")
        return dict(found) if found else None

    def _evaluated(self, operation: str, params: dict[str, Any], scanned: int) -> list[dict[str, Any]]:
        """The items a filtered or projected Query/Scan evaluated, re-read whole (capacity is on them)."""
        if scanned == 0:
            return []
        plain = {
            k: v
            for k, v in params.items()
            if k not in ("FilterExpression", "ProjectionExpression", "Select", "ReturnConsumedCapacity", "Limit")
        }
        expressions = " ".join(str(plain.get(k, "")) for k in ("KeyConditionExpression",))
        used = set(_PLACEHOLDER.findall(expressions))
        for name in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
            if name in plain:
                kept = {k: v for k, v in plain[name].items() if k in used}
                if kept:
                    plain[name] = kept
                else:
                    del plain[name]
        plain["Limit"] = scanned
        answer = getattr(self.shadow, "query" if operation == "Query" else "scan")(**plain)
        return list(answer.get("Items", []))
