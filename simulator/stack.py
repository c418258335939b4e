"""The API to simulate against: the replay engine in this process, or a running local stack at SIM_URL."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from simulator.client import Client, InProcessClient


class StackError(RuntimeError):
    pass


@contextlib.contextmanager
def existing_stack(url: str) -> Iterator[Client]:
    """A running local stack (SIM_URL): its clock returns to real time when the run ends."""
    client = Client(url)
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.set_clock(None)


@contextlib.contextmanager
def in_process(program_document: str) -> Iterator[Client]:
    """The replay engine in this process, without the outbox (the simulator reads members and ledgers).

    The functions' own output (Powertools prints a metric set when it holds 100 values, even with metrics
    disabled) would be mixed into the summary: it goes nowhere while the year runs."""
    import os
    import sys

    from loyalty_local.engine import Engine

    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        client = InProcessClient(Engine(program_document, outbox=False))
        try:
            yield client
        finally:
            sys.stdout.flush()


def save_history(client: Client, path: Path) -> int:
    """The stack's recorded history as an export file (`GET /_local/history`, which the in-process engine
    answers too), gzipped for .gz. Returns its lines."""
    import gzip

    answer = client.get("/_local/history", key=None)
    if answer.status != 200 or not isinstance(answer.body, str):
        raise StackError(f"GET /_local/history answered {answer.status}")
    body = answer.body.encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(body) if path.suffix == ".gz" else body)
    return body.count(b"\n")
