"""The programme as `GET /v1/program` shows it: rules a client may rely on, no secrets."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from loyalty.kernel.clock import isoformat, utcnow
from loyalty.program.campaigns import is_active, is_visible, occurrence
from loyalty.program.rules import Program


def public_program(program: Program, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    campaigns = []
    for campaign in program.campaigns:
        if not is_visible(campaign, now):
            continue
        window = occurrence(campaign, now)
        assert window is not None
        campaigns.append(
            {
                "id": campaign.id,
                "name": campaign.name,
                "announced_at": isoformat(window[0] - timedelta(days=campaign.window.announce_days)),
                "starts_at": isoformat(window[0]),
                "ends_at": isoformat(window[1] - timedelta(seconds=1)),
                "status": "active" if is_active(campaign, now) else "announced",
                "recurrence": campaign.window.recurrence,
                "categories": campaign.categories,
                "skus": campaign.skus,
                "bonus": campaign.bonus.model_dump(mode="json", exclude_none=True) if campaign.bonus else None,
                "discount": campaign.discount.model_dump(mode="json") if campaign.discount else None,
                "stackable": campaign.stackable,
            }
        )
    return {
        "program_id": program.program_id,
        "name": program.name,
        "currency": program.currency,
        "country": program.country,
        "point_value": str(program.point_value),
        "earning": program.earning.model_dump(mode="json"),
        "tiers": [
            {
                "id": t.id,
                "name": t.name,
                "threshold": t.threshold,
                "multiplier": str(t.multiplier),
                "benefits": t.benefits.model_dump(mode="json"),
                "paid_only": t.paid_only,
            }
            for t in program.tiers
        ],
        "qualification": program.qualification.model_dump(mode="json"),
        "tenure_perks": [p.model_dump(mode="json") for p in program.tenure_perks],
        "campaigns": campaigns,
        "activities": program.activities.model_dump(mode="json"),
        # partner_id is always shown: null is what makes a reward an in-store one
        "rewards": [
            {**r.model_dump(mode="json", exclude_none=True), "partner_id": r.partner_id} for r in program.rewards
        ],
        "expiry": program.expiry.model_dump(mode="json"),
        "pending_days": program.pending_days,
        "pay_with_points": program.pay_with_points.model_dump(mode="json"),
    }
