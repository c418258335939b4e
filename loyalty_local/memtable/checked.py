"""Every DynamoDB call made twice, to the in-memory tables and to moto, the answers compared
(LOYALTY_ENGINE_STORE=check).

The replay engine's proof that `MemoryDynamo` answers as the local stack's moto does, on the product's own
calls: the same parameters go to both (the in-memory tables first), and the call fails with an AssertionError
naming both answers when they differ: the items (as the store reads them: numbers as Decimal, a batch's items in
any order), the counts, whether a page goes on and where, and a refusal's code, its cancellation reasons and
the old item a failed condition returns. The product then carries on with moto's answer.
"""

from __future__ import annotations

from typing import Any

from loyalty_local.memtable.tables import MemoryDynamo

_OPERATIONS = {
    "get_item",
    "put_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "batch_get_item",
    "batch_write_item",
    "transact_write_items",
    "transact_get_items",
}


def _plain(value: Any) -> Any:
    from boto3.dynamodb.types import TypeDeserializer

    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in ("S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS", "L", "M"):
            return _plain_value(TypeDeserializer().deserialize(value))  # type: ignore[arg-type]
        return {k: _plain(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _plain_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_value(v) for v in value]
    if isinstance(value, set):
        return sorted(value, key=repr)
    if isinstance(value, bytes | bytearray) or (hasattr(value, "value") and isinstance(value.value, bytes)):
        return bytes(getattr(value, "value", value))
    return value


def _answer(operation: str, answer: dict[str, Any]) -> Any:
    plain = _plain(answer)
    if operation == "batch_get_item":
        plain["Responses"] = {t: sorted(items, key=repr) for t, items in plain.get("Responses", {}).items()}
        plain["UnprocessedKeys"] = plain.get("UnprocessedKeys") or {}
    if operation == "batch_write_item":
        plain["UnprocessedItems"] = plain.get("UnprocessedItems") or {}
    for metadata in ("ConsumedCapacity", "ItemCollectionMetrics"):  # capacity figures: neither models them
        plain.pop(metadata, None)
    return plain


def _refusal(exc: Exception) -> Any:
    response = getattr(exc, "response", None)
    if response is None:
        return ("raised", type(exc).__name__)
    reasons = [
        {"Code": r.get("Code"), "Item": _plain(r.get("Item"))} for r in response.get("CancellationReasons") or []
    ]
    return (response.get("Error", {}).get("Code"), reasons, _plain(response.get("Item")))


class CheckedDynamo:
    def __init__(self, memory: MemoryDynamo, real: Any) -> None:
        self.memory = memory
        self.real = real
        self.meta = memory.meta
        self.exceptions = real.exceptions
        self.compared = 0

    def __getattr__(self, name: str) -> Any:
        if name not in _OPERATIONS:
            return getattr(self.real, name)

        def both(**params: Any) -> Any:
            import copy

            mine: Any
            try:
                mine = ("answer", _answer(name, getattr(self.memory, name)(**copy.deepcopy(params))))
            except Exception as exc:
                mine = ("refused", _refusal(exc))
            try:
                theirs_answer = getattr(self.real, name)(**params)
                theirs: Any = ("answer", _answer(name, theirs_answer))
                error: Exception | None = None
            except Exception as exc:
                theirs, error = ("refused", _refusal(exc)), exc
            if mine != theirs:
                raise AssertionError(f"{name}({params}): the in-memory table answered {mine}, moto {theirs}")
            self.compared += 1
            if error is not None:
                raise error
            return theirs_answer

        return both
