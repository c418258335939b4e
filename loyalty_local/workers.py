"""The replay engine's worker processes (a what-if's shards, a simulated year's groups), each started with the
libraries every engine imports already imported.

A worker replays one shard in an engine of its own and ends with it (`one_each`): the shard's heap goes with the
process. Spawned afresh, each worker imported some 850 modules (moto's services, Powertools, pydantic, boto3)
before replaying anything: about 1.2 s of CPU a shard, a tenth of a 500-member replay. Where the platform has it
(Linux, macOS), the workers are forked from multiprocessing's fork server, which imports those libraries once,
before any engine exists: a forked worker starts with them, and with nothing else of an engine (no backend, no
table, no environment of the stack's). Our own packages are not preloaded: the stack sets the environment the
functions' modules read as they are imported (their Logger and Metrics), so they are imported in the worker,
after it, as a spawned worker does. Elsewhere (Windows) the workers are spawned as before.

The fork server started with the environment and the working directory its first pool met; each worker takes
its parent's, as of the pool's creation, before it runs anything (a spawned worker's are its parent's too).
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
from collections.abc import Iterator
from typing import Any

# The libraries an engine imports (whose import reads nothing of the stack's environment): the moto services
# the template's resources use, and what the functions import from Powertools, pydantic and boto3.
PRELOAD = (
    "boto3",
    "botocore.client",
    "botocore.session",
    "pydantic",
    "werkzeug",
    "flask",
    "moto",
    "moto.core.models",
    "moto.core.botocore_stubber",
    "moto.backends",
    "moto.backend_index",
    *(
        f"moto.{service}.{part}"
        for service in (
            "dynamodb",
            "dynamodbstreams",
            "sqs",
            "s3",
            "ssm",
            "secretsmanager",
            "events",
            "sts",
            "iam",
            "logs",
            "cloudwatch",
        )
        for part in ("models", "responses", "urls")
    ),
    "aws_lambda_powertools",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.event_handler.openapi.models",
    "aws_lambda_powertools.event_handler.middlewares.openapi_validation",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "aws_lambda_powertools.tracing",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.parameters",
    "aws_lambda_powertools.utilities.data_classes",
)


def preload() -> None:
    """Imported by the fork server (`set_forkserver_preload`), once."""
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # a library's layout changed: its workers import it themselves, as spawned ones do
            continue


def _adopt(environment: dict[str, str], directory: str) -> None:
    """A worker's first act: its parent's environment and working directory (the fork server's are its first
    pool's)."""
    os.environ.clear()
    os.environ.update(environment)
    os.chdir(directory)


@contextlib.contextmanager
def pool(workers: int, *, one_each: bool = True) -> Iterator[Any]:
    """`workers` worker processes; each ends after one task when `one_each` (an engine's shard), or serves many
    (reading the shards' histories, no engine). At the end the fork server is stopped and waited for, as the
    workers were by it: their CPU counts in this process's children's, where a spawned worker's always did
    (`bench.memory` reads it)."""
    forked = "forkserver" in multiprocessing.get_all_start_methods()
    if forked:
        context: Any = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["loyalty_local.worker_preload"])
    else:  # pragma: no cover - Windows
        context = multiprocessing.get_context("spawn")
    try:
        with context.Pool(
            processes=workers,
            maxtasksperchild=1 if one_each else None,
            initializer=_adopt,
            initargs=(dict(os.environ), os.getcwd()),
        ) as processes:
            yield processes
    finally:
        if forked:
            _stop_fork_server()


def _stop_fork_server() -> None:
    """multiprocessing's own stop (the one its tests use): closes the server's pipe and waits for it; the next
    pool starts another."""
    from multiprocessing import forkserver

    stop = getattr(forkserver._forkserver, "_stop", None)  # private: there is no public way to wait for it
    if stop is not None:
        stop()
