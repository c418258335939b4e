"""Checkout: the till's and the web shop's quote while the basket is built, and the order at payment."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from loyalty.answers.checkout import CheckoutOrder, CheckoutQuote
from loyalty.checkout import orders
from loyalty.edge import http
from loyalty.kernel.observability import logger, metrics, tracer
from loyalty.program.rules import current_program
from loyalty.requests.checkout import CheckoutOrderRequest, CheckoutQuoteRequest

app = http.resolver()
QUOTE_ERRORS = (
    *http.KEYED,
    *http.BODY,
    ("member_not_found", "no such member, or no member holds the lookup's identifier"),
    "member_inactive",
    "reward_not_found",
    "reward_unavailable",
    ("reward_not_eligible", "the member's tier may not take the reward, or no line of the basket takes it"),
    "insufficient_points",
    ("busy", "the table kept refusing the read; retry it"),
    ("account_not_found", "`account_id` names no account (v1.2)"),
)


@app.post(
    "/v1/checkout/quote",
    tags=["checkout"],
    summary="Price a basket: discounts, rewards, points; writes nothing",
    operation_id="quote_checkout",
    responses=http.answers(CheckoutQuote, "The basket priced", errors=QUOTE_ERRORS),
)
def quote(body: CheckoutQuoteRequest) -> Response[Any]:
    http.require(app, "earn")
    return http.answer(orders.quote(current_program(), body))


@app.post(
    "/v1/checkout/orders",
    tags=["checkout"],
    summary="Pay and earn in one transaction: rewards, points payment, the order's points (key: order_id)",
    operation_id="place_order",
    responses=http.answers(
        CheckoutOrder,
        "The order placed",
        created=True,
        errors=(
            ("busy", "the member kept changing under the write, or the table kept refusing a read; retry it"),
            *QUOTE_ERRORS,
            ("idempotency_conflict", "the order id was used before with a different body"),
        ),
    ),
)
def place_order(body: CheckoutOrderRequest) -> Response[Any]:
    http.require(app, "earn")  # the order earns ...
    http.require(app, "redeem")  # ... and spends points: the key needs both scopes
    return http.outcome_response(orders.place_order(current_program(), body))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return http.serve(app, event, context)
