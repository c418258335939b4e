"""The recorded history of a table, read for a replay (`python -m loyalty_local.whatif`): read-only.

What a replay needs is what the product already keeps: the members (`MEMBER#`), the ledger (`ENTRY#`,
each entry with its request's fields), the subscriptions (`SUBSCRIPTION#`), the tier overrides
(`TIERAUDIT#`), the holds (`HOLD#`: how each ended) and the monthly jobs' runs (`JOBRUNS`). Only Scan
and DescribeTable are called: a replay never writes to the table it reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from loyalty.store.core import client, table_name

HISTORY_PREFIXES = ("MEMBER#", "ENTRY#", "SUBSCRIPTION#", "TIERAUDIT#", "STATUSAUDIT#", "HOLD#", "JOBRUNS")


def approximate_items() -> int:
    """DynamoDB's item count of the table (refreshed about every six hours): the progress bar's total."""
    return int(client().describe_table(TableName=table_name())["Table"].get("ItemCount") or 0)


def scan_raw(
    prefixes: tuple[str, ...] = HISTORY_PREFIXES, *, on_page: Callable[[int, int], None] | None = None
) -> Iterator[dict[str, Any]]:
    """Every item whose PK starts with one of `prefixes`, as DynamoDB types it, a page at a time.

    `on_page(scanned, kept)` is told each page's counts (a progress bar)."""
    names = {f":p{i}": {"S": p} for i, p in enumerate(prefixes)}
    request: dict[str, Any] = {
        "TableName": table_name(),
        "FilterExpression": " OR ".join(f"begins_with(PK, {name})" for name in names),
        "ExpressionAttributeValues": names,
    }
    while True:
        page = client().scan(**request)
        items = page.get("Items", [])
        if on_page is not None:
            on_page(int(page.get("ScannedCount", 0)), len(items))
        yield from items
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
