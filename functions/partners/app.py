"""Partner webhooks: redeem a partner's reward, cancel a redemption. Signed, not keyed: the handler
checks `Loyalty-Signature` on the raw body before anything is parsed."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from loyalty.answers.redemption import PartnerCancellation, PartnerRedemption
from loyalty.edge import http
from loyalty.kernel.observability import logger, metrics, tracer
from loyalty.program.rules import current_program
from loyalty.redemption import redeem
from loyalty.redemption.signatures import HEADER
from loyalty.requests.common import Id
from loyalty.requests.redemption import PartnerCancelRequest, PartnerRedemptionRequest

app = http.resolver()
# Signed, not keyed: 401 `invalid_signature`; 403 where the partner may not act on the reward (a redemption
# of another partner's reward; a cancel finds only its own partner's redemptions: 404)
ERRORS = (*http.SIGNED, *http.BODY, *http.WRITE)


@app.post(
    "/v1/partners/<partner_id>/redemptions",
    tags=["partners"],
    summary="Redeem a partner's reward (signed)",
    operation_id="redeem_partner_reward",
    responses=http.answers(
        PartnerRedemption,
        "The redemption",
        created=True,
        errors=(
            *ERRORS,
            ("forbidden", "the reward is another partner's"),
            "member_not_found",
            "reward_not_found",
            "member_inactive",
            "reward_unavailable",
            "reward_not_eligible",
            "insufficient_points",
            "idempotency_conflict",
        ),
    ),
)
def partner_redeem(partner_id: Annotated[Id, Path()], body: PartnerRedemptionRequest) -> Response[Any]:
    outcome = redeem.partner_redeem(
        current_program(), partner_id, body.redemption_id, body.member_id, body.reward_id, body.occurred_at
    )
    return http.outcome_response(outcome)


@app.post(
    "/v1/partners/<partner_id>/redemptions/<redemption_id>/cancel",
    tags=["partners"],
    summary="Cancel a partner redemption; repeatable (signed)",
    operation_id="cancel_partner_redemption",
    responses=http.answers(
        PartnerCancellation,
        "The redemption cancelled (a repeat answers it again)",
        repeatable=True,
        errors=(*ERRORS, ("redemption_not_found", "this partner has no such redemption")),
    ),
)
def partner_cancel(
    partner_id: Annotated[Id, Path()], redemption_id: Annotated[Id, Path()], body: PartnerCancelRequest
) -> Response[Any]:
    return http.outcome_response(redeem.partner_cancel(current_program(), partner_id, redemption_id))


def verify_signature(event: dict[str, Any]) -> None:
    partner_id = (event.get("pathParameters") or {}).get("partner_id")
    redeem.authenticate_partner(current_program(), partner_id, http.header(event, HEADER), http.raw_body(event))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return http.serve(app, event, context, guard=verify_signature)
