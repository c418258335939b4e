"""Lambda REQUEST authorizer: a bearer key allows the API; its scopes travel in the context.

Each route checks its own scope (403 `forbidden`), so one cached policy per key covers them all.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from loyalty.edge import auth
from loyalty.kernel.observability import logger


def _api_arn(method_arn: str) -> str:
    # arn:aws:execute-api:region:account:api-id/stage/METHOD/path -> allow every route of the stage
    parts = method_arn.split("/")
    return "/".join(parts[:2]) + "/*/*" if len(parts) >= 2 else method_arn


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    token = auth.bearer_token(headers.get("authorization"))
    key = auth.lookup(token) if token else None
    if key is None:
        logger.info("refused an unknown or missing API key")
        raise Exception("Unauthorized")
    return {
        "principalId": key.key_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": _api_arn(event["methodArn"])}
            ],
        },
        "context": {"scopes": " ".join(sorted(key.scopes)), "key_id": key.key_id, "key_name": key.name},
    }
