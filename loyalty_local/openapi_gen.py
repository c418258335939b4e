"""Generate the OpenAPI document of the whole API from every function's routes.

`python -m loyalty_local.openapi_gen` writes layers/loyalty/loyalty/openapi.json; a test fails when
the committed document differs from what the code generates.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from loyalty_local.runtime import FunctionPool
from loyalty_local.template import ROOT, Template

TARGET = ROOT / "layers" / "loyalty" / "loyalty" / "openapi.json"

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "request_id"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "request_id": {"type": "string"},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                    },
                },
            },
        }
    },
}


def generate(template: Template | None = None) -> dict[str, Any]:
    template = template or Template()
    os.environ.setdefault("TABLE_NAME", "LoyaltyTable")
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Loyalty API",
            "version": "1.0.0",
            "description": "Points, tiers and partner redemptions. See CONTRACT.md for the behaviour.",
        },
        "paths": {},
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "partnerSignature": {"type": "apiKey", "in": "header", "name": "Loyalty-Signature"},
            },
        },
    }
    routes = {(r.method, r.path): r for r in template.routes()}
    for name, fn in sorted(template.functions().items()):
        if not fn.routes:
            continue
        module_app = getattr(FunctionPool(fn).load_module(), "app", None)
        if module_app is None:
            continue
        schema = json.loads(module_app.get_openapi_json_schema(openapi_version="3.1.0"))
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                route = routes.get((method.upper(), path))
                if route is None:
                    raise SystemExit(f"{name} serves {method.upper()} {path}, which template.yaml does not route")
                if route.authorizer:
                    operation["security"] = [{"bearer": []}]
                elif path.startswith("/v1/partners/"):
                    operation["security"] = [{"partnerSignature": []}]
                else:
                    operation["security"] = []
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                if method == "post" and "200" in responses:
                    # creating answers 201; the same write replayed answers 200 (Idempotent-Replayed)
                    responses["201"] = {**responses["200"], "description": "Created"}
                    responses["200"] = {**responses["200"], "description": "Replayed, or an action's result"}
                for status in ("401", "403", "404", "409", "413", "422", "500"):
                    responses.setdefault(
                        status,
                        {
                            "description": "error",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                        },
                    )
                document["paths"].setdefault(path, {})[method] = operation
        for key, value in schema.get("components", {}).get("schemas", {}).items():
            if key not in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
                document["components"]["schemas"][key] = value
    document["paths"] = dict(sorted(document["paths"].items()))
    return document


def render() -> str:
    return json.dumps(generate(), indent=1, sort_keys=True) + "\n"


def main() -> int:
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
