"""Request models of the members routes (CONTRACT.md, Members): enrolment, lookup, profile, status,
adjustments, subscriptions and tier overrides."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    Field,
    StrictInt,
    model_validator,
)

from loyalty.domain.model import Channel
from loyalty.requests.common import (
    BirthDate,
    Email,
    Id,
    Name,
    Phone,
    Request,
    _not_zero,
    example,
)


class EnrollRequest(Request):
    model_config = example({"member_id": "cust-1", "email": "ana@example.com", "name": "Ana", "channel": "web"})

    member_id: Id
    email: Email | None = None
    name: Name | None = None
    phone: Phone | None = None
    card_id: Id | None = None
    channel: Channel
    referred_by: Id | None = None
    birth_date: BirthDate | None = None


class ProfilePatch(Request):
    """The profile fields to change; `null` removes one, a field not given is kept."""

    model_config = example({"phone": "+14155550123", "card_id": "card-0001"})

    email: Email | None = None
    name: Name | None = None
    phone: Phone | None = None
    card_id: Id | None = None
    birth_date: BirthDate | None = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("give at least one of email, name, phone, card_id, birth_date")
        return self

    def changes(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class StatusRequest(Request):
    model_config = example({"status": "suspended", "reason": "card reported stolen"})

    status: Literal["active", "suspended", "closed"]
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class AdjustmentRequest(Request):
    model_config = example({"adjustment_id": "adj-1", "points": 50, "reason": "goodwill"})

    adjustment_id: Id
    points: Annotated[StrictInt, Field(ge=-10_000_000, le=10_000_000), AfterValidator(_not_zero)]
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class SubscriptionRequest(Request):
    """A paid tier for `months` months from now (or from the end of the same tier's running subscription)."""

    model_config = example({"subscription_id": "sub-1", "tier_id": "gold", "months": 12})

    subscription_id: Id
    tier_id: Id
    months: Annotated[StrictInt, Field(ge=1, le=120, examples=[12])]


class TierOverrideRequest(Request):
    """A manual tier, kept by the monthly evaluation until `until` (a date after today), or for ever."""

    model_config = example({"tier_id": "gold", "reason": "VIP customer"})

    tier_id: Id
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    until: date | None = None
