"""The programme as clients see it, the reports and job runs (admin), and the OpenAPI document of the API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from loyalty.answers.messages import ExpiringPoints, TierDowngrades
from loyalty.answers.programme import CurrentKey, Liability, ProgramAnswer
from loyalty.edge import console, http, openapi
from loyalty.jobs import runner as jobs
from loyalty.kernel.clock import utcnow
from loyalty.kernel.errors import RouteNotFound
from loyalty.kernel.months import month_of
from loyalty.kernel.observability import logger, tracer
from loyalty.program import view as program_view
from loyalty.program.rules import current_program
from loyalty.reports import liability
from loyalty.reports import messages as lists
from loyalty.reports import summary as reports
from loyalty.requests import messages as list_query

app = http.resolver()


@app.get(
    "/v1/program",
    tags=["program"],
    summary="The active programme",
    operation_id="get_program",
    responses=http.answers(ProgramAnswer, "The active programme", errors=http.KEYED),
)
def get_program() -> Response[Any]:
    http.require(app, "read")
    return http.answer(ProgramAnswer.model_validate(program_view.public_program(current_program())))


@app.get(
    "/v1/reports/liability",
    tags=["reports"],
    summary="Points outstanding by expiry month, and their value",
    operation_id="get_liability_report",
    responses=http.answers(Liability, "Points outstanding, and their value", errors=http.KEYED),
)
def get_liability() -> Response[Any]:
    http.require(app, "admin")
    return http.answer(Liability.model_validate(liability.current(current_program())))


def _answer(model: type[Any], description: str, errors: tuple[http.Error, ...] = http.KEYED) -> dict[int, Any]:
    """The reports' and job runs' models (kept beside their domain modules), with the contract's errors."""
    return {
        200: {"description": description, "content": {"application/json": {"model": model}}},
        **http.error_responses(errors),
    }


@app.get(
    "/v1/reports/tiers",
    tags=["reports"],
    summary="Members per tier",
    description="Every tier of the programme, in programme order, with its active and suspended members "
    "(closed members are not counted). Kept by the stream processor: seconds behind the table.",
    operation_id="get_tiers_report",
    responses=_answer(reports.TiersReport, "Members per tier"),
)
def get_tiers_report() -> Response[Any]:
    http.require(app, "admin")
    return http.json_response(200, reports.tiers(current_program()).model_dump(mode="json"))


@app.get(
    "/v1/reports/activity",
    tags=["reports"],
    summary="Enrolments and points earned, redeemed, expired and adjusted, by month",
    description="Every month from `from` to `to` (at most 36), oldest first, zeros included; points by the month "
    "each ledger entry was recorded. `earned`: points of earn and bonus entries (pending ones too), net of "
    "refunds; `redeemed`: points spent, net of cancelled, voided and released redemptions (positive); "
    "`expired`: points expired (positive); `adjusted`: administrators' adjustments, signed net. "
    "Default range: the 12 months ending with the current month.",
    operation_id="get_activity_report",
    responses=_answer(reports.ActivityReport, "Activity by month"),
)
def get_activity_report(
    from_: Annotated[str | None, Query(alias="from", pattern=reports.MONTH_PATTERN, description="YYYY-MM")] = None,
    to: Annotated[str | None, Query(pattern=reports.MONTH_PATTERN, description="YYYY-MM")] = None,
) -> Response[Any]:
    http.require(app, "admin")
    return http.json_response(200, reports.activity(from_, to).model_dump(mode="json"))


# -- the lists before a message goes out (v1.2): JSON pages, or the same page as CSV ------------------------------
def _list_answer(model: type[Any], description: str) -> dict[int, Any]:
    csv_headers = {
        list_query.NEXT_CURSOR_HEADER: {
            "description": "The cursor of the next page (absent on the last page): pass it as `cursor`",
            "schema": {"type": "string"},
        }
    }
    return {
        200: {
            "description": description,
            "headers": csv_headers,
            "content": {
                http.JSON: {"schema": {"$ref": http.SCHEMAS + model.__name__}},
                "text/csv": {"schema": {"type": "string", "description": "The page as CSV, with a header line"}},
            },
        },
        **http.error_responses(http.KEYED),
    }


LIST_FORMAT = (
    "`json` (the default) or `csv`: the same page as CSV with a header line (`text/csv`), the next page's cursor "
    "in the `Next-Cursor` header"
)


def _list_response(page: Any, columns: tuple[str, ...], format_: str) -> Response[Any]:
    if format_ == "csv":
        headers = {list_query.NEXT_CURSOR_HEADER: page.next_cursor} if page.next_cursor else {}
        return Response(200, list_query.CSV, lists.csv_page(page.members, columns), headers=headers)
    return http.answer(page)


def _month(month: str | None) -> str:
    return month or month_of(utcnow())


@app.get(
    "/v1/reports/expiring-points",
    tags=["reports"],
    summary="Members with points that expire at the end of a month (v1.2)",
    description="Each member (not closed) holding points that expire at the end of `month` (default: the current "
    "month), with their name, e-mail and phone and the points. Read from the expiry index, shard by shard, never a "
    "scan: a page holds at most `limit` members and may hold fewer; follow `next_cursor` until it is null. "
    "`format=csv` answers the same page as CSV (a header line; the next cursor in the `Next-Cursor` header).",
    operation_id="list_expiring_points",
    responses=_list_answer(ExpiringPoints, "A page of members with points expiring that month"),
)
def get_expiring_points(
    month: Annotated[str | None, Query(pattern=list_query.MONTH_PATTERN, description="YYYY-MM")] = None,
    limit: Annotated[int, Query(ge=1, le=list_query.MAX_LIMIT)] = list_query.DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    format_: Annotated[list_query.ListFormat, Query(alias="format", description=LIST_FORMAT)] = "json",
) -> Response[Any]:
    http.require(app, "admin")
    page = lists.expiring_points(_month(month), limit, cursor)
    return _list_response(page, lists.EXPIRING_COLUMNS, format_)


@app.get(
    "/v1/reports/tier-downgrades",
    tags=["reports"],
    summary="Members whose tier drops at the next evaluation unless they add to it (v1.2)",
    description="The members (and accounts) the tier evaluation of `month` (on its 1st; default: the current month) "
    "kept in their tier but would drop at the next one, on the 1st of the month after, with the figures of their "
    "TierDowngradeUpcoming: `qualifying_then`, `threshold`, `remaining`. Read from the evaluation's records, never a "
    "scan; closed members are left out. Paged as `/v1/reports/expiring-points`; `format=csv` likewise.",
    operation_id="list_tier_downgrades",
    responses=_list_answer(TierDowngrades, "A page of members whose tier drops at the next evaluation"),
)
def get_tier_downgrades(
    month: Annotated[str | None, Query(pattern=list_query.MONTH_PATTERN, description="YYYY-MM")] = None,
    limit: Annotated[int, Query(ge=1, le=list_query.MAX_LIMIT)] = list_query.DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    format_: Annotated[list_query.ListFormat, Query(alias="format", description=LIST_FORMAT)] = "json",
) -> Response[Any]:
    http.require(app, "admin")
    page = lists.tier_downgrades(_month(month), limit, cursor)
    return _list_response(page, lists.DOWNGRADE_COLUMNS, format_)


@app.get(
    "/v1/jobs",
    tags=["jobs"],
    summary="The newest runs of the monthly jobs, newest first",
    description="Each run's status, its summary once done, and the messages waiting in its job's dead-letter queue.",
    operation_id="list_job_runs",
    responses=_answer(jobs.JobRuns, "Job runs"),
)
def get_jobs(limit: Annotated[int, Query(ge=1, le=100)] = 20) -> Response[Any]:
    http.require(app, "admin")
    return http.json_response(200, jobs.recent_runs(limit).model_dump(mode="json"))


@app.get(
    "/v1/keys/current",
    tags=["keys"],
    summary="The key this request carries: its name and scopes (any valid key)",
    description="What a client may do with its key, without trying: the console offers only what the scopes allow. "
    "Never the key itself (`key_id` is its public id).",
    operation_id="get_current_key",
    responses=http.answers(
        CurrentKey, "The key's id, name and scopes", errors=("unauthorized", "validation_error", "internal_error")
    ),
)
def get_current_key() -> Response[Any]:
    context = http.caller(app)
    scopes = sorted(str(context.get("scopes", "")).split())
    return http.answer(CurrentKey(key_id=context["key_id"], name=context["key_name"], scopes=scopes))


@app.get("/", include_in_schema=False)
def get_root() -> Response[Any]:
    """The API's root, in a browser: the console. Relative to the URL asked for (`/Prod/`, `/Prod`, a custom
    domain's `/` or base path), since the stage or base path is a prefix this function does not see in `path`."""
    asked = app.current_event.request_context.path or "/"
    return _redirect("console" if asked.endswith("/") else asked.rstrip("/").rsplit("/", 1)[-1] + "/console")


@app.get("/console", include_in_schema=False)
def get_console() -> Response[Any]:
    if app.current_event.path.endswith("/"):  # API Gateway hands `/console/` here: its relative links need `/console`
        return _redirect("../console")
    return Response(200, "text/html; charset=utf-8", console.page(), headers=console.security_headers())


def _redirect(location: str) -> Response[Any]:
    return Response(302, "text/plain; charset=utf-8", "", headers={"Location": location, "Cache-Control": "no-store"})


@app.get("/console/<asset>", include_in_schema=False)
def get_console_asset(asset: str) -> Response[Any]:
    return _file(console.asset, asset, console.security_headers())


@app.get("/openapi.json", include_in_schema=False)
def get_openapi() -> Response[Any]:
    return http.json_response(200, openapi.document())


@app.get("/docs", include_in_schema=False)
def get_docs() -> Response[Any]:
    if app.current_event.path.endswith("/"):  # `/docs/`: its relative links (docs/swagger-ui.css) need `/docs`
        return _redirect("../docs")
    return Response(200, "text/html; charset=utf-8", openapi.SWAGGER_HTML)


@app.get("/docs/<asset>", include_in_schema=False)
def get_docs_asset(asset: str) -> Response[Any]:
    return _file(openapi.asset, asset, {"Cache-Control": "public, max-age=86400"})


def _file(read: Callable[[str], tuple[str, str]], name: str, headers: dict[str, str]) -> Response[Any]:
    """One of the files a page loads (the console's, Swagger UI's); a name not among them is 404."""
    try:
        text, content_type = read(name)
    except LookupError:  # each module's AssetNotFound
        raise RouteNotFound("no such file") from None
    return Response(200, content_type, text, headers=headers)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return http.serve(app, event, context)
