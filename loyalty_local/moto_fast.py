"""moto made to cost what the work costs, with what it checks and answers unchanged (`install_all()`).

- TransactWriteItems made O(items in the transaction) instead of O(items in the table) (below);
- DynamoDB's data-plane answers dumped as JSON instead of walked shape by shape (`install_fast_answers`);
- an item measured once against the 400 KB limit, not once per attribute (`install_linear_items`);
- jsonpath parsed once for EventBridge input transformers (`install_cached_jsonpath`);
- update expressions copied by pickle (`install_fast_update_validation`).

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
import json
import types
from collections.abc import Iterator
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
            saved.append((name, key, copy.deepcopy(current.to_json()["Attributes"]) if current else None))
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


def _on_the_wire(value: Any) -> Any:
    """A timestamp as moto's JSON serialiser writes it (epoch seconds, truncated to the millisecond);
    binary as base64, as DynamoDB's JSON carries it."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if not isinstance(value, datetime):
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")
    seconds = calendar.timegm(value.utctimetuple())
    return seconds + (value.microsecond // 1000) / 1000.0 if value.microsecond else seconds


def dump_answer(result: dict[str, Any]) -> str:
    return json.dumps(result, default=_on_the_wire)


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


def install_all() -> None:
    """Every patch of this module, for the rest of the process (the local stack; the tests' moto)."""
    install()
    install_fast_answers()
    install_cached_jsonpath()
    install_linear_items()
    install_fast_update_validation()
