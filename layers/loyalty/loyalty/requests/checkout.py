"""Request models of the checkout routes (CONTRACT.md, Checkout): a quote and an order."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    Field,
    StrictInt,
    model_validator,
)

from loyalty.requests.common import (
    Currency,
    Id,
    Label,
    LookupRequest,
    Money,
    PostingTime,
    Request,
)


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
