"""Integration-test plumbing: moto with the template's own resources, handlers invoked with events/."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from loyalty_local.runtime import FunctionPool
from loyalty_local.template import ROOT, Template

EVENTS = ROOT / "events"
TEMPLATE = Template()
_POOLS: dict[str, FunctionPool] = {}


@contextmanager
def mocked_aws(program_document: str = "bundled:demo") -> Iterator[dict[str, Any]]:
    """moto, with the tables, queues, bus, archive, programme, partner secrets and local keys of template.yaml.

    moto is patched as the local stack runs it (loyalty_local.moto_fast: transactions that cost what they
    touch, answers dumped as JSON, items measured once), so the tests exercise the same emulator."""
    from loyalty.kernel import config
    from loyalty.kernel.clock import CLOCK
    from loyalty.program import rules as program
    from loyalty.store import core
    from moto import mock_aws

    from loyalty_local import moto_fast, provision

    saved = dict(os.environ)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_NAMESPACE="Loyalty",
        LOYALTY_LOCAL="1",
    )
    os.environ.update(TEMPLATE.environment())
    config.reset()
    core.reset_clients()
    program.PROGRAMS.override(None)
    moto_fast.install_all()  # one botocore model loader for the process's sessions among them
    try:
        with mock_aws():
            resources = provision.provision(TEMPLATE, program_document)
            yield resources
    finally:
        CLOCK.set(None)
        core.reset_clients()
        config.reset()
        program.PROGRAMS.override(None)
        os.environ.clear()
        os.environ.update(saved)


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))


def api_event(
    name: str,
    *,
    body: Any = ...,
    path_params: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    scopes: str | None = None,
    raw_body: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The sample event `events/<name>.json`, with what the test changes."""
    event = copy.deepcopy(load_event(name))
    if body is not ...:
        event["body"] = None if body is None else json.dumps(body)
    if raw_body is not None:
        event["body"] = raw_body
    if path_params:
        event["pathParameters"] = {**(event.get("pathParameters") or {}), **path_params}
        path = event["resource"]
        for key, value in event["pathParameters"].items():
            path = path.replace("{" + key + "}", value)
        event["path"] = path
    if query is not None:
        event["queryStringParameters"] = query or None
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    if scopes is not None:
        event["requestContext"]["authorizer"]["scopes"] = scopes
    if headers:
        event["headers"] = {**(event.get("headers") or {}), **headers}
    return event


def invoke(function: str, event: dict[str, Any]) -> Any:
    """Invoke a function of template.yaml by logical id (one warm execution environment per function)."""
    pool = _POOLS.get(function)
    if pool is None:
        pool = _POOLS[function] = FunctionPool(TEMPLATE.functions()[function])
    return pool.invoke(event)


def call(function: str, event: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
    """Invoke an API function; return (status, parsed body, headers). An error answer must be one its route
    declares (`declared_errors`): a test that provokes a code the route does not list fails here."""
    answer = invoke(function, event)
    body = answer.get("body")
    parsed = json.loads(body) if body else None
    status = answer["statusCode"]
    declared = declared_errors().get((str(event.get("httpMethod", "")).lower(), str(event.get("resource", ""))))
    if status >= 400 and declared is not None and isinstance(parsed, dict) and "error" in parsed:
        code = parsed["error"].get("code")
        assert (status, code) in declared, (
            f"{event['httpMethod']} {event['resource']} answered {status} {code}, which its route does not declare "
            f"(http.answers(errors=...)): {sorted(declared)}"
        )
    return status, parsed, headers_of(answer)


@cache
def declared_errors() -> dict[tuple[str, str], set[tuple[int, str]]]:
    """Each route's (status, code) pairs as the committed OpenAPI document lists them (`x-error-codes`)."""
    document = json.loads((ROOT / "layers/loyalty/loyalty/openapi.json").read_text(encoding="utf-8"))
    return {
        (method, path): {
            (int(status), code)
            for status, response in operation["responses"].items()
            for code in response.get("x-error-codes", [])
        }
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }


def headers_of(answer: dict[str, Any]) -> dict[str, str]:
    headers = dict(answer.get("headers") or {})
    for key, values in (answer.get("multiValueHeaders") or {}).items():
        headers[key] = ", ".join(values)
    return headers


def count_calls() -> Any:
    """Count DynamoDB round trips made through the product's client (botocore before-call hooks)."""
    from loyalty.store import core

    calls: list[str] = []

    def hook(model: Any = None, **_: Any) -> None:
        calls.append(model.name if model is not None else "?")

    unregister = core.on_call(hook)
    return calls, unregister


__all__ = ["Path", "api_event", "call", "count_calls", "invoke", "load_event", "mocked_aws"]
