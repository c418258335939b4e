"""The replay engine's DynamoDB: the template's tables in plain dictionaries, behind a client of boto3's shape.

`MemoryDynamo(specs)` takes the template's `CreateTable` definitions (`Template.table_definitions()`) and
answers the data-plane calls the product makes, with the parameters and the answers of boto3's low-level
client: GetItem, PutItem, UpdateItem, DeleteItem, Query, Scan, BatchGetItem, BatchWriteItem,
TransactWriteItems, TransactGetItems. A refusal is botocore's `ClientError` with DynamoDB's code and the
fields the store reads (a transaction's `CancellationReasons`, a failed condition's old `Item`).

An item is kept as the typed dictionary it was written with (a copy); each table keeps its partitions with
their sort keys in order, and each global index its own ordered entries, updated on every write: a Query costs
the partition it reads, a write the indexes it changes. Reads hand out copies.

What it checks as DynamoDB does: key attributes present, of their declared type and not empty (an index's
key too), key attributes never updated, the item size limit, conditions (before the update is evaluated),
an update's paths, one operation per item in a transaction of at most 100. Where moto and DynamoDB answer
alike, it answers so; where the product could see moto's own choices it takes them, since the live tables the
replay reconciles against were written through moto locally: an index's order on ties (its sort key, then the
table's keys), a page cut at 1,000,000 bytes by moto's measure of an item (the 400 KB limit too), a filter on
an index applied to what the index projects, UPDATED_OLD and UPDATED_NEW naming only what changed. A
transaction's client request token is honoured as DynamoDB does (moto ignores it; the store sends none). It
does not model capacity, throttling, streams (the replay runs with the stream off), TTL deletion, or the
reserved words moto refuses in an expression.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from loyalty_local.memtable import expressions as ex
from loyalty_local.memtable.expressions import ExpressionError, Item, Typed

ITEM_LIMIT = 405_000  # DynamoDB's 400 KB, as moto measures and limits it (loyalty_local.moto_fast._item_init)
PAGE_LIMIT = 1_000_000  # a Query's or Scan's page, as moto cuts it (moto.dynamodb.models.table.RESULT_SIZE_LIMIT)


def _error(operation: str, code: str, message: str, status: int = 400, **fields: Any) -> Exception:
    from botocore.exceptions import ClientError

    response: dict[str, Any] = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
        **fields,
    }
    if code == "ConditionalCheckFailedException":
        response.setdefault("message", message)
    return ClientError(response, operation)  # type: ignore[arg-type]


class _Refused(Exception):
    def __init__(self, code: str, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.code = code
        self.fields = fields


def _invalid(message: str) -> _Refused:
    return _Refused("ValidationException", message)


def _sortable(value: Typed) -> Any:
    kind, inner = next(iter(value.items()))
    return Decimal(inner) if kind == "N" else inner


class Index:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.name = str(spec["IndexName"])
        schema = {k["KeyType"]: k["AttributeName"] for k in spec["KeySchema"]}
        self.hash: str = schema["HASH"]
        self.range: str | None = schema.get("RANGE")
        projection = spec.get("Projection") or {}
        self.projection = str(projection.get("ProjectionType", "ALL"))
        self.include = set(projection.get("NonKeyAttributes") or [])
        # partition value -> ordered entries (index range, table range, table hash)
        self.partitions: dict[Any, list[tuple[Any, ...]]] = {}


class Table:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.name = str(spec["TableName"])
        schema = {k["KeyType"]: k["AttributeName"] for k in spec["KeySchema"]}
        self.hash: str = schema["HASH"]
        self.range: str | None = schema.get("RANGE")
        self.types = {d["AttributeName"]: d["AttributeType"] for d in spec.get("AttributeDefinitions", [])}
        self.indexes = {i["IndexName"]: Index(i) for i in spec.get("GlobalSecondaryIndexes") or []}
        for local in spec.get("LocalSecondaryIndexes") or []:
            self.indexes[local["IndexName"]] = Index(local)
        # partition value -> (sort value -> item), and the partition's sort values in order
        self.items: dict[Any, dict[Any, Item]] = {}
        self.order: dict[Any, list[Any]] = {}
        self.sizes: dict[tuple[Any, Any], int] = {}  # each item's size, measured once as it is written
        self.count = 0

    # -- keys ---------------------------------------------------------------------------------------
    def key_of(self, key: Item, operation: str = "") -> tuple[Any, Any]:
        names = {self.hash} | ({self.range} if self.range else set())
        if set(key) != names:
            raise _invalid("The provided key element does not match the schema")
        return self._key_value(key, self.hash), self._key_value(key, self.range) if self.range else None

    def _key_value(self, item: Item, name: str) -> Any:
        value = item.get(name)
        if value is None:
            raise _invalid(f"One or more parameter values were invalid: Missing the key {name} in the item")
        kind, inner = next(iter(value.items()))
        if kind != self.types.get(name, kind):
            raise _invalid(
                "One or more parameter values were invalid: "
                f"Type mismatch for key {name} expected: {self.types[name]} actual: {kind}"
            )
        if kind in ("S", "B") and len(inner) == 0:
            raise _invalid(
                "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain "
                f"an empty string value. Key: {name}"
            )
        return Decimal(inner) if kind == "N" else inner

    def get(self, hash_value: Any, range_value: Any) -> Item | None:
        partition = self.items.get(hash_value)
        return partition.get(range_value) if partition is not None else None

    def check_item(self, item: Item) -> int:
        """Refuse what DynamoDB refuses of an item to be written; its size."""
        self._key_value(item, self.hash)  # the keys present, typed and not empty
        if self.range:
            self._key_value(item, self.range)
        for index in self.indexes.values():
            for name in (index.hash, index.range):
                if name is None or name not in item:
                    continue
                kind, inner = next(iter(item[name].items()))
                if kind != self.types.get(name, kind):
                    raise _invalid(
                        "One or more parameter values were invalid: Type mismatch for Index Key "
                        f"{name} Expected: {self.types[name]} Actual: {kind} IndexName: {index.name}"
                    )
                if kind in ("S", "B") and len(inner) == 0:
                    raise _invalid(
                        "One or more parameter values are not valid. A value specified for a secondary index key is "
                        f"not supported. The AttributeValue for a key attribute cannot contain an empty string value. "
                        f"IndexName: {index.name}, IndexKey: {name}"
                    )
        size = ex.item_size(item)
        if size > ITEM_LIMIT:
            raise _invalid("Item size has exceeded the maximum allowed size")
        return size

    # -- writes (the item already checked) -----------------------------------------------------------
    def store(self, item: Item, size: int) -> None:
        hash_value = _sortable(item[self.hash])
        range_value = _sortable(item[self.range]) if self.range else None
        partition = self.items.setdefault(hash_value, {})
        old = partition.get(range_value)
        if old is None:
            if self.range:
                bisect.insort(self.order.setdefault(hash_value, []), range_value)
            else:
                self.order[hash_value] = [None]
            self.count += 1
        else:
            self._unindex(old, hash_value, range_value)
        partition[range_value] = item
        self.sizes[(hash_value, range_value)] = size
        self._index(item, hash_value, range_value)

    def remove(self, hash_value: Any, range_value: Any) -> Item | None:
        partition = self.items.get(hash_value)
        old = partition.pop(range_value, None) if partition is not None else None
        if old is None:
            return None
        self.count -= 1
        del self.sizes[(hash_value, range_value)]
        self._unindex(old, hash_value, range_value)
        order = self.order[hash_value]
        del order[bisect.bisect_left(order, range_value) if self.range else 0]
        if not partition:
            del self.items[hash_value]
            del self.order[hash_value]
        return old

    def _entry(
        self, index: Index, item: Item, hash_value: Any, range_value: Any
    ) -> tuple[Any, tuple[tuple[Any, ...], Any, Any]] | None:
        """(the index's partition, (the item's place in it, its table keys)): moto's order of an index, by its sort
        key, then the table's partition and sort keys (an index without a sort key: the table's sort key, then
        its partition key)."""
        found = item.get(index.hash)
        if found is None:
            return None
        if index.range is not None:
            ranged = item.get(index.range)
            if ranged is None:
                return None
            return _sortable(found), ((_sortable(ranged), hash_value, range_value), hash_value, range_value)
        return _sortable(found), ((range_value, hash_value), hash_value, range_value)

    def _index(self, item: Item, hash_value: Any, range_value: Any) -> None:
        for index in self.indexes.values():
            entry = self._entry(index, item, hash_value, range_value)
            if entry is not None:
                bisect.insort(index.partitions.setdefault(entry[0], []), entry[1])

    def _unindex(self, item: Item, hash_value: Any, range_value: Any) -> None:
        for index in self.indexes.values():
            entry = self._entry(index, item, hash_value, range_value)
            if entry is None:
                continue
            entries = index.partitions[entry[0]]
            del entries[bisect.bisect_left(entries, entry[1])]
            if not entries:
                del index.partitions[entry[0]]

    def key_attributes(self, item: Item, index: Index | None = None) -> Item:
        names = [self.hash] + ([self.range] if self.range else [])
        if index is not None:
            names += [index.hash] + ([index.range] if index.range else [])
        return {n: ex.copy_value(item[n]) for n in dict.fromkeys(names) if n in item}

    def project_index(self, item: Item, index: Index) -> Item:
        if index.projection == "ALL":
            return ex.copy_item(item)
        kept = self.key_attributes(item, index)
        if index.projection == "INCLUDE":
            kept.update({n: ex.copy_value(item[n]) for n in index.include if n in item})
        return kept

    def items_in_order(self) -> Iterator[tuple[Any, Any, Item]]:
        """Every item, by partition and sort key (moto's order of a Scan)."""
        for hash_value in sorted(self.items):
            partition = self.items[hash_value]
            for range_value in self.order[hash_value]:
                yield hash_value, range_value, partition[range_value]


def _check_used(
    operation: str,
    names: dict[str, str] | None,
    values: dict[str, Typed] | None,
    used_names: set[str],
    used_values: set[str],
) -> None:
    unused_names = set(names or {}) - used_names
    if unused_names:
        raise _invalid(
            "Value provided in ExpressionAttributeNames unused in expressions: "
            f"keys: {{{', '.join(sorted(unused_names))}}}"
        )
    unused_values = set(values or {}) - used_values
    if unused_values:
        raise _invalid(
            "Value provided in ExpressionAttributeValues unused in expressions: "
            f"keys: {{{', '.join(sorted(unused_values))}}}"
        )


class MemoryDynamo:
    """A DynamoDB client of boto3's shape over in-memory tables (one lock: the engine's job workers run in
    threads)."""

    def __init__(self, specs: list[dict[str, Any]]) -> None:
        from botocore.hooks import HierarchicalEmitter

        self.tables = {str(spec["TableName"]): Table(spec) for spec in specs}
        self.lock = threading.RLock()
        self.tokens: dict[str, str] = {}
        self.calls = 0
        # `loyalty.store.core.on_call` registers round-trip counters here, as on a botocore client
        self.meta = SimpleNamespace(events=HierarchicalEmitter(), region_name="us-east-1", service_model=None)
        self.exceptions = SimpleNamespace()

    # -- plumbing ----------------------------------------------------------------------------------
    def _table(self, name: str) -> Table:
        found = self.tables.get(name)
        if found is None:
            raise _Refused("ResourceNotFoundException", "Requested resource not found")
        return found

    def _call(self, operation: str, method: Any, params: dict[str, Any]) -> dict[str, Any]:
        self.meta.events.emit(
            f"before-call.dynamodb.{operation}",
            model=SimpleNamespace(name=operation),
            params=params,
            request_signer=None,
            context={},
        )
        try:
            with self.lock:
                self.calls += 1
                answer: dict[str, Any] = method(**params)
        except _Refused as refused:
            raise _error(operation, refused.code, str(refused), **refused.fields) from None
        except ExpressionError as bad:
            raise _error(operation, "ValidationException", str(bad)) from None
        answer["ResponseMetadata"] = {"HTTPStatusCode": 200, "RetryAttempts": 0}
        return answer

    def get_item(self, **params: Any) -> dict[str, Any]:
        return self._call("GetItem", self._get_item, params)

    def put_item(self, **params: Any) -> dict[str, Any]:
        return self._call("PutItem", self._put_item, params)

    def update_item(self, **params: Any) -> dict[str, Any]:
        return self._call("UpdateItem", self._update_item, params)

    def delete_item(self, **params: Any) -> dict[str, Any]:
        return self._call("DeleteItem", self._delete_item, params)

    def query(self, **params: Any) -> dict[str, Any]:
        return self._call("Query", self._query, params)

    def scan(self, **params: Any) -> dict[str, Any]:
        return self._call("Scan", self._scan, params)

    def batch_get_item(self, **params: Any) -> dict[str, Any]:
        return self._call("BatchGetItem", self._batch_get_item, params)

    def batch_write_item(self, **params: Any) -> dict[str, Any]:
        return self._call("BatchWriteItem", self._batch_write_item, params)

    def transact_write_items(self, **params: Any) -> dict[str, Any]:
        return self._call("TransactWriteItems", self._transact_write_items, params)

    def transact_get_items(self, **params: Any) -> dict[str, Any]:
        return self._call("TransactGetItems", self._transact_get_items, params)

    def describe_table(self, **params: Any) -> dict[str, Any]:
        return self._call("DescribeTable", self._describe_table, params)

    # -- reading -----------------------------------------------------------------------------------
    def _projected(self, item: Item, params: dict[str, Any], names_used: set[str] | None = None) -> Item:
        text = params.get("ProjectionExpression")
        if not text:
            return ex.copy_item(item)
        paths, used = ex.projection(text, params.get("ExpressionAttributeNames"))
        if names_used is not None:
            names_used |= used
        return ex.project(item, paths)

    def _get_item(self, TableName: str, Key: Item, ConsistentRead: bool = False, **rest: Any) -> dict[str, Any]:
        table = self._table(TableName)
        found = table.get(*table.key_of(Key))
        used: set[str] = set()
        answer = {"Item": self._projected(found, rest, used)} if found is not None else {}
        if rest.get("ProjectionExpression"):
            _check_used("GetItem", rest.get("ExpressionAttributeNames"), None, used, set())
        return answer

    def _batch_get_item(self, RequestItems: dict[str, Any], **_: Any) -> dict[str, Any]:
        responses: dict[str, list[Item]] = {}
        total = sum(len(ask.get("Keys") or []) for ask in RequestItems.values())
        if total > 100:
            raise _invalid("Too many items requested for the BatchGetItem call")
        for name, ask in RequestItems.items():
            table = self._table(name)
            seen: set[tuple[Any, Any]] = set()
            found: list[Item] = []
            for key in ask.get("Keys") or []:
                at = table.key_of(key)
                if at in seen:
                    raise _invalid("Provided list of item keys contains duplicates")
                seen.add(at)
                item = table.get(*at)
                if item is not None:
                    found.append(self._projected(item, ask))
            responses[name] = found
        return {"Responses": responses, "UnprocessedKeys": {}}

    def _transact_get_items(self, TransactItems: list[dict[str, Any]], **_: Any) -> dict[str, Any]:
        out = []
        for entry in TransactItems:
            ask = entry["Get"]
            table = self._table(ask["TableName"])
            item = table.get(*table.key_of(ask["Key"]))
            out.append({"Item": self._projected(item, ask)} if item is not None else {})
        return {"Responses": out}

    def _describe_table(self, TableName: str) -> dict[str, Any]:
        table = self._table(TableName)
        return {"Table": {"TableName": table.name, "ItemCount": table.count, "TableStatus": "ACTIVE"}}

    def _query(self, TableName: str, KeyConditionExpression: str, **params: Any) -> dict[str, Any]:
        table = self._table(TableName)
        names, values = params.get("ExpressionAttributeNames"), params.get("ExpressionAttributeValues")
        keys, used_names, used_values = ex.key_condition(KeyConditionExpression, names, values)
        used_names, used_values = set(used_names), set(used_values)
        check = None
        if params.get("FilterExpression"):
            check, filter_names, filter_values = ex.condition(params["FilterExpression"], names, values)
            used_names |= filter_names
            used_values |= filter_values
        index_name = params.get("IndexName")
        index = table.indexes.get(index_name) if index_name else None
        if index_name and index is None:
            raise _invalid(f"The table does not have the specified index: {index_name}")
        if index is not None and params.get("ConsistentRead"):
            raise _invalid("Consistent reads are not supported on global secondary indexes")
        hash_name, range_name = (index.hash, index.range) if index is not None else (table.hash, table.range)
        if keys.hash_name != hash_name or (keys.range_name is not None and keys.range_name != range_name):
            raise _invalid("Query condition missed key schema element")
        partition_value = _sortable(keys.hash_value)
        forward = params.get("ScanIndexForward", True) is not False
        # the candidates in the index's order: (the item, its position for ExclusiveStartKey)
        ordered: list[tuple[Item | None, Any, int]]
        if index is None:
            partition = table.items.get(partition_value, {})
            ordered = [
                (partition[r], (r,), table.sizes[(partition_value, r)]) for r in table.order.get(partition_value, [])
            ]
        else:
            ordered = [
                (table.get(h, r), place, table.sizes.get((h, r), 0))
                for place, h, r in index.partitions.get(partition_value, [])
            ]
        if not forward:
            ordered.reverse()
        start = params.get("ExclusiveStartKey")
        if start:
            position = self._position(table, index, start)
            ordered = [c for c in ordered if (c[1] > position if forward else c[1] < position)]
        if params.get("ProjectionExpression"):
            _, projection_names = ex.projection(params["ProjectionExpression"], names)
            used_names |= projection_names
        _check_used("Query", names, values, used_names, used_values)
        return self._page(table, index, ordered, keys, check, params)

    def _position(self, table: Table, index: Index | None, start: Item) -> tuple[Any, ...]:
        hash_value = _sortable(start[table.hash]) if table.hash in start else None
        range_value = _sortable(start[table.range]) if table.range and table.range in start else None
        if index is None:
            return (range_value,)
        if index.range is not None:
            return (_sortable(start[index.range]), hash_value, range_value)
        return (range_value, hash_value)

    def _page(
        self,
        table: Table,
        index: Index | None,
        ordered: list[tuple[Item | None, Any, int]],
        keys: ex.KeyCondition | None,
        check: Any,
        params: dict[str, Any],
    ) -> dict[str, Any]:
        limit = params.get("Limit")
        if limit is not None and int(limit) < 1:
            raise _invalid("Limit must be greater than or equal to 1")
        matched: list[Item] = []
        size = 0
        last: Item | None = None
        for item, _position, item_size in ordered:
            if item is None:
                continue
            if (limit is not None and len(matched) == int(limit)) or size + item_size > PAGE_LIMIT:
                last = matched[-1]
                break
            if (
                keys is not None
                and keys.test is not None
                and keys.range_name is not None
                and not keys.test(item.get(keys.range_name))
            ):
                continue
            matched.append(item)
            size += item_size
        scanned = len(matched)
        # as moto: the index's projection first, then the filter on what it holds, then the projection asked
        shown = [table.project_index(item, index) for item in matched] if index is not None else matched
        if check is not None:
            shown = [item for item in shown if check(item)]
        answer: dict[str, Any] = {"Count": len(shown), "ScannedCount": scanned}
        if params.get("Select") != "COUNT":
            answer["Items"] = [self._projected(item, params) for item in shown]
        if last is not None:
            answer["LastEvaluatedKey"] = table.key_attributes(last, index)
        return answer

    def _scan(self, TableName: str, **params: Any) -> dict[str, Any]:
        table = self._table(TableName)
        names, values = params.get("ExpressionAttributeNames"), params.get("ExpressionAttributeValues")
        check = None
        used_names: set[str] = set()
        used_values: set[str] = set()
        if params.get("FilterExpression"):
            check, used_names, used_values = ex.condition(params["FilterExpression"], names, values)
            used_names, used_values = set(used_names), set(used_values)
        if params.get("ProjectionExpression"):
            used_names |= ex.projection(params["ProjectionExpression"], names)[1]
        _check_used("Scan", names, values, used_names, used_values)
        if params.get("IndexName"):
            raise _invalid("Scan of an index is not supported by the replay engine's table")
        segment, total = params.get("Segment"), params.get("TotalSegments")
        ordered: list[tuple[Item | None, Any, int]] = []
        start = params.get("ExclusiveStartKey")
        after = (
            (_sortable(start[table.hash]), _sortable(start[table.range]) if table.range else None) if start else None
        )
        for hash_value, range_value, item in table.items_in_order():
            if total is not None and _segment(item[table.hash], int(total)) != int(segment or 0):
                continue
            if after is not None and (hash_value, range_value) <= after:
                continue
            ordered.append((item, None, table.sizes[(hash_value, range_value)]))
        return self._page(table, None, ordered, None, check, params)

    # -- writing -----------------------------------------------------------------------------------
    def _condition(
        self,
        params: dict[str, Any],
        old: Item | None,
        operation: str,
        extra: tuple[set[str], set[str]] = (set(), set()),
    ) -> bool:
        names, values = params.get("ExpressionAttributeNames"), params.get("ExpressionAttributeValues")
        text = params.get("ConditionExpression")
        compiled, cond_names, cond_values = ex.condition(text, names, values) if text else (None, set(), set())
        _check_used(operation, names, values, extra[0] | cond_names, extra[1] | cond_values)
        return compiled is None or compiled(old)

    def _failed(self, params: dict[str, Any], old: Item | None) -> _Refused:
        fields: dict[str, Any] = {}
        if old is not None and params.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD":
            fields["Item"] = ex.copy_item(old)
        return _Refused("ConditionalCheckFailedException", "The conditional request failed", **fields)

    def _plan_put(self, params: dict[str, Any]) -> tuple[Table, tuple[Any, Any], Item | None, Item, int]:
        """A put's table, key, the item it replaces, the item (checked) and its size."""
        table = self._table(params["TableName"])
        item = ex.copy_item(params["Item"])
        size = table.check_item(item)
        at = (_sortable(item[table.hash]), _sortable(item[table.range]) if table.range else None)
        return table, at, table.get(*at), item, size

    def _parse_update(self, params: dict[str, Any]) -> tuple[Table, tuple[Any, Any], Item | None, Any]:
        """An update's table, key, the item as it is, and its compiled expression (names and values checked
        as moto checks them, before any condition): (actions, used names, used values)."""
        table = self._table(params["TableName"])
        at = table.key_of(params["Key"])
        text = params.get("UpdateExpression")
        if not text:
            return table, at, table.get(*at), ([], set(), set())
        compiled = ex.update(text, params.get("ExpressionAttributeNames"), params.get("ExpressionAttributeValues"))
        touched = {str(a.path[0]) for a in compiled[0]} & {table.hash, table.range}
        if touched:
            raise _invalid(
                "One or more parameter values were invalid: "
                f"Cannot update attribute {next(iter(touched))}. This attribute is part of the key"
            )
        return table, at, table.get(*at), compiled

    def _apply_update(self, table: Table, key: Item, old: Item | None, actions: list[Any]) -> tuple[Item, int]:
        """The item after the update (evaluated once its condition held, as moto does) and its size."""
        before = old if old is not None else ex.copy_item(key)
        new = ex.apply_update(before, actions) if actions else ex.copy_item(before)
        return new, table.check_item(new)

    def _put_item(self, **params: Any) -> dict[str, Any]:
        table, _at, old, item, size = self._plan_put(params)
        if not self._condition(params, old, "PutItem"):
            raise self._failed(params, old)
        table.store(item, size)
        if params.get("ReturnValues") == "ALL_OLD" and old is not None:
            return {"Attributes": ex.copy_item(old)}
        return {}

    def _update_item(self, **params: Any) -> dict[str, Any]:
        table, _at, old, (actions, used_names, used_values) = self._parse_update(params)
        if not self._condition(params, old, "UpdateItem", (used_names, used_values)):
            raise self._failed(params, old)
        new, size = self._apply_update(table, params["Key"], old, actions)
        table.store(new, size)
        return _return_values(params.get("ReturnValues", "NONE"), old, new)

    def _delete_item(self, **params: Any) -> dict[str, Any]:
        table = self._table(params["TableName"])
        at = table.key_of(params["Key"])
        old = table.get(*at)
        if not self._condition(params, old, "DeleteItem"):
            raise self._failed(params, old)
        table.remove(*at)
        if params.get("ReturnValues") == "ALL_OLD" and old is not None:
            return {"Attributes": ex.copy_item(old)}
        return {}

    def _batch_write_item(self, RequestItems: dict[str, Any], **_: Any) -> dict[str, Any]:
        total = sum(len(v) for v in RequestItems.values())
        if total > 25:
            raise _invalid("Too many items requested for the BatchWriteItem call")
        planned: list[tuple[Table, tuple[Any, Any], Item | None, int]] = []
        for name, requests in RequestItems.items():
            table = self._table(name)
            seen: set[tuple[Any, Any]] = set()
            for request in requests:
                if "PutRequest" in request:
                    item = ex.copy_item(request["PutRequest"]["Item"])
                    size = table.check_item(item)
                    at = (_sortable(item[table.hash]), _sortable(item[table.range]) if table.range else None)
                    planned.append((table, at, item, size))
                else:
                    at = table.key_of(request["DeleteRequest"]["Key"])
                    planned.append((table, at, None, 0))
                if at in seen:
                    raise _invalid("Provided list of item keys contains duplicates")
                seen.add(at)
        for table, at, written, size in planned:
            if written is not None:
                table.store(written, size)
            else:
                table.remove(*at)
        return {"UnprocessedItems": {}}

    def _transact_write_items(
        self, TransactItems: list[dict[str, Any]], ClientRequestToken: str | None = None, **_: Any
    ) -> dict[str, Any]:
        if not TransactItems or len(TransactItems) > 100:
            raise _invalid(
                "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: "
                "Member must have length between 1 and 100"
            )
        if ClientRequestToken is not None:
            fingerprint = hashlib.sha256(json.dumps(TransactItems, sort_keys=True, default=str).encode()).hexdigest()
            seen = self.tokens.get(ClientRequestToken)
            if seen == fingerprint:
                return {}
            if seen is not None:
                raise _Refused(
                    "IdempotentParameterMismatchException",
                    "The request uses the same client token as a previous, but non-identical request",
                )
        plans: list[tuple[str, Table, tuple[Any, Any], Item | None, Any]] = []
        reasons: list[dict[str, Any]] = []
        failed = False
        targets: set[tuple[str, Any, Any]] = set()
        for entry in TransactItems:
            used: tuple[set[str], set[str]]
            ((verb, params),) = entry.items()
            change: Any = None  # a put's (item, size), an update's actions
            if verb == "Put":
                table, at, old, item, size = self._plan_put(params)
                change, used = (item, size), (set(), set())
            elif verb == "Update":
                table, at, old, (actions, *used_sets) = self._parse_update(params)
                change, used = actions, (used_sets[0], used_sets[1])
            elif verb in ("Delete", "ConditionCheck"):
                table = self._table(params["TableName"])
                at = table.key_of(params["Key"])
                old = table.get(*at)
                used = (set(), set())
                if verb == "ConditionCheck" and not params.get("ConditionExpression"):
                    raise _invalid("The ConditionCheck must have a ConditionExpression")
            else:
                raise _invalid(f"Unknown transaction operation {verb}")
            target = (table.name, *at)
            if target in targets:
                raise _invalid("Transaction request cannot include multiple operations on one item")
            targets.add(target)
            if self._condition(params, old, "TransactWriteItems", used):
                reasons.append({"Code": "None"})
            else:
                failed = True
                reason: dict[str, Any] = {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}
                if old is not None and params.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD":
                    reason["Item"] = ex.copy_item(old)
                reasons.append(reason)
            plans.append((verb, table, at, old, change))
        if failed:
            codes = ", ".join(r["Code"] for r in reasons)
            raise _Refused(
                "TransactionCanceledException",
                f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
                CancellationReasons=reasons,
            )
        # every condition held: the updates evaluated (a refusal of one writes nothing), then all written
        writes: list[tuple[str, Table, tuple[Any, Any], Item | None, int]] = []
        for (verb, table, at, old, change), entry in zip(plans, TransactItems, strict=True):
            if verb == "Put":
                writes.append((verb, table, at, change[0], change[1]))
            elif verb == "Update":
                writes.append((verb, table, at, *self._apply_update(table, entry["Update"]["Key"], old, change)))
            else:
                writes.append((verb, table, at, None, 0))
        for verb, table, at, written, size in writes:
            if written is not None:
                table.store(written, size)
            elif verb == "Delete":
                table.remove(*at)
        if ClientRequestToken is not None:
            self.tokens[ClientRequestToken] = fingerprint
        return {}

    # -- in process (the engine's reads of a whole table) ------------------------------------------
    def items_under(self, table: str, prefix: str) -> Iterator[Item]:
        """Every item of `table` whose partition key starts with `prefix` (not copied: read them, do not keep)."""
        found = self._table(table)
        with self.lock:
            held = [list(p.values()) for h, p in found.items.items() if str(h).startswith(prefix)]
        for partition in held:
            yield from partition

    def load(self, table: str, items: list[Item]) -> None:
        """Items written before the table was handed to the engine (the stack's seeds)."""
        found = self._table(table)
        with self.lock:
            for item in items:
                found.store(ex.copy_item(item), found.check_item(item))


def _return_values(wanted: str, old: Item | None, new: Item) -> dict[str, Any]:
    """An update's ReturnValues as moto answers them: UPDATED_OLD the old values of the attributes whose value
    changed (or went or came), UPDATED_NEW what changed in the new item, down to the changed keys of a map."""
    if wanted == "ALL_NEW":
        return {"Attributes": ex.copy_item(new)}
    if wanted == "ALL_OLD":
        return {"Attributes": ex.copy_item(old)} if old else {}
    before = old or {}
    if wanted == "UPDATED_OLD":
        changed = {k for k in set(before) | set(new) if not (k in before and before[k] == new.get(k))}
        shown = {k: ex.copy_value(v) for k, v in before.items() if k in changed}
        return {"Attributes": shown} if shown else {}
    if wanted == "UPDATED_NEW":
        return {"Attributes": _updated_new(before, ex.copy_item(new))}
    return {}


def _updated_new(original: Any, changed: Any) -> Any:
    """moto's `_build_updated_new_attributes`, on the typed values."""
    if type(changed) is not type(original):
        return changed
    if isinstance(changed, dict):
        return {
            key: _updated_new(original.get(key), value)
            for key, value in changed.items()
            if key not in original or value != original[key]
        }
    if isinstance(changed, list):
        if len(changed) != len(original) or any(a != b for a, b in zip(changed, original, strict=True)):
            return list(changed)
        return list(original)
    return changed


def _segment(hash_value: Typed, total: int) -> int:
    """moto's segment of an item (the first byte of the MD5 of its partition key's text, modulo the segments):
    the same split as the local stack's Scan."""
    inner = next(iter(hash_value.values()))
    text = inner if isinstance(inner, str) else str(inner)
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).digest()[0] % total
