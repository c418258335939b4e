"""Writers of one process to one hot item take turns.

A write to a hot item (an account's pool, which all of a company's tills earn into) reads the item and writes it
under its version: of N writers that read it together, one commits and N - 1 lost their work and go again. Across
processes that is the only way (the version condition decides, and a loser plans again on the item the
cancellation answered). Inside one process the losers' work is taken from the winner too (one interpreter): with
twenty threads on one pool, nineteen plans and transactions out of twenty are thrown away. So writers of one
process to the same item take turns (`turn(key)`): the first reads and writes while the others wait, and nothing
is thrown away.

Deployed, a Lambda execution environment serves one request at a time: a turn is never waited for there, and the
version condition alone keeps concurrent environments right. The local stack serves every request in one process,
where the turns keep a hot pool near the rate of separate members. A turn is a courtesy, never the guard of
correctness: a writer that has waited `timeout` seconds goes without it (the version condition still holds).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["turn", "waiting"]


class _Turn:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = threading.RLock()  # a thread may take the same turn again (an operation inside another)
        self.users = 0


_turns: dict[str, _Turn] = {}
_guard = threading.Lock()


@contextmanager
def turn(key: str | None, timeout: float) -> Iterator[bool]:
    """Hold `key`'s turn for the block (yields True), or go without it after `timeout` seconds (False); a None
    key takes no turn (False)."""
    if key is None:
        yield False
        return
    with _guard:
        held = _turns.get(key)
        if held is None:
            held = _turns[key] = _Turn()
        held.users += 1
    taken = held.lock.acquire(timeout=max(timeout, 0.0))
    try:
        yield taken
    finally:
        if taken:
            held.lock.release()
        with _guard:
            held.users -= 1
            if held.users == 0:
                del _turns[key]


def waiting() -> int:
    """How many keys have a turn held or waited for now (0 when the process is idle: nothing is kept)."""
    with _guard:
        return len(_turns)
