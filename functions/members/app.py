"""Members: enrol, read, ledger, admin adjustments."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from loyalty import http, members, tier_grants
from loyalty.contract import (
    AdjustmentRequest,
    EnrollRequest,
    Id,
    LookupRequest,
    ProfilePatch,
    StatusRequest,
    SubscriptionRequest,
    TierOverrideRequest,
)
from loyalty.observability import logger, metrics, tracer
from loyalty.program import current_program

app = http.resolver()


@app.post("/v1/members", tags=["members"], summary="Enrol a member (grants the signup bonus; idempotent per member_id)")
def enroll(body: EnrollRequest) -> Response[Any]:
    http.require(app, "enroll")
    return http.outcome_response(members.enroll(current_program(), **body.model_dump()))


@app.post("/v1/members/lookup", tags=["members"], summary="Find a member by email, phone or card_id")
def lookup(body: LookupRequest) -> Response[Any]:
    http.require(app, "read")
    member = members.find(*body.identifier)
    return http.json_response(200, members.member_view(member, current_program()))


@app.patch("/v1/members/<member_id>", tags=["members"], summary="Edit the profile (null removes a field)")
def update_profile(member_id: Annotated[Id, Path()], body: ProfilePatch) -> Response[Any]:
    http.require(app, "enroll")
    return http.json_response(200, members.update_profile(current_program(), member_id, body.changes()))


@app.post("/v1/members/<member_id>/status", tags=["members"], summary="Suspend, reactivate or close a member")
def set_status(member_id: Annotated[Id, Path()], body: StatusRequest) -> Response[Any]:
    http.require(app, "admin")
    return http.json_response(200, members.set_status(current_program(), member_id, body.status, body.reason))


@app.delete("/v1/members/<member_id>", tags=["members"], summary="Erase a member's personal data (and close it)")
def erase(member_id: Annotated[Id, Path()]) -> Response[Any]:
    http.require(app, "admin")
    return http.json_response(200, members.erase(current_program(), member_id))


@app.get("/v1/members/<member_id>/export", tags=["members"], summary="Everything held about a member")
def export(member_id: Annotated[Id, Path()]) -> Response[Any]:
    http.require(app, "admin")
    return http.json_response(200, members.export(current_program(), member_id))


@app.get("/v1/members/<member_id>", tags=["members"], summary="A member's points, tier and benefits")
def get_member(member_id: Annotated[Id, Path()]) -> Response[Any]:
    http.require(app, "read")
    return http.json_response(200, members.member_view(members.get_member(member_id), current_program()))


@app.get("/v1/members/<member_id>/ledger", tags=["members"], summary="Ledger entries, newest first")
def get_ledger(
    member_id: Annotated[Id, Path()],
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> Response[Any]:
    http.require(app, "read")
    return http.json_response(200, members.ledger_page(member_id, limit, cursor))


@app.get(
    "/v1/members/<member_id>/events",
    tags=["members"],
    summary="The member's recent domain events, newest first",
    description="What the member's changes published on the bus (`detail_type`, `detail` as consumers got it), "
    "kept 90 days; seconds behind the ledger. Ordered by the member's sequence.",
)
def get_events(member_id: Annotated[Id, Path()], limit: Annotated[int, Query(ge=1, le=100)] = 20) -> Response[Any]:
    http.require(app, "read")
    return http.json_response(200, members.recent_events(member_id, limit))


@app.post("/v1/members/<member_id>/adjustments", tags=["members"], summary="Admin adjustment (signed)")
def adjust(member_id: Annotated[Id, Path()], body: AdjustmentRequest) -> Response[Any]:
    http.require(app, "admin")
    outcome = members.adjust(current_program(), member_id, body.adjustment_id, body.points, body.reason)
    return http.outcome_response(outcome)


@app.post(
    "/v1/members/<member_id>/subscriptions",
    tags=["members"],
    summary="Grant a paid tier for some months (idempotent per subscription_id)",
)
def subscribe(member_id: Annotated[Id, Path()], body: SubscriptionRequest) -> Response[Any]:
    http.require(app, "admin")
    outcome = tier_grants.subscribe(current_program(), member_id, body.subscription_id, body.tier_id, body.months)
    return http.outcome_response(outcome)


@app.post("/v1/members/<member_id>/tier", tags=["members"], summary="Set a manual tier (admin override)")
def override_tier(member_id: Annotated[Id, Path()], body: TierOverrideRequest) -> Response[Any]:
    http.require(app, "admin")
    actor = (app.current_event.request_context.authorizer.raw_event or {}).get("key_id")
    view = tier_grants.override(current_program(), member_id, body.tier_id, body.reason, body.until, actor)
    return http.json_response(200, view)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return http.serve(app, event, context)
