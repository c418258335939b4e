"""Webhook endpoints, their deliveries and attempts (CONTRACT.md v1.2)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from loyalty.answers.common import Answer, Timestamp
from loyalty.domain.webhooks import DeliveryStatus, DisabledReason, EndpointStatus


class EndpointAnswer(Answer):
    """An endpoint as the API shows it: never its secret."""

    endpoint_id: str
    url: str
    event_types: list[str]
    description: str | None
    status: EndpointStatus
    disabled_reason: DisabledReason | None = Field(
        default=None, description="`gone`: it answered 410; `failing`: every attempt failed for 5 days."
    )
    created_at: Timestamp


class CreatedEndpoint(Answer):
    """The new endpoint, and its secret: answered here, by a replay of this request and by a rotation only."""

    endpoint_id: str
    url: str
    event_types: list[str]
    description: str | None
    status: EndpointStatus
    created_at: Timestamp
    secret: str = Field(description="`whsec_` and the base64 of 32 random bytes: the key of the signatures.")


class EndpointList(Answer):
    endpoints: list[EndpointAnswer] = Field(description="Every endpoint, by id.")


class DeletedEndpoint(Answer):
    endpoint_id: str
    deleted: Literal[True]


class RotatedSecret(Answer):
    secret: str = Field(description="The new secret; for 24 hours messages carry both secrets' signatures.")


class AttemptView(Answer):
    at: Timestamp
    response_status: int | None = Field(description="The receiver's HTTP status; null when it did not answer.")
    error: str | None = Field(description="Why no answer came (a timeout, a reset, a refused address); else null.")
    duration_ms: int


class DeliveryView(Answer):
    delivery_id: str
    event_id: str = Field(description="The event's id: every attempt's `webhook-id`.")
    type: str
    status: DeliveryStatus
    created_at: Timestamp
    next_attempt_at: Timestamp | None = Field(description="Null once the delivery has succeeded or failed.")
    attempts: list[AttemptView] = Field(description="Oldest first.")


class DeliveryPage(Answer):
    deliveries: list[DeliveryView] = Field(description="Newest first.")
    next_cursor: str | None
