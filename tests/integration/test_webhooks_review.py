"""A second reader's review of the webhooks (issue 25), against moto with the functions invoked as Lambda invokes
them: defects found, each as a test that fails on the code as it was reviewed."""

from __future__ import annotations

from typing import Any

import pytest
from loyalty.kernel.clock import CLOCK
from loyalty.store import webhooks as store
from loyalty.webhooks import signing

from tests.integration.test_webhooks import (
    T0,
    bus_event,
    create_endpoint,
    one_attempt_at_a_time,  # noqa: F401 - the module's autouse fixture, here too
    receiver,  # noqa: F401 - a fixture
    sqs_records,
    take_queue,
)
from tests.support.aws import api_event, call, invoke
from tests.support.receiver import Receiver


def deliver_event(n: int) -> None:
    invoke("WebhookDispatchFunction", sqs_records([bus_event(n)]))
    invoke("WebhookDeliveryFunction", sqs_records(take_queue()))


def test_a_message_sent_during_a_rotation_does_not_pin_the_old_secret(
    aws: Any,
    receiver: Receiver,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """rotate() moves the endpoint's `secret_version` first, then writes the new secret. A delivery function that
    reads the endpoint in between (it has the new version) reads the secret still holding only the old one, and
    keeps that copy under the new version (store.read_secret's cache): from then on that execution environment
    signs with the old secret alone, never the new one, until the next rotation. The contract: for 24 hours every
    message carries two signatures, the new secret's first; a receiver that switched to the new secret refuses
    every message that environment sends. (Here the functions share one process, as one warm environment.)"""
    CLOCK.set(T0)
    create_endpoint(receiver)
    real_put = store.put_secret

    def a_message_meanwhile(ref: str, value: dict[str, Any]) -> None:
        deliver_event(1)  # a delivery made between the version's move and the secret's write
        real_put(ref, value)

    monkeypatch.setattr(store, "put_secret", a_message_meanwhile)
    status, rotated, _ = call("WebhooksFunction", api_event("RotateWebhookSecret", path_params={"endpoint_id": "crm"}))
    assert status == 200
    monkeypatch.setattr(store, "put_secret", real_put)

    deliver_event(2)  # after the rotation answered
    after = receiver.messages()[-1]
    assert after.headers["webhook-id"] == "le_0002"
    signatures = after.headers["webhook-signature"].split(" ")
    expected = signing.signature(
        rotated["secret"], after.headers["webhook-id"], int(after.headers["webhook-timestamp"]), after.body
    )
    assert len(signatures) == 2 and signatures[0] == expected, signatures


def test_an_administrator_s_change_does_not_bring_back_a_failing_streak_a_success_ended(
    aws: Any,
    receiver: Receiver,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The delivery function writes `failing_since` without moving the endpoint's `version` (store.note_failing:
    "an administrator's change is not held up by deliveries"), but a PATCH (endpoints.change) or a rotation
    writes every field it read back, `failing_since` included (store.save_endpoint), under that unchanged version.
    So a success that ends a failing streak while a PATCH is between its read and its write is undone: the old
    `failing_since` comes back, and the next failure finds the endpoint "failing for 5 days" and disables it,
    a day after it last succeeded (CONTRACT.md: disabled only when its *every* attempt failed for 5 days)."""
    from datetime import timedelta

    from tests.support.receiver import Reply

    CLOCK.set(T0)
    create_endpoint(receiver)
    receiver.reply = lambda _: Reply(status=500)
    deliver_event(1)  # the streak begins at T0
    assert store.load_endpoint("crm")[0].failing_since is not None  # type: ignore[index]

    real_save = store.save_endpoint

    def a_success_meanwhile(endpoint: Any, expected_version: int, **kwargs: Any) -> None:
        CLOCK.set(T0 + timedelta(days=4))
        receiver.reply = lambda _: Reply(status=200)
        deliver_event(2)  # the endpoint answers again: the streak is over
        assert store.load_endpoint("crm")[0].failing_since is None  # type: ignore[index]
        real_save(endpoint, expected_version, **kwargs)

    monkeypatch.setattr(store, "save_endpoint", a_success_meanwhile)
    body = {"description": "the CRM"}
    status, _, _ = call("WebhooksFunction", api_event("PatchWebhook", path_params={"endpoint_id": "crm"}, body=body))
    assert status == 200
    monkeypatch.setattr(store, "save_endpoint", real_save)

    CLOCK.set(T0 + timedelta(days=5, minutes=1))  # one failure, a day after the last success
    receiver.reply = lambda _: Reply(status=500)
    deliver_event(3)
    endpoint = store.load_endpoint("crm")[0]  # type: ignore[index]
    assert (endpoint.status, endpoint.disabled_reason) == ("enabled", None)


def test_a_retry_asked_while_an_attempt_is_in_flight_is_sent(
    aws: Any,
    receiver: Receiver,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`POST .../retry` answers `202`, "sent again now", but when an attempt holds the delivery's lease at that
    moment store.reopen refuses, endpoints.retry answers the delivery as it was, and nothing is ever sent: the
    administrator is told a retry is under way that never happens (CONTRACT.md: a new attempt)."""
    from loyalty.webhooks import outbound

    CLOCK.set(T0)
    create_endpoint(receiver)
    invoke("WebhookDispatchFunction", sqs_records([bus_event(1)]))
    queued = take_queue()
    delivery_id = queued[0]["delivery_id"]
    real_post = outbound.post
    answers: list[tuple[int, Any]] = []

    def retried_meanwhile(*args: Any, **kwargs: Any) -> Any:
        if not answers:
            path = {"endpoint_id": "crm", "delivery_id": delivery_id}
            status, view, _ = call("WebhooksFunction", api_event("RetryWebhookDelivery", path_params=path))
            answers.append((status, view))
        return real_post(*args, **kwargs)

    monkeypatch.setattr(outbound, "post", retried_meanwhile)
    invoke("WebhookDeliveryFunction", sqs_records(queued))  # the scheduled attempt; the retry asked during it
    monkeypatch.setattr(outbound, "post", real_post)
    assert answers[0][0] == 202
    invoke("WebhookDeliveryFunction", sqs_records(take_queue()))
    assert len(receiver.messages()) == 2  # the scheduled attempt and the retry asked by hand


def test_a_url_no_attempt_can_send_to_is_refused_when_saved(
    aws: Any,
    receiver: Receiver,  # noqa: F811
) -> None:
    """A URL whose path holds a space (pasted from a document, say) passes outbound.check_url and is saved (201),
    but http.client refuses it at every attempt (InvalidURL), logged as "not an HTTP answer (InvalidURL)": 8
    attempts over 27.6 hours for every event, then the endpoint disabled as failing, for a URL that was never
    sendable. It should be the creation's `422 validation_error` on `url`."""
    body = {"endpoint_id": "crm", "url": receiver.url("/my hooks"), "event_types": ["*"]}
    status, answer, _ = call("WebhooksFunction", api_event("CreateWebhook", body=body))
    if status == 201:  # what it does: show what the attempts then say
        CLOCK.set(T0)
        deliver_event(1)
        log = call("WebhooksFunction", api_event("ListWebhookDeliveries", path_params={"endpoint_id": "crm"}))[1]
        raise AssertionError(f"saved; its first attempt: {log['deliveries'][0]['attempts']}")
    assert status == 422 and answer["error"]["code"] == "validation_error", answer


def test_a_failed_retry_by_hand_of_a_pending_delivery_keeps_its_place_in_the_schedule(
    aws: Any,
    receiver: Receiver,  # noqa: F811
) -> None:
    """domain.webhooks.judge says "a retry by hand is outside the schedule: when it fails, ... a pending one keeps
    its place", but store.reopen overwrites `next_attempt_at` with now, and judge then waits the schedule's delay
    again from the retry: every failed retry by hand pushes the scheduled attempt later (a retry 9 hours into a
    10-hour wait moves the next attempt 19 hours after the one before)."""
    from datetime import timedelta

    from tests.support.receiver import Reply

    CLOCK.set(T0)
    create_endpoint(receiver)
    receiver.reply = lambda _: Reply(status=500)
    deliver_event(1)  # attempt 1 at T0: the next at T0 + 5 s
    CLOCK.set(T0 + timedelta(seconds=5))
    invoke("WebhookDispatchFunction", {})
    invoke("WebhookDeliveryFunction", sqs_records(take_queue()))  # attempt 2: the next at T0 + 5 s + 5 min

    def log() -> dict[str, Any]:
        page = call("WebhooksFunction", api_event("ListWebhookDeliveries", path_params={"endpoint_id": "crm"}))[1]
        return dict(page["deliveries"][0])

    assert log()["next_attempt_at"] == "2027-03-10T12:05:05Z"
    CLOCK.set(T0 + timedelta(minutes=1))
    path = {"endpoint_id": "crm", "delivery_id": log()["delivery_id"]}
    assert call("WebhooksFunction", api_event("RetryWebhookDelivery", path_params=path))[0] == 202
    invoke("WebhookDeliveryFunction", sqs_records(take_queue()))  # the retry by hand, failed
    assert len(log()["attempts"]) == 3
    assert log()["next_attempt_at"] == "2027-03-10T12:05:05Z"  # its place in the schedule, as it was
