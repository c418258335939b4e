"""`make template-check`: the template must translate (the library behind `sam validate`), name handler
files that exist, and keep the security rules: every route behind the authorizer or a signature check,
no wildcard IAM actions, no wildcard resources on the table.
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path
from typing import Any

from loyalty_local.template import TEMPLATE, Template, TemplateError, load_raw

# Routes without the API-key authorizer, and why each is safe.
UNAUTHENTICATED_ROUTES = {
    ("GET", "/openapi.json"): "public document",
    ("GET", "/docs"): "public document",
    ("GET", "/docs/{asset}"): "Swagger UI's files",
    ("GET", "/"): "a redirect to the console, nothing else",
    ("GET", "/console"): "the console's page (it asks for a key; every API call it makes carries one)",
    ("GET", "/console/{asset}"): "the console's script and stylesheet",
    ("POST", "/v1/partners/{partner_id}/redemptions"): "signature checked in the handler",
    (
        "POST",
        "/v1/partners/{partner_id}/redemptions/{redemption_id}/cancel",
    ): "signature checked in the handler",
}


class _NoManagedPolicies:
    """SAM asks IAM for AWS managed policy ARNs only when a function names one; ours do not."""

    def load(self) -> dict[str, str]:
        return {}


def translate(path: Path) -> dict[str, Any]:
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.public.exceptions import InvalidDocumentException
    from samtranslator.translator.translator import Translator

    session = boto3.session.Session(region_name="us-east-1")  # pseudo parameters only; nothing is called
    translator = Translator(_NoManagedPolicies().load(), Parser(), boto_session=session)
    document = copy.deepcopy(load_raw(path))
    for res in document["Resources"].values():  # as `sam validate` does: local code paths become S3 URIs
        props = res.get("Properties") or {}
        for uri in ("CodeUri", "ContentUri"):
            if isinstance(props.get(uri), str) and not props[uri].startswith("s3://"):
                props[uri] = "s3://placeholder-bucket/placeholder-key"
    try:
        return dict(translator.translate(document, {}))
    except InvalidDocumentException as exc:
        causes = "; ".join(str(c) for c in exc.causes)
        raise TemplateError(f"SAM cannot translate {path}: {causes}") from None


def _statements(policy: Any) -> list[dict[str, Any]]:
    doc = policy.get("PolicyDocument", policy) if isinstance(policy, dict) else {}
    found = doc.get("Statement", [])
    return found if isinstance(found, list) else [found]


def security_problems(template: Template, translated: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for route in template.routes():
        if route.authorizer is None and (route.method, route.path) not in UNAUTHENTICATED_ROUTES:
            problems.append(f"{route.method} {route.path} has no authorizer and is not a signed partner route")
    table_names = set(template.of_type("AWS::DynamoDB::Table"))
    for logical_id, res in translated["Resources"].items():
        if res.get("Type") not in ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            continue
        props = res.get("Properties", {})
        policies = props.get("Policies", []) if res["Type"] == "AWS::IAM::Role" else [props]
        for policy in policies:
            for statement in _statements(policy):
                actions = statement.get("Action", [])
                actions = actions if isinstance(actions, list) else [actions]
                for action in actions:
                    if isinstance(action, str) and (action == "*" or action.endswith(":*")):
                        problems.append(f"{logical_id}: wildcard action {action!r}")
                resources = statement.get("Resource", [])
                resources = resources if isinstance(resources, list) else [resources]
                for resource in resources:
                    text = repr(resource)
                    if resource == "*" and any(str(a).startswith("dynamodb:") for a in actions):
                        problems.append(f"{logical_id}: DynamoDB actions on every resource")
                    if any(name in text for name in table_names) and re.search(r"[*]", text):
                        problems.append(f"{logical_id}: wildcard resource on a table: {text}")
    return problems


def check(path: Path = TEMPLATE) -> list[str]:
    template = Template(path)
    problems = []
    for fn in template.functions().values():
        if not fn.source.is_file():
            problems.append(f"{fn.logical_id}: handler file {fn.source} does not exist")
    translated = translate(path)
    problems.extend(security_problems(template, translated))
    return problems


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else TEMPLATE
    try:
        problems = check(path)
    except TemplateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"{path.name}: translates, handlers exist, security rules hold")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
