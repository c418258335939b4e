"""Request models of the webhook routes (CONTRACT.md v1.2, Webhooks: telling other systems what happened)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from loyalty.requests.common import Id, Request, example

Url = Annotated[str, Field(min_length=1, max_length=2048, examples=["https://hooks.example.com/loyalty"])]
EventType = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^(\*|[A-Za-z]+)$")]
EventTypes = Annotated[list[EventType], Field(min_length=1, max_length=50, examples=[["PointsExpiringSoon"]])]
Description = Annotated[str, Field(max_length=500)]


class EndpointRequest(Request):
    """An HTTPS endpoint and the event types it takes (`["*"]`: every one). Deployed, the URL must be `https://`
    and must not name or resolve to a loopback, private, link-local or metadata address; locally `http://` to
    `127.0.0.1` or `localhost` is allowed."""

    model_config = example(
        {"endpoint_id": "email-platform", "url": "http://127.0.0.1:9999/hooks", "event_types": ["*"]}
    )

    endpoint_id: Id
    url: Url
    event_types: EventTypes
    description: Description | None = None


class EndpointPatchRequest(Request):
    """Any of the endpoint's URL, event types, description and status (enabling clears `disabled_reason`)."""

    model_config = example({"status": "enabled"})

    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    status: Literal["enabled", "disabled"] | None = None
