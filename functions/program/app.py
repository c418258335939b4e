"""The programme as clients see it, and the OpenAPI document of the whole API."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from loyalty import http, liability, openapi, program_view
from loyalty.observability import logger, tracer
from loyalty.program import current_program

app = http.resolver()


@app.get("/v1/program", tags=["program"], summary="The active programme")
def get_program() -> Response[Any]:
    http.require(app, "read")
    return http.json_response(200, program_view.public_program(current_program()))


@app.get("/v1/reports/liability", tags=["reports"], summary="Points outstanding by expiry month, and their value")
def get_liability() -> Response[Any]:
    http.require(app, "admin")
    return http.json_response(200, liability.current(current_program()))


@app.get("/openapi.json", include_in_schema=False)
def get_openapi() -> Response[Any]:
    return http.json_response(200, openapi.document())


@app.get("/docs", include_in_schema=False)
def get_docs() -> Response[Any]:
    return Response(200, "text/html; charset=utf-8", openapi.SWAGGER_HTML)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return http.serve(app, event, context)
