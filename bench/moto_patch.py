"""moto's TransactWriteItems made O(items in the transaction) instead of O(items in the table).

moto (5.x) backs up every table a transaction names with `copy.deepcopy(table)` before it starts, to
roll back on failure: each transaction costs time proportional to the whole table (seconds at a few
thousand items on a loaded machine), which makes a 10,000-member job run impossible and makes every
handler's latency grow with whatever the run has written so far. While this is installed, the backup is
of the items the transaction touches only, restored the same way on failure; what moto checks and
writes is unchanged. Single-threaded use only (the bench's).
"""

from __future__ import annotations

import copy
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def fast_transactions() -> Iterator[None]:
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    original = models.DynamoDBBackend.transact_write_items

    def no_table_copies(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    shim = types.SimpleNamespace(deepcopy=no_table_copies, copy=copy.copy)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
        for action in transact_items:
            ((_, op),) = action.items()
            name = op.get("TableName")
            if not name or name not in self.tables:
                continue
            table = self.tables[name]
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
            raise
        finally:
            models.copy = copy

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    try:
        yield
    finally:
        models.DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]
