"""Generate the OpenAPI document of the whole API from every function's routes.

`python -m loyalty_local.openapi_gen` writes layers/loyalty/loyalty/openapi.json; a test fails when
the committed document differs from what the code generates.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import sys
from typing import Any

from loyalty import answers
from loyalty.answers.common import Answer
from pydantic.json_schema import models_json_schema

from loyalty_local import field_notes
from loyalty_local.runtime import FunctionPool
from loyalty_local.template import ROOT, Template

TARGET = ROOT / "layers" / "loyalty" / "loyalty" / "openapi.json"

SCHEMAS = "#/components/schemas/"
# Powertools' own validation-error schemas: the API answers the contract's error (ErrorAnswer) instead
POWERTOOLS_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")


def _refs(node: Any) -> set[str]:
    """The component names `node` refers to, however deep."""
    if isinstance(node, dict):
        found = {node["$ref"].removeprefix(SCHEMAS)} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node)) if node else set()
    return set()


def answer_models() -> dict[str, type[Answer]]:
    """Every response model of loyalty.answers and its capability modules, by name."""
    found: dict[str, type[Answer]] = {}
    for module in (
        importlib.import_module(f"loyalty.answers.{m.name}") for m in pkgutil.iter_modules(answers.__path__)
    ):
        for name, value in vars(module).items():
            is_answer = isinstance(value, type) and issubclass(value, Answer) and value is not Answer
            if is_answer and found.setdefault(name, value) is not value:
                raise SystemExit(f"two response models are called {name}: rename one")
    return found


def answer_schemas(names: set[str]) -> dict[str, Any]:
    """The schemas of the response models (loyalty.answers) named in `names`, with every model they use."""
    known = answer_models()
    models = [known[name] for name in sorted(names) if name in known]
    if not models:
        return {}
    _, defs = models_json_schema([(m, "serialization") for m in models], ref_template=SCHEMAS + "{model}")
    return dict(defs.get("$defs", {}))


def generate(template: Template | None = None) -> dict[str, Any]:
    template = template or Template()
    os.environ.setdefault("TABLE_NAME", "LoyaltyTable")
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Loyalty API",
            "version": "1.2.0",  # the contract's version (CONTRACT.md v1.2)
            "description": "Points, tiers and partner redemptions. docs/api.md is this document as a reference, "
            "with an example per route.",
        },
        "paths": {},
        "components": {
            "schemas": {},
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
                for status, response in list(responses.items()):
                    if _refs(response) & set(POWERTOOLS_SCHEMAS):  # Powertools' 422 where a route declares none
                        del responses[status]
                if not any(status.startswith("2") for status in responses):
                    raise SystemExit(f"{method.upper()} {path} declares no answer: give its route `responses=`")
                document["paths"].setdefault(path, {})[method] = operation
        for key, value in schema.get("components", {}).get("schemas", {}).items():
            if key not in POWERTOOLS_SCHEMAS:
                document["components"]["schemas"][key] = value
    document["paths"] = dict(sorted(document["paths"].items()))
    components = document["components"]["schemas"]
    for key, value in answer_schemas(_refs(document["paths"])).items():
        if key in components and components[key] != value:
            raise SystemExit(f"two models are called {key}: rename one")
        components[key] = value
    describe(document)
    dangling = _refs(document) - set(components)
    if dangling:
        raise SystemExit(f"the document refers to schemas it does not define: {sorted(dangling)}")
    return document


def _described(current: str | None, sentence: str | None) -> str | None:
    """A model's own description wins; a type's bare note ("RFC 3339, UTC") follows the field's sentence."""
    if sentence is None or (current and current not in field_notes.TYPE_NOTES):
        return current
    return f"{sentence} {current}." if current else sentence


def describe(document: dict[str, Any]) -> None:
    """Give every field of the schemas and every parameter of the routes its sentence (loyalty_local.field_notes)."""
    for name, schema in document["components"]["schemas"].items():
        for field, spec in (schema.get("properties") or {}).items():
            said = _described(spec.get("description"), field_notes.note(name, field))
            if said:
                spec["description"] = said
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters") or []:
                current = parameter.get("description") or parameter["schema"].get("description")
                said = _described(current, field_notes.note(f"{method.upper()} {path}", parameter["name"]))
                if said:
                    parameter["description"] = said


def render() -> str:
    return json.dumps(generate(), indent=1, sort_keys=True) + "\n"


def main() -> int:
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
