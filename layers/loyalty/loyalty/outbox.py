"""The stream processor's work for one committed change: counters, metrics, then domain events.

Everything here is idempotent under redelivery: the report counters (liability, members per tier,
activity by month) and business metrics are applied once per change (an applied-marker written in the
counters' transaction), and an event published twice has the same `event_id`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loyalty import events, liability, reports
from loyalty.clock import isoformat
from loyalty.events import Change, DomainEvent
from loyalty.model import LedgerEntry, Member
from loyalty.observability import count, logger
from loyalty.program import Program, current_program
from loyalty.store import bus, member_events, stream
from loyalty.store import counters as counters_store


@dataclass
class Effects:
    marker: str | None = None  # applied-marker id: counters and measures happen once per marker
    counters: dict[counters_store.Counter, int] = field(default_factory=dict)
    measures: list[tuple[str, int]] = field(default_factory=list)
    events: list[DomainEvent] = field(default_factory=list)


ENTRY_MEASURES: dict[str, list[tuple[str, int]]] = {
    # metric name, sign applied to the entry's points (1: as recorded, -1: the magnitude of a debit)
    "earn": [("PointsEarned", 1)],
    "bonus": [("PointsEarned", 1)],
    "reversal": [("PointsReversed", -1)],
    "redeem": [("PointsRedeemed", -1), ("Redemptions", 0)],
    "redeem_cancel": [("RedemptionsCancelled", 0)],
    "adjust": [("PointsAdjusted", 1)],
    "expire": [("PointsExpired", -1)],
}


def effects(change: Change, program: Program | None) -> Effects:
    """What one change does downstream (pure)."""
    out = Effects(events=events.events_for(change, program))
    new, old = change.new, change.old
    if isinstance(new, LedgerEntry) and change.event_name == "INSERT":
        out.marker = f"ENTRY#{new.entry_id}"
        out.counters = reports.entry_counters(new)
        out.measures = [(name, sign * new.points if sign else 1) for name, sign in ENTRY_MEASURES[new.type]]
    elif change.kind == "member":
        before = old if isinstance(old, Member) else None
        after = new if isinstance(new, Member) else None
        current = after or before
        if current is None:
            return out
        out.counters = {**liability.counters(before, after), **reports.tier_counters(before, after)}
        if change.event_name == "INSERT" and after is not None:
            out.measures.append(("Enrolments", 1))
            out.counters.update(reports.enrolment_counters(after))
        for event in out.events:
            if event.detail_type == "TierChanged":
                direction = event.detail_json()["direction"]
                if direction != "lateral":
                    out.measures.append(("TierUpgrades" if direction == "upgrade" else "TierDowngrades", 1))
        out.marker = f"MEMBER#{current.member_id}#{current.version}"
    return out


def _when(event: DomainEvent, change: Change) -> str:
    """When an event happened, stable under redelivery: a ledger entry's `recorded_at`, an enrolment's
    `enrolled_at`, a tier change when the member's tier changed (its `as_of` may be a date only), an expiry
    warning at its run (the 1st of its `period`)."""
    if event.detail_type == "TierChanged" and isinstance(change.new, Member):
        return isoformat(change.new.tier_since)
    detail = event.detail_json()
    for name in ("recorded_at", "enrolled_at"):
        if detail.get(name):
            return str(detail[name])
    return f"{detail['period']}-01T00:00:00Z"


def process(event_name: str, old_image: dict[str, Any] | None, new_image: dict[str, Any] | None) -> Effects:
    """Handle one stream record (images deserialised). Raises when it must be retried."""
    change = stream.decode(event_name, old_image, new_image)
    if change is None:
        return Effects()
    program = current_program()
    done = effects(change, program)
    if done.marker and (done.counters or done.measures):
        if counters_store.apply_once(done.marker, done.counters):
            for name, value in done.measures:
                count(name, value, program_id=program.program_id)
        else:
            logger.info("change applied before (redelivered record)", extra={"marker": done.marker})
    if done.events:
        # the back office's "recent events" of each member (kept 90 days), each with when it happened
        member_events.record([(event, _when(event, change)) for event in done.events])
        bus.publish(done.events)
        count("EventsPublished", len(done.events), program_id=program.program_id)
        logger.info(
            "published",
            extra={"events": [{"detail_type": e.detail_type, "event_id": e.event_id} for e in done.events]},
        )
    return done
