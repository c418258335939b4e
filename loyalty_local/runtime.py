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
