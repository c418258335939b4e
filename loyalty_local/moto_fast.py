"""moto's TransactWriteItems made O(items in the transaction) instead of O(items in the table).

moto (5.x) backs up every table a transaction names with `copy.deepcopy(table)` before it starts, to
roll back on failure: each transaction costs time in proportion to the whole table (seconds at a few
thousand items), so the local stack slows down as a session writes. With this installed, the backup
is of the items the transaction touches, and a failed transaction is rolled back item by item, its
stream records included (moto's own rollback restores the whole table, stream and all), so the table
stream shows only committed writes. What moto checks and writes is unchanged.

Callers must serialise calls into moto (the local stack's emulator does; the bench is single-threaded).
"""

from __future__ import annotations

import copy
import types
from collections.abc import Iterator
from contextlib import contextmanager
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
    models.DynamoDBBackend.transact_write_items = _patched(original)  # type: ignore[method-assign]
    try:
        yield
    finally:
        models.DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]
