"""HTTP plumbing every API function shares: the resolver, the contract's error shape, scopes, 413,
and the refusal of hostile JSON before it is parsed.

Handlers stay a handful of lines: `app = http.resolver()`, routes that call the domain, and
`http.serve(app, event, context)`.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from loyalty.kernel.errors import Forbidden, LoyaltyError, PayloadTooLarge, ValidationFailed
from loyalty.kernel.observability import logger
from loyalty.ledger.operations import Outcome

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

    from loyalty.answers.common import Answer

MAX_BODY_BYTES = 64 * 1024
JSON = "application/json"
# No contract body nests deeper than 3; json.loads recurses once per level and a 40 KB body of
# brackets would exhaust Python's stack (RecursionError, a 500) before any model sees it.
MAX_DEPTH = 64
# Python refuses to read an integer of more than 4,300 digits (a ValueError, a 500); no field needs 20.
MAX_NUMBER_DIGITS = 100
# The depth scan's tokens: a JSON string (skipped whole, escapes included) or one bracket. An unterminated
# string runs to the end of the text, so a string match never fails: no retry from every later quote,
# which made a 64 KiB body of escaped quotes take seconds.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)|[\[{]|[\]}]', re.DOTALL)


def request_id(event: Mapping[str, Any]) -> str:
    return str((event.get("requestContext") or {}).get("requestId") or "unknown")


def error_body(status: int, code: str, message: str, rid: str, details: list[Any] | None = None) -> str:
    error: dict[str, Any] = {"code": code, "message": message, "request_id": rid}
    if details:
        error["details"] = details
    return json.dumps({"error": error}, separators=(",", ":"))


def error_response(event: Mapping[str, Any], status: int, code: str, message: str, details=None) -> dict:
    return {
        "statusCode": status,
        "headers": {"Content-Type": JSON},
        "body": error_body(status, code, message, request_id(event), details),
        "isBase64Encoded": False,
    }


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _details(exc: RequestValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        message = str(err.get("msg", "invalid"))
        if err.get("type") == "json_invalid":
            message = "the body is not valid JSON"
            loc = ("body",)
        out.append({"field": _field(loc), "message": message})
    return out


class _Refused(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(key, "appears twice in one object")
        out[key] = value
    return out


def _not_a_number(name: str) -> Any:
    raise _Refused("body", f"{name} is not a JSON number")


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise _Refused("body", f"a number has more than {MAX_NUMBER_DIGITS} digits")
    return int(text)


def nesting_depth(text: str, limit: int = MAX_DEPTH) -> int:
    """How deeply arrays and objects nest in `text` (strings skipped), counting no further than limit + 1."""
    depth = deepest = 0
    for token in _TOKENS.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        elif char in "]}":
            depth -= 1
    return deepest


def refuse_hostile_json(text: str) -> None:
    """Raise `ValidationFailed` for a body the contract's JSON may not be, before any parser recurses on it:
    nesting deeper than MAX_DEPTH, a top level that is not an object, a key twice in one object (parsers
    disagree on which one wins), NaN or Infinity (not JSON), an integer of more than MAX_NUMBER_DIGITS digits.
    (A lone surrogate such as `"\\ud800"` is refused by the request models: a string must be valid Unicode.)"""
    if nesting_depth(text) > MAX_DEPTH:
        raise ValidationFailed.field("body", f"the body nests more than {MAX_DEPTH} levels deep")
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_not_a_number, parse_int=_integer)
    except _Refused as refused:
        raise ValidationFailed.field(refused.field, refused.message) from None
    except (ValueError, RecursionError):
        raise ValidationFailed.field("body", "the body is not valid JSON") from None
    if not isinstance(value, dict):
        raise ValidationFailed.field("body", "the body must be a JSON object")


UNKNOWN_QUERY = "not a query parameter of this route"
EXTRA = "Extra inputs are not permitted"  # pydantic's words for an unknown field of a strict body model


def strict_request(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response:
    """What the route's models cannot see, refused as theirs are (422 `validation_error` naming each): a query
    parameter the route does not declare (a typo such as `?memberid=` is never ignored), and a body with
    fields on a route that takes none (capture, void, the reads; no body or `{}` is fine). `serve` has
    refused a body that is not one JSON object already. The pages outside the API's document (the console,
    Swagger UI, the document itself) take any query string, as a web page does; a body is refused as anywhere."""
    route = app.context["_route"]  # the route matched: Powertools puts it here for its own validation
    declared = {param.alias for param in route.dependant.query_params}
    event = app.current_event
    sent = {*(event.query_string_parameters or {}), *(event.multi_value_query_string_parameters or {})}
    # a page or its file (/console, /docs, /openapi.json) is not an API route: a link's tracking or
    # cache-busting query must not turn it into a 422
    unknown = sent - declared if route.include_in_schema else set()
    errors: list[dict[str, Any]] = [
        {"type": "extra_forbidden", "loc": ("query", name), "msg": UNKNOWN_QUERY, "input": None}
        for name in sorted(unknown)
    ]
    if not route.dependant.body_params and event.body:
        fields = json.loads(event.body)  # one JSON object (`serve` checked)
        errors += [{"type": "extra_forbidden", "loc": ("body", name), "msg": EXTRA, "input": None} for name in fields]
    if errors:
        raise RequestValidationError(errors)
    return next_middleware(app)


def resolver() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True)
    app.use(middlewares=[strict_request])

    def _rid() -> str:
        return request_id(app.current_event.raw_event)

    @app.exception_handler(LoyaltyError)
    def _domain(exc: LoyaltyError) -> Response:
        return Response(exc.status, JSON, error_body(exc.status, exc.code, exc.message, _rid(), exc.details))

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response:
        details = _details(exc)
        message = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
        return Response(422, JSON, error_body(422, "validation_error", message, _rid(), details))

    @app.not_found
    def _missing(exc: NotFoundError) -> Response:
        return Response(404, JSON, error_body(404, "not_found", "no such route", _rid()))

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unexpected error", extra={"request_id": _rid()})
        return Response(500, JSON, error_body(500, "internal_error", "something went wrong", _rid()))

    return app


def _decoded(text: str) -> str:
    """One path segment percent-decoded once (`shop%3A42%40acme` -> `shop:42@acme`; `%253A` -> `%3A`). A segment
    that would decode to a `/` (`%2F`) is kept as sent: a path never gains a segment, and the id's pattern
    refuses the `%` with a 422 naming the parameter; so is one that is not UTF-8 once decoded (`%FF`)."""
    if "%" not in text:
        return text
    try:
        decoded = unquote(text, errors="strict")
    except UnicodeDecodeError:
        return text
    return text if "/" in decoded else decoded


def decode_path(event: dict[str, Any]) -> dict[str, Any]:
    """The event with its path and path parameters percent-decoded, once, here at the edge. API Gateway's REST
    APIs hand the function both as the client sent them, and most HTTP clients encode the `:` and `@` an id may
    hold (`GET /v1/members/shop%3A42%40acme`): undecoded, the routes' id pattern refused them (422)."""
    path, params = event.get("path"), event.get("pathParameters")
    if not (isinstance(path, str) and "%" in path) and not any("%" in str(v) for v in (params or {}).values()):
        return event
    decoded = dict(event)
    if isinstance(path, str):
        decoded["path"] = "/".join(_decoded(segment) for segment in path.split("/"))
    if params:
        decoded["pathParameters"] = {k: _decoded(v) if isinstance(v, str) else v for k, v in params.items()}
    return decoded


def serve(
    app: APIGatewayRestResolver,
    event: dict[str, Any],
    context: Any,
    guard: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Refuse oversized bodies before any work, decode the path (`decode_path`), then run `guard` on the raw
    event (the partner signature check: before the body is parsed), refuse a body that is not UTF-8 or is
    hostile JSON (`refuse_hostile_json`), then route."""
    event = decode_path(event)
    body = event.get("body") or ""
    size = len(body.encode() if isinstance(body, str) else body)
    if event.get("isBase64Encoded"):
        size = size * 3 // 4
    if size > MAX_BODY_BYTES:
        exc = PayloadTooLarge(f"request bodies are limited to {MAX_BODY_BYTES} bytes")
        return error_response(event, exc.status, exc.code, exc.message)
    if guard is not None:
        try:
            guard(event)
        except LoyaltyError as refused:
            return error_response(event, refused.status, refused.code, refused.message, refused.details)
        except Exception:
            logger.exception("unexpected error before routing", extra={"request_id": request_id(event)})
            return error_response(event, 500, "internal_error", "something went wrong")
    if body:
        try:  # API Gateway passes a body that is not UTF-8 base64-encoded: JSON bodies are UTF-8
            text = raw_body(event).decode("utf-8")
        except (UnicodeDecodeError, ValueError):
            details = [{"field": "body", "message": "the body is not UTF-8 JSON"}]
            return error_response(event, 422, "validation_error", "the body is not UTF-8 JSON", details)
        try:
            refuse_hostile_json(text)
        except ValidationFailed as refused:
            return error_response(event, refused.status, refused.code, refused.message, refused.details)
        # The contract's bodies are JSON whatever the client's Content-Type says (curl -d sends a form type)
        headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "content-type"}
        event = {
            **event,
            "body": text,
            "isBase64Encoded": False,
            "headers": {**headers, "Content-Type": JSON},
            "multiValueHeaders": None,
        }
    return app.resolve(event, context)


def raw_body(event: Mapping[str, Any]) -> bytes:
    """The request body exactly as the client sent it (what a partner signed)."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body.encode() if isinstance(body, str) else bytes(body)


def header(event: Mapping[str, Any], name: str) -> str | None:
    """A request header, whatever its case (API Gateway passes the client's spelling)."""
    wanted = name.lower()
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == wanted:
            return str(value) if value is not None else None
    for key, values in (event.get("multiValueHeaders") or {}).items():
        if key.lower() == wanted and values:
            return str(values[-1])
    return None


def caller(app: APIGatewayRestResolver) -> dict[str, Any]:
    """What the authorizer put in the request context for the bearer key: `scopes`, `key_id`, `key_name`."""
    return dict(app.current_event.request_context.authorizer.raw_event or {})


def actor(app: APIGatewayRestResolver) -> dict[str, str] | None:
    """Who makes an admin write: the bearer key's id and name, recorded with the write (`actor`)."""
    found = caller(app)
    if not found.get("key_id"):
        return None
    named = {"name": str(found["key_name"])} if found.get("key_name") else {}
    return {"key_id": str(found["key_id"]), **named}


def require(app: APIGatewayRestResolver, scope: str) -> None:
    """The authorizer put the key's scopes in the request context; check the route's scope here."""
    scopes = set(str(caller(app).get("scopes", "")).split())
    if scope not in scopes and "admin" not in scopes:
        raise Forbidden(f"this key lacks the `{scope}` scope")


def json_response(status: int, body: dict[str, Any] | str, headers: dict[str, str] | None = None) -> Response:
    text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return Response(status, JSON, text, headers=headers)


def answer(body: Answer, status: int = 200) -> Response:
    """An answer built through its response model (loyalty.answers): the bytes are the model's."""
    return Response(status, JSON, body.body())


def outcome_response(outcome: Outcome) -> Response:
    """An idempotent write's answer: the text its response model gave when the write was first made (the
    domain stores it with the write), replayed byte for byte with `Idempotent-Replayed: true`."""
    headers = {REPLAYED: "true"} if outcome.replayed else None
    return json_response(outcome.status, outcome.body, headers)


# -- the OpenAPI document's answers ----------------------------------------------------------------
# Routes declare what they answer with `responses=http.answers(...)`: each status with its schema, by
# reference to a response model (loyalty_local.openapi_gen adds the models' schemas to the document), so
# nothing is built from a model at import or at a first request. The return annotation stays
# `Response[Any]`: an answer is JSON text already (a replay is the stored text), not a value to validate.
REPLAYED = "Idempotent-Replayed"
SCHEMAS = "#/components/schemas/"
ERROR = "ErrorAnswer"  # loyalty.answers.ErrorAnswer (error_body writes its shape)
# The contract's error codes: each code's status, and when it is answered. A route declares the codes it may
# answer (`answers(..., errors=(...))`); the document lists them under their statuses, each code with its
# sentence, and in `x-error-codes`; docs/api.md shows them. A route answers what it declares and nothing else:
# tests.support.aws.call fails any test whose error answer's code its route does not list (test_fuzz too).
CODES: dict[str, tuple[int, str]] = {
    "unauthorized": (401, "the bearer key is missing or unknown"),
    "invalid_signature": (401, "the partner signature is missing, malformed, wrong, or older than 300 s"),
    "forbidden": (403, "the key lacks the route's scope"),
    "member_not_found": (404, "no such member"),
    "reward_not_found": (404, "no such reward in the programme"),
    "order_not_found": (404, "the member has no such order"),
    "redemption_not_found": (404, "no such redemption"),
    "member_exists": (409, "the member id is enrolled already, with a different body"),
    "identifier_in_use": (409, "the email, phone or card_id belongs to another member"),
    "invalid_state": (409, "the request does not fit the current state"),
    "idempotency_conflict": (409, "the same id was used before with a different body"),
    "insufficient_points": (409, "the member has fewer points available than this takes"),
    "member_inactive": (409, "the member is suspended or closed"),
    "reward_unavailable": (409, "the reward is out of stock, outside its window, or taken as often as allowed"),
    "payload_too_large": (413, "the body is over 64 KiB"),
    "validation_error": (
        422,
        "a malformed or unknown body field, path or query parameter (`details` names each, one per field)",
    ),
    "refund_exceeds_order": (422, "the refunds would exceed the order's amount"),
    "activity_limit_reached": (422, "the activity's cap for the period is used up"),
    "reward_not_eligible": (422, "the member's tier may not take this reward"),
    "account_not_found": (404, "no such account (v1.2)"),
    "account_exists": (409, "the account id exists with a different body (v1.2)"),
    "member_in_account": (409, "the member belongs to another account (v1.2)"),
    "account_full": (409, "the account has its `max_members` members (v1.2)"),
    "transfer_limit_reached": (
        422,
        "the sender's transfers this calendar month would pass the programme's limit (v1.2)",
    ),
    "endpoint_not_found": (404, "no such webhook endpoint (v1.2)"),
    "endpoint_exists": (409, "the endpoint id exists with a different body (v1.2)"),
    "delivery_not_found": (404, "the endpoint has no such delivery (v1.2)"),
    "import_not_found": (404, "no such import (v1.2)"),
    "import_exists": (409, "the import id exists with a different body (v1.2)"),
    "internal_error": (500, "something went wrong; never a stack trace or an AWS error text"),
    "busy": (503, "the member kept changing under the write; retry it"),
}
# A code, or a code and the route's own words for when it answers it
Error = str | tuple[str, str]
# What every keyed route may answer (422: every route refuses a query parameter it does not declare, and fields
# in a body where it takes none); what every signed (partner) route may answer; what a body or a write adds
KEYED: tuple[Error, ...] = ("unauthorized", "forbidden", "validation_error", "internal_error")
SIGNED: tuple[Error, ...] = ("invalid_signature", "validation_error", "internal_error")
BODY: tuple[Error, ...] = ("payload_too_large",)
WRITE: tuple[Error, ...] = ("busy",)
ERROR_CODES = "x-error-codes"  # the document's extension: a status's codes, in the order declared


def error_responses(errors: Iterable[Error]) -> dict[int, OpenAPIResponse]:
    """The document's error statuses for a route's codes: each status the contract's error schema, described
    by its codes and when each is answered, with the codes in `x-error-codes`."""
    by_status: dict[int, dict[str, str]] = {}
    for error in errors:
        code = error[0] if isinstance(error, tuple) else error
        if code not in CODES:
            raise KeyError(f"{code!r} is not an error code of the contract (http.CODES)")
        when = error[1] if isinstance(error, tuple) else CODES[code][1]
        by_status.setdefault(CODES[code][0], {}).setdefault(code, when)
    out: dict[int, OpenAPIResponse] = {}
    for status, codes in sorted(by_status.items()):
        description = "; ".join(f"`{code}`: {when}" for code, when in codes.items())
        response: dict[str, Any] = {"description": description, "content": _content(ERROR), ERROR_CODES: [*codes]}
        out[status] = response  # type: ignore[assignment]
    return out


def _content(name: str) -> dict[str, Any]:
    return {JSON: {"schema": {"$ref": SCHEMAS + name}}}


def answers(
    model: type[Answer],
    description: str,
    *,
    errors: Iterable[Error],
    created: bool = False,
    repeatable: bool = False,
    accepted: bool = False,
) -> dict[int, OpenAPIResponse]:
    """The route's statuses for the document: `model` under 200, or under 201 and its replay under 200
    when `created` (an idempotent create); `repeatable`: a 200 that a repeat answers again, replayed.
    `accepted`: the route answers 202 (it started something that goes on: a message sent, an import's step).
    `errors`: the codes of http.CODES the route may answer (a code, or a code and when this route answers it)."""
    replayed: dict[str, Any] = {
        REPLAYED: {
            "description": "`true`: the same write was made before; this is its first answer, byte for byte",
            "schema": {"type": "string", "enum": ["true"]},
            "required": created,
        }
    }
    out: dict[int, OpenAPIResponse] = {}
    if created:
        out[201] = {"description": description, "content": _content(model.__name__)}
        out[200] = {
            "description": "A replay: the same write with the same body and key answers the first answer again",
            "headers": replayed,
            "content": _content(model.__name__),
        }
    elif accepted:
        out[202] = {"description": description, "content": _content(model.__name__)}
    else:
        out[200] = {"description": description, "content": _content(model.__name__)}
        if repeatable:
            out[200]["headers"] = replayed
    return {**out, **error_responses(errors)}
