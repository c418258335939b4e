"""Earn: purchases, previews, refunds and activities (checkout and point-of-sale, scope `earn`)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from loyalty.answers.earning import ActivityAwarded, Earned, EarnPreview, Refunded
from loyalty.earning import earn
from loyalty.edge import http
from loyalty.kernel.observability import logger, metrics, tracer
from loyalty.program.rules import current_program
from loyalty.requests.earning import ActivityRequest, EarnRequest, RefundRequest

app = http.resolver()
READ_ERRORS = (*http.KEYED, *http.BODY, "member_not_found", "member_inactive")  # a preview refuses as the earn
WRITE_ERRORS = (*READ_ERRORS, *http.WRITE, "idempotency_conflict")
REFUND_ERRORS = (
    *http.KEYED,
    *http.BODY,
    *http.WRITE,
    "member_not_found",
    ("member_inactive", "the member is closed (a suspended member is refunded)"),
    "order_not_found",
    "refund_exceeds_order",
    "idempotency_conflict",
)


@app.post(
    "/v1/earn",
    tags=["earn"],
    summary="Award an order's points (idempotency key: order_id)",
    operation_id="earn",
    responses=http.answers(Earned, "The order's points", created=True, errors=WRITE_ERRORS),
)
def earn_points(body: EarnRequest) -> Response[Any]:
    http.require(app, "earn")
    return http.outcome_response(earn.earn(current_program(), body))


@app.post(
    "/v1/earn/preview",
    tags=["earn"],
    summary="What an order would earn; writes nothing",
    operation_id="preview_earn",
    responses=http.answers(EarnPreview, "What the order would earn", errors=READ_ERRORS),
)
def preview(body: EarnRequest) -> Response[Any]:
    http.require(app, "earn")
    return http.answer(earn.preview(current_program(), body))


@app.post(
    "/v1/refunds",
    tags=["earn"],
    summary="Reverse the points of a refunded amount (key: refund_id)",
    operation_id="refund",
    responses=http.answers(Refunded, "The refund's points", created=True, errors=REFUND_ERRORS),
)
def refund(body: RefundRequest) -> Response[Any]:
    http.require(app, "earn")
    return http.outcome_response(earn.refund(current_program(), body))


@app.post(
    "/v1/activities",
    tags=["earn"],
    summary="Award an activity (key: member_id + activity_id)",
    operation_id="record_activity",
    responses=http.answers(
        ActivityAwarded, "The activity's points", created=True, errors=(*WRITE_ERRORS, "activity_limit_reached")
    ),
)
def activity(body: ActivityRequest) -> Response[Any]:
    http.require(app, "earn")
    return http.outcome_response(earn.record_activity(current_program(), body))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return http.serve(app, event, context)
