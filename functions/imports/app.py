"""Imports (v1.2): `handler` serves the admin routes (create, read, list, errors, validate, apply); `worker` does
the work the routes ask for, one SQS message at a time (validate a file, fan an apply out, apply a chunk)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from loyalty.answers.imports import CreatedImport, ErrorPage, ImportAnswer, ImportList
from loyalty.edge import http
from loyalty.imports import service, work
from loyalty.kernel.observability import logger, metrics, tracer
from loyalty.program.rules import current_program
from loyalty.requests.common import Id
from loyalty.requests.imports import ImportRequest

app = http.resolver()
ONE = (*http.KEYED, "import_not_found")
# The last receive the worker's queue allows (its redrive policy's maxReceiveCount): a failure then fails the import
LAST_RECEIVE = 3


@app.post(
    "/v1/imports",
    tags=["imports"],
    summary="Create an import (key: import_id); PUT its file to the answered URL",
    operation_id="create_import",
    responses=http.answers(
        CreatedImport, "The import, awaiting its file", created=True, errors=(*http.KEYED, *http.BODY, "import_exists")
    ),
)
def create_import(body: ImportRequest) -> Response[Any]:
    http.require(app, "admin")
    return http.outcome_response(service.create(body.import_id, body.format))


@app.get(
    "/v1/imports",
    tags=["imports"],
    summary="The imports, newest first",
    operation_id="list_imports",
    responses=http.answers(
        ImportList, "A page of imports, and the cursor of the next (null: the last)", errors=http.KEYED
    ),
)
def list_imports(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> Response[Any]:
    http.require(app, "admin")
    return http.answer(service.listing(limit, cursor))


@app.get(
    "/v1/imports/<import_id>",
    tags=["imports"],
    summary="An import: its status, its rows and points",
    operation_id="get_import",
    responses=http.answers(ImportAnswer, "The import", errors=ONE),
)
def get_import(import_id: Annotated[Id, Path()]) -> Response[Any]:
    http.require(app, "admin")
    return http.answer(service.read(import_id))


@app.get(
    "/v1/imports/<import_id>/errors",
    tags=["imports"],
    summary="The import's rejected rows, by row",
    operation_id="list_import_errors",
    responses=http.answers(
        ErrorPage, "A page of rejected rows, and the cursor of the next (null: the last)", errors=ONE
    ),
)
def list_errors(
    import_id: Annotated[Id, Path()],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> Response[Any]:
    http.require(app, "admin")
    return http.answer(service.errors(import_id, limit, cursor))


@app.post(
    "/v1/imports/<import_id>/validate",
    tags=["imports"],
    summary="Check every row of the uploaded file; nothing is written",
    operation_id="validate_import",
    responses=http.answers(
        ImportAnswer,
        "The import, validating (or as it is, when asked before)",
        accepted=True,
        errors=(*ONE, *http.BODY, *http.WRITE, ("invalid_state", "no file uploaded yet, or the import failed")),
    ),
)
def validate_import(import_id: Annotated[Id, Path()]) -> Response[Any]:
    http.require(app, "admin")
    return http.answer(service.ask_validate(import_id), 202)


@app.post(
    "/v1/imports/<import_id>/apply",
    tags=["imports"],
    summary="Apply every valid row: the members, their identifiers, tiers and opening balances",
    operation_id="apply_import",
    responses=http.answers(
        ImportAnswer,
        "The import, applying (or as it is, when asked before)",
        accepted=True,
        errors=(*ONE, *http.BODY, *http.WRITE, ("invalid_state", "the import is not validated, or it failed")),
    ),
)
def apply_import(import_id: Annotated[Id, Path()]) -> Response[Any]:
    http.require(app, "admin")
    return http.answer(service.ask_apply(import_id), 202)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return http.serve(app, event, context)


@logger.inject_lambda_context
@metrics.log_metrics
def worker(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """One message at a time (BatchSize 1): a step that fails comes again; on its last receive the import fails."""
    failed = []
    for record in event.get("Records") or []:
        body = json.loads(record["body"])
        import_id = str(body["import_id"])
        try:
            step = body["step"]
            if step == "validate":
                work.validate(current_program(), import_id)
            elif step == "plan":
                work.fan_out(import_id)
            elif step == "chunk":
                work.apply_chunk(current_program(), import_id, work.message_chunk(body))
        except Exception:
            receives = int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
            logger.exception(
                "an import step failed", extra={"import_id": import_id, "step": body.get("step"), "receives": receives}
            )
            if receives >= LAST_RECEIVE:
                work.fail(import_id, f"the {body.get('step')} step failed {receives} times; see the logs")
            failed.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failed}
