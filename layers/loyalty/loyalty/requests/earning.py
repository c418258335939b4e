"""Request models of the earning routes (CONTRACT.md, Earning): orders, refunds and activities."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    AfterValidator,
    Field,
    StrictInt,
)

from loyalty.requests.common import (
    Currency,
    Id,
    Label,
    Money,
    PostingTime,
    Request,
    _positive_money,
    example,
)

TV = {"sku": "tv-55", "category": "electronics", "amount": "1200.00", "quantity": 1}


class OrderItem(Request):
    model_config = example(TV)

    sku: Label
    category: Label
    amount: Money  # the line's amount; quantity is informational
    quantity: Annotated[StrictInt, Field(ge=1, le=1_000_000)] = 1


class EarnRequest(Request):
    model_config = example(
        {"member_id": "cust-1", "order_id": "order-1", "amount": "1200.00", "currency": "USD", "items": [TV]}
    )

    member_id: Id
    order_id: Id
    amount: Money
    currency: Currency
    occurred_at: PostingTime | None = None
    channel: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    items: Annotated[list[OrderItem], Field(max_length=500)] | None = None


class RefundRequest(Request):
    model_config = example({"member_id": "cust-1", "order_id": "order-1", "refund_id": "refund-1", "amount": "200.00"})

    member_id: Id
    order_id: Id
    refund_id: Id
    amount: Annotated[Money, AfterValidator(_positive_money)]


class ActivityRequest(Request):
    model_config = example({"member_id": "cust-1", "activity_id": "review-1", "type": "review"})

    member_id: Id
    activity_id: Id
    type: Annotated[str, Field(min_length=1, max_length=64, examples=["review"])]
    occurred_at: PostingTime | None = None
