"""DynamoDB's capacity rules, computed from item sizes, and on-demand prices.

moto accepts `ReturnConsumedCapacity` but its figures are constants, not sizes (a 5 KB PutItem is
reported as 1.0 unit, a GetItem as 0.5 whatever it reads, a TransactWriteItems as nothing at all), so
the bench records what moto reports next to what DynamoDB's documented rules give for the items that
were actually read and written, and prices the computed figures.

Rules (Amazon DynamoDB Developer Guide, "Read/write capacity mode" and "Item sizes"):
- item size: attribute names (UTF-8) + values; a number is 1 byte + 1 per 2 significant digits; a
  boolean or null 1 byte; a list or map 3 bytes + 1 per element + its elements (map keys count).
- write: 1 unit per started KB of the larger of the old and new item (a delete: the old item);
  every item of a TransactWriteItems costs double, a ConditionCheck included (taken as a transactional
  write of the checked item's size: an assumption, AWS does not spell it out).
- a global secondary index costs writes of its own, at the standard rate: a put when an item enters the
  index, a delete when it leaves, both when an index key changes, one when projected values change;
  each of the projected entry's size.
- read: 1 unit per started 4 KB strongly consistent, half that eventually consistent, double in a
  transaction; a missing item still costs the minimum. GetItem and BatchGetItem round each item, Query
  and Scan round the total of the items evaluated (index entries hold only the projected attributes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# us-east-1, on-demand, Standard table class; the prices in force since the cut of 2024-11-01.
PRICE_REGION = "us-east-1"
PRICES_AS_OF = "2024-11-01"
USD_PER_MILLION_WRITE_UNITS = Decimal("0.625")
USD_PER_MILLION_READ_UNITS = Decimal("0.125")

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096


def attribute_value_size(value: dict[str, Any]) -> int:
    """Size in bytes of one low-level AttributeValue ({"S": "x"}, {"N": "1"}, {"M": {...}}...)."""
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return number_size(data)
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in data)
    if kind == "NS":
        return sum(number_size(n) for n in data)
    if kind == "BS":
        return sum(len(b) for b in data)
    if kind == "L":
        return 3 + sum(1 + attribute_value_size(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + attribute_value_size(v) for k, v in data.items())
    raise ValueError(f"unknown attribute type {kind!r}")


def number_size(text: str) -> int:
    digits = text.lstrip("+-").replace(".", "").split("e")[0].split("E")[0].strip("0") or "0"
    return 1 + math.ceil(len(digits) / 2)


def item_size(item: dict[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + attribute_value_size(value) for name, value in item.items())


def write_units(size: int, *, transactional: bool = False) -> int:
    units = max(1, math.ceil(size / WRITE_UNIT_BYTES))
    return units * 2 if transactional else units


def read_units(size: int, *, consistent: bool, transactional: bool = False) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    if transactional:
        return float(units * 2)
    return float(units) if consistent else units / 2


@dataclass(frozen=True)
class Index:
    name: str
    keys: tuple[str, ...]
    projection: str  # ALL | KEYS_ONLY | INCLUDE
    include: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableShape:
    name: str
    keys: tuple[str, ...]
    indexes: dict[str, Index] = field(default_factory=dict)

    def projected(self, index: Index, item: dict[str, Any]) -> dict[str, Any]:
        if index.projection == "ALL":
            return item
        wanted = set(self.keys) | set(index.keys) | set(index.include)
        return {k: v for k, v in item.items() if k in wanted}

    def index_write_units(self, old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, int]:
        """Write units each global secondary index spends when a table item goes from `old` to `new`."""
        spent: dict[str, int] = {}
        for index in self.indexes.values():
            was = bool(old) and all(k in old for k in index.keys)  # type: ignore[operator]
            now = bool(new) and all(k in new for k in index.keys)  # type: ignore[operator]
            units = 0
            if was and now:
                assert old is not None and new is not None
                before, after = self.projected(index, old), self.projected(index, new)
                if any(old[k] != new[k] for k in index.keys):
                    units = write_units(item_size(before)) + write_units(item_size(after))
                elif before != after:
                    units = write_units(item_size(after))
            elif now:
                assert new is not None
                units = write_units(item_size(self.projected(index, new)))
            elif was:
                assert old is not None
                units = write_units(item_size(self.projected(index, old)))
            if units:
                spent[index.name] = units
        return spent


def table_shape(name: str, definition: dict[str, Any]) -> TableShape:
    """The shape of a table from its CloudFormation properties (template.yaml)."""
    indexes = {}
    for gsi in definition.get("GlobalSecondaryIndexes") or []:
        projection = gsi.get("Projection") or {}
        indexes[gsi["IndexName"]] = Index(
            name=gsi["IndexName"],
            keys=tuple(k["AttributeName"] for k in gsi["KeySchema"]),
            projection=projection.get("ProjectionType", "ALL"),
            include=tuple(projection.get("NonKeyAttributes") or ()),
        )
    return TableShape(name, tuple(k["AttributeName"] for k in definition["KeySchema"]), indexes)


def usd_per_million(write: float, read: float) -> Decimal:
    """On-demand cost of a million operations that each spend `write` and `read` request units."""
    cost = Decimal(str(write)) * USD_PER_MILLION_WRITE_UNITS + Decimal(str(read)) * USD_PER_MILLION_READ_UNITS
    return cost.quantize(Decimal("0.001"))
