"""The console's Webhooks page (issue 25, contract v1.2), in a real Chromium against its own local stack: an
administrator adds an endpoint pointing at a receiver the test starts, keeps its secret (shown once), sends a test
message and reads the delivery log; a failing receiver's attempts, a retry by hand, a 410, a rotation and a
deletion, each asked about first; a refused URL answered in words; a key without the admin scope sees none of it.
Every figure is compared with the API's own answer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from loyalty.domain.events import CONTRACT_TYPES
from standardwebhooks import Webhook

from tests.browser.conftest import shot
from tests.browser.test_console import STAMP, sign_in
from tests.support.http import ADMIN, CHECKOUT, Client, LocalStackProcess
from tests.support.receiver import Receiver, Reply


@pytest.fixture(scope="module")
def stack() -> Iterator[Client]:
    process = LocalStackProcess()
    try:
        yield process.client
    finally:
        process.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def endpoints(stack: Client) -> Iterator[list[str]]:
    """Endpoints a test made, deleted after it (no later test's events go to a receiver that is gone)."""
    made: list[str] = []
    yield made
    for endpoint_id in made:
        stack.request("DELETE", f"/v1/webhooks/{endpoint_id}", key=ADMIN)


def log(stack: Client, endpoint_id: str, query: str = "") -> dict[str, Any]:
    answer = stack.get(f"/v1/webhooks/{endpoint_id}/deliveries{query}", key=ADMIN)
    assert answer.status == 200, answer.raw
    return dict(answer.json)


def attempts_so_far(stack: Client, endpoint_id: str) -> int:
    """The newest delivery's attempts, 0 while the click's request has not yet made it (the button answers
    before the page's POST has reached the stack)."""
    found = log(stack, endpoint_id)["deliveries"]
    return len(found[0]["attempts"]) if found else 0


def settled(stack: Client, endpoint_id: str, timeout: float = 30) -> list[dict[str, Any]]:
    """The log once no delivery is pending (every message answered)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = log(stack, endpoint_id, "?limit=100")["deliveries"]
        if all(d["status"] != "pending" for d in found):
            return list(found)
        time.sleep(0.2)
    raise AssertionError(f"deliveries still pending: {log(stack, endpoint_id)}")


def shown_deliveries(page: Any) -> list[str]:
    rows = page.locator('[data-table="deliveries"] tbody tr[data-delivery]')
    return list(rows.evaluate_all("rows => rows.map(r => r.dataset.delivery)"))


def add_endpoint(page: Any, endpoint_id: str, url: str, types: list[str] | None = None) -> None:
    page.get_by_role("link", name="Webhooks").click()
    page.get_by_role("heading", name="Add an endpoint").wait_for()
    page.get_by_label("Endpoint id").fill(endpoint_id)
    page.get_by_label("URL", exact=True).fill(url)
    if types is not None:
        page.get_by_label("Chosen types").check()
        for name in types:
            page.get_by_label(name, exact=True).check()
    page.get_by_role("button", name="Add endpoint").click()


def test_an_admin_adds_an_endpoint_keeps_its_secret_shown_once_and_a_test_message_succeeds(
    page: Any, stack: Client, receiver: Receiver, endpoints: list[str]
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.base)
    sign_in(page, stack.base, ADMIN)
    endpoints.append("crm")
    add_endpoint(page, "crm", receiver.url())

    # the secret, once, in a box with a copy button and the sentence that it will not be shown again
    box = page.get_by_role("region", name="The endpoint's secret")
    box.wait_for()
    assert "will not be shown again" in box.inner_text()
    secret = box.get_by_label("Secret").input_value()
    assert secret.startswith("whsec_") and len(secret) == len("whsec_") + 44
    box.get_by_role("button", name="Copy secret").click()
    page.get_by_role("status").filter(has_text="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    endpoint = stack.get("/v1/webhooks/crm", key=ADMIN).json
    assert page.locator('[data-figure="url"]').inner_text() == endpoint["url"] == receiver.url()
    assert page.locator('[data-figure="event_types"]').inner_text() == "every event"
    assert page.locator('[data-figure="endpoint_status"]').inner_text() == "enabled"

    # a test message: it arrives signed with the secret shown, and the list shows it succeed
    page.get_by_role("button", name="Send a test message").click()
    message = receiver.wait_for(1)[0]
    assert Webhook(secret).verify(message.body, message.headers)["type"] == "WebhookTest"
    row = page.locator('[data-table="deliveries"] tbody tr[data-delivery]').first
    row.locator('[data-column="status"]').filter(has_text="succeeded").wait_for(timeout=15000)
    delivery = log(stack, "crm")["deliveries"][0]
    assert delivery["status"] == "succeeded" and delivery["event_id"] == message.headers["webhook-id"]
    assert row.get_attribute("data-delivery") == delivery["delivery_id"]
    assert row.locator('[data-column="type"]').inner_text() == "WebhookTest"
    assert row.locator('[data-column="event_id"]').inner_text() == delivery["event_id"]
    assert STAMP.fullmatch(row.locator('[data-column="created"]').inner_text())
    assert row.locator('[data-column="next_attempt"]').inner_text() == "—"
    attempts = row.locator('[data-column="attempts"] li').all_inner_texts()
    assert len(attempts) == len(delivery["attempts"]) == 1
    assert "HTTP 200" in attempts[0] and f"{delivery['attempts'][0]['duration_ms']} ms" in attempts[0]
    shot(page, "manager-webhook")
    page.set_viewport_size({"width": 820, "height": 1180})  # on a tablet: no sideways scrolling
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.set_viewport_size({"width": 1280, "height": 900})

    # shown once: neither the page nor the API says it again
    page.reload()
    page.get_by_role("heading", name="Deliveries").wait_for()
    assert page.get_by_role("region", name="The endpoint's secret").count() == 0
    assert secret not in page.content()
    page.get_by_role("link", name="Webhooks").click()
    page.locator('[data-table="webhooks"] [data-endpoint="crm"]').wait_for()
    cells = page.locator('[data-endpoint="crm"] td').all_inner_texts()
    assert cells == [receiver.url(), "every event", "enabled"]
    assert secret not in page.content()
    shot(page, "manager-webhooks")

    # ten more: the newest page, then Load more through the cursor, newest first as the API says
    for _ in range(10):
        assert stack.post("/v1/webhooks/crm/test", {}, key=ADMIN).status == 202
    receiver.wait_for(11)
    settled(stack, "crm")
    page.get_by_role("link", name="crm").click()
    page.get_by_role("heading", name="Deliveries").wait_for()
    first = log(stack, "crm", "?limit=10")
    page.locator(f'[data-delivery="{first["deliveries"][0]["delivery_id"]}"]').wait_for()
    assert shown_deliveries(page) == [d["delivery_id"] for d in first["deliveries"]]
    assert first["next_cursor"]
    page.get_by_role("button", name="Load more").click()
    everything = [d["delivery_id"] for d in log(stack, "crm", "?limit=100")["deliveries"]]
    page.locator(f'[data-delivery="{everything[-1]}"]').wait_for()
    assert shown_deliveries(page) == everything and len(everything) == 11
    assert page.get_by_role("button", name="Load more").count() == 0

    # filtered by status: the API's answer for that status
    page.get_by_label("Status").select_option("failed")
    page.get_by_text("No delivery").wait_for()
    page.get_by_label("Status").select_option("succeeded")
    page.locator(f'[data-delivery="{everything[0]}"]').wait_for()
    succeeded = log(stack, "crm", "?status=succeeded&limit=10")["deliveries"]
    assert shown_deliveries(page) == [d["delivery_id"] for d in succeeded]


def test_a_failing_receiver_shows_its_attempts_and_retry_now_succeeds_once_it_is_mended(
    page: Any, stack: Client, receiver: Receiver, endpoints: list[str]
) -> None:
    receiver.reply = lambda _: Reply(500)
    sign_in(page, stack.base, ADMIN)
    page.get_by_role("link", name="Webhooks").click()
    page.get_by_label("Chosen types").check()
    offered = page.locator('[name="event_type"]').evaluate_all("boxes => boxes.map(b => b.value)")
    assert offered == [t for t in CONTRACT_TYPES if t != "WebhookTest"]  # the contract's types, every one
    endpoints.append("mailer")
    add_endpoint(page, "mailer", receiver.url(), ["PointsExpiringSoon", "TierChanged"])
    page.get_by_role("region", name="The endpoint's secret").wait_for()
    assert stack.get("/v1/webhooks/mailer", key=ADMIN).json["event_types"] == ["PointsExpiringSoon", "TierChanged"]
    assert page.locator('[data-figure="event_types"]').inner_text() == "PointsExpiringSoon, TierChanged"

    # the first attempt and the one 5 s later fail with 500; the next is minutes away
    page.get_by_role("button", name="Send a test message").click()
    deadline = time.monotonic() + 30
    while attempts_so_far(stack, "mailer") < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    row = page.locator('[data-table="deliveries"] tbody tr[data-delivery]').first
    page.get_by_role("button", name="Refresh").click()
    row.locator('[data-column="attempts"] li').nth(1).wait_for()
    delivery = log(stack, "mailer")["deliveries"][0]
    assert delivery["status"] == "pending" and len(delivery["attempts"]) == 2
    attempts = row.locator('[data-column="attempts"] li').all_inner_texts()
    assert all("HTTP 500" in a for a in attempts), attempts
    assert row.locator('[data-column="status"]').inner_text() == "pending"
    assert row.locator('[data-column="next_attempt"]').inner_text() == (
        f"{delivery['next_attempt_at'][:10]} {delivery['next_attempt_at'][11:16]} UTC"
    )
    shot(page, "manager-webhook-failing")

    # mended, and retried by hand now: a third attempt, which succeeds, with the same webhook-id
    receiver.reply = lambda _: Reply(200)
    row.get_by_role("button", name="Retry now").click()
    row.locator('[data-column="status"]').filter(has_text="succeeded").wait_for(timeout=15000)
    messages = receiver.wait_for(3)
    assert len({m.headers["webhook-id"] for m in messages}) == 1
    attempts = row.locator('[data-column="attempts"] li').all_inner_texts()
    assert len(attempts) == 3 and "HTTP 200" in attempts[2]

    # a 410: the endpoint is disabled, in words, and the delivery failed; enabling it clears the reason
    receiver.reply = lambda _: Reply(410)
    page.get_by_role("button", name="Send a test message").click()
    page.locator('[data-figure="endpoint_status"]').filter(has_text="disabled").wait_for(timeout=15000)
    assert page.locator('[data-figure="endpoint_status"]').inner_text() == "disabled: it answered 410 Gone"
    page.get_by_label("Status").select_option("failed")
    failed = log(stack, "mailer", "?status=failed")["deliveries"]
    assert len(failed) == 1 and failed[0]["attempts"][-1]["response_status"] == 410
    statuses = page.locator('[data-table="deliveries"] [data-column="status"]')
    statuses.filter(has_text="succeeded").first.wait_for(state="detached")  # the filtered list is drawn
    assert shown_deliveries(page) == [failed[0]["delivery_id"]]
    page.get_by_role("link", name="Webhooks").click()
    assert page.locator('[data-endpoint="mailer"] [data-column="status"]').inner_text() == (
        "disabled: it answered 410 Gone"
    )
    page.get_by_role("link", name="mailer").click()
    page.get_by_role("button", name="Enable").click()
    page.locator('[data-figure="endpoint_status"]').filter(has_text="enabled").wait_for()
    assert stack.get("/v1/webhooks/mailer", key=ADMIN).json["status"] == "enabled"
    page.get_by_role("button", name="Disable").click()
    page.locator('[data-figure="endpoint_status"]').filter(has_text="disabled").wait_for()
    assert page.locator('[data-figure="endpoint_status"]').inner_text() == "disabled by an administrator"
    assert stack.get("/v1/webhooks/mailer", key=ADMIN).json["status"] == "disabled"


def test_a_refused_url_is_answered_in_words_and_rotating_or_deleting_is_asked_first(
    page: Any, stack: Client, receiver: Receiver, endpoints: list[str]
) -> None:
    refused = {"endpoint_id": "inside", "url": "http://10.0.0.1/x", "event_types": ["*"]}
    answer = stack.post("/v1/webhooks", refused, key=ADMIN)
    assert answer.status == 422
    said = answer.json["error"]["details"][0]["message"]  # "the URL's host is a private address"
    sign_in(page, stack.base, ADMIN)
    page.watch.expected += ["answer 422", "status of 422"]
    add_endpoint(page, "inside", "http://10.0.0.1/x")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert said in alert.inner_text() and "{" not in alert.inner_text()
    assert stack.get("/v1/webhooks/inside", key=ADMIN).status == 404

    # rotating: asked first (Cancel sends nothing), then the new secret once, with the 24 hours' sentence
    made = {"endpoint_id": "crm-2", "url": receiver.url(), "event_types": ["*"]}
    old = stack.post("/v1/webhooks", made, key=ADMIN).json["secret"]
    endpoints.append("crm-2")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method != "GET" else None)
    page.goto(f"{stack.base}/console#/webhooks/crm-2")
    page.get_by_role("button", name="Rotate secret").click()
    dialog = page.get_by_role("dialog", name="Rotate the secret of crm-2?")
    dialog.wait_for()
    shot(page, "manager-webhook-rotate-confirm", full_page=False)
    dialog.get_by_role("button", name="Cancel").click()
    page.get_by_role("status").filter(has_text="Not rotated").wait_for()
    assert sent == []
    page.get_by_role("button", name="Rotate secret").click()
    page.get_by_role("dialog").get_by_role("button", name="Rotate secret").click()
    box = page.get_by_role("region", name="The new secret")
    box.wait_for()
    assert "will not be shown again" in box.inner_text() and "24 hours" in box.inner_text()
    new = box.get_by_label("Secret").input_value()
    assert new.startswith("whsec_") and new != old
    page.get_by_role("button", name="Send a test message").click()
    message = receiver.wait_for(1)[0]
    signatures = message.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2  # both, the new one first
    Webhook(new).verify(message.body, message.headers)
    Webhook(old).verify(message.body, message.headers)

    # deleting: asked first, then gone from the list and from the API
    page.get_by_role("button", name="Delete endpoint").click()
    page.get_by_role("dialog", name="Delete endpoint crm-2?").get_by_role("button", name="Delete").click()
    page.get_by_role("status").filter(has_text="crm-2 deleted").wait_for()
    page.get_by_role("heading", name="Add an endpoint").wait_for()
    assert page.locator('[data-endpoint="crm-2"]').count() == 0
    assert stack.get("/v1/webhooks/crm-2", key=ADMIN).status == 404


def test_a_key_without_the_admin_scope_is_not_offered_webhooks(page: Any, stack: Client) -> None:
    sign_in(page, stack.base, CHECKOUT)
    assert page.get_by_role("navigation").get_by_role("link", name="Webhooks").count() == 0
    page.goto(f"{stack.base}/console#/webhooks")
    page.get_by_role("heading", name="Not available").wait_for()
    assert "admin" in page.locator("main").inner_text()
    page.goto(f"{stack.base}/console#/webhooks/crm")
    page.get_by_role("heading", name="Not available").wait_for()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("API key").fill(ADMIN)  # the admin key is offered it
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation").get_by_role("link", name="Webhooks").wait_for()


def test_an_endpoint_that_failed_for_five_days_says_so_in_words(
    page: Any, stack: Client, receiver: Receiver, endpoints: list[str]
) -> None:
    """The stack's clock moves five days (and back to real time after): this test goes last in the module."""
    receiver.reply = lambda _: Reply(500)
    stack.set_clock("2027-03-10T12:00:00Z")
    try:
        made = {"endpoint_id": "flaky", "url": receiver.url(), "event_types": ["MemberImported"]}
        assert stack.post("/v1/webhooks", made, key=ADMIN).status == 201
        endpoints.append("flaky")
        assert stack.post("/v1/webhooks/flaky/test", {}, key=ADMIN).status == 202
        receiver.wait_for(1)
        stack.set_clock("2027-03-15T12:00:01Z")  # five days of nothing but failures: the next one disables it
        assert stack.post("/v1/webhooks/flaky/test", {}, key=ADMIN).status == 202
        deadline = time.monotonic() + 30
        while stack.get("/v1/webhooks/flaky", key=ADMIN).json["status"] != "disabled":
            assert time.monotonic() < deadline, log(stack, "flaky")
            time.sleep(0.2)
        assert stack.get("/v1/webhooks/flaky", key=ADMIN).json["disabled_reason"] == "failing"
        sign_in(page, stack.base, ADMIN)
        page.get_by_role("link", name="Webhooks").click()
        status = page.locator('[data-endpoint="flaky"] [data-column="status"]')
        status.wait_for()
        assert status.inner_text() == "disabled: every attempt failed for 5 days"
        page.get_by_role("link", name="flaky").click()
        shown = page.locator('[data-figure="endpoint_status"]')
        shown.wait_for()
        assert shown.inner_text() == "disabled: every attempt failed for 5 days"
    finally:
        stack.set_clock(None)
