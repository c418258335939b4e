"""The free text a member's records hold, and what erasure puts in its place.

Reasons are typed by agents and administrators and may name the customer ("goodwill for Zelda Quux,
+14155550999"); they are kept as typed, except after erasure, when every one becomes `ERASED`:
- the member's `status_reason`, and its `tier_reason` and `tier_change.reason` when the tier was set by
  hand (an override's reason);
- an adjustment's `details.reason` and the closing entry's `details.note` (its `details.reason` is the
  contract's fixed word `closed`), and the entry's stored answer, which repeats its details;
- a transfer's `details.reason` (v1.2), on both sides' entries, and its `PointsTransferred` event;
- the member events kept from those entries and changes (`PointsAdjusted`, a manual `TierChanged`);
- a tier override's audit record (`reason`).
Every other reason is a word of the product's own (`closed`, `upgrade`, `subscription`...), never free
text. Only text changes: points, keys and sums stay as they were.
"""

from __future__ import annotations

import json
from typing import Any

from loyalty.domain.model import LedgerEntry, Member

ERASED = "erased"
CLOSED_REASON = "closed"  # the closing entry's `details.reason` (CONTRACT.md): a fixed word, kept


def _details(details: dict[str, Any]) -> dict[str, Any] | None:
    """An adjustment's details with their free text replaced (None: none to replace)."""
    out = dict(details)
    if out.get("reason") not in (None, ERASED, CLOSED_REASON):
        out["reason"] = ERASED
    if out.get("note") not in (None, ERASED):
        out["note"] = ERASED
    return out if out != details else None


def scrub_member(member: Member) -> bool:
    """Replace the member's free text; True if any was there."""
    changed = False
    if member.status_reason not in (None, ERASED):
        member.status_reason, changed = ERASED, True
    if member.tier_source == "manual" and member.tier_reason not in (None, ERASED):
        member.tier_reason, changed = ERASED, True
    change = member.tier_change
    if change and change.get("source") == "manual" and change.get("reason") not in (None, ERASED):
        member.tier_change, changed = {**change, "reason": ERASED}, True
    return changed


def entry_details(entry: LedgerEntry) -> dict[str, Any] | None:
    """The entry's details with its free text replaced, or None when it holds none (only adjustments and
    the closing entry, both `adjust`, and transfers (v1.2, their `reason`) carry text)."""
    return _details(entry.details) if entry.type in ("adjust", "transfer") else None


def other_side(entry: LedgerEntry) -> tuple[str, dict[str, Any]] | None:
    """A transfer's other side, its key and its details with the reason replaced: the erased member's gift's
    reason is on the receiver's entry too (and a gift it received, on the sender's). None for any other entry,
    or a transfer that gave no reason."""
    if entry.type != "transfer" or entry.details.get("reason") in (None, ERASED):
        return None
    transfer_id = entry.reference
    if entry.points < 0:  # the erased member sent it: the receiver's entry repeats its reason
        pooled = entry.details.get("to_account_id")
        details = {"from_member_id": entry.member_id, **({"member_id": entry.member_id} if pooled else {})}
        return f"transfer_in#{transfer_id}", {**details, "reason": ERASED}
    sent = {"to_member_id": entry.member_id, "reason": ERASED}  # it received it: the sender's entry says it
    return f"transfer#{transfer_id}", sent


def entry_response(response: str | None, details: dict[str, Any]) -> str | None:
    """The entry's stored answer (replayed to a repeated request) with the scrubbed details, in the
    answer's own compact form."""
    if response is None:
        return None
    body = json.loads(response)
    if isinstance(body, dict) and isinstance(body.get("details"), dict):
        body["details"] = details
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def event_detail(detail_type: str, detail: dict[str, Any]) -> dict[str, Any] | None:
    """A kept (or about to be kept) event's detail with its free text replaced, or None when it has none."""
    out = dict(detail)
    if detail_type == "PointsAdjusted":
        if isinstance(out.get("details"), dict):
            out["details"] = _details(out["details"]) or out["details"]
        if out.get("reason") not in (None, ERASED, CLOSED_REASON):
            out["reason"] = ERASED
    elif detail_type == "TierChanged" and out.get("source") == "manual" and out.get("reason") not in (None, ERASED):
        out["reason"] = ERASED
    elif detail_type == "PointsTransferred":
        if isinstance(out.get("details"), dict):
            out["details"] = _details(out["details"]) or out["details"]
        if out.get("reason") not in (None, ERASED):
            out["reason"] = ERASED
    return out if out != detail else None
