"""Outbound webhooks (v1.2): `handler` serves the admin routes; `dispatch` turns the bus's events into
deliveries (SQS) and, every minute, puts due retries back on the queue (EventBridge Scheduler); `deliver`
makes the attempts (SQS)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from loyalty.answers.webhooks import (
    CreatedEndpoint,
    DeletedEndpoint,
    DeliveryPage,
    DeliveryView,
    EndpointAnswer,
    EndpointList,
    RotatedSecret,
)
from loyalty.edge import http
from loyalty.kernel.observability import logger, metrics, tracer
from loyalty.requests.common import Id
from loyalty.requests.webhooks import EndpointPatchRequest, EndpointRequest
from loyalty.webhooks import delivery, endpoints

app = http.resolver()
ONE = (*http.KEYED, "endpoint_not_found")


@app.post(
    "/v1/webhooks",
    tags=["webhooks"],
    summary="Create a webhook endpoint (key: endpoint_id); its secret is answered here only",
    operation_id="create_webhook",
    responses=http.answers(
        CreatedEndpoint,
        "The endpoint and its secret",
        created=True,
        errors=(*http.KEYED, *http.BODY, "endpoint_exists"),
    ),
)
def create_webhook(body: EndpointRequest) -> Response[Any]:
    http.require(app, "admin")
    return http.outcome_response(endpoints.create(body.endpoint_id, body.url, body.event_types, body.description))


@app.get(
    "/v1/webhooks",
    tags=["webhooks"],
    summary="Every webhook endpoint",
    operation_id="list_webhooks",
    responses=http.answers(EndpointList, "The endpoints, by id", errors=http.KEYED),
)
def list_webhooks() -> Response[Any]:
    http.require(app, "admin")
    return http.answer(endpoints.listing())


@app.get(
    "/v1/webhooks/<endpoint_id>",
    tags=["webhooks"],
    summary="A webhook endpoint (never its secret)",
    operation_id="get_webhook",
    responses=http.answers(EndpointAnswer, "The endpoint", errors=ONE),
)
def get_webhook(endpoint_id: Annotated[Id, Path()]) -> Response[Any]:
    http.require(app, "admin")
    return http.answer(endpoints.read(endpoint_id))


@app.patch(
    "/v1/webhooks/<endpoint_id>",
    tags=["webhooks"],
    summary="Change an endpoint's URL, event types, description or status",
    operation_id="patch_webhook",
    responses=http.answers(EndpointAnswer, "The endpoint", errors=(*ONE, *http.BODY, *http.WRITE)),
)
def patch_webhook(endpoint_id: Annotated[Id, Path()], body: EndpointPatchRequest) -> Response[Any]:
    http.require(app, "admin")
    return http.answer(endpoints.change(endpoint_id, body.url, body.event_types, body.description, body.status))


@app.delete(
    "/v1/webhooks/<endpoint_id>",
    tags=["webhooks"],
    summary="Delete an endpoint: nothing more is sent to it",
    operation_id="delete_webhook",
    responses=http.answers(DeletedEndpoint, "The endpoint is gone", errors=ONE),
)
def delete_webhook(endpoint_id: Annotated[Id, Path()]) -> Response[Any]:
    http.require(app, "admin")
    return http.answer(endpoints.delete(endpoint_id))


@app.post(
    "/v1/webhooks/<endpoint_id>/rotate-secret",
    tags=["webhooks"],
    summary="A new secret; for 24 hours messages carry both signatures, the new one first",
    operation_id="rotate_webhook_secret",
    responses=http.answers(RotatedSecret, "The new secret", errors=(*ONE, *http.BODY, *http.WRITE)),
)
def rotate_secret(endpoint_id: Annotated[Id, Path()]) -> Response[Any]:
    http.require(app, "admin")
    return http.answer(endpoints.rotate(endpoint_id))


@app.get(
    "/v1/webhooks/<endpoint_id>/deliveries",
    tags=["webhooks"],
    summary="The endpoint's delivery log, newest first, with every attempt (kept 30 days)",
    operation_id="list_webhook_deliveries",
    responses=http.answers(
        DeliveryPage, "A page of deliveries, and the cursor of the next (null: the last)", errors=ONE
    ),
)
def list_deliveries(
    endpoint_id: Annotated[Id, Path()],
    status: Annotated[Literal["pending", "succeeded", "failed"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> Response[Any]:
    http.require(app, "admin")
    return http.answer(endpoints.deliveries(endpoint_id, status, limit, cursor))


@app.post(
    "/v1/webhooks/<endpoint_id>/deliveries/<delivery_id>/retry",
    tags=["webhooks"],
    summary="Send a delivery again now (a failed one becomes pending)",
    operation_id="retry_webhook_delivery",
    responses=http.answers(
        DeliveryView,
        "The delivery, sent again",
        accepted=True,
        errors=(*ONE, *http.BODY, *http.WRITE, "delivery_not_found"),
    ),
)
def retry_delivery(endpoint_id: Annotated[Id, Path()], delivery_id: Annotated[Id, Path()]) -> Response[Any]:
    http.require(app, "admin")
    return http.answer(endpoints.retry(endpoint_id, delivery_id), 202)


@app.post(
    "/v1/webhooks/<endpoint_id>/test",
    tags=["webhooks"],
    summary="Send a WebhookTest message to the endpoint now",
    operation_id="test_webhook",
    responses=http.answers(DeliveryView, "The test message's delivery", accepted=True, errors=(*ONE, *http.BODY)),
)
def test_webhook(endpoint_id: Annotated[Id, Path()]) -> Response[Any]:
    http.require(app, "admin")
    return http.answer(endpoints.test(endpoint_id), 202)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return http.serve(app, event, context)


@logger.inject_lambda_context
@metrics.log_metrics
def dispatch(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The bus's events (SQS records, each an EventBridge event) → deliveries; the schedule → due retries."""
    records = event.get("Records")
    if records is None:  # EventBridge Scheduler
        return {"dispatched": delivery.dispatch_due()}
    try:
        delivery.fan_out([json.loads(r["body"]) for r in records])
        return {"batchItemFailures": []}
    except Exception:  # one at a time, to give back only what fails (each is written once, whatever is retried)
        logger.exception("a batch of events was not fanned out whole; one at a time")
    failed = []
    for record in records:
        try:
            delivery.fan_out([json.loads(record["body"])])
        except Exception:
            logger.exception("an event was not fanned out; the queue gives it again", extra={"id": record["messageId"]})
            failed.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failed}


@logger.inject_lambda_context
@metrics.log_metrics
def deliver(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Attempts, side by side; a message whose attempt broke (not a receiver's failure: ours) comes again."""
    records = event.get("Records") or []
    targets = []
    for record in records:
        body = json.loads(record["body"])
        targets.append((str(body["endpoint_id"]), str(body["generation"]), str(body["delivery_id"])))
    outcomes = delivery.attempt_all(targets)
    return {
        "batchItemFailures": [
            {"itemIdentifier": r["messageId"]}
            for r, o in zip(records, outcomes, strict=True)
            if isinstance(o, BaseException)
        ]
    }
