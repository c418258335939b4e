"""Webhooks, the pure parts: the retry schedule and what an attempt's answer means, the signature, and the rules
of what may be sent to (loopback, private, link-local and metadata addresses refused; DNS rebinding)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from loyalty.domain.webhooks import RETRY_DELAYS, Answered, Delivery, Endpoint, judge
from loyalty.webhooks import outbound, signing
from standardwebhooks import Webhook

AT = datetime(2027, 1, 5, 9, 0, tzinfo=UTC)


def endpoint(**extra: Any) -> Endpoint:
    return Endpoint(
        endpoint_id="e",
        url="https://hooks.example.com/x",
        event_types=["*"],
        created_at=AT,
        updated_at=AT,
        generation="g",
        secret_ref="r",
        **extra,
    )


def delivery(**extra: Any) -> Delivery:
    return Delivery(
        delivery_id="d", endpoint_id="e", generation="g", event_id="ev", type="T", created_at=AT, payload="{}", **extra
    )


def test_the_schedule_is_svix_s() -> None:
    assert [d.total_seconds() for d in RETRY_DELAYS] == [5, 300, 1800, 7200, 18000, 36000, 36000]
    waits, made = [], delivery()
    for n in range(1, 9):
        verdict = judge(made, endpoint(failing_since=AT), Answered(500, None, 3), AT)
        assert verdict.scheduled == n
        if n < 8:
            assert verdict.status == "pending"
            waits.append(verdict.next_attempt_at - AT if verdict.next_attempt_at else None)
        else:
            assert (verdict.status, verdict.next_attempt_at) == ("failed", None)
        made = made.model_copy(update={"scheduled": verdict.scheduled})
    assert waits == list(RETRY_DELAYS)


@pytest.mark.parametrize(
    ("status", "retry_after", "wait"),
    [
        (429, 120.0, timedelta(seconds=120)),
        (503, 99999.0, timedelta(hours=1)),  # at most an hour
        (500, 120.0, timedelta(seconds=5)),  # Retry-After counts on 429 and 503 only
        (429, None, timedelta(seconds=5)),
    ],
)
def test_retry_after(status: int, retry_after: float | None, wait: timedelta) -> None:
    verdict = judge(delivery(), endpoint(), Answered(status, None, 1, retry_after), AT)
    assert verdict.next_attempt_at == AT + wait and verdict.scheduled == 1


def test_410_disables_and_success_heals() -> None:
    gone = judge(delivery(), endpoint(), Answered(410, None, 1), AT)
    assert (gone.status, gone.disable, gone.next_attempt_at) == ("failed", "gone", None)
    healed = judge(delivery(), endpoint(failing_since=AT - timedelta(days=4)), Answered(204, None, 1), AT)
    assert (healed.status, healed.failing_since) == ("succeeded", None)


def test_five_days_of_failure_disable() -> None:
    almost = judge(
        delivery(), endpoint(failing_since=AT - timedelta(days=5) + timedelta(seconds=1)), Answered(None, "x", 1), AT
    )
    assert (almost.status, almost.disable) == ("pending", None)
    five = judge(delivery(), endpoint(failing_since=AT - timedelta(days=5)), Answered(None, "x", 1), AT)
    assert (five.status, five.disable) == ("failed", "failing")
    first = judge(delivery(), endpoint(), Answered(None, "x", 1), AT)
    assert first.failing_since == AT  # the streak starts with this attempt


def test_a_retry_by_hand_is_outside_the_schedule() -> None:
    reopened = delivery(scheduled=8, manual=True, reopened_from="failed")
    again = judge(reopened, endpoint(), Answered(500, None, 1), AT)
    assert (again.status, again.scheduled) == ("failed", 8)
    mid = judge(delivery(scheduled=2, manual=True), endpoint(), Answered(500, None, 1), AT)
    assert (mid.status, mid.scheduled, mid.next_attempt_at) == ("pending", 2, AT + RETRY_DELAYS[1])


def test_signatures_verify_with_the_standard_webhooks_library() -> None:
    old, new = signing.new_secret(), signing.new_secret()
    body = b'{"type":"PointsEarned","timestamp":"2027-01-05T09:00:00Z","data":{"event_id":"le_1"}}'
    now = int(datetime.now(UTC).timestamp())
    headers = signing.headers([new, old], "le_1", now, body)
    assert headers["webhook-signature"].startswith("v1,") and headers["webhook-signature"].count("v1,") == 2
    for secret in (new, old):
        assert Webhook(secret).verify(body, headers)["data"]["event_id"] == "le_1"
    tampered = body.replace(b"le_1", b"le_2")
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(new).verify(tampered, headers)


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fd00:ec2::254", "private"),
        ("100.64.0.1", "private"),
        ("0.0.0.0", "unicast"),
        ("224.0.0.1", "unicast"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("93.184.216.34", None),
        ("2606:4700::1111", None),
    ],
)
def test_addresses(address: str, refused: str | None) -> None:
    reason = outbound.address_refused(address)
    assert (reason is None) if refused is None else (reason is not None and refused in reason)


@pytest.mark.parametrize(
    ("url", "local", "ok"),
    [
        ("https://hooks.example.com/x", False, True),
        ("http://hooks.example.com/x", False, False),  # deployed: https only
        ("http://127.0.0.1:9000/x", False, False),
        ("http://127.0.0.1:9000/x", True, True),  # locally, a receiver on the laptop
        ("http://localhost:9000/x", True, True),
        ("http://10.0.0.1/x", True, False),
        ("https://metadata.google.internal/x", False, False),
        ("https://a.localhost/x", True, False),
    ],
)
def test_urls(url: str, local: bool, ok: bool) -> None:
    if ok:
        outbound.check_url(url, local=local)
    else:
        with pytest.raises(outbound.Refused):
            outbound.check_url(url, local=local)


def fake_dns(*answers: str) -> Any:
    def resolve(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answers]

    return resolve


def test_a_name_that_resolves_inside_is_never_connected_to() -> None:
    """DNS rebinding: a name that resolved to a public address when the endpoint was saved resolves to the
    metadata service when a message goes; the attempt refuses it before connecting."""
    outbound.resolve_checked("hooks.example.com", 443, local=False, resolve=fake_dns("93.184.216.34"))
    connected: list[Any] = []
    real = socket.create_connection
    try:
        socket.create_connection = lambda *a, **k: connected.append(a) or real(*a, **k)  # type: ignore[assignment]
        answered = outbound.post(
            "https://hooks.example.com/x", b"{}", {}, local=False, resolve=fake_dns("169.254.169.254")
        )
        mixed = outbound.post(
            "https://hooks.example.com/x", b"{}", {}, local=False, resolve=fake_dns("93.184.216.34", "10.0.0.5")
        )
    finally:
        socket.create_connection = real  # type: ignore[assignment]
    assert answered.status is None and answered.error and "link-local" in answered.error
    assert mixed.status is None and mixed.error and "private" in mixed.error
    assert connected == []


def test_the_address_connected_to_is_checked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the resolver said, the peer of the connection made is judged too."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    judged = outbound.address_refused
    monkeypatch.setattr(outbound, "address_refused", lambda a: None if a == "93.184.216.34" else judged(a))
    real = socket.create_connection
    monkeypatch.setattr(socket, "create_connection", lambda address, timeout=None: real(("127.0.0.1", port), timeout))
    try:
        answered = outbound.post(
            f"https://hooks.example.com:{port}/x", b"{}", {}, local=False, resolve=fake_dns("93.184.216.34")
        )
    finally:
        server.close()
    assert answered.status is None and answered.error == "refused: connected to a loopback address (127.0.0.1)"


def test_retry_after_header_forms() -> None:
    assert outbound.retry_after_seconds("120", 0) == 120
    assert outbound.retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470.0) == pytest.approx(10)
    assert outbound.retry_after_seconds("soon", 0) is None
    assert outbound.retry_after_seconds(None, 0) is None
