"""What every request model shares: the base model (strict bodies) and the contract's field types
(ids, money, currencies, e-mails, phones, names, birth dates, `occurred_at` in the posting window)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic_core import PydanticCustomError

from loyalty.domain import posting
from loyalty.kernel.clock import utcnow
from loyalty.kernel.errors import ValidationFailed

Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$")]


# Money is a decimal string, never a JSON number; negative amounts are refused. ASCII digits only:
# `\d` would also match Arabic-Indic and full-width digits, which Decimal() reads as numbers.
Money = Annotated[str, Field(pattern=r"^[0-9]{1,12}(\.[0-9]{1,4})?$", examples=["120.00"])]


Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["USD"])]


Email = Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", examples=["ana@example.com"])]


# E.164: a plus, a country code that does not start with 0, at most 15 digits in all (ASCII digits only).
E164 = re.compile(r"\+[1-9][0-9]{1,14}")
# What a person is told for a phone number the API cannot take as it is: the same plain sentence everywhere
# (the API's 422 on a phone field, the console's search), never the regular expression.
PHONE_FORMAT = "use the international format, e.g. +14155550123"


def _e164(value: str) -> str:
    if E164.fullmatch(value) is None:
        raise PydanticCustomError("phone_format", PHONE_FORMAT)
    return value


# The API stays strict: E.164 only. The pattern stays in the document (clients validate with it); the check is
# `_e164`'s, so the error says the sentence instead of the pattern.
Phone = Annotated[
    str,
    AfterValidator(_e164),
    Field(examples=["+14155550123"], json_schema_extra={"pattern": r"^\+[1-9][0-9]{1,14}$"}),
]


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


# RFC 3339's date-time: `T` (or `t`), seconds, an optional fraction after a dot, `Z` (or `z`) or `±hh:mm`.
# ASCII digits only. pydantic's own datetime also takes a unix number, a space for the T, no seconds, a
# comma before the fraction and `+hhmm`: none of them is RFC 3339, and a unix number is a guess at a unit.
RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})")


def _rfc3339(value: object) -> object:
    """A JSON string must be RFC 3339; a datetime (a model built in Python, not from JSON) is taken as it is."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or RFC3339.fullmatch(value) is None:
        raise PydanticCustomError(
            "rfc3339", "must be an RFC 3339 timestamp with seconds and an offset, such as 2026-03-14T10:00:00Z"
        )
    return value


# A client's `occurred_at`: RFC 3339 with an offset, inside the posting window (CONTRACT.md, Conventions),
# returned in UTC. Outside the window, or not RFC 3339, it is a 422 on the field, checked before any work.
PostingTime = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339),
    AfterValidator(_in_posting_window),
    Field(
        description="RFC 3339 with seconds and an offset, such as `2026-03-14T10:00:00Z` (a fraction of a second "
        "is allowed; a unix number, a space for the `T` or a time without seconds is not), default now: not "
        "before 00:00:00Z on the first day of the previous month, never more than 5 minutes ahead of now (the "
        "posting window); otherwise 422 validation_error."
    ),
]


class Request(BaseModel):
    """Bodies are strict: a field the route does not define is a 422 naming it (a typo is never ignored).

    defer_build: a request model's validator is built at the first request that needs it, so a function
    builds only its own routes' models, never at import (~30 ms of the earn function's cold import)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, defer_build=True)


def example(body: dict[str, Any]) -> ConfigDict:
    """A request model's example in the document (what Swagger UI's "Try it out" fills in): a request of the demo
    programme's day, for its member `cust-1`. docs/api.md's walk sends each route's example as its first request
    to a local stack, so an example that stops working fails the reference's test."""
    return ConfigDict(json_schema_extra={"examples": [body]})


# -- earn ----------------------------------------------------------------------------------------
Label = Annotated[str, Field(min_length=1, max_length=128)]


def _positive_money(value: str) -> str:
    if Decimal(value) <= 0:
        raise ValueError("must be greater than zero")
    return value


class SearchRequest(Request):
    """What a person typed to find a member: a member id, a card, an email or a phone number as they write it."""

    model_config = example({"query": "(415) 555-0123"})

    query: Annotated[str, Field(min_length=1, max_length=254, examples=["(415) 555-0123"])]


class LookupRequest(Request):
    """Exactly one identifier: an email (compared case-insensitively), an E.164 phone or a card id."""

    model_config = example({"phone": "+14155550123"})

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
