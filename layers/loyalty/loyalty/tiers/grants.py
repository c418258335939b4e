"""Tiers given rather than earned: a paid tier (subscription) and a manual override by an admin.

- A subscription grants `tier_id` for `months` months: from now, or from the end of a running
  subscription to the same tier (a renewal). It is a floor: the member shows it (source `paid`) unless
  their own tier is higher, and the monthly evaluation never goes below it while it runs. Idempotent per
  subscription id: the subscription item and the member are written in one transaction.
- An override sets the tier (source `manual`) until `until` (or until the next override); the monthly
  evaluation keeps it until then. Each override is kept in an audit item with its reason.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from loyalty.answers.members import Subscription as SubscriptionAnswer
from loyalty.domain.model import Member
from loyalty.domain.status import ensure_open
from loyalty.domain.writes import Subscription, TierAudit
from loyalty.kernel.clock import isoformat, utcnow
from loyalty.kernel.errors import IdempotencyConflict, MemberNotFound, ValidationFailed
from loyalty.ledger.funnel import Books, Txn
from loyalty.ledger.operations import Outcome, commit, dumps, request_hash, retrying
from loyalty.program.rules import Program
from loyalty.store import members as member_store
from loyalty.store import tiers as store
from loyalty.tiers.evaluation import add_months_to, start_of
from loyalty.tiers.views import tier_view


def _tier(program: Program, tier_id: str) -> None:
    if tier_id not in {t.id for t in program.tiers}:
        raise ValidationFailed.field("tier_id", f"no tier {tier_id!r} in the programme")


def _set_tier(member: Member, tier_id: str, source: str, reason: str, now: datetime) -> None:
    member.tier_change = {
        "from": member.tier_id,
        "to": tier_id,
        "reason": reason,
        "as_of": now.date().isoformat(),
        "source": source,
    }
    if tier_id != member.tier_id:
        member.tier_since = now
    member.tier_id = tier_id
    member.tier_source = source  # type: ignore[assignment]  # a TierSource literal, checked by the callers
    member.tier_reason = reason


def subscribe(
    program: Program,
    member_id: str,
    subscription_id: str,
    tier_id: str,
    months: int,
    actor: dict[str, str] | None = None,
) -> Outcome:
    """A paid tier for `months`; the subscription's record keeps `actor`, the key that granted it."""
    _tier(program, tier_id)
    if tier_id == program.base_tier.id:
        raise ValidationFailed.field("tier_id", "the base tier is not sold")
    hash_ = request_hash({"member_id": member_id, "tier_id": tier_id, "months": months})

    def attempt() -> Outcome:
        member, record = store.load_member_and_subscription(member_id, subscription_id)
        if record is not None:
            if record.get("request_hash") != hash_:
                raise IdempotencyConflict("this subscription id was used with a different request")
            return Outcome(200, str(record["response"]), replayed=True)
        if member is None:
            raise MemberNotFound(f"no member {member_id!r}")
        ensure_open(member)
        books = Books(program, member, utcnow())
        now = books.now
        renewing = member.paid_tier == tier_id and member.paid_until is not None and member.paid_until > now
        starts_at = member.paid_until if renewing and member.paid_until else now
        ends_at = add_months_to(starts_at, months)
        member.paid_tier, member.paid_until = tier_id, ends_at
        manual = member.tier_source == "manual" and (member.manual_until is None or member.manual_until > now)
        higher = program.tier_rank(tier_id) > program.tier_rank(member.tier_id)
        if not manual and (member.tier_source == "paid" or higher):
            _set_tier(member, tier_id, "paid", "subscription", now)
        body = dumps(
            SubscriptionAnswer(
                **{
                    "subscription_id": subscription_id,
                    "member_id": member_id,
                    "tier_id": tier_id,
                    "months": months,
                    "starts_at": isoformat(starts_at),
                    "ends_at": isoformat(ends_at),
                    "tier": tier_view(member, program),
                }
            )
        )
        fields = {
            "member_id": member_id,
            "subscription_id": subscription_id,
            "tier_id": tier_id,
            "months": months,
            "starts_at": isoformat(starts_at),
            "ends_at": isoformat(ends_at),
            "recorded_at": isoformat(now),
            "actor": actor,
            "entries": books.read_entries,  # after this many ledger entries: where a replay puts it
            "version": books.read_version,
            "request_hash": hash_,
            "response": body,
        }
        # a concurrent request with this id that won makes the record refused: the next read replays it
        commit(Txn([books], [Subscription(member_id, subscription_id, fields)]))
        return Outcome(201, body, member=member)

    return retrying(attempt)


def override(
    program: Program,
    member_id: str,
    tier_id: str,
    reason: str,
    until: date | None,
    actor: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A manual tier; its audit record keeps `actor`, the key that set it (`key_id`, `name`)."""
    _tier(program, tier_id)
    if until is not None and until <= utcnow().date():
        raise ValidationFailed.field("until", "must be a date after today")

    def attempt() -> dict[str, Any]:
        member = member_store.load_member(member_id)
        if member is None:
            raise MemberNotFound(f"no member {member_id!r}")
        ensure_open(member)
        books = Books(program, member, utcnow())
        now = books.now
        before = member.tier_id
        _set_tier(member, tier_id, "manual", reason, now)
        member.manual_until = start_of(until) if until else None
        audit = TierAudit(
            member_id,
            f"{isoformat(now)}#{uuid.uuid4().hex[:12]}",
            {
                "member_id": member_id,
                "from": before,
                "to": tier_id,
                "reason": reason,
                "until": until.isoformat() if until else None,
                "actor": actor,
                "recorded_at": isoformat(now),
                "entries": books.read_entries,  # after this many ledger entries: where a replay puts it
                "version": books.read_version,
            },
        )
        commit(Txn([books], [audit]))
        return {
            "member_id": member_id,
            "tier": tier_view(member, program),
            "reason": reason,
            "until": until.isoformat() if until else None,
        }

    return retrying(attempt)
