"""The store's item codec (`loyalty.store.core.to_item`, `from_item`) answers as boto3's TypeSerializer and
TypeDeserializer do, value for value and refusal for refusal: it does the common types itself and hands the
rest to boto3, so a difference would change what the table holds."""

from __future__ import annotations

import random
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pytest
from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from loyalty.store import core


class Tier(StrEnum):
    GOLD = "gold"


VALUES: list[Any] = [
    "",
    "text",
    "ünïcode ✓",
    0,
    -7,
    12345678901234567890123456789012345678,
    Decimal("1.50"),
    Decimal("-0.01"),
    Decimal("1E+3"),
    True,
    False,
    None,
    {},
    [],
    {"a": 1, "b": [Decimal("2.5"), "x", None, {"c": True}], "d": {"e": []}},
    [[1, 2], {"k": "v"}, False],
    {"x", "y"},
    {1, Decimal("2")},
    b"\x00bytes",
    bytearray(b"ba"),
    Binary(b"bin"),
    {b"a", b"b"},
    (1, "tuple"),
    Tier.GOLD,
]
REFUSED: list[Any] = [1.5, Decimal("Infinity"), Decimal("NaN"), object(), {"nested": 2.0}, [float("nan")]]


def _ids(values: list[Any]) -> list[str]:
    """Stable test ids (a set's repr changes with the process's hash seed, and xdist's workers must agree)."""
    return [f"{i}-{type(v).__name__}" for i, v in enumerate(values)]


def _boto3(value: Any) -> Any:
    return TypeSerializer().serialize(value)


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["s", "n", "d", "b", "none"] + (["m", "l"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "s":
        return "".join(rng.choice("ab#é0 ") for _ in range(rng.randint(0, 6)))
    if kind == "n":
        return rng.randint(-(10**12), 10**12)
    if kind == "d":
        return Decimal(rng.randint(-(10**6), 10**6)) / Decimal(10 ** rng.randint(0, 4))
    if kind == "b":
        return rng.random() < 0.5
    if kind == "none":
        return None
    if kind == "m":
        return {f"k{i}": _random_value(rng, depth + 1) for i in range(rng.randint(0, 4))}
    return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]


@pytest.mark.parametrize("value", VALUES, ids=_ids(VALUES))
def test_a_value_is_written_as_boto3_writes_it(value: Any) -> None:
    written = core.serialize(value)
    assert written == _boto3(value)
    assert type(next(iter(written.values()))) is type(next(iter(_boto3(value).values())))


@pytest.mark.parametrize("value", REFUSED, ids=_ids(REFUSED))
def test_a_value_boto3_refuses_is_refused(value: Any) -> None:
    with pytest.raises(TypeError) as boto3_refusal:
        _boto3(value)
    with pytest.raises(TypeError) as ours:
        core.serialize(value)
    assert str(ours.value) == str(boto3_refusal.value)


@pytest.mark.parametrize("value", VALUES, ids=_ids(VALUES))
def test_a_value_is_read_as_boto3_reads_it(value: Any) -> None:
    stored = _boto3(value)
    read = core.deserialize(stored)
    expected = TypeDeserializer().deserialize(stored)
    assert read == expected and type(read) is type(expected)


def test_random_items_round_trip_as_boto3_does() -> None:
    rng = random.Random(20261207)
    for _ in range(500):
        data = {f"a{i}": _random_value(rng) for i in range(rng.randint(1, 8))}
        item = core.to_item(data)
        assert item == {k: _boto3(v) for k, v in data.items() if v is not None}
        assert core.from_item(item) == {k: TypeDeserializer().deserialize(v) for k, v in item.items()}
    for bad in ({}, {"X": 1}):
        with pytest.raises(TypeError):
            TypeDeserializer().deserialize(bad)
        with pytest.raises(TypeError):
            core.deserialize(bad)
