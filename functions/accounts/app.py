"""Accounts (companies and households, v1.2): create, read, change, members join and leave, the pool's ledger;
and transfers between members and into pools."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from loyalty.accounts import service, transfers
from loyalty.answers.accounts import AccountAnswer, AccountLedgerPage, Transferred
from loyalty.edge import http
from loyalty.kernel.observability import logger, metrics, tracer
from loyalty.program.rules import current_program
from loyalty.requests.accounts import AccountMemberRequest, AccountPatchRequest, AccountRequest, TransferRequest
from loyalty.requests.common import Id

app = http.resolver()
READ = (*http.KEYED, "account_not_found")
MEMBERS = (*http.KEYED, *http.WRITE, "account_not_found", "member_not_found")


@app.post(
    "/v1/accounts",
    tags=["accounts"],
    summary="Create a company or household account (key: account_id)",
    operation_id="create_account",
    responses=http.answers(
        AccountAnswer,
        "The account",
        created=True,
        errors=(*http.KEYED, *http.BODY, *http.WRITE, "account_exists"),
    ),
)
def create_account(body: AccountRequest) -> Response[Any]:
    http.require(app, "admin")
    outcome = service.create(
        current_program(), body.account_id, body.kind, body.name, body.member_share_percent, body.max_members
    )
    return http.outcome_response(outcome)


@app.get(
    "/v1/accounts/<account_id>",
    tags=["accounts"],
    summary="An account: its pool, tier, benefits and members",
    operation_id="get_account",
    responses=http.answers(AccountAnswer, "The account", errors=READ),
)
def get_account(account_id: Annotated[Id, Path()]) -> Response[Any]:
    http.require(app, "read")
    return http.answer(service.read(current_program(), account_id))


@app.patch(
    "/v1/accounts/<account_id>",
    tags=["accounts"],
    summary="Change an account's name, member share or size limit",
    operation_id="patch_account",
    responses=http.answers(
        AccountAnswer, "The account", errors=(*http.KEYED, *http.BODY, *http.WRITE, "account_not_found")
    ),
)
def patch_account(account_id: Annotated[Id, Path()], body: AccountPatchRequest) -> Response[Any]:
    http.require(app, "admin")
    changed = service.change(current_program(), account_id, body.name, body.member_share_percent, body.max_members)
    return http.answer(changed)


@app.get(
    "/v1/accounts/<account_id>/ledger",
    tags=["accounts"],
    summary="The pool's ledger entries, newest first",
    operation_id="get_account_ledger",
    responses=http.answers(
        AccountLedgerPage, "A page of entries, and the cursor of the next (null: the last page)", errors=READ
    ),
)
def get_account_ledger(
    account_id: Annotated[Id, Path()],
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> Response[Any]:
    http.require(app, "read")
    return http.answer(AccountLedgerPage.model_validate(service.ledger_page(account_id, limit, cursor)))


@app.post(
    "/v1/accounts/<account_id>/members",
    tags=["accounts"],
    summary="Add a member with a role, or set its role",
    operation_id="add_account_member",
    responses=http.answers(
        AccountAnswer,
        "The account",
        errors=(*MEMBERS, *http.BODY, "member_in_account", "account_full", "member_inactive"),
    ),
)
def add_member(account_id: Annotated[Id, Path()], body: AccountMemberRequest) -> Response[Any]:
    http.require(app, "admin")
    return http.answer(service.join(current_program(), account_id, body.member_id, body.role))


@app.delete(
    "/v1/accounts/<account_id>/members/<member_id>",
    tags=["accounts"],
    summary="A member leaves the account (no points move)",
    operation_id="remove_account_member",
    responses=http.answers(
        AccountAnswer, "The account", errors=(*MEMBERS, ("member_not_found", "the member is not in the account"))
    ),
)
def remove_member(account_id: Annotated[Id, Path()], member_id: Annotated[Id, Path()]) -> Response[Any]:
    http.require(app, "admin")
    return http.answer(service.leave(current_program(), account_id, member_id))


@app.post(
    "/v1/transfers",
    tags=["accounts"],
    summary="Give points to a member or into an account's pool (key: transfer_id)",
    operation_id="create_transfer",
    responses=http.answers(
        Transferred,
        "The transfer",
        created=True,
        errors=(
            *http.KEYED,
            *http.BODY,
            *http.WRITE,
            "member_not_found",
            "account_not_found",
            "member_inactive",
            "insufficient_points",
            "idempotency_conflict",
            "transfer_limit_reached",
        ),
    ),
)
def create_transfer(body: TransferRequest) -> Response[Any]:
    http.require(app, "redeem")
    outcome = transfers.transfer(
        current_program(),
        body.transfer_id,
        body.from_member_id,
        body.points,
        to_member_id=body.to_member_id,
        to_account_id=body.to_account_id,
        reason=body.reason,
    )
    return http.outcome_response(outcome)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return http.serve(app, event, context)
