"""A ledger line as clients see it: a member's ledger, an account pool's, an export's."""

from __future__ import annotations

from typing import Any

from loyalty.domain.model import LedgerEntry
from loyalty.kernel.clock import isoformat


def entry_view(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "entry_id": entry.entry_id,
        "type": entry.type,
        "points": entry.points,
        "balance_after": entry.balance_after,
        "reference": entry.reference,
        "occurred_at": isoformat(entry.occurred_at),
        "recorded_at": isoformat(entry.recorded_at),
        "details": entry.details,
    }
