"""Webhook delivery against moto, the functions invoked as Lambda invokes them: the same event twice, an event
published again, and the delivery function crashing half-way through a batch: nothing is lost, and what is sent
twice carries the same webhook-id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from loyalty.kernel.clock import CLOCK
from loyalty.kernel.config import settings
from loyalty.webhooks import outbound

from tests.support.aws import api_event, call, invoke
from tests.support.receiver import Receiver

T0 = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def one_attempt_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto in this process, without the local stack's lock around it, is not atomic across threads (a
    conditional update can interleave with another's); DynamoDB and the local stack are. Here a batch's attempts
    run one after the other; tests/e2e/test_webhooks_http.py runs them side by side against the local stack."""
    from loyalty.webhooks import delivery

    monkeypatch.setattr(delivery, "ATTEMPTS_AT_ONCE", 1)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def create_endpoint(receiver: Receiver, endpoint_id: str = "crm") -> dict[str, Any]:
    body = {"endpoint_id": endpoint_id, "url": receiver.url(), "event_types": ["*"]}
    status, answer, _ = call("WebhooksFunction", api_event("CreateWebhook", body=body))
    assert status == 201, answer
    return dict(answer)


def bus_event(n: int, time: str = "2027-03-10T12:00:00Z") -> dict[str, Any]:
    """An event as the bus's rule puts it on WebhookEventsQueue."""
    return {
        "version": "0",
        "id": f"eb-{n}",
        "source": "loyalty",
        "detail-type": "PointsEarned",
        "time": time,
        "detail": {"version": 1, "event_id": f"le_{n:04d}", "member_id": f"m{n}", "points": n},
    }


def sqs_records(bodies: list[Any]) -> dict[str, Any]:
    return {
        "Records": [
            {"messageId": f"msg-{i}", "receiptHandle": f"r{i}", "body": json.dumps(b), "eventSource": "aws:sqs"}
            for i, b in enumerate(bodies)
        ]
    }


def take_queue() -> list[dict[str, Any]]:
    """Every message on the delivery queue (then deleted), as the delivery function would get them."""
    sqs = boto3.client("sqs")
    url = settings().webhook_queue_url
    out: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return out
        for message in got:
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def deliveries(endpoint_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        event = api_event("ListWebhookDeliveries", path_params={"endpoint_id": endpoint_id}, query=query)
        status, page, _ = call("WebhooksFunction", event)
        assert status == 200, page
        found += page["deliveries"]
        cursor = page["next_cursor"]
        if not cursor:
            return found


def test_the_same_event_twice_is_one_delivery_and_republished_keeps_its_webhook_id(
    aws: Any, receiver: Receiver
) -> None:
    CLOCK.set(T0)
    create_endpoint(receiver)
    invoke("WebhookDispatchFunction", sqs_records([bus_event(1)]))
    invoke("WebhookDispatchFunction", sqs_records([bus_event(1)]))  # SQS gave it twice
    first = take_queue()
    assert len(first) == 1 and len(deliveries("crm")) == 1
    invoke("WebhookDeliveryFunction", sqs_records(first + first))  # the queue gave the message twice too
    assert len(receiver.messages()) == 1  # one attempt: the lease and the schedule make the two one
    # the outbox published it again after a failure: EventBridge gave it a new id and time, so it is a second
    # delivery, and its message carries the same webhook-id: the receiver drops it
    again = {**bus_event(1, "2027-03-10T12:00:03Z"), "id": "eb-1-again"}
    invoke("WebhookDispatchFunction", sqs_records([again]))
    invoke("WebhookDeliveryFunction", sqs_records(take_queue()))
    assert [m.headers["webhook-id"] for m in receiver.messages()] == ["le_0001", "le_0001"]
    assert receiver.messages()[0].json["data"] == receiver.messages()[1].json["data"]


def test_a_crash_half_way_through_a_batch_loses_nothing(
    aws: Any, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    CLOCK.set(T0)
    create_endpoint(receiver)
    invoke("WebhookDispatchFunction", sqs_records([bus_event(n) for n in range(10)]))
    batch = take_queue()
    assert len(batch) == 10

    real_post = outbound.post
    calls = {"n": 0}

    def crashing(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] > 4:
            raise SystemExit("the execution environment died")  # not an Exception: nothing of ours catches it
        return real_post(*args, **kwargs)

    monkeypatch.setattr(outbound, "post", crashing)
    with pytest.raises(SystemExit):
        invoke("WebhookDeliveryFunction", sqs_records(batch))
    sent_before = [m.headers["webhook-id"] for m in receiver.messages()]
    assert sent_before == [f"le_{n:04d}" for n in range(4)]  # the fifth attempt died with the environment
    monkeypatch.setattr(outbound, "post", real_post)

    # SQS gives the whole batch again: what was recorded is not sent again, what was never claimed is sent now,
    # and the delivery the dead attempt claimed waits for its lease
    invoke("WebhookDeliveryFunction", sqs_records(batch))
    assert sorted(m.headers["webhook-id"] for m in receiver.messages()) == [f"le_{n:04d}" for n in range(10) if n != 4]
    # the lease runs out; the dispatcher finds it by its place in the schedule and puts it back on the queue
    CLOCK.set(T0 + timedelta(minutes=1))
    assert invoke("WebhookDispatchFunction", {}) == {"dispatched": 1}
    invoke("WebhookDeliveryFunction", sqs_records(take_queue()))
    CLOCK.set(T0 + timedelta(minutes=3))  # after every grace: nothing is left to dispatch
    assert invoke("WebhookDispatchFunction", {}) == {"dispatched": 0}

    log = deliveries("crm")
    assert len(log) == 10 and {d["status"] for d in log} == {"succeeded"}
    received = [m.headers["webhook-id"] for m in receiver.messages()]
    assert sorted(set(received)) == [f"le_{n:04d}" for n in range(10)]
    for d in log:  # every attempt recorded is a message received, and no message went unrecorded
        assert len(d["attempts"]) == received.count(d["event_id"])


def test_a_deleted_endpoint_gets_nothing_more(aws: Any, receiver: Receiver) -> None:
    CLOCK.set(T0)
    create_endpoint(receiver)
    invoke("WebhookDispatchFunction", sqs_records([bus_event(1)]))
    queued = take_queue()
    status, _, _ = call("WebhooksFunction", api_event("DeleteWebhook", path_params={"endpoint_id": "crm"}))
    assert status == 200
    invoke("WebhookDeliveryFunction", sqs_records(queued))
    invoke("WebhookDispatchFunction", sqs_records([bus_event(2)]))
    assert take_queue() == [] and receiver.messages() == []
    # the same id again is a new endpoint with a new, empty log
    create_endpoint(receiver)
    assert deliveries("crm") == []


def test_an_event_published_late_goes_only_to_endpoints_that_were_taking_events_when_it_happened(
    aws: Any, receiver: Receiver
) -> None:
    """A busy outbox publishes an event after an endpoint was made, or after it was enabled again: the endpoint
    did not exist, or was disabled, when the event happened, so it is not sent ("what happened meanwhile is not
    sent"); an event of the same second as the endpoint's making is (the bus's time has no fraction)."""
    CLOCK.set(T0 + timedelta(seconds=30, microseconds=500_000))
    create_endpoint(receiver)
    before, same_second = bus_event(1, "2027-03-10T12:00:29Z"), bus_event(2, "2027-03-10T12:00:30Z")
    invoke("WebhookDispatchFunction", sqs_records([before, same_second, bus_event(3, "2027-03-10T12:01:00Z")]))
    assert sorted(d["event_id"] for d in deliveries("crm")) == ["le_0002", "le_0003"]

    disable = {"status": "disabled"}
    patched = call("WebhooksFunction", api_event("PatchWebhook", path_params={"endpoint_id": "crm"}, body=disable))
    assert patched[0] == 200, patched[1]
    CLOCK.set(T0 + timedelta(minutes=10))
    invoke("WebhookDispatchFunction", sqs_records([bus_event(4, "2027-03-10T12:05:00Z")]))  # while disabled
    enable = {"status": "enabled"}
    patched = call("WebhooksFunction", api_event("PatchWebhook", path_params={"endpoint_id": "crm"}, body=enable))
    assert patched[0] == 200, patched[1]
    late = [bus_event(5, "2027-03-10T12:06:00Z"), bus_event(6, "2027-03-10T12:10:00Z")]  # published after
    invoke("WebhookDispatchFunction", sqs_records(late))
    assert sorted(d["event_id"] for d in deliveries("crm")) == ["le_0002", "le_0003", "le_0006"]
