"""Writers of one process to one hot item take turns (loyalty.kernel.turns)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from loyalty.kernel.turns import turn, waiting


def _most_inside_at_once(key: str | None, writers: int = 8) -> int:
    inside, most, lock = 0, 0, threading.Lock()

    def write(_: int) -> bool:
        nonlocal inside, most
        with turn(key, timeout=10) as taken:
            with lock:
                inside += 1
                most = max(most, inside)
            time.sleep(0.01)
            with lock:
                inside -= 1
            return taken

    with ThreadPoolExecutor(max_workers=writers) as pool:
        assert all(pool.map(write, range(writers * 3))) == (key is not None)
    return most


def test_writers_to_one_key_go_one_at_a_time_and_nothing_is_kept_afterwards() -> None:
    assert _most_inside_at_once("ACCOUNT#acme") == 1
    assert waiting() == 0


def test_no_key_takes_no_turn() -> None:
    assert _most_inside_at_once(None) > 1


@contextmanager
def held_by_another_thread(key: str) -> Iterator[None]:
    """`key`'s turn held by another thread for the block."""
    held, go = threading.Event(), threading.Event()

    def hold() -> None:
        with turn(key, timeout=1):
            held.set()
            go.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    try:
        yield
    finally:
        go.set()
        holder.join()


def test_writers_to_different_keys_do_not_wait_for_each_other() -> None:
    with held_by_another_thread("ACCOUNT#a"):
        began = time.monotonic()
        with turn("ACCOUNT#b", timeout=5) as taken:
            assert taken and time.monotonic() - began < 1


def test_a_writer_that_waited_its_timeout_goes_without_the_turn() -> None:
    with held_by_another_thread("ACCOUNT#acme"):
        began = time.monotonic()
        with turn("ACCOUNT#acme", timeout=0.05) as taken:
            assert not taken and time.monotonic() - began >= 0.05
    assert waiting() == 0


def test_a_thread_may_take_its_own_turn_again() -> None:
    with turn("ACCOUNT#acme", timeout=1) as outer, turn("ACCOUNT#acme", timeout=1) as inner:
        assert outer and inner
    assert waiting() == 0
