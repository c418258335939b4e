"""Request models of the public contract (../shared/CONTRACT.md): what clients may send."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    model_validator,
)
from pydantic_core import PydanticCustomError

from loyalty import posting
from loyalty.clock import utcnow
from loyalty.errors import ValidationFailed
from loyalty.model import Channel

Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$")]
# Money is a decimal string, never a JSON number; negative amounts are refused. ASCII digits only:
# `\d` would also match Arabic-Indic and full-width digits, which Decimal() reads as numbers.
Money = Annotated[str, Field(pattern=r"^[0-9]{1,12}(\.[0-9]{1,4})?$", examples=["120.00"])]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["USD"])]
Email = Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", examples=["ana@example.com"])]
# E.164: a plus, a country code that does not start with 0, at most 15 digits in all (ASCII digits only).
Phone = Annotated[str, Field(pattern=r"^\+[1-9][0-9]{1,14}$", examples=["+14155550123"])]
Name = Annotated[str, Field(min_length=1, max_length=200)]


def _not_in_future(value: date) -> date:
    if value > utcnow().date():
        raise ValueError("a birth date cannot be in the future")
    return value


BirthDate = Annotated[date, AfterValidator(_not_in_future)]


def _not_zero(value: int) -> int:
    if value == 0:
        raise ValueError("must not be zero")
    return value


def _in_posting_window(value: datetime) -> datetime:
    try:
        return posting.check(value, utcnow())
    except ValidationFailed as refused:
        reason = (refused.details or [{}])[0].get("message", refused.message)
        raise PydanticCustomError("posting_window", "{reason}", {"reason": reason}) from None


# A client's `occurred_at`: RFC 3339 with an offset, inside the posting window (CONTRACT.md, Conventions),
# returned in UTC. Outside the window it is a 422 on the field, checked before any work.
PostingTime = Annotated[
    AwareDatetime,
    AfterValidator(_in_posting_window),
    Field(
        description="RFC 3339 with an offset (default now): not before 00:00:00Z on the first day of the previous "
        "month, never more than 5 minutes ahead of now (the posting window); outside it, 422 validation_error."
    ),
]


class Request(BaseModel):
    """Bodies are strict: a field the route does not define is a 422 naming it (a typo is never ignored).

    defer_build: a request model's validator is built at the first request that needs it, so a function
    builds only its own routes' models, never at import (~30 ms of the earn function's cold import)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, defer_build=True)


class EnrollRequest(Request):
    member_id: Id
    email: Email | None = None
    name: Name | None = None
    phone: Phone | None = None
    card_id: Id | None = None
    channel: Channel
    referred_by: Id | None = None
    birth_date: BirthDate | None = None


class LookupRequest(Request):
    """Exactly one identifier: an email (compared case-insensitively), an E.164 phone or a card id."""

    email: Email | None = None
    phone: Phone | None = None
    card_id: Id | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        given = [k for k in ("email", "phone", "card_id") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of email, phone, card_id")
        return self

    @property
    def identifier(self) -> tuple[Literal["email", "phone", "card_id"], str]:
        for kind in ("email", "phone", "card_id"):
            value = getattr(self, kind)
            if value is not None:
                return kind, value
        raise AssertionError("validated: exactly one is given")  # pragma: no cover


class ProfilePatch(Request):
    """The profile fields to change; `null` removes one, a field not given is kept."""

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
    status: Literal["active", "suspended", "closed"]
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class AdjustmentRequest(Request):
    adjustment_id: Id
    points: Annotated[StrictInt, Field(ge=-10_000_000, le=10_000_000), AfterValidator(_not_zero)]
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class SubscriptionRequest(Request):
    """A paid tier for `months` months from now (or from the end of the same tier's running subscription)."""

    subscription_id: Id
    tier_id: Id
    months: Annotated[StrictInt, Field(ge=1, le=120, examples=[12])]


class TierOverrideRequest(Request):
    """A manual tier, kept by the monthly evaluation until `until` (a date after today), or for ever."""

    tier_id: Id
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    until: date | None = None


# -- earn ----------------------------------------------------------------------------------------
Label = Annotated[str, Field(min_length=1, max_length=128)]


def _positive_money(value: str) -> str:
    if Decimal(value) <= 0:
        raise ValueError("must be greater than zero")
    return value


class OrderItem(Request):
    sku: Label
    category: Label
    amount: Money  # the line's amount; quantity is informational
    quantity: Annotated[StrictInt, Field(ge=1, le=1_000_000)] = 1


class EarnRequest(Request):
    member_id: Id
    order_id: Id
    amount: Money
    currency: Currency
    occurred_at: PostingTime | None = None
    channel: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    items: Annotated[list[OrderItem], Field(max_length=500)] | None = None


class RefundRequest(Request):
    member_id: Id
    order_id: Id
    refund_id: Id
    amount: Annotated[Money, AfterValidator(_positive_money)]


class ActivityRequest(Request):
    member_id: Id
    activity_id: Id
    type: Annotated[str, Field(min_length=1, max_length=64, examples=["review"])]
    occurred_at: PostingTime | None = None


# -- redeem --------------------------------------------------------------------------------------
class PartnerRedemptionRequest(Request):
    redemption_id: Id
    member_id: Id
    reward_id: Id
    occurred_at: PostingTime | None = None


class PartnerCancelRequest(Request):
    """An empty JSON object: the path names the redemption."""


class PayWithPointsRequest(Request):
    redemption_id: Id
    member_id: Id
    points: Annotated[StrictInt, Field(ge=1, le=10_000_000, examples=[500])]  # a multiple of the programme's rate
    capture: StrictBool = True


# -- checkout ------------------------------------------------------------------------------------
class CheckoutItem(Request):
    sku: Id
    category: Label
    amount: Money  # the line's total
    quantity: Annotated[StrictInt, Field(ge=1, le=1_000_000)] = 1


class CheckoutQuoteRequest(Request):
    """A basket at the till or in the web shop: the member by id or by identifier (exactly one)."""

    member_id: Id | None = None
    lookup: LookupRequest | None = None
    currency: Currency
    occurred_at: PostingTime | None = None
    items: Annotated[list[CheckoutItem], Field(min_length=1, max_length=500)]
    rewards: Annotated[list[Id], Field(max_length=20, examples=[["free-drink"]])] | None = None
    points: Annotated[StrictInt, Field(ge=0, le=10_000_000, examples=[500])] = 0  # a multiple of the rate

    @model_validator(mode="after")
    def _one_member(self) -> CheckoutQuoteRequest:
        if (self.member_id is None) == (self.lookup is None):
            raise ValueError("give exactly one of member_id and lookup")
        return self


class CheckoutOrderRequest(CheckoutQuoteRequest):
    order_id: Id  # the idempotency key
