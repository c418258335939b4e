"""Tier maths: qualifying windows, thresholds, benefits and the upgrade that follows an earn."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from loyalty.domain.model import Holder, Member
from loyalty.kernel.months import add_months, month_of, months_apart
from loyalty.program.rules import Program, Tier


def window(program: Program, last_month: str) -> tuple[str, str]:
    """The qualifying window that ends with `last_month` (inclusive)."""
    return add_months(last_month, -(program.qualification.window_months - 1)), last_month


def qualifying_value(member: Holder, program: Program, last_month: str) -> Decimal:
    first, last = window(program, last_month)
    if program.qualification.measure == "spend":
        return sum((v for m, v in member.spend.items() if first <= m <= last), Decimal(0))
    return Decimal(sum(v for m, v in member.qualifying.items() if first <= m <= last))


def highest_qualified(program: Program, value: Decimal) -> Tier:
    reached = [t for t in program.qualifying_tiers() if value >= t.threshold]
    return reached[-1] if reached else program.base_tier


def next_tier(program: Program, current: Tier) -> Tier | None:
    above = [t for t in program.qualifying_tiers() if t.threshold > current.threshold]
    return above[0] if above else None


def tenure_perks(member: Member, program: Program, now: datetime) -> list[str]:
    months = months_apart(month_of(member.enrolled_at), month_of(now))
    if now.day < member.enrolled_at.day:  # a month of tenure is a whole month
        months -= 1
    return [p.perk for p in program.tenure_perks if months >= p.after_months]


def benefits(member: Member, program: Program, now: datetime) -> dict[str, object]:
    tier = program.tier(member.tier_id)
    perks = list(tier.benefits.perks)
    for perk in tenure_perks(member, program, now):
        if perk not in perks:
            perks.append(perk)
    return {
        "multiplier": str(tier.multiplier),
        "discount_percent": str(tier.benefits.discount_percent),
        "perks": perks,
    }


def upgrade_after_earn(member: Holder, program: Program, now: datetime) -> tuple[str, str] | None:
    """Upgrade at once when the qualifying value reaches a higher tier. Returns (from, to) or None.

    A manual tier holds until its `manual_until` (docs/jobs.md): an earn never ends an override."""
    if member.tier_source == "manual" and (member.manual_until is None or member.manual_until > now):
        return None
    value = qualifying_value(member, program, month_of(now))
    target = highest_qualified(program, value)
    current = program.tier(member.tier_id)
    if target.threshold <= current.threshold or program.tier_rank(target.id) <= program.tier_rank(current.id):
        return None
    before = member.tier_id
    member.tier_id = target.id
    member.tier_since = now
    member.tier_reached_at = now
    member.tier_source = "qualified"
    member.tier_reason = "upgrade"
    return before, target.id
