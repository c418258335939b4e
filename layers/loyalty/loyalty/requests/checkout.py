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
    example,
)

# -- checkout ------------------------------------------------------------------------------------
ITEMS = [
    {"sku": "latte", "category": "drinks", "amount": "4.50", "quantity": 1},
    {"sku": "sandwich", "category": "food", "amount": "8.00", "quantity": 1},
]
# the till's basket for cust-1: a free drink taken as a reward, and 200 points paid
BASKET = {"member_id": "cust-1", "currency": "USD", "items": ITEMS, "rewards": ["free-drink"], "points": 200}


class CheckoutItem(Request):
    model_config = example(ITEMS[0])

    sku: Id
    category: Label
    amount: Money  # the line's total
    quantity: Annotated[StrictInt, Field(ge=1, le=1_000_000)] = 1


class CheckoutQuoteRequest(Request):
    """A basket at the till or in the web shop: the member by id or by identifier (exactly one)."""

    model_config = example(BASKET)

    member_id: Id | None = None
    lookup: LookupRequest | None = None
    currency: Currency
    occurred_at: PostingTime | None = None
    items: Annotated[list[CheckoutItem], Field(min_length=1, max_length=500)]
    rewards: Annotated[list[Id], Field(max_length=20, examples=[["free-drink"]])] | None = None
    points: Annotated[StrictInt, Field(ge=0, le=10_000_000, examples=[500])] = 0  # a multiple of the rate
    # (v1.2) pay the points and in-store rewards from this account's pool: only its owners and buyers may
    account_id: Id | None = None

    @model_validator(mode="after")
    def _one_member(self) -> CheckoutQuoteRequest:
        if (self.member_id is None) == (self.lookup is None):
            raise ValueError("give exactly one of member_id and lookup")
        return self


class CheckoutOrderRequest(CheckoutQuoteRequest):
    model_config = example({**BASKET, "order_id": "till-order-1"})

    order_id: Id  # the idempotency key
