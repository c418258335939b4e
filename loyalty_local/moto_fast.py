"""moto made to cost what the work costs, with what it checks and answers unchanged (`install_all()`).

- TransactWriteItems made O(items in the transaction) instead of O(items in the table) (below);
- DynamoDB's data-plane answers dumped as JSON instead of walked shape by shape (`install_fast_answers`);
- an item measured once against the 400 KB limit, not once per attribute (`install_linear_items`);
- jsonpath parsed once for EventBridge input transformers (`install_cached_jsonpath`);
- update expressions copied by pickle (`install_fast_update_validation`);
- DynamoDB requests loaded as JSON, update expressions parsed once per text (`install_fast_requests`);
- a write's condition parsed once per call, not three times (`install_cached_conditions`), and the
  handler's check of it once per text (`install_cached_condition_checks`);
- a Query reads its partition or its global index's bucket, not the whole table (`install_indexed_queries`);
- every botocore session of the process reads the service models through one loader
  (`install_one_model_loader`);
- an SQS receive of a standard queue costs the messages it hands out, not the queue's backlog: each queue keeps
  its messages in a heap on when each becomes receivable (its visibility, its delay), deleted or changed ones
  dropped lazily, and the receipt handles it gave, so DeleteMessage and ChangeMessageVisibility find their
  message at once; moto's order, receive counts, redrive to the dead-letter queue, retention check, purge and
  counts unchanged, a FIFO queue received by moto's own walk (`install_fast_sqs`): a queue with a backlog (the
  webhooks' delivery queue under a burst) cost the backlog on every call, its drain the backlog squared.

The local stack and the tests' moto (tests.support.aws.mocked_aws) run with all of them.

moto (5.x) backs up every table a transaction names with `copy.deepcopy(table)` before it starts, to
roll back on failure: each transaction costs time in proportion to the whole table (seconds at a few
thousand items), so the local stack slows down as a session writes. With this installed, the backup
is of the items the transaction touches, and a failed transaction is rolled back item by item, its
stream records included (moto's own rollback restores the whole table, stream and all), so the table
stream shows only committed writes. What moto checks and writes is unchanged.

Callers must serialise calls into moto (the local stack's emulator does; the bench is single-threaded).
"""

from __future__ import annotations

import base64
import calendar
import copy
import heapq
import itertools
import json
import types
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any


def _patched(original: Any) -> Any:
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    def no_table_copies(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    shim = types.SimpleNamespace(deepcopy=no_table_copies, copy=copy.copy)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
        streams: dict[str, int] = {}
        for action in transact_items:
            ((_, op),) = action.items()
            name = op.get("TableName")
            if not name or name not in self.tables:
                continue
            table = self.tables[name]
            if table.stream_shard is not None:
                streams.setdefault(name, len(table.stream_shard.items))
            if "Key" in op:
                key = op["Key"]
            else:
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            current = self.get_item(name, key)
            # to_json builds new maps and lists all the way down (its leaves are immutable): a copy already,
            # that a later in-place update of the item cannot reach. A deepcopy of it was a third of the
            # engine's CPU in a 10,000-member simulated year.
            saved.append((name, key, current.to_json()["Attributes"] if current else None))
        models.copy = shim  # type: ignore[assignment]
        try:
            original(self, transact_items)
        except Exception:
            for name, key, attributes in saved:
                if attributes is None:
                    if self.get_item(name, key) is not None:
                        self.delete_item(name, key)
                else:
                    self.put_item(name, attributes)
            for name, length in streams.items():  # the failed transaction leaves no stream records
                del self.tables[name].stream_shard.items[length:]
            raise
        finally:
            models.copy = copy

    return transact_write_items


def install() -> None:
    """Patch moto for the rest of the process (the local stack)."""
    from moto.dynamodb import models

    if not getattr(models.DynamoDBBackend.transact_write_items, "_loyalty_fast", False):
        patched = _patched(models.DynamoDBBackend.transact_write_items)
        patched._loyalty_fast = True
        models.DynamoDBBackend.transact_write_items = patched  # type: ignore[method-assign]


@contextmanager
def fast_transactions() -> Iterator[None]:
    """Patch moto while the block runs (the bench, tests)."""
    from moto.dynamodb import models

    original = models.DynamoDBBackend.transact_write_items
    if getattr(original, "_loyalty_fast", False):  # installed for the process already
        yield
        return
    models.DynamoDBBackend.transact_write_items = _patched(original)  # type: ignore[method-assign]
    try:
        yield
    finally:
        models.DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]


# -- DynamoDB answers serialised by json.dumps ----------------------------------------------------------
# moto (5.2) serialises every answer by walking the operation's output shape, value by value, looking
# each one up under several possible names: about 4 ms for a member item with its monthly history, more
# than all the rest of the call, and 250 ms for a page of 100 stream records. DynamoDB's data-plane
# answers are JSON already in wire form (moto built them from AttributeValues), so they are dumped as
# they are (timestamps as moto's serialiser writes them); anything else goes to moto's serialiser.
# tests/integration/test_emulator.py compares both on the product's own items and stream records.
DATA_PLANE = {
    "dynamodb": frozenset(
        {
            "GetItem",
            "BatchGetItem",
            "PutItem",
            "UpdateItem",
            "DeleteItem",
            "Query",
            "Scan",
            "BatchWriteItem",
            "TransactGetItems",
            "TransactWriteItems",
        }
    ),
    "dynamodbstreams": frozenset({"GetRecords"}),
}
_PLAIN = (str, int, float, bool, type(None), datetime)


def is_plain_json(value: Any) -> bool:
    """Only dicts with string keys, lists, strings, numbers, booleans, None and timestamps."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    return False
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)
        elif not isinstance(item, _PLAIN):
            return False
    return True


def on_the_wire(value: Any) -> Any:
    """A timestamp as moto's JSON serialiser writes it (epoch seconds, truncated to the millisecond);
    binary as base64, as DynamoDB's JSON carries it."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if not isinstance(value, datetime):
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")
    seconds = calendar.timegm(value.utctimetuple())
    return seconds + (value.microsecond // 1000) / 1000.0 if value.microsecond else seconds


def dump_answer(result: dict[str, Any]) -> str:
    return json.dumps(result, default=on_the_wire)


def _fast_serialized(original: Any, operations: frozenset[str]) -> Any:
    from moto.core.responses import ActionResult

    def serialized(self: Any, action_result: Any) -> Any:
        result = action_result.result
        if (
            type(action_result).execute_result is ActionResult.execute_result
            and isinstance(result, dict)
            and self._get_action() in operations
            and is_plain_json(result)
        ):
            headers = {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}
            return 200, headers, dump_answer(result)
        return original(self, action_result)

    serialized._loyalty_fast = True  # type: ignore[attr-defined]
    return serialized


def install_fast_answers() -> None:
    """DynamoDB's and its streams' data-plane answers without moto's shape walk, for the rest of the process."""
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    for handler, service in ((DynamoHandler, "dynamodb"), (DynamoDBStreamsHandler, "dynamodbstreams")):
        if not getattr(handler.serialized, "_loyalty_fast", False):
            handler.serialized = _fast_serialized(handler.serialized, DATA_PLANE[service])  # type: ignore[method-assign]


# -- EventBridge targets without a parser built per event ------------------------------------------------
# moto applies a target's input transformer (the archive's has one) by parsing each of eight JSONPath
# expressions with jsonpath_ng, which builds its grammar tables anew on every parse: ~20 ms a PutEvents.
# The expressions are few and fixed, and a parsed expression is read-only, so parsing is cached.
def install_cached_jsonpath() -> None:
    import functools

    import jsonpath_ng.ext

    if not getattr(jsonpath_ng.ext.parse, "_loyalty_cached", False):
        cached = functools.lru_cache(maxsize=256)(jsonpath_ng.ext.parse)
        cached._loyalty_cached = True  # type: ignore[attr-defined]
        jsonpath_ng.ext.parse = cached


# -- Items built in linear time, and each handler's methods listed once ---------------------------------
# moto checks DynamoDB's 400 KB item limit as each attribute is added, re-measuring the whole item every
# time: building a member item with its monthly history costs quadratic time, on every read and write.
# Here the item is measured once, whole (the same limit, the same error). And moto lists a handler's
# methods with inspect.getmembers on every call; a class's methods do not change while it runs.
def _item_init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    self.hash_key = hash_key
    self.range_key = range_key
    built = LimitedSizeDict()
    size = 0
    for key, value in attrs.items():
        typed = DynamoType(value)
        dict.__setitem__(built, key, typed)
        size += bytesize(key) + typed.size()
    if size > 405000:  # moto's limit (DynamoDB's 400 KB, measured its way)
        raise ItemSizeTooLarge
    self.attrs = built


def install_linear_items() -> None:
    import functools

    from moto.core import responses
    from moto.dynamodb.models.dynamo_type import Item

    if Item.__init__ is not _item_init:
        Item.__init__ = _item_init  # type: ignore[method-assign]
    if not hasattr(responses.method_names_from_class, "cache_info"):
        responses.method_names_from_class = functools.cache(responses.method_names_from_class)


# -- Update expressions cloned by pickle ----------------------------------------------------------------
# moto's UpdateExpressionValidator deep-copies the parsed expression (a fresh tree of plain node objects)
# before it resolves names and values in it: copy.deepcopy walks it in Python, a pickle round trip does
# the same copy in C, several times faster (the outbox's counter updates have long ADD expressions).
def _clone(value: Any, memo: Any = None) -> Any:
    import pickle

    try:
        return pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))  # noqa: S301 - our own objects
    except Exception:  # not picklable: copy.deepcopy as moto does
        return copy.deepcopy(value, memo)


def install_fast_update_validation() -> None:
    from moto.dynamodb.parsing import validators

    validators.deepcopy = _clone  # type: ignore[assignment]


# -- DynamoDB requests read by json.loads ---------------------------------------------------------------
# moto (5.2) reads every request by walking the operation's input shape value by value (`parse_parameters`),
# about a tenth of a DynamoDB call. A data-plane request is JSON whose values need no conversion, except
# binary attributes (base64 on the wire, bytes in moto): a body that names none is loaded as it is; one
# that may (any `"B"` or `"BS"` in it) goes to moto's parser. tests/integration/test_emulator.py compares
# both on the product's own requests. Parsed update expressions are kept by their text (moto's validator
# works on a copy of the tree).
def plain_request(action: str, body: Any) -> dict[str, Any] | None:
    """A DynamoDB data-plane request's parameters by json.loads, or None when moto's parser must read it."""
    if not isinstance(body, bytes) or action not in DATA_PLANE["dynamodb"] or b'"B"' in body or b'"BS"' in body:
        return None
    # moto's parser leaves out a member sent as null: a body that may hold one (the bytes `null` anywhere, a
    # string's text included) goes to it; any other is parsed the same either way
    if b"null" in body:
        return None
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        return None
    # json.loads makes nothing but dicts with string keys, lists, strings, numbers and booleans (no null here):
    # plain JSON, with no walk over it to say so
    return parsed if isinstance(parsed, dict) else None


def _fast_parameters(original: Any) -> Any:
    def parse_parameters(self: Any, request: Any) -> None:
        parsed = plain_request(self._get_action(), request.data)
        if parsed is None:
            original(self, request)
        else:
            self.params = parsed

    parse_parameters._loyalty_fast = True  # type: ignore[attr-defined]
    parse_parameters._loyalty_original = original  # type: ignore[attr-defined]  # for the tests' comparison
    return parse_parameters


def install_fast_requests() -> None:
    import functools

    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
    from moto.dynamodb.responses import DynamoHandler

    if not getattr(DynamoHandler.parse_parameters, "_loyalty_fast", False):
        DynamoHandler.parse_parameters = _fast_parameters(DynamoHandler.parse_parameters)  # type: ignore[method-assign]
    if not hasattr(UpdateExpressionParser.make, "cache_info"):
        cached = functools.lru_cache(maxsize=1024)(UpdateExpressionParser.make)
        UpdateExpressionParser.make = staticmethod(cached)


# -- Condition expressions parsed once per call ---------------------------------------------------------
# moto parses a write's ConditionExpression (with its names and values) up to three times per item of a
# transaction: in the handler's checks, in the transaction's and in the put's. A parsed condition is a
# read-only tree of the expression with its values in it, so it is kept by (expression, names, values):
# the same condition with other values is parsed anew.
def _cached_conditions(original: Any) -> Any:
    from collections import OrderedDict

    kept: OrderedDict[tuple[str, str, str], Any] = OrderedDict()

    def get_filter_expression(expr: str | None, names: Any, values: Any) -> Any:
        if not expr:
            return original(expr, names, values)
        try:
            key = (expr, json.dumps(names, sort_keys=True), json.dumps(values, sort_keys=True))
        except (TypeError, ValueError):  # binary values: parsed as moto does
            return original(expr, names, values)
        found = kept.get(key)
        if found is None:
            found = kept[key] = original(expr, names, values)
            if len(kept) > 256:
                kept.popitem(last=False)
        else:
            kept.move_to_end(key)
        return found

    get_filter_expression._loyalty_fast = True  # type: ignore[attr-defined]
    return get_filter_expression


def install_cached_conditions() -> None:
    from moto.dynamodb import comparisons, models
    from moto.dynamodb.models import table

    if not getattr(models.get_filter_expression, "_loyalty_fast", False):
        cached = _cached_conditions(comparisons.get_filter_expression)
        models.get_filter_expression = cached
        table.get_filter_expression = cached


# -- Conditions checked by the handler parsed once per text -----------------------------------------------
# Before a write, moto's handler parses each ConditionExpression (of every item of a transaction) once more
# to list the names and values it uses, and throws the tree away: a transaction of a stream batch's 100
# applied-markers parsed `attribute_not_exists(PK)` 100 times. What the handler reads (the tree, the names and
# values found) is kept by (expression, names, values); each caller gets its own lists (callers extend them).
# An expression that does not parse is not kept: the caller's own parse() raises as before.
class _ParsedCondition:
    def __init__(self, tree: Any, names: list[str], values: list[str]) -> None:
        self._tree = tree
        self.expr_attr_names_found = list(names)
        self.expr_attr_values_found = list(values)

    def parse(self) -> Any:
        return self._tree


def _cached_condition_parsers(original: Any) -> Any:
    from collections import OrderedDict

    kept: OrderedDict[tuple[str, str, str], tuple[Any, list[str], list[str]]] = OrderedDict()

    def create_condition_expression_parser(expr: str | None, names: Any, values: Any) -> Any:
        try:
            key = (expr or "", json.dumps(names, sort_keys=True), json.dumps(values, sort_keys=True))
        except (TypeError, ValueError):  # binary values: parsed as moto does
            return original(expr, names, values)
        found = kept.get(key)
        if found is None:
            parser = original(expr, names, values)
            try:
                tree = parser.parse()
            except Exception:  # the caller parses it again and meets the error where moto raises it
                return original(expr, names, values)
            found = kept[key] = (tree, list(parser.expr_attr_names_found), list(parser.expr_attr_values_found))
            if len(kept) > 256:
                kept.popitem(last=False)
        else:
            kept.move_to_end(key)
        return _ParsedCondition(*found)

    create_condition_expression_parser._loyalty_fast = True  # type: ignore[attr-defined]
    create_condition_expression_parser.__wrapped__ = original  # type: ignore[attr-defined]  # for the tests
    return create_condition_expression_parser


def install_cached_condition_checks() -> None:
    from moto.dynamodb import responses

    if not getattr(responses.create_condition_expression_parser, "_loyalty_fast", False):
        responses.create_condition_expression_parser = _cached_condition_parsers(
            responses.create_condition_expression_parser
        )


# -- Queries that read the partition or the index they name, not the whole table ------------------------
# moto answers every Query by sorting every item of the table (`Table.all_items()`) and filtering it:
# a member's ledger page, an identifier lookup or a job's walk of an index shard costs time in
# proportion to the whole table, so the local stack, the simulator and the monthly jobs slow down as
# history grows. Here a Query is handed only its candidates: the partition's items for the table or a
# local index, the items whose index hash key has the asked value for a global one (kept per table and
# index, updated on every put, update and delete). moto's own query then runs unchanged over them (the
# same sort, key conditions, pagination, filter and projection), so what it answers is unchanged as
# long as the candidates include every match: the index is a superset (an entry whose item moved on
# is dropped by moto's own checks), rebuilt whole when the table's items are replaced (a restore).
class _Index:
    """Table items by the values of one global index's hash key attributes (items lacking one are not in
    the index: sparse, as DynamoDB's)."""

    def __init__(self, attributes: tuple[str, ...]) -> None:
        self.attributes = attributes
        self.buckets: dict[tuple[Any, ...], dict[tuple[Any, Any], Any]] = {}
        self.where: dict[tuple[Any, Any], tuple[Any, ...]] = {}

    def place(self, key: tuple[Any, Any], item: Any) -> None:
        old = self.where.pop(key, None)
        if old is not None:
            bucket = self.buckets.get(old)
            if bucket is not None:
                bucket.pop(key, None)
                if not bucket:
                    del self.buckets[old]
        if item is None:
            return
        values = tuple(item.attrs.get(name) for name in self.attributes)
        if any(value is None for value in values):
            return
        self.buckets.setdefault(values, {})[key] = item
        self.where[key] = values


def _global_hash_attributes(index: Any) -> tuple[str, ...]:
    return tuple(k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH")


def _indexes(table: Any) -> dict[str, _Index]:
    """The table's global indexes by name, built from its items when missing or stale."""
    state = table.__dict__.get("_loyalty_indexes")
    wanted = {index.name: _global_hash_attributes(index) for index in table.global_indexes or []}
    if (
        state is not None
        and state[0] is table.items
        and {name: index.attributes for name, index in state[1].items()} == wanted
    ):
        indexes: dict[str, _Index] = state[1]
        return indexes
    indexes = {name: _Index(attributes) for name, attributes in wanted.items()}
    for item in _every_item(table):
        for index in indexes.values():
            index.place((item.hash_key, item.range_key), item)
    table.__dict__["_loyalty_indexes"] = (table.items, indexes)
    return indexes


def _every_item(table: Any) -> list[Any]:
    if table.range_key_attr:
        return [item for partition in table.items.values() for item in partition.values()]
    return list(table.items.values())


def _reindex(table: Any, hash_value: Any, range_value: Any) -> None:
    """After a write to one key: its item (or its absence) in every global index already built."""
    state = table.__dict__.get("_loyalty_indexes")
    if state is None:
        return
    if state[0] is not table.items:  # the items were replaced: rebuilt at the next query
        del table.__dict__["_loyalty_indexes"]
        return
    partition = table.items.get(hash_value)
    item = partition.get(range_value) if table.range_key_attr and partition is not None else partition
    for index in state[1].values():
        index.place((hash_value, range_value), item)


def _sorted_like_all_items(items: list[Any]) -> list[Any]:
    return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)


def _query_candidates(table: Any, hash_key: Any, index_name: str | None, hash_conditions: Any) -> list[Any] | None:
    """The items a Query may answer (a superset of its matches), or None when moto must look at all."""
    if index_name is None or any(index.name == index_name for index in table.indexes or []):
        # the table or a local index: one partition (a local index shares the table's hash key)
        if index_name is not None:
            wanted = dict(hash_conditions or [])
            hash_key = wanted.get(table.hash_key_attr)
        if hash_key is None:
            return None
        partition = table.items.get(hash_key)
        if partition is None:
            return []
        return list(partition.values()) if table.range_key_attr else [partition]
    index = _indexes(table).get(index_name)
    wanted = dict(hash_conditions or [])
    if index is None or not index.attributes or any(name not in wanted for name in index.attributes):
        return None
    bucket = index.buckets.get(tuple(wanted[name] for name in index.attributes), {})
    return list(bucket.values())


_QUERY_KEYWORDS = frozenset(  # Table.query's named parameters: any other keyword is a legacy QueryFilter
    {
        "range_comparison",
        "range_objs",
        "limit",
        "exclusive_start_key",
        "scan_index_forward",
        "projection_expressions",
        "index_name",
        "consistent_read",
        "filter_expression",
        "hash_key_conditions",
        "range_key_conditions",
    }
)


def _within_range_condition(
    table: Any, candidates: list[Any], index_name: str | None, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> list[Any]:
    """A global index's candidates that meet the query's range key condition, by moto's own test of it (the one
    its query applies to each candidate after sorting them all): a bucket of a busy index (the webhooks' due
    schedule, each shard every second, under a backlog of thousands) is no longer sorted whole for the few that
    are due. Left as they are when the query is not of that plain shape (a multi-attribute range key, a legacy
    QueryFilter)."""
    from moto.dynamodb.comparisons import get_comparison_func

    range_comparison = args[0] if args else kwargs.get("range_comparison")
    range_objs = args[1] if len(args) > 1 else kwargs.get("range_objs")
    conditions = kwargs.get("range_key_conditions")
    if (
        index_name is None
        or not range_comparison
        or not range_objs
        or (conditions and len(conditions) > 1)
        or any(k not in _QUERY_KEYWORDS for k in kwargs)
    ):
        return candidates
    index = next((i for i in table.global_indexes or [] if i.name == index_name), None)
    ranges = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"] if index is not None else []
    if len(ranges) != 1:
        return candidates
    attribute = conditions[-1][0] if conditions else ranges[0]
    compare = get_comparison_func(range_comparison)
    if compare is None:
        return candidates
    values = [obj.cast_value for obj in range_objs]
    kept: list[Any] = []
    kept_values: list[Any] = []
    others: list[tuple[Any, Any]] = []
    for item in candidates:
        value = item.attrs.get(attribute)
        if not value:  # moto leaves out a global index's item that lacks its range key
            continue
        cast = value.cast_value
        if compare(cast, *values):
            kept.append(item)
            kept_values.append(cast)
        else:
            others.append((cast, item))
    if not kept or not others:
        return kept
    # moto answers a LastEvaluatedKey when a full page is followed by any item in its sorted list, one that
    # fails the condition included: one such item, after the matches in the query's direction, is kept
    forward = args[4] if len(args) > 4 else kwargs.get("scan_index_forward", True)
    try:
        if forward is False:
            lowest = min(kept_values)
            after = next((item for cast, item in others if cast < lowest), None)
        else:
            highest = max(kept_values)
            after = next((item for cast, item in others if cast > highest), None)
    except TypeError:  # values of different types under one attribute: moto's own sort decides
        return candidates
    return kept if after is None else [*kept, after]


def install_indexed_queries() -> None:
    """Query reads its partition or its index's bucket; writes keep the global indexes' buckets."""
    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    if getattr(Table.query, "_loyalty_fast", False):
        return
    query, put_item, delete_item = Table.query, Table.put_item, Table.delete_item
    update_item = models.DynamoDBBackend.update_item

    def indexed_query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        candidates = _query_candidates(self, hash_key, index_name, kwargs.get("hash_key_conditions"))
        if candidates is None:
            return query(self, hash_key, *args, **kwargs)
        candidates = _within_range_condition(self, candidates, index_name, args, kwargs)
        ordered = _sorted_like_all_items(candidates)
        self.all_items = lambda: list(ordered)  # moto's query reads its candidates here
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    def indexed_put_item(self: Any, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return put_item(self, item_attrs, *args, **kwargs)
        finally:
            if "_loyalty_indexes" in self.__dict__ and self.hash_key_attr in item_attrs:
                range_value = None
                if self.range_key_attr is not None and self.range_key_attr in item_attrs:
                    range_value = DynamoType(item_attrs[self.range_key_attr])
                _reindex(self, DynamoType(item_attrs[self.hash_key_attr]), range_value)

    def indexed_delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
        try:
            return delete_item(self, hash_key, range_key)
        finally:
            _reindex(self, hash_key, range_key)

    def indexed_update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return update_item(self, table_name, key, *args, **kwargs)
        finally:  # moto updates the item in place, even when it fails half way
            table = self.tables.get(table_name)
            if table is not None and "_loyalty_indexes" in table.__dict__:
                try:
                    hash_value, range_value = self.get_keys_value(table, key)
                except Exception:  # a malformed key: moto refused it, nothing was written
                    hash_value = None
                if hash_value is not None:
                    _reindex(table, hash_value, range_value)

    patched: Any
    for patched in (indexed_query, indexed_put_item, indexed_delete_item, indexed_update_item):
        patched._loyalty_fast = True
    indexed_query._loyalty_original = query  # type: ignore[attr-defined]  # for the tests' comparison
    Table.query = indexed_query  # type: ignore[method-assign]
    Table.put_item = indexed_put_item  # type: ignore[method-assign]
    Table.delete_item = indexed_delete_item  # type: ignore[method-assign]
    models.DynamoDBBackend.update_item = indexed_update_item  # type: ignore[method-assign]


def install_one_model_loader() -> None:
    """Every botocore session of the process reads the service models through one loader.

    moto makes sessions of its own (three at the import of its EC2 models, which its SSM needs, each
    parsing EC2's 4 MB model to list its regions; one per service for its backends' regions), and its
    mock resets boto3's default session, so each test's clients came from a new session: every one
    parsed the services' JSON models again (0.4 s of the local stack's 2 s start; a third of the tests'
    `aws` fixture). The models are the installed botocore's files, read-only; a session keeps its
    loader's answers the same way."""
    import functools

    from botocore import session

    if not hasattr(session.create_loader, "cache_info"):
        session.create_loader = functools.lru_cache(maxsize=4)(session.create_loader)


# -- SQS: a receive that costs what it hands out ---------------------------------------------------------
# moto keeps a queue as a list and answers every ReceiveMessage by walking all of it (`Queue.messages`: is each
# message visible? delayed?), every DeleteMessage and ChangeMessageVisibility by walking it for the receipt
# handle: a queue with a backlog (the webhooks' delivery queue under a burst) cost the backlog on every call, its
# drain the backlog squared. Here the list keeps an index beside it (`_Receivable`): the messages receivable now in
# the list's order (a heap on their place in it), the others in a heap on the time they become receivable (the
# later of their visibility and their delay), each entry dropped lazily when its message was deleted, moved or
# changed since; and the receipt handles a message was given. A receive of a standard queue pops what it hands
# out; a FIFO queue's receive is moto's own (its groups), over the same list.
class _Receivable:
    """A queue's messages by when each can be received: what moto's `Queue.messages` answers, in its order,
    without looking at the rest. Kept by the queue's list (`_Backlog`) as messages come and go, and told by the
    receive and ChangeMessageVisibility when a message's visibility changed (`changed`)."""

    def __init__(self) -> None:
        self._places = itertools.count()
        self.place: dict[int, int] = {}  # id(message) -> its place in the list's order, for each message in it
        self.stamp: dict[int, int] = {}  # id(message) -> the stamp of its one current entry
        self.ready: list[tuple[int, int, Any]] = []  # (place, stamp, message): receivable when last looked
        self.waiting: list[tuple[float, int, int, Any]] = []  # (receivable from, place, stamp, message)
        self.handles: dict[str, Any] = {}  # every receipt handle given to a message still in the list
        self._stamps = itertools.count()
        self.examined = 0  # entries looked at (tests count them: what a receive costs)

    def add(self, message: Any) -> None:
        self.place[id(message)] = next(self._places)
        for handle in message.all_receipt_handles:
            if handle is not None:
                self.handles[handle] = message
        self.changed(message)

    def discard(self, message: Any) -> None:
        if self.place.pop(id(message), None) is not None:
            self.stamp.pop(id(message), None)
            for handle in message.all_receipt_handles:
                if self.handles.get(handle) is message:
                    del self.handles[handle]

    def changed(self, message: Any) -> None:
        """The message's visibility or delay may have changed: its one current entry is a new one."""
        place = self.place.get(id(message))
        if place is None:
            return
        stamp = self.stamp[id(message)] = next(self._stamps)
        if message.receipt_handle is not None:
            self.handles[message.receipt_handle] = message
        receivable_from = max(message.visible_at, message.delayed_until)
        if receivable_from == 0.0:  # never delayed nor made invisible (sent, or received with no timeout)
            heapq.heappush(self.ready, (place, stamp, message))
        else:
            heapq.heappush(self.waiting, (receivable_from, place, stamp, message))

    def find(self, receipt_handle: str) -> Any:
        message = self.handles.get(receipt_handle)
        return message if message is not None and id(message) in self.place else None

    def _current(self, place: int, stamp: int, message: Any) -> bool:
        return self.place.get(id(message)) == place and self.stamp.get(id(message)) == stamp

    def _wake(self, now: float) -> None:
        """Move every entry receivable at `now` (visible: now > visible_at; not delayed: now >= delayed_until)
        from `waiting` to `ready`."""
        held = []
        while self.waiting and self.waiting[0][0] <= now:
            entry = heapq.heappop(self.waiting)
            _, place, stamp, message = entry
            self.examined += 1
            if not self._current(place, stamp, message):
                continue
            if now > message.visible_at and now >= message.delayed_until:
                heapq.heappush(self.ready, (place, stamp, message))
            else:  # visible only strictly after visible_at: not yet, at exactly that instant
                held.append(entry)
        for entry in held:
            heapq.heappush(self.waiting, entry)

    def receivable(self, now: float) -> Iterator[Any]:
        """The messages receivable at `now`, in the list's order, each taken out of the index as it is handed
        out (the caller tells `changed` what it did with it, once it has done it)."""
        self._wake(now)
        while self.ready:
            place, stamp, message = heapq.heappop(self.ready)
            self.examined += 1
            if self._current(place, stamp, message):
                self.stamp[id(message)] = -1  # in the caller's hands: no entry until `changed`
                yield message

    def any_receivable(self, now: float) -> bool:
        self._wake(now)
        while self.ready and not self._current(*self.ready[0]):
            heapq.heappop(self.ready)
        return bool(self.ready)


class _Backlog(list):
    """A queue's `_messages`: moto's list, in its order, with its index (`receivable`) kept by the list's own
    changes (moto appends, removes, and replaces the list on a purge)."""

    def __init__(self, messages: Any = ()) -> None:
        super().__init__(messages)
        self.receivable = _Receivable()
        for message in self:
            self.receivable.add(message)

    def append(self, message: Any) -> None:
        super().append(message)
        self.receivable.add(message)

    def remove(self, message: Any) -> None:
        super().remove(message)  # by identity: moto's messages do not define equality
        self.receivable.discard(message)

    def _refused(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("a queue's messages change by append and remove (moto_fast._Backlog)")

    extend = insert = pop = clear = sort = reverse = __iadd__ = __setitem__ = _refused  # type: ignore[assignment]


def _backlog(queue: Any) -> _Backlog:
    backlog = queue.__dict__.get("_loyalty_messages")
    if backlog is None:  # a queue made before the patch: its list, indexed now
        backlog = queue.__dict__["_loyalty_messages"] = _Backlog(queue.__dict__.pop("_messages", []))
    return backlog


def _set_backlog(queue: Any, messages: Any) -> None:
    queue.__dict__["_loyalty_messages"] = messages if isinstance(messages, _Backlog) else _Backlog(messages)


def install_fast_sqs() -> None:
    """ReceiveMessage, DeleteMessage and ChangeMessageVisibility of moto's SQS at the cost of the messages they
    hand out or name (`_Receivable`), with what they answer unchanged: moto's order (the queue's), its visibility
    and delay (receivable when now > visible_at and now >= delayed_until), its receive count and redrive to the
    dead-letter queue once a message was received maxReceiveCount times, its retention check, its pending set.
    And the retention read from the queue, not from every attribute of it (the counts, each a pass over the
    queue); the counts computed when read (`_QueueAttributes`)."""
    from moto.sqs import models as sqs_models
    from moto.sqs.exceptions import InvalidParameterValue, ReceiptHandleIsInvalid
    from moto.sqs.models import Queue, SQSBackend

    _fast_clock(sqs_models)
    if getattr(SQSBackend.receive_message, "_loyalty_fast", False):
        return
    receive_message = SQSBackend.receive_message
    change_message_visibility = SQSBackend.change_message_visibility
    delete_message = Queue.delete_message
    wait_for_messages = Queue.wait_for_messages

    def within_retention(self: Any, queue_name: str, message: Any) -> bool:
        queue = self.get_queue(queue_name)
        return bool(int(queue.message_retention_period) + message.sent_timestamp / 1000 > sqs_models.unix_time())

    def find(queue: Any, receipt_handle: str) -> Any:
        """The message that was given this receipt handle, or None: by the index, or (a handle moto's own FIFO
        receive gave) by a walk as moto's."""
        message = _backlog(queue).receivable.find(receipt_handle)
        if message is None:
            message = next((m for m in queue._messages if m.had_receipt_handle(receipt_handle)), None)
        return message

    def fast_delete_message(self: Any, receipt_handle: str) -> None:
        if receipt_handle in self.deleted_messages:
            return  # deleted before: deleting again is not an error
        message = find(self, receipt_handle)
        if message is None:
            raise ReceiptHandleIsInvalid()
        self.pending_messages.discard(message)
        self.deleted_messages.update(message.all_receipt_handles)
        self._messages.remove(message)

    def fast_change_message_visibility(
        self: Any, queue_name: str, receipt_handle: str, visibility_timeout: int
    ) -> None:
        queue = self.get_queue(queue_name)
        message = find(queue, receipt_handle)
        if message is None:
            raise ReceiptHandleIsInvalid
        given_visibility_timeout = sqs_models.unix_time_millis() + int(visibility_timeout) * 1000
        if given_visibility_timeout - message.sent_timestamp > 43200 * 1000:
            raise InvalidParameterValue(
                f"Value {visibility_timeout} for parameter VisibilityTimeout is invalid. Reason: Total "
                "VisibilityTimeout for the message is beyond the limit [43200 seconds]"
            )
        message.change_visibility(visibility_timeout)
        if message.visible and message in queue.pending_messages:
            queue.pending_messages.remove(message)
        _backlog(queue).receivable.changed(message)

    def fast_receive_message(
        self: Any,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> list[Any]:
        queue = self.get_queue(queue_name)
        if queue.fifo_queue:  # message groups: moto's own walk
            return receive_message(
                self, queue_name, count, wait_seconds_timeout, visibility_timeout, message_attribute_names
            )
        names = message_attribute_names or []
        index = _backlog(queue).receivable
        result: list[Any] = []
        previous_result_count = 0
        polling_end = sqs_models.unix_time() + wait_seconds_timeout
        while True:
            if result or (wait_seconds_timeout and sqs_models.unix_time() > polling_end):
                break
            messages_to_dlq: list[Any] = []
            handed: list[Any] = []
            try:
                for message in index.receivable(sqs_models.unix_time_millis()):
                    handed.append(message)
                    if message in queue.pending_messages:  # visible again: the consumer timed out
                        queue.pending_messages.remove(message)
                    if (
                        queue.dead_letter_queue is not None
                        and queue.redrive_policy
                        and message.approximate_receive_count >= queue.redrive_policy["maxReceiveCount"]
                    ):
                        messages_to_dlq.append(message)
                        continue
                    queue.pending_messages.add(message)
                    message.mark_received(visibility_timeout=visibility_timeout)
                    message_copy = copy.deepcopy(message)  # the answer's copy, its attributes filtered
                    sqs_models._filter_message_attributes(message_copy, names)
                    if not self.is_message_valid_based_on_retention_period(queue_name, message):
                        break
                    result.append(message_copy)
                    if len(result) >= count:
                        break
            finally:
                for message in handed:  # received (a new visibility and receipt handle) or left as it was
                    index.changed(message)
            for message in messages_to_dlq:
                queue._messages.remove(message)
                queue.dead_letter_queue.add_message(message)
            if previous_result_count == len(result):
                if wait_seconds_timeout == 0:
                    break
                queue.wait_for_messages(1)
                continue
            previous_result_count = len(result)
        return result

    def fast_wait_for_messages(self: Any, timeout: int) -> None:
        if self.fifo_queue:
            return wait_for_messages(self, timeout)
        index = _backlog(self).receivable
        with self._messages_lock:
            self._messages_lock.wait_for(lambda: index.any_receivable(sqs_models.unix_time_millis()), timeout=timeout)
        return None

    patched: Any
    for patched, original in (
        (fast_receive_message, receive_message),
        (fast_change_message_visibility, change_message_visibility),
        (fast_delete_message, delete_message),
        (fast_wait_for_messages, wait_for_messages),
    ):
        patched._loyalty_fast = True
        patched._loyalty_original = original  # for the tests' comparison
    Queue._messages = property(_backlog, _set_backlog)  # type: ignore[assignment]
    SQSBackend.is_message_valid_based_on_retention_period = within_retention  # type: ignore[method-assign]
    SQSBackend.receive_message = fast_receive_message  # type: ignore[method-assign]
    SQSBackend.change_message_visibility = fast_change_message_visibility  # type: ignore[method-assign]
    Queue.delete_message = fast_delete_message  # type: ignore[method-assign]
    Queue.wait_for_messages = fast_wait_for_messages  # type: ignore[method-assign]
    Queue.attributes = property(_queue_attributes)  # type: ignore[assignment,method-assign]


# A queue's three counts, each a pass over its messages: computed when asked for, not whenever an attribute is
_COUNTS = {
    "ApproximateNumberOfMessages": "approximate_number_of_messages",
    "ApproximateNumberOfMessagesDelayed": "approximate_number_of_messages_delayed",
    "ApproximateNumberOfMessagesNotVisible": "approximate_number_of_messages_not_visible",
}


class _QueueAttributes(Mapping[str, Any]):
    """moto's `Queue.attributes`, the same keys in the same order with the same values, but the counts computed
    only when read (SendMessage reads one attribute of it, `ContentBasedDeduplication`, for every message)."""

    def __init__(self, queue: Any, plain: dict[str, Any], order: list[str]) -> None:
        self._queue = queue
        self._plain = plain
        self._order = order

    def __getitem__(self, name: str) -> Any:
        if name in _COUNTS:
            return getattr(self._queue, _COUNTS[name])
        return self._plain[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._order)

    def __len__(self) -> int:
        return len(self._order)


def _queue_attributes(queue: Any) -> Mapping[str, Any]:
    from moto.core.utils import camelcase_to_underscores

    names = list(queue.BASE_ATTRIBUTES)
    if queue.fifo_queue:
        names += queue.FIFO_ATTRIBUTES
    if queue.kms_master_key_id:
        names += queue.KMS_ATTRIBUTES
    plain: dict[str, Any] = {}
    for name in names:
        if name not in _COUNTS:
            plain[name] = getattr(queue, camelcase_to_underscores(name))
    if queue.policy:
        plain["Policy"] = queue.policy
    if queue.redrive_policy:
        plain["RedrivePolicy"] = json.dumps(queue.redrive_policy)
    for name, value in plain.items():
        if isinstance(value, bool):
            plain[name] = str(value).lower()
    order = list(dict.fromkeys([*names, *plain]))
    return _QueueAttributes(queue, plain, order)


def _fast_clock(module: Any) -> None:
    """moto's `unix_time()` (now as epoch seconds) goes through datetimes, and SQS calls it twice for each message of
    a queue on every receive (is it visible? delayed?): the same number from `time.time()`."""
    import time

    if getattr(module, "_loyalty_fast_clock", False):
        return
    module._loyalty_fast_clock = True
    slow_seconds, slow_millis = module.unix_time, module.unix_time_millis

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else float(slow_seconds(dt))

    def unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else float(slow_millis(dt))

    module.unix_time, module.unix_time_millis = unix_time, unix_time_millis


def install_all() -> None:
    """Every patch of this module, for the rest of the process (the local stack; the tests' moto)."""
    install_one_model_loader()
    install_fast_sqs()
    install()
    install_fast_answers()
    install_cached_jsonpath()
    install_linear_items()
    install_fast_update_validation()
    install_indexed_queries()
    install_fast_requests()
    install_cached_conditions()
    install_cached_condition_checks()
