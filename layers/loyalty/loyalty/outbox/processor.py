"""The stream processor's work for a batch of committed changes: counters, metrics, then domain events.

Everything here is idempotent under redelivery: the report counters (liability, members per tier,
activity by month) and business metrics are applied once per change (an applied-marker written in the
counters' transaction), and an event published twice has the same `event_id`.

A batch is handled a stage at a time, each stage for every record at once, in stream order: the counters
of every change in as few transactions as fit (loyalty.store.counters.apply_batch, about two per 100
records), the events kept under their members 25 a BatchWriteItem, then put on the bus 10 a PutEvents.
A stage that fails stops the batch at the record it failed on: the later stages handle only the records
before it, and that record and every later one are retried (their counters then count nothing twice).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from loyalty.domain import erasure, events
from loyalty.domain.events import Change, DomainEvent
from loyalty.domain.model import Account, LedgerEntry, Member
from loyalty.kernel.clock import isoformat
from loyalty.kernel.observability import count, logger
from loyalty.program.rules import Program, current_program
from loyalty.reports import liability
from loyalty.reports import summary as reports
from loyalty.store import bus, member_events, redemptions, stream
from loyalty.store import counters as counters_store
from loyalty.store import members as member_store


@dataclass
class Effects:
    marker: str | None = None  # applied-marker id: counters and measures happen once per marker
    counters: dict[counters_store.Counter, int] = field(default_factory=dict)
    measures: list[tuple[str, int]] = field(default_factory=list)
    events: list[DomainEvent] = field(default_factory=list)
    erased: str | None = None  # the member this change erased: its kept events lose their free text


ENTRY_MEASURES: dict[str, list[tuple[str, int]]] = {
    # metric name, sign applied to the entry's points (1: as recorded, -1: the magnitude of a debit)
    "earn": [("PointsEarned", 1)],
    "bonus": [("PointsEarned", 1)],
    "reversal": [("PointsReversed", -1)],
    "redeem": [("PointsRedeemed", -1), ("Redemptions", 0)],
    "redeem_cancel": [("RedemptionsCancelled", 0)],
    "adjust": [("PointsAdjusted", 1)],
    "expire": [("PointsExpired", -1)],
    "transfer": [("PointsTransferred", -1)],  # the sender's entry (the receiver's measures nothing)
    "import": [("PointsImported", 1)],
}


def effects(change: Change, program: Program | None) -> Effects:
    """What one change does downstream (pure)."""
    out = Effects(events=events.events_for(change, program))
    new, old = change.new, change.old
    if isinstance(new, LedgerEntry) and change.event_name == "INSERT":
        out.marker = f"ENTRY#{new.entry_id}"
        out.counters = reports.entry_counters(new)
        out.measures = [(name, sign * new.points if sign else 1) for name, sign in ENTRY_MEASURES[new.type]]
        if new.type == "transfer" and new.points > 0:
            out.measures = []
    elif change.kind == "account":
        was = old if isinstance(old, Account) else None
        now = new if isinstance(new, Account) else None
        pool = now or was
        if pool is None:
            return out
        out.counters = {**liability.counters(was, now), **reports.account_tier_counters(was, now)}
        out.marker = f"ACCOUNT#{pool.account_id}#{pool.version}"
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
        if after is not None and after.erased_at is not None and (before is None or before.erased_at is None):
            out.erased = after.member_id
    return out


def _without_erased_text(kept: list[tuple[DomainEvent, str]]) -> list[tuple[DomainEvent, str]]:
    """The events to keep and publish, the free text of an erased member's replaced: the stream runs behind
    the table, and redelivers, so an adjustment's event may be handled after its member's erasure. One
    consistent read of the members concerned, only when an event carries free text (adjustments, overrides)."""
    texts = {}
    for index, (event, _) in enumerate(kept):
        detail = erasure.event_detail(event.detail_type, event.detail_json())
        if detail is not None:
            texts[index] = detail
    if not texts:
        return kept
    erased = member_store.erased_members({str(kept[i][0].detail_json()["member_id"]) for i in texts})
    out = list(kept)
    for index, detail in texts.items():
        event, at = kept[index]
        if detail["member_id"] in erased:
            out[index] = (DomainEvent(event.detail_type, type(event.detail).model_validate(detail)), at)
    return out


def _stocked(program: Program, event: DomainEvent) -> str | None:
    """The reward of a RewardUnlocked whose reward keeps a stock (None for any other event)."""
    if event.detail_type != "RewardUnlocked":
        return None
    reward = program.reward(str(event.detail_json()["reward_id"]))
    return reward.id if reward is not None and reward.stock is not None else None


def _without_out_of_stock(program: Program, steps: list[_Step]) -> None:
    """Drop the RewardUnlocked of a stocked reward with nothing left (v1.2: no message for a reward nobody can
    take). One read of the stock items concerned, only when such an event is in the batch; a reward whose stock
    item is not written yet has the programme's `stock`."""
    wanted = sorted({r for s in steps for e, _ in s.kept if (r := _stocked(program, e)) is not None})
    if not wanted:
        return
    _, stored = redemptions.load_member_and_stock(None, wanted)
    for step in steps:
        kept = []
        for event, at in step.kept:
            reward_id = _stocked(program, event)
            reward = program.reward(reward_id) if reward_id else None
            left = stored.get(reward.id, reward.stock) if reward is not None else None
            if left is None or left > 0:
                kept.append((event, at))
        step.kept = kept
        step.done.events = [e for e, _ in kept]


def _when(event: DomainEvent, change: Change) -> str:
    """When an event happened, stable under redelivery: a ledger entry's `recorded_at`, an enrolment's
    `enrolled_at`, a join or leave of an account when it happened (`at`), a tier change when the tier changed
    (its `as_of` may be a date only), an expiry warning at its run (the 1st of its `period`)."""
    if event.detail_type == "TierChanged" and isinstance(change.new, Member | Account):
        return isoformat(change.new.tier_since)
    detail = event.detail_json()
    for name in ("recorded_at", "enrolled_at", "at"):  # `at`: a member joined or left an account
        if detail.get(name):
            return str(detail[name])
    return f"{detail['period']}-01T00:00:00Z"


@dataclass(frozen=True)
class StreamRecord:
    """One record of a stream batch, its images deserialised (numbers are Decimal)."""

    event_name: str
    old_image: dict[str, Any] | None
    new_image: dict[str, Any] | None
    sequence_number: str | None = None

    @property
    def member_id(self) -> Any:
        return (self.new_image or self.old_image or {}).get("member_id")


@dataclass
class _Step:
    index: int  # the record's place in the batch
    done: Effects
    kept: list[tuple[DomainEvent, str]]  # its events, each with when it happened


def _failed(record: StreamRecord, stage: str) -> None:
    logger.exception(
        f"stream record failed ({stage}); it and the rest of the batch will be retried",
        extra={"member_id": record.member_id, "stream_sequence": record.sequence_number},
    )


def process_batch(records: Sequence[StreamRecord]) -> int:
    """Handle a stream batch in order. Returns how many records, from the first, were handled in full:
    `len(records)` when all were; otherwise the record at that index failed, and it and every later one
    must be retried (Lambda's rule for streams), which counts nothing twice."""
    program = current_program()
    stop = len(records)
    steps: list[_Step] = []
    for index, record in enumerate(records):
        try:
            change = stream.decode(record.event_name, record.old_image, record.new_image)
            if change is not None:
                done = effects(change, program)
                steps.append(_Step(index, done, [(event, _when(event, change)) for event in done.events]))
        except Exception:  # a record the processor cannot read: it and the rest are retried, in order
            _failed(record, "decode")
            stop = index
            break

    try:
        _without_out_of_stock(program, steps)
    except Exception:  # the stock could not be read: the first record with such an event, and the rest, retried
        stop = next(s.index for s in steps if any(_stocked(program, e) for e, _ in s.kept))
        _failed(records[stop], "stock")
        steps = [s for s in steps if s.index < stop]

    counted = [s for s in steps if s.done.marker and (s.done.counters or s.done.measures)]
    try:
        firsts = counters_store.apply_batch([(s.done.marker or "", s.done.counters) for s in counted])
    except counters_store.BatchStopped as stopped:
        firsts = stopped.applied
        stop = counted[len(firsts)].index
        _failed(records[stop], "counters")
    before = []
    for step, first in zip(counted, firsts, strict=False):
        if first:
            for name, value in step.done.measures:
                count(name, value, program_id=program.program_id)
        else:
            before.append(step.done.marker)
    if before:
        logger.info("changes applied before (redelivered records)", extra={"markers": before})

    # the back office's "recent events" of each member (kept 90 days), each with when it happened
    owners = [s.index for s in steps if s.index < stop for _ in s.kept]
    kept = [pair for s in steps if s.index < stop for pair in s.kept]
    try:
        kept = _without_erased_text(kept)
    except Exception:  # the members could not be read: nothing kept or published, all retried
        stop = owners[0]
        _failed(records[stop], "member events")
    try:
        member_events.record([pair for pair, owner in zip(kept, owners, strict=True) if owner < stop])
    except member_events.EventsNotKept as failed:
        stop = owners[failed.first]
        _failed(records[stop], "member events")
    for step in steps:  # an erasure: what was kept before it (or raced it) loses its free text
        if step.index < stop and step.done.erased:
            try:
                member_events.rewrite(step.done.erased, erasure.event_detail)
            except Exception:
                stop = step.index
                _failed(records[stop], "member events")
                break
    published = [event for (event, _), owner in zip(kept, owners, strict=True) if owner < stop]
    happened = [at for (_, at), owner in zip(kept, owners, strict=True) if owner < stop]
    try:
        bus.publish(published, happened)
    except bus.PublishFailed as failed:
        stop = owners[failed.first]
        _failed(records[stop], "publish")
        published = published[: owners.index(stop)]
    if published:
        count("EventsPublished", len(published), program_id=program.program_id)
        logger.info(
            "published",
            extra={
                "records": stop,
                "events": [{"detail_type": e.detail_type, "event_id": e.event_id} for e in published],
            },
        )
    return stop
