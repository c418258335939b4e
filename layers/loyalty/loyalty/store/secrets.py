"""Partner signing secrets from Secrets Manager, through Powertools Parameters with caching.

A partner's secret is stored at its `secret_id` (programme `partners`) as a JSON list of secrets
(during a rotation the new one is added beside the old) or as one plain string.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from loyalty.store.core import client

# How long a fetched secret is reused. A rotation adds the new secret to the list first and waits at
# least this long before partners switch (docs/partners.md).
CACHE_SECONDS = 300

_lock = threading.Lock()
_provider: tuple[Any, Any] | None = None  # (the boto3 client it was built on, SecretsProvider)


class SecretMissing(Exception):
    """No such secret (an unknown or misconfigured partner)."""


def _secrets_provider() -> Any:
    """One provider (and its cache) per boto3 client: a new client (tests, local stack) starts afresh."""
    global _provider
    sm = client("secretsmanager")
    with _lock:
        if _provider is None or _provider[0] is not sm:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            _provider = (sm, SecretsProvider(boto3_client=sm))
        return _provider[1]


def _not_found(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if "ResourceNotFoundException" in str(seen) or getattr(seen, "response", {}).get("Error", {}).get("Code") in (
            "ResourceNotFoundException",
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def partner_secrets(secret_id: str) -> list[str]:
    """The partner's current secrets (one or more). Raises SecretMissing if there is no such secret."""
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        raw = _secrets_provider().get(secret_id, max_age=CACHE_SECONDS)
    except GetParameterError as exc:
        if _not_found(exc):
            raise SecretMissing(secret_id) from None
        raise
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = text  # a plain-string secret
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return [s for s in value if isinstance(s, str) and s]
