"""Outbound webhooks (CONTRACT.md v1.2): an endpoint a programme's tools listen on, and a delivery of one event
to it with its attempts. The retry schedule and what an attempt's answer means are here (pure); sending is
`loyalty.webhooks`, storing `loyalty.store.webhooks`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EndpointStatus = Literal["enabled", "disabled"]
DisabledReason = Literal["gone", "failing"]
DeliveryStatus = Literal["pending", "succeeded", "failed"]

# The wait after each failed attempt before the next (Svix's schedule): 8 attempts in about 27.6 hours
RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
ATTEMPTS = len(RETRY_DELAYS) + 1
ANSWER_SECONDS = 15  # an attempt succeeds on a 2xx answered within this
RETRY_AFTER_MAX = timedelta(hours=1)  # a 429 or 503's Retry-After is honoured up to this
FAILING_FOR = timedelta(days=5)  # an endpoint whose every attempt failed this long is disabled
ROTATION_OVERLAP = timedelta(hours=24)  # the old secret still signs this long after a rotation
KEPT_FOR = timedelta(days=30)  # the delivery log
MAX_ATTEMPTS_KEPT = 50  # a delivery retried by hand again and again keeps its latest attempts


class Endpoint(BaseModel):
    """An HTTPS endpoint and the event types it takes (`*`: every one). Its secret lives in Secrets Manager
    (`secret_ref`); `secret_version` moves with each rotation, so a cached secret is never used past one."""

    model_config = ConfigDict(extra="ignore")

    endpoint_id: str
    url: str
    event_types: list[str]
    description: str | None = None
    status: EndpointStatus = "enabled"
    disabled_reason: DisabledReason | None = None
    created_at: datetime
    updated_at: datetime
    failing_since: datetime | None = None  # the first failed attempt since the last success
    generation: str  # a new endpoint under an old id starts a new delivery log
    secret_ref: str
    secret_version: int = 1
    version: int = 1
    enabled_since: datetime | None = None  # when it was last enabled again after being disabled (None: created)

    def takes(self, event_type: str) -> bool:
        return "*" in self.event_types or event_type in self.event_types

    def was_taking(self, happened: datetime) -> bool:
        """Whether an event that happened at `happened` is the endpoint's: it happened once the endpoint was
        created or last enabled again (an event published late, by a busy outbox, is not sent to an endpoint
        made after it, nor one that was disabled then: "what happened meanwhile is not sent"). To the second:
        the bus's `time` has no fraction."""
        return happened >= (self.enabled_since or self.created_at).replace(microsecond=0)


class Attempt(BaseModel):
    model_config = ConfigDict(extra="ignore")

    at: datetime
    response_status: int | None = None
    error: str | None = None
    duration_ms: int
    manual: bool = False  # asked for by hand (a retry), outside the schedule


class Delivery(BaseModel):
    """One event for one endpoint: its message (the body every attempt sends, byte for byte) and attempts."""

    model_config = ConfigDict(extra="ignore")

    delivery_id: str
    endpoint_id: str
    generation: str
    event_id: str
    type: str
    status: DeliveryStatus = "pending"
    created_at: datetime
    next_attempt_at: datetime | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    scheduled: int = 0  # attempts of the schedule made (a retry by hand is not one of them)
    manual: bool = False  # the next attempt is a retry by hand
    reopened_from: DeliveryStatus | None = None  # a retry by hand of a finished delivery: what it was
    resume_at: datetime | None = None  # a retry by hand of a pending delivery: its place in the schedule
    payload: str  # the message body


@dataclass(frozen=True)
class Answered:
    """What an attempt got: an HTTP status (None: no answer), an error, how long, a Retry-After in seconds."""

    status: int | None
    error: str | None
    duration_ms: int
    retry_after: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class Verdict:
    """What follows an attempt: the delivery's new status and next attempt, and what befalls the endpoint."""

    status: DeliveryStatus
    next_attempt_at: datetime | None
    scheduled: int
    disable: DisabledReason | None = None
    failing_since: datetime | None = None  # the endpoint's, after this attempt (None: healthy)


def judge(delivery: Delivery, endpoint: Endpoint, answered: Answered, at: datetime) -> Verdict:
    """The contract's rules for an attempt made `at`: a 2xx succeeds; a 410 disables the endpoint (`gone`) and
    fails the delivery; otherwise the next attempt waits the schedule's delay (or a 429/503's Retry-After, at
    most an hour), until the 8th; an endpoint failing for 5 days is disabled (`failing`). A retry by hand is
    outside the schedule: when it fails, a finished delivery is failed again and a pending one keeps its place."""
    scheduled = delivery.scheduled + (0 if delivery.manual else 1)
    if answered.succeeded:
        return Verdict("succeeded", None, scheduled)
    failing_since = endpoint.failing_since or at
    if answered.status == 410:
        return Verdict("failed", None, scheduled, disable="gone", failing_since=failing_since)
    disable: DisabledReason | None = "failing" if at - failing_since >= FAILING_FOR else None
    if disable or (delivery.manual and delivery.reopened_from is not None) or scheduled >= ATTEMPTS:
        return Verdict("failed", None, scheduled, disable=disable, failing_since=failing_since)
    if delivery.manual and delivery.resume_at is not None:  # a pending delivery keeps its place
        return Verdict("pending", max(delivery.resume_at, at), scheduled, failing_since=failing_since)
    wait = RETRY_DELAYS[scheduled - 1] if scheduled >= 1 else RETRY_DELAYS[0]
    if answered.status in (429, 503) and answered.retry_after is not None:
        wait = min(timedelta(seconds=max(0.0, answered.retry_after)), RETRY_AFTER_MAX)
    return Verdict("pending", at + wait, scheduled, failing_since=failing_since)
