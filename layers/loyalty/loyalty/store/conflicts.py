"""What the last transaction of a thread lost to, when it lost only on accounts' versions: their items as they are
now (DynamoDB answers them with the cancellation, `ReturnValuesOnConditionCheckFailure`), by PK. A retry of an
earn plans on them at once, without reading them again (loyalty.store.accounts.load_for_earn). Cleared by the
next commit.
"""

from __future__ import annotations

import threading
from typing import Any


class _Conflict(threading.local):
    images: dict[str, dict[str, Any]] | None = None


_conflict = _Conflict()


def forget() -> None:
    _conflict.images = None


def record(images: dict[str, dict[str, Any]]) -> None:
    _conflict.images = images


def fresh() -> bool:
    """Whether the last transaction lost only to accounts whose items it was answered (a retry need not wait)."""
    return _conflict.images is not None


def accounts_moved_on() -> dict[str, dict[str, Any]] | None:
    """The accounts' items the last transaction of this thread lost to (and nothing else), once; None when it
    lost to something else, or did not lose."""
    images, _conflict.images = _conflict.images, None
    return images
