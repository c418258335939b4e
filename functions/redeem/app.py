"""Redeem at checkout: the reward catalogue, pay with points, and the capture or void of a hold."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from loyalty.answers.redemption import HoldReleased, PointsPayment, Rewards
from loyalty.edge import http
from loyalty.kernel.observability import logger, metrics, tracer
from loyalty.program.rules import current_program
from loyalty.redemption import redeem
from loyalty.requests.common import Id
from loyalty.requests.redemption import PayWithPointsRequest

app = http.resolver()
READ_BUSY = ("busy", "the table kept refusing the read; retry it")
HOLD_ERRORS = (*http.KEYED, *http.BODY, *http.WRITE, "redemption_not_found")


@app.get(
    "/v1/rewards",
    tags=["redeem"],
    summary="The rewards, and which ones the member may take now",
    operation_id="list_rewards",
    responses=http.answers(
        Rewards, "Every reward of the programme", errors=(*http.KEYED, "member_not_found", READ_BUSY)
    ),
)
def list_rewards(member_id: Annotated[Id | None, Query()] = None) -> Response[Any]:
    http.require(app, "read")
    return http.answer(Rewards.model_validate(redeem.catalogue(current_program(), member_id)))


@app.post(
    "/v1/redemptions",
    tags=["redeem"],
    summary="Pay with points (key: redemption_id); capture=false holds",
    operation_id="pay_with_points",
    responses=http.answers(
        PointsPayment,
        "The redemption, completed or held",
        created=True,
        errors=(
            *http.KEYED,
            *http.BODY,
            *http.WRITE,
            "member_not_found",
            "member_inactive",
            "insufficient_points",
            "idempotency_conflict",
            ("account_not_found", "`account_id` names no account (v1.2)"),
        ),
    ),
)
def pay_with_points(body: PayWithPointsRequest) -> Response[Any]:
    http.require(app, "redeem")
    outcome = redeem.pay_with_points(
        current_program(), body.redemption_id, body.member_id, body.points, body.capture, body.account_id
    )
    return http.outcome_response(outcome)


@app.post(
    "/v1/redemptions/<redemption_id>/capture",
    tags=["redeem"],
    summary="Complete a held redemption",
    operation_id="capture_redemption",
    responses=http.answers(
        PointsPayment,
        "The redemption, completed (a repeat answers it again)",
        repeatable=True,
        errors=(
            *HOLD_ERRORS,
            ("invalid_state", "the redemption is not held (voided or released), or its hold expired"),
            ("member_inactive", "the member is closed"),
        ),
    ),
)
def capture(redemption_id: Annotated[Id, Path()]) -> Response[Any]:
    http.require(app, "redeem")
    return http.outcome_response(redeem.capture(current_program(), redemption_id))


@app.post(
    "/v1/redemptions/<redemption_id>/void",
    tags=["redeem"],
    summary="Release a held redemption's points",
    operation_id="void_redemption",
    responses=http.answers(
        HoldReleased,
        "The hold released (a repeat answers it again)",
        repeatable=True,
        errors=(
            *HOLD_ERRORS,
            ("invalid_state", "the redemption is completed"),
            ("member_inactive", "the member is closed"),
        ),
    ),
)
def void(redemption_id: Annotated[Id, Path()]) -> Response[Any]:
    http.require(app, "redeem")
    return http.outcome_response(redeem.void(current_program(), redemption_id))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return http.serve(app, event, context)
