"""API keys: random bearer tokens, stored as SHA-256 hashes with scopes.

The keys are 192-bit random tokens, so a fast hash is enough (as for GitHub or Stripe tokens): nobody
can brute-force the pre-image, and the authorizer stays cheap.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal, get_args

from loyalty.kernel.clock import isoformat, utcnow
from loyalty.store import api_keys

Scope = Literal["enroll", "earn", "read", "redeem", "admin"]
SCOPES: tuple[str, ...] = get_args(Scope)


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


def hash_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    kind, _, token = header.strip().partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def create_key(name: str, scopes: list[str], *, token: str | None = None, prefix: str = "lk_live_") -> str:
    """Store a new key and return the token (shown once; only its hash is kept)."""
    unknown = set(scopes) - set(SCOPES)
    if unknown or not scopes:
        raise ValueError(f"scopes must be some of {', '.join(SCOPES)}; got {sorted(unknown) or 'none'}")
    token = token or prefix + secrets.token_urlsafe(24)
    digest = hash_key(token)
    api_keys.put_api_key(
        {
            "key_hash": digest,
            "key_id": digest[:12],
            "name": name,
            "scopes": sorted(set(scopes)),
            "created_at": isoformat(utcnow()),
        }
    )
    return token


def lookup(token: str) -> ApiKey | None:
    record = api_keys.get_api_key(hash_key(token))
    if record is None or record.get("revoked_at"):
        return None
    return ApiKey(key_id=record["key_id"], name=record["name"], scopes=frozenset(record["scopes"]))


def list_keys() -> list[dict[str, object]]:
    return [
        {k: r.get(k) for k in ("key_id", "name", "scopes", "created_at", "revoked_at")}
        for r in api_keys.list_api_keys()
    ]


def revoke(key_id: str) -> bool:
    for record in api_keys.list_api_keys():
        if record["key_id"] == key_id:
            return api_keys.revoke_api_key(record["key_hash"], isoformat(utcnow()))
    return False
