"""Partner request signatures: pure verification, no AWS.

A partner signs each webhook with a shared secret and sends

    Loyalty-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

Several `v1=` values may be sent (a partner rotating its secret signs with the old and the new one),
and a partner may have several secrets on our side (we accept either during a rotation). The
timestamp must be within `TOLERANCE_SECONDS` of now, either way, so a captured request cannot be
replayed later. Every comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

HEADER = "Loyalty-Signature"
TOLERANCE_SECONDS = 300
MAX_SIGNATURES = 8  # bounds the work an unauthenticated request can cause
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_SECONDS = re.compile(r"^[0-9]{1,12}$")


class SignatureError(ValueError):
    """Why a signature is refused. The message never contains the secret or the signature."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # missing, malformed, stale, future, mismatch, no_secret


@dataclass(frozen=True)
class ParsedSignature:
    timestamp: int
    signatures: tuple[str, ...]


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex `v1` value for `body` signed at `timestamp` (what a partner computes)."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def header_value(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def parse(header: str | None) -> ParsedSignature:
    """`t=<seconds>,v1=<hex>[,v1=<hex>...]`; unknown schemes (`v0=`...) are ignored."""
    if header is None or not header.strip():
        raise SignatureError("missing")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError("malformed")
        if name == "t":
            if timestamp is not None or not _SECONDS.match(value):
                raise SignatureError("malformed")
            timestamp = int(value)
        elif name == "v1":
            value = value.lower()
            if not _HEX64.match(value):
                raise SignatureError("malformed")
            signatures.append(value)
    if timestamp is None or not signatures or len(signatures) > MAX_SIGNATURES:
        raise SignatureError("malformed")
    return ParsedSignature(timestamp, tuple(signatures))


def verify(
    header: str | None,
    body: bytes,
    secrets: Sequence[str] | Callable[[], Sequence[str]],
    now_candidates: Iterable[float],
    tolerance: int = TOLERANCE_SECONDS,
) -> int:
    """Check `header` for `body` against any of `secrets`; return the signed timestamp.

    `now_candidates`: what "now" may be (`loyalty.kernel.clock.CLOCK.unix_seconds_candidates()`); the
    timestamp must be within `tolerance` seconds of one of them. `secrets` may be a callable, called
    only once the header is well formed and fresh (no secret is fetched for garbage). Raises SignatureError.
    """
    parsed = parse(header)
    ages = [now - parsed.timestamp for now in now_candidates]
    if not any(abs(age) <= tolerance for age in ages):
        raise SignatureError("stale" if all(age > tolerance for age in ages) else "future")
    if callable(secrets):
        secrets = secrets()
    if not secrets:
        raise SignatureError("no_secret")
    matched = False
    for secret in secrets:
        expected = sign(secret, parsed.timestamp, body)
        for candidate in parsed.signatures:
            # no early exit: the time taken does not depend on which value matched
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureError("mismatch")
    return parsed.timestamp
