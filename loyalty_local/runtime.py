"""Lambda functions run in-process, each as a pool of execution environments.

A Lambda execution environment serves one invocation at a time; concurrency comes from more
environments. Here an environment is a separate import of the function's module, so two concurrent
requests never share a handler's per-request state (a Powertools resolver keeps the current event).
"""

from __future__ import annotations

import importlib.util
import itertools
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from loyalty_local.template import Function, TemplateError

_counter = itertools.count()


@dataclass
class LocalContext:
    function_name: str
    timeout: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class FunctionPool:
    def __init__(self, function: Function) -> None:
        isolate_powertools_requests()  # environments share a process here: keep each request's event apart
        self.function = function
        self._idle: list[Callable[[dict[str, Any], Any], Any]] = []
        self._lock = threading.Lock()
        if not function.source.is_file():
            raise TemplateError(
                f"{function.logical_id}: handler file {function.source} named by template.yaml does not exist"
            )

    def load_module(self) -> ModuleType:
        """A fresh import of the function's module (one execution environment)."""
        name = f"_lambda_{self.function.logical_id}_{next(_counter)}"
        spec = importlib.util.spec_from_file_location(name, self.function.source)
        if spec is None or spec.loader is None:  # pragma: no cover - checked by the is_file above
            raise TemplateError(f"cannot load {self.function.source}")
        module: ModuleType = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def _load(self) -> Callable[[dict[str, Any], Any], Any]:
        module = self.load_module()
        handler = getattr(module, self.function.attribute, None)
        if not callable(handler):
            raise TemplateError(f"{self.function.source} has no function {self.function.attribute!r}")
        return handler

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._lock:
            handler = self._idle.pop() if self._idle else None
        if handler is None:
            handler = self._load()
        try:
            return handler(event, LocalContext(self.function.logical_id, self.function.timeout))
        finally:
            with self._lock:
                self._idle.append(handler)

    def warm(self) -> None:
        """Import once at start, so a broken handler fails `make run` rather than the first request."""
        with self._lock:
            self._idle.append(self._load())


def sqs_event(messages: list[dict[str, Any]], source_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping delivers for messages of ReceiveMessage."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": source_arn,
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


_per_thread = threading.local()


class _PerThread:
    """A class attribute whose value belongs to the thread that set it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        try:
            return getattr(_per_thread, self.name)
        except AttributeError:
            raise AttributeError(self.name) from None

    def __set__(self, obj: Any, value: Any) -> None:
        setattr(_per_thread, self.name, value)


def isolate_powertools_requests() -> None:
    """Powertools keeps the request being resolved on a class (`BaseRouter.current_event`), shared by
    every resolver in the process. Lambda runs one request per process, so that is safe there; the
    local stack runs concurrent requests in one process, where a request could read another's event.
    Make those class attributes per thread: reads go through a descriptor in the class, the class-level
    writes of `resolve()` through a metaclass property."""
    from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

    names = ("current_event", "lambda_context")
    if isinstance(BaseRouter.__dict__.get("current_event"), _PerThread):
        return
    for name in names:
        type.__setattr__(BaseRouter, name, _PerThread(name))
    metaclass = type(BaseRouter)
    namespace: dict[str, Any] = {name: _class_property(BaseRouter.__dict__[name]) for name in names}
    BaseRouter.__class__ = type("PerThreadRouterMeta", (metaclass,), namespace)  # type: ignore[method-assign]


def _class_property(slot: _PerThread) -> property:
    def get(cls: Any) -> Any:
        return slot.__get__(None, cls)

    def put(cls: Any, value: Any) -> None:
        slot.__set__(None, value)

    return property(get, put)
