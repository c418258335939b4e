"""Table stream records → domain models (`loyalty.domain.events.Change`).

Only members, accounts (their pools), ledger entries, expiry warnings and tier warnings (v1.2) mean anything
downstream; every other item of the table (counters, markers, job bookkeeping, holds...) gives None.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from loyalty.domain.events import Change, ChangeKind, StreamEventName
from loyalty.domain.model import Account, ExpiryWarning, LedgerEntry, Member, TierWarning
from loyalty.store.codecs import account_from_item, entry_from_item, member_from_item

KINDS: tuple[ChangeKind, ...] = ("member", "entry", "expiry_warning", "account", "tier_warning")


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _model(
    kind: ChangeKind, image: dict[str, Any] | None
) -> Member | Account | LedgerEntry | ExpiryWarning | TierWarning | None:
    if not image:
        return None
    if kind == "member":
        return member_from_item(image)
    if kind == "account":
        return account_from_item(image)
    if kind == "entry":
        return entry_from_item(image)
    if kind == "tier_warning":
        return TierWarning.model_validate(_plain(image))
    return ExpiryWarning.model_validate(_plain(image))


def decode(event_name: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> Change | None:
    """A stream record's images (deserialised: numbers are Decimal) as a Change, or None if irrelevant."""
    kind = (new or old or {}).get("kind")
    if kind not in KINDS or event_name not in ("INSERT", "MODIFY", "REMOVE"):
        return None
    name: StreamEventName = event_name  # type: ignore[assignment]
    return Change(name, kind, _model(kind, old), _model(kind, new))
