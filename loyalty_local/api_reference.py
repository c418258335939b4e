"""Write docs/api.md, the API reference: every route of the OpenAPI document the code generates
(layers/loyalty/loyalty/openapi.json), its parameters, body and answers, every schema, and a real example
request and answer per route.

The examples are not written by hand: `WALK` is sent to a local stack started in this process, its clock
fixed at `NOW`, and each route's first request is shown with the answer it got. Ids are the walk's own and
entry ids derive from their keys, so the same code writes the same page; a test fails when the committed
page differs from what this writes.

    python -m loyalty_local.api_reference            # writes docs/api.md
    python -m loyalty_local.api_reference --check    # exit 1 when docs/api.md is out of date
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import hmac
import json
import os
import re
import sys
from datetime import datetime
from typing import Any

from loyalty.requests import accounts, checkout, common, earning, imports, members, redemption, webhooks
from pydantic import BaseModel

from loyalty_local.template import ROOT, Template

TARGET = ROOT / "docs" / "api.md"
DOCUMENT = ROOT / "layers" / "loyalty" / "loyalty" / "openapi.json"
NOW = "2026-03-14T10:00:00Z"
KEY = "lk_local_admin"  # every scope: the example shows the route, not the key's scopes
PARTNER_SECRETS = {"demo-partner": "demo-partner-secret"}


def _example(model: type[BaseModel]) -> dict[str, Any]:
    """The request model's example (its `examples` in the document, what Swagger UI fills in)."""
    extra: Any = model.model_config.get("json_schema_extra")
    assert isinstance(extra, dict), f"{model.__name__} has no example"
    return copy.deepcopy(dict(extra["examples"][0]))


ENROLMENT = _example(members.EnrollRequest)
ORDER = _example(earning.EarnRequest)
BASKET = _example(checkout.CheckoutQuoteRequest)
# A day of the demo programme, in the order a client would send it; the first request to each route is its
# example, and its body the route's model's own example: the walk proves every example works.
UPLOAD, WORK = "_UPLOAD", "_WORK"  # not requests: the client's PUT of an import's file, a worker's queue drained
WALK: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/v1/members", ENROLMENT),
    ("PATCH", "/v1/members/cust-1", _example(members.ProfilePatch)),
    ("POST", "/v1/members/lookup", _example(common.LookupRequest)),
    ("POST", "/v1/members/search", _example(common.SearchRequest)),
    ("POST", "/v1/earn/preview", ORDER),
    ("POST", "/v1/earn", ORDER),
    ("POST", "/v1/refunds", _example(earning.RefundRequest)),
    ("POST", "/v1/activities", _example(earning.ActivityRequest)),
    ("POST", "/v1/members/cust-1/adjustments", _example(members.AdjustmentRequest)),
    ("GET", "/v1/members/cust-1", None),
    ("GET", "/v1/members/cust-1/ledger?limit=3", None),
    ("GET", "/v1/members/cust-1/events?limit=2", None),
    ("GET", "/v1/rewards?member_id=cust-1", None),
    ("POST", "/v1/partners/demo-partner/redemptions", _example(redemption.PartnerRedemptionRequest)),
    ("POST", "/v1/partners/demo-partner/redemptions/red-1/cancel", _example(redemption.PartnerCancelRequest)),
    ("POST", "/v1/redemptions", _example(redemption.PayWithPointsRequest)),
    ("POST", "/v1/redemptions/pwp-1/capture", {}),
    ("POST", "/v1/redemptions", {"redemption_id": "pwp-2", "member_id": "cust-1", "points": 100, "capture": False}),
    ("POST", "/v1/redemptions/pwp-2/void", {}),
    ("POST", "/v1/checkout/quote", BASKET),
    ("POST", "/v1/checkout/orders", _example(checkout.CheckoutOrderRequest)),
    ("POST", "/v1/accounts", _example(accounts.AccountRequest)),
    ("POST", "/v1/accounts/acme/members", _example(accounts.AccountMemberRequest)),
    ("POST", "/v1/earn", {**ORDER, "order_id": "order-2"}),
    ("GET", "/v1/accounts/acme", None),
    ("GET", "/v1/accounts/acme/ledger?limit=3", None),
    ("POST", "/v1/transfers", _example(accounts.TransferRequest)),
    ("PATCH", "/v1/accounts/acme", _example(accounts.AccountPatchRequest)),
    ("DELETE", "/v1/accounts/acme/members/cust-1", None),
    ("POST", "/v1/members/cust-1/subscriptions", _example(members.SubscriptionRequest)),
    ("POST", "/v1/members/cust-1/tier", _example(members.TierOverrideRequest)),
    ("POST", "/v1/members", {"member_id": "cust-2", "channel": "pos"}),
    ("POST", "/v1/members/cust-2/status", _example(members.StatusRequest)),
    ("GET", "/v1/members/cust-2/export", None),
    ("DELETE", "/v1/members/cust-2", None),
    ("GET", "/v1/program", None),
    ("GET", "/v1/reports/liability", None),
    ("GET", "/v1/reports/tiers", None),
    ("GET", "/v1/reports/activity?from=2026-01&to=2026-03", None),
    ("GET", "/v1/reports/expiring-points?month=2027-03&limit=2", None),
    ("GET", "/v1/reports/tier-downgrades?month=2026-03&limit=2", None),
    ("GET", "/v1/jobs?limit=5", None),
    ("GET", "/v1/keys/current", None),
    ("POST", "/v1/webhooks", _example(webhooks.EndpointRequest)),
    ("GET", "/v1/webhooks", None),
    ("PATCH", "/v1/webhooks/email-platform", _example(webhooks.EndpointPatchRequest)),
    ("POST", "/v1/webhooks/email-platform/test", None),
    ("GET", "/v1/webhooks/email-platform/deliveries?limit=5", None),
    ("POST", "/v1/webhooks/email-platform/deliveries/{delivery_id}/retry", None),
    ("POST", "/v1/webhooks/email-platform/rotate-secret", None),
    ("GET", "/v1/webhooks/email-platform", None),
    ("DELETE", "/v1/webhooks/email-platform", None),
    # an import: created, its file put where the answer says (UPLOAD), checked and applied by its worker (WORK)
    ("POST", "/v1/imports", _example(imports.ImportRequest)),
    (UPLOAD, "from-square-1", None),
    ("GET", "/v1/imports/from-square-1", None),
    ("POST", "/v1/imports/from-square-1/validate", None),
    (WORK, "ImportWorkerFunction", None),
    ("GET", "/v1/imports/from-square-1/errors", None),
    ("POST", "/v1/imports/from-square-1/apply", None),
    (WORK, "ImportWorkerFunction", None),
    ("GET", "/v1/imports", None),
]
# The walk's import file: two members (one with a tier kept to a month, a qualifying history and two balances) and
# a line that is not JSON, which the errors show.
IMPORT_FILE = (
    b"".join(
        json.dumps(row).encode() + b"\n"
        for row in [
            {
                "member_id": "sq-1001",
                "email": "rosa@example.com",
                "enrolled_at": "2023-04-02T15:20:00Z",
                "tier": {"id": "gold", "until": "2026-12"},
                "qualifying": [{"month": "2026-02", "value": 1400}],
                "balances": [{"points": 1200, "expires": "2026-09"}, {"points": 300, "expires": None}],
            },
            {
                "member_id": "sq-1002",
                "phone": "+14155550188",
                "enrolled_at": "2024-11-20T09:00:00Z",
                "balances": [{"points": 80, "expires": "2027-02"}],
            },
        ]
    )
    + b'{"member_id": "sq-1003", "enrolled_at":\n'
)
# What changes from one walk to the next in the webhooks' answers (a secret, a test event's id, the delivery id
# made of them), shown as what it is instead
UNSTABLE = (
    (re.compile(r"whsec_[A-Za-z0-9+/]+=*"), "whsec_<base64 of 32 random bytes>"),
    (re.compile(r"ev_test_[0-9a-f]{24}"), "ev_test_<random>"),
    (re.compile(r"(\d{8}T\d{6}Z)-[0-9a-f]{20}"), r"\1-<digest>"),
    # an upload URL's signature (its date is the real time's, not the stack's clock)
    (re.compile(r"X-Amz-Credential=[^&\"]+&X-Amz-Date=[0-9TZ]+"), "X-Amz-Credential=<key>&X-Amz-Date=<when signed>"),
    (re.compile(r"X-Amz-Signature=[0-9a-f]{64}"), "X-Amz-Signature=<signature>"),
)


def _stable(text: str) -> str:
    for pattern, shown in UNSTABLE:
        text = pattern.sub(shown, text)
    return text


def _signature(secret: str, body: bytes, now: datetime) -> str:
    t = str(int(now.timestamp()))  # the fixed clock's second: the stack accepts it as now
    return f"t={t},v1={hmac.new(secret.encode(), t.encode() + b'.' + body, hashlib.sha256).hexdigest()}"


def walk() -> dict[tuple[str, str], dict[str, Any]]:
    """Send WALK to an in-process local stack; each route's first exchange, by (method, document path)."""
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # the functions' request logs are not the page's
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    from loyalty_local.server import LocalStack

    stack = LocalStack(Template())
    if stack.background is not None:  # no attempt is made: the webhooks' answers are the same each walk
        stack.background.stop()
    stack.clock({"now": NOW})
    now = datetime.fromisoformat(NOW.replace("Z", "+00:00"))
    examples: dict[tuple[str, str], dict[str, Any]] = {}
    delivery_id = ""
    for method, path, payload in WALK:
        if method == UPLOAD:
            _upload(stack, path)
            continue
        if method == WORK:
            _work(stack, path)
            continue
        path = path.replace("{delivery_id}", delivery_id)
        raw = json.dumps(payload).encode() if payload is not None else None
        headers = {"Content-Type": "application/json"} if raw is not None else {}
        if path.startswith("/v1/partners/"):
            partner = path.split("/")[3]
            headers["Loyalty-Signature"] = _signature(PARTNER_SECRETS[partner], raw or b"", now)
        else:
            headers["Authorization"] = f"Bearer {KEY}"
        stack.flush_stream()  # the reports' counters are kept from the stream: let them see every write so far
        answer = stack.gateway.handle(method, path, headers, raw, "127.0.0.1")
        if not 200 <= answer.status < 300:
            raise SystemExit(f"{method} {path} answered {answer.status}: {answer.body.decode()}")
        route, _ = stack.gateway.match(method, path.split("?")[0])
        assert route is not None
        body = json.loads(answer.body)
        delivery_id = body.get("delivery_id", delivery_id) if isinstance(body, dict) else delivery_id
        key = (method.lower(), route.path)
        if key not in examples:
            shown = {k: v for k, v in headers.items() if k != "Content-Type"}
            examples[key] = {
                "request": {"method": method, "path": _stable(path), "headers": shown, "body": payload},
                "status": answer.status,
                "headers": {k: v for k, v in answer.headers.items() if k.lower() == "idempotent-replayed"},
                "body": json.loads(_stable(answer.body.decode())),
            }
    return examples


def _upload(stack: Any, import_id: str) -> None:
    """What a client's PUT to the import's upload URL does (the walk sends no HTTP; the stack's route for it is
    tested in tests/e2e/test_imports_http.py)."""
    import boto3
    from loyalty.kernel.config import settings

    boto3.client("s3").put_object(Bucket=settings().import_bucket, Key=f"imports/{import_id}", Body=IMPORT_FILE)


def _work(stack: Any, function: str) -> None:
    """The function's SQS queue delivered to it until it is empty (the walk runs no background runner)."""
    stack.drain_queues(function=function)


# -- rendering -----------------------------------------------------------------------------------
def _anchor(name: str) -> str:
    return "schema-" + name.lower()


def _type(schema: dict[str, Any]) -> str:
    """A schema in a few words: `integer`, `string (date-time)`, `[TierView](#schema-tierview) or null`."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{_anchor(name)})"
    if "anyOf" in schema or "oneOf" in schema:
        return " or ".join(_type(s) for s in schema.get("anyOf", schema.get("oneOf", [])))
    if "enum" in schema:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {_type(schema.get('items', {}))}"
    if kind == "object" and "additionalProperties" in schema and isinstance(schema["additionalProperties"], dict):
        return f"object of {_type(schema['additionalProperties'])}"
    if kind == "null":
        return "null"
    extra = schema.get("format") or (f"`{schema['pattern']}`" if "pattern" in schema else None)
    return f"{kind} ({extra})" if extra else str(kind)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _json_block(value: Any) -> list[str]:
    return ["```json", json.dumps(value, indent=2, ensure_ascii=False), "```"]


def _operation(path: str, method: str, op: dict[str, Any], example: dict[str, Any] | None) -> list[str]:
    out = [f'<a id="op-{op["operationId"]}"></a>', f"### `{op['operationId']}`: `{method.upper()} {path}`", ""]
    out += [op.get("summary", ""), ""]
    if op.get("description"):
        out += [_cell(op["description"]), ""]
    security = op.get("security") or []
    if any("bearer" in s for s in security):
        out += ["Auth: `Authorization: Bearer <key>`.", ""]
    elif any("partnerSignature" in s for s in security):
        out += ['Auth: `Loyalty-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.', ""]
    else:
        out += ["Auth: none.", ""]
    params = op.get("parameters") or []
    if params:
        out += ["| parameter | in | required | type | notes |", "|---|---|---|---|---|"]
        for p in params:
            required = "yes" if p.get("required") else "no"
            notes = _cell(p.get("description", ""))
            out.append(f"| `{p['name']}` | {p['in']} | {required} | {_cell(_type(p['schema']))} | {notes} |")
        out.append("")
    body = ((op.get("requestBody") or {}).get("content") or {}).get("application/json")
    if body:
        out += [f"Body: {_type(body['schema'])}", ""]
    out += ["| status | answer | when |", "|---|---|---|"]
    for status, response in op["responses"].items():
        schema = response.get("content", {}).get("application/json", {}).get("schema", {})
        when = response.get("description", "")
        if "Idempotent-Replayed" in response.get("headers", {}):
            when += " (header `Idempotent-Replayed: true`" + (
                ")" if status != "200" or "201" in op["responses"] else " on a repeat)"
            )
        out.append(f"| {status} | {_type(schema)} | {_cell(when)} |")
    out.append("")
    if example is not None:
        request = example["request"]
        lines = [f"{request['method']} {request['path']}"] + [f"{k}: {v}" for k, v in request["headers"].items()]
        out += ["Example:", "", "```http", *lines]
        if request["body"] is not None:
            out += ["", json.dumps(request["body"], indent=2, ensure_ascii=False)]
        out += ["```", ""]
        said = "".join(f", `{k}: {v}`" for k, v in example["headers"].items())
        out += [f"answers `{example['status']}`{said}:", "", *_json_block(example["body"]), ""]
    return out


def _schema(name: str, schema: dict[str, Any]) -> list[str]:
    out = [f'<a id="{_anchor(name)}"></a>', f"### {name}", ""]
    if schema.get("description"):
        out += [_cell(schema["description"]), ""]
    properties = schema.get("properties") or {}
    if not properties:
        return [*out, f"{_type(schema)}{'; no fields' if schema.get('type') == 'object' else ''}.", ""]
    required = set(schema.get("required") or [])
    out += ["| field | type | required | notes |", "|---|---|---|---|"]
    for field, spec in properties.items():
        notes = spec.get("description", "")
        if "default" in spec and field not in required:
            notes = f"{notes} default `{json.dumps(spec['default'])}`".strip()
        out.append(f"| `{field}` | {_cell(_type(spec))} | {'yes' if field in required else 'no'} | {_cell(notes)} |")
    return [*out, ""]


# The sections in the order a newcomer meets them
TAG_ORDER = [
    "members",
    "earn",
    "redeem",
    "partners",
    "checkout",
    "accounts",
    "webhooks",
    "imports",
    "program",
    "reports",
    "jobs",
]
CONVENTIONS = """\
## Conventions

- JSON bodies, UTF-8. Money is a decimal string (`"120.50"`), never a float; points are integers.
- Timestamps are RFC 3339 in UTC, dates `YYYY-MM-DD`, months `YYYY-MM`.
- Keyed routes take `Authorization: Bearer <key>`; a key has scopes (`enroll`, `earn`, `read`, `redeem`,
  `admin`). Partner routes are signed instead (`Loyalty-Signature`, at most 300 s old). The local stack
  seeds `lk_local_checkout` (enroll earn read redeem), `lk_local_admin` (every scope) and the partner
  `demo-partner` with the secret `demo-partner-secret`.
- Creating something answers `201`. The same write again, with the same key and body, answers `200` with
  the byte-identical body of the first answer and `Idempotent-Replayed: true`; the same key with another body
  is `409 idempotency_conflict`.
- Bodies are strict: a field a route does not define is `422 validation_error` naming it (a route without
  a body takes `{}` or none); so are query parameters: one a route does not declare is a `422` naming it.
  Bodies over 64 KiB are `413`.
- Ids in a path may be percent-encoded, as most clients send them (`/v1/members/shop%3A42%40acme` is the member
  `shop:42@acme`); the functions decode them once (`%253A` is the text `%3A`, which no id holds).
- A method a route does not have: the local stack answers `405 method_not_allowed` with an `Allow` header naming
  the route's methods. Deployed, API Gateway answers it before any function runs, with its own
  `MISSING_AUTHENTICATION_TOKEN` response, which the template gives the contract's shape: `404 not_found`
  (a REST API cannot tell a missing method from a missing path).
- Every error is [ErrorAnswer](#schema-erroranswer): `{"error": {"code", "message", "request_id", "details"?}}`,
  with a stable `code`; a validation error lists its fields in `details`.
"""


def render(document: dict[str, Any], examples: dict[tuple[str, str], dict[str, Any]]) -> str:
    operations = [
        (op.get("tags", ["other"])[0], path, method, op)
        for path, ops in document["paths"].items()
        for method, op in ops.items()
    ]
    found = {tag for tag, *_ in operations}
    tags = [t for t in TAG_ORDER if t in found] + sorted(found - set(TAG_ORDER))
    out = [
        "# Loyalty API reference",
        "",
        "<!-- Generated by `python -m loyalty_local.api_reference` from layers/loyalty/loyalty/openapi.json: "
        "do not edit by hand. -->",
        "",
        f"{document['info']['title']} {document['info']['version']}. Every route, its answers and every schema, "
        "from the OpenAPI document the code generates (served at `GET /openapi.json`, and as Swagger UI at "
        "`/docs` locally). The examples are real: a day of the demo programme sent to the local stack with "
        f"its clock at {NOW}, each route's first request and the answer it got.",
        "",
        CONVENTIONS,
        "## Routes",
        "",
    ]
    for tag in tags:
        out.append(
            f"- **{tag}**: "
            + ", ".join(f"[`{op['operationId']}`](#op-{op['operationId']})" for t, _, _, op in operations if t == tag)
        )
    out.append("")
    for tag in tags:
        out += [f"## {tag.capitalize()}", ""]
        for t, path, method, op in operations:
            if t == tag:
                out += _operation(path, method, op, examples.get((method, path)))
    out += ["## Schemas", ""]
    for name, schema in sorted(document["components"]["schemas"].items()):
        out += _schema(name, schema)
    return "\n".join(out).rstrip() + "\n"


def build() -> str:
    document = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    examples = walk()
    missing = [f"{m.upper()} {p}" for p, ops in document["paths"].items() for m in ops if (m, p) not in examples]
    if missing:
        raise SystemExit(f"WALK has no request to: {', '.join(missing)}")
    return render(document, examples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loyalty_local.api_reference", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/api.md is not what this writes")
    args = parser.parse_args(argv)
    text = build()
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.is_file() else ""
        if current != text:
            print(f"{TARGET} is out of date: run python -m loyalty_local.api_reference", file=sys.stderr)
            return 1
        print(f"{TARGET} is up to date")
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
