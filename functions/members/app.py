"""Members: enrol, read, ledger, admin adjustments."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from loyalty.answers.members import (
    LedgerLine,
    LedgerPage,
    MemberAnswer,
    MemberEvents,
    MemberExport,
    SearchAnswer,
    Subscription,
    TierOverride,
)
from loyalty.edge import http
from loyalty.kernel.observability import logger, metrics, tracer
from loyalty.members import enrolment, identity, lifecycle, records, views
from loyalty.program.rules import current_program
from loyalty.requests.common import Id, LookupRequest, SearchRequest
from loyalty.requests.members import (
    AdjustmentRequest,
    EnrollRequest,
    ProfilePatch,
    StatusRequest,
    SubscriptionRequest,
    TierOverrideRequest,
)

app = http.resolver()
READ = (*http.KEYED, "member_not_found")
CLOSED = ("member_inactive", "the member is closed")
EDIT = (*http.KEYED, *http.BODY, *http.WRITE, "member_not_found", CLOSED)


@app.post(
    "/v1/members",
    tags=["members"],
    summary="Enrol a member (grants the signup bonus; idempotent per member_id)",
    operation_id="enroll_member",
    responses=http.answers(
        MemberAnswer,
        "The member enrolled",
        created=True,
        errors=(
            *http.KEYED,
            *http.BODY,
            *http.WRITE,
            "member_exists",
            "identifier_in_use",
            ("member_inactive", "the member id is a closed member's"),
        ),
    ),
)
def enroll(body: EnrollRequest) -> Response[Any]:
    http.require(app, "enroll")
    return http.outcome_response(enrolment.enroll(current_program(), **body.model_dump()))


@app.post(
    "/v1/members/lookup",
    tags=["members"],
    summary="Find a member by email, phone or card_id",
    operation_id="lookup_member",
    responses=http.answers(
        MemberAnswer,
        "The member",
        errors=(*http.KEYED, *http.BODY, ("member_not_found", "no member holds this email, phone or card_id")),
    ),
)
def lookup(body: LookupRequest) -> Response[Any]:
    http.require(app, "read")
    member = identity.find(*body.identifier)
    return http.answer(MemberAnswer.model_validate(views.member_view(member, current_program())))


@app.post(
    "/v1/members/search",
    tags=["members"],
    summary="Find a member from what a person typed (an id, a card, an email, a phone as written)",
    description="For a search box (the console's): the query is read as an email, a member id, a card or a phone "
    "number, national numbers in the programme's `country` (`(415) 555-0123` is `+14155550123` in the US), and "
    "the first reading that finds a member answers. A text that can only be a phone number and cannot be read "
    "answers 422 saying: use the international format, e.g. +14155550123. `POST /v1/members/lookup` stays strict.",
    operation_id="search_member",
    responses=http.answers(
        SearchAnswer, "The member, and what the query was read as", errors=(*http.KEYED, *http.BODY, "member_not_found")
    ),
)
def search(body: SearchRequest) -> Response[Any]:
    http.require(app, "read")
    from loyalty.members import search as member_search  # the console's route: not at the cold import

    return http.answer(SearchAnswer.model_validate(member_search.search(current_program(), body.query)))


@app.patch(
    "/v1/members/<member_id>",
    tags=["members"],
    summary="Edit the profile (null removes a field)",
    operation_id="update_member_profile",
    responses=http.answers(MemberAnswer, "The member", errors=(*EDIT, "identifier_in_use")),
)
def update_profile(member_id: Annotated[Id, Path()], body: ProfilePatch) -> Response[Any]:
    http.require(app, "enroll")
    view = identity.update_profile(current_program(), member_id, body.changes())
    return http.answer(MemberAnswer.model_validate(view))


@app.post(
    "/v1/members/<member_id>/status",
    tags=["members"],
    summary="Suspend, reactivate or close a member",
    operation_id="set_member_status",
    responses=http.answers(
        MemberAnswer,
        "The member",
        errors=(*http.KEYED, *http.BODY, *http.WRITE, "member_not_found", ("invalid_state", "the member is closed")),
    ),
)
def set_status(member_id: Annotated[Id, Path()], body: StatusRequest) -> Response[Any]:
    http.require(app, "admin")
    view = lifecycle.set_status(current_program(), member_id, body.status, body.reason, http.actor(app))
    return http.answer(MemberAnswer.model_validate(view))


@app.delete(
    "/v1/members/<member_id>",
    tags=["members"],
    summary="Erase a member's personal data (and close it)",
    operation_id="erase_member",
    responses=http.answers(
        MemberAnswer,
        "The member, every personal field null",
        errors=(*READ, ("busy", "the member kept changing, or its ledger index is behind; repeat the erasure")),
    ),
)
def erase(member_id: Annotated[Id, Path()]) -> Response[Any]:
    http.require(app, "admin")
    return http.answer(MemberAnswer.model_validate(lifecycle.erase(current_program(), member_id, http.actor(app))))


@app.get(
    "/v1/members/<member_id>/export",
    tags=["members"],
    summary="Everything held about a member",
    operation_id="export_member",
    responses=http.answers(MemberExport, "The member, its profile and its whole ledger", errors=READ),
)
def export(member_id: Annotated[Id, Path()]) -> Response[Any]:
    http.require(app, "admin")
    return http.answer(MemberExport.model_validate(lifecycle.export(current_program(), member_id)))


@app.get(
    "/v1/members/<member_id>",
    tags=["members"],
    summary="A member's points, tier and benefits",
    operation_id="get_member",
    responses=http.answers(MemberAnswer, "The member", errors=READ),
)
def get_member(member_id: Annotated[Id, Path()]) -> Response[Any]:
    http.require(app, "read")
    view = views.member_view(records.get_member(member_id), current_program())
    return http.answer(MemberAnswer.model_validate(view))


@app.get(
    "/v1/members/<member_id>/ledger",
    tags=["members"],
    summary="Ledger entries, newest first",
    operation_id="get_ledger",
    responses=http.answers(
        LedgerPage, "A page of entries, and the cursor of the next (null: the last page)", errors=READ
    ),
)
def get_ledger(
    member_id: Annotated[Id, Path()],
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> Response[Any]:
    http.require(app, "read")
    return http.answer(LedgerPage.model_validate(records.ledger_page(member_id, limit, cursor)))


@app.get(
    "/v1/members/<member_id>/events",
    tags=["members"],
    summary="The member's recent domain events, newest first",
    description="What the member's changes published on the bus (`detail_type`, `detail` as consumers got it), "
    "kept 90 days; seconds behind the ledger. Newest first by when each happened (`at`), then the member's sequence.",
    operation_id="get_member_events",
    responses=http.answers(MemberEvents, "The newest events first", errors=READ),
)
def get_events(member_id: Annotated[Id, Path()], limit: Annotated[int, Query(ge=1, le=100)] = 20) -> Response[Any]:
    http.require(app, "read")
    return http.answer(MemberEvents.model_validate(records.recent_events(member_id, limit)))


@app.post(
    "/v1/members/<member_id>/adjustments",
    tags=["members"],
    summary="Admin adjustment (signed)",
    operation_id="adjust_points",
    responses=http.answers(
        LedgerLine, "The adjustment's ledger entry", created=True, errors=(*EDIT, "idempotency_conflict")
    ),
)
def adjust(member_id: Annotated[Id, Path()], body: AdjustmentRequest) -> Response[Any]:
    http.require(app, "admin")
    outcome = records.adjust(
        current_program(), member_id, body.adjustment_id, body.points, body.reason, http.actor(app)
    )
    return http.outcome_response(outcome)


@app.post(
    "/v1/members/<member_id>/subscriptions",
    tags=["members"],
    summary="Grant a paid tier for some months (idempotent per subscription_id)",
    operation_id="subscribe_member",
    responses=http.answers(
        Subscription,
        "The subscription, and the tier it leaves",
        created=True,
        errors=(*EDIT, "idempotency_conflict"),
    ),
)
def subscribe(member_id: Annotated[Id, Path()], body: SubscriptionRequest) -> Response[Any]:
    http.require(app, "admin")
    from loyalty.tiers import grants as tier_grants  # two admin routes need it: not at the cold import

    outcome = tier_grants.subscribe(
        current_program(), member_id, body.subscription_id, body.tier_id, body.months, http.actor(app)
    )
    return http.outcome_response(outcome)


@app.post(
    "/v1/members/<member_id>/tier",
    tags=["members"],
    summary="Set a manual tier (admin override)",
    operation_id="override_tier",
    responses=http.answers(TierOverride, "The member's tier now", errors=EDIT),
)
def override_tier(member_id: Annotated[Id, Path()], body: TierOverrideRequest) -> Response[Any]:
    http.require(app, "admin")
    from loyalty.tiers import grants as tier_grants

    view = tier_grants.override(current_program(), member_id, body.tier_id, body.reason, body.until, http.actor(app))
    return http.answer(TierOverride.model_validate(view))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return http.serve(app, event, context)
